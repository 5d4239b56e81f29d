/**
 * The time zone a device asks for (EWS `TimeZoneContext` SOAP header) and EWS dateTimes in it.
 * Devices name Windows time zones (`W. Europe Standard Time`); otj maps them to IANA zones with
 * the windows-iana table and writes each Start/End as the local time there with its UTC offset
 * at that instant (so a date across a daylight-saving change carries the right offset).
 */
import { findIana } from "windows-iana";
import { knownZone, wallTimeToInstant, zoneOffsetMinutes } from "../../../core/time-zone.ts";
import { attr, child, type XmlNode } from "./soap.ts";

export interface RequestedZone {
  /** The id as the device sent it (echoed in the item's TimeZone). */
  id: string;
  /** The IANA zone used to compute offsets. */
  iana: string;
}

const ZONE_ID = /^[A-Za-z0-9 ()+_./:-]{1,100}$/;
/** Maps a Windows (or IANA) zone id to an IANA zone; null when unknown. */
export function ianaZone(id: string): string | null {
  if (!ZONE_ID.test(id)) return null;
  if (/^(UTC|Greenwich Standard Time|GMT)$/i.test(id)) return "UTC";
  const mapped = findIana(id)?.[0];
  if (mapped !== undefined && knownZone(mapped)) return mapped;
  return id.includes("/") && knownZone(id) ? id : null;
}

/** The zone of the request's TimeZoneContext header; null without one or for an unknown id (then UTC). */
export function requestedZone(header: XmlNode): RequestedZone | null {
  const id = attr(child(child(header, "TimeZoneContext"), "TimeZoneDefinition"), "Id");
  if (id === undefined) return null;
  const iana = ianaZone(id);
  return iana === null ? null : { id, iana };
}

/** An xs:dateTime for `at`: `…Z` in UTC, else the local time in the zone with its offset (`+02:00`). */
export function ewsDateTime(at: Date, zone: RequestedZone | null): string {
  const offset = zone === null ? 0 : zoneOffsetMinutes(at.getTime(), zone.iana);
  const local = new Date(at.getTime() + offset * 60_000).toISOString().replace(/\.\d{3}Z$/, "");
  if (zone === null || zone.iana === "UTC") return `${local}Z`;
  const abs = Math.abs(offset);
  return `${local}${offset < 0 ? "-" : "+"}${String(Math.floor(abs / 60)).padStart(2, "0")}:${String(abs % 60).padStart(2, "0")}`;
}

const DATE_TIME = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(?:\.\d{1,7})?)?(Z|[+-]\d{2}:\d{2})?$/;

/**
 * Reads an xs:dateTime of a request. With `Z` or an offset it is that instant; without one it is a
 * wall time in the requested zone (UTC without a zone). Null when it is not an xs:dateTime.
 */
export function parseEwsDateTime(text: string | undefined, zone: RequestedZone | null): Date | null {
  const m = DATE_TIME.exec((text ?? "").trim());
  if (m === null) return null;
  const wall = Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6] ?? 0));
  if (Number.isNaN(wall)) return null;
  const suffix = m[7];
  if (suffix === "Z") return new Date(wall);
  if (suffix !== undefined) {
    const sign = suffix.startsWith("-") ? -1 : 1;
    return new Date(wall - sign * (Number(suffix.slice(1, 3)) * 60 + Number(suffix.slice(4, 6))) * 60_000);
  }
  if (zone === null) return new Date(wall);
  return new Date(wallTimeToInstant(wall, zone.iana));
}
