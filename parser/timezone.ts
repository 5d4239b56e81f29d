/**
 * Time zone resolution for calendar times: IANA names, Windows names (CLDR windowsZones via
 * windows-iana), and wall-clock to UTC conversion with Intl (no clock, no network).
 */
import { knownZone, zoneOffsetMinutes } from "../core/time-zone.ts";
import { findIana } from "windows-iana";

/** TZIDs come from invites: the cache is bounded, and starts again when full. */
const IANA_CACHE_MAX = 1024;
const ianaCache = new Map<string, string | null>();

/** Maps a TZID (IANA, Windows, or Outlook's quoted/prefixed forms) to an IANA zone, or null. */
export function resolveTimeZone(tzid: string | null | undefined): string | null {
  if (!tzid) return null;
  const cached = ianaCache.get(tzid);
  if (cached !== undefined) return cached;
  let name = tzid.trim().replace(/^"|"$/g, "").replace(/^\/+/, "");
  // Some writers prefix a vendor path, e.g. "/mozilla.org/20050126_1/Europe/Berlin".
  const slashTail = /([A-Za-z_]+\/[A-Za-z_+-]+(?:\/[A-Za-z_+-]+)?)$/.exec(name);
  let result: string | null = null;
  if (/^(?:utc|gmt|z|etc\/utc|etc\/gmt|tzone:\/\/microsoft\/utc|coordinated universal time|utc standard time)$/i.test(name)) result = "UTC";
  else if (name.includes("/") && knownZone(name)) result = name;
  else {
    const windows = findIana(name);
    if (windows.length > 0) result = windows.find(knownZone) ?? null;
    else if (slashTail && knownZone(slashTail[1]!)) result = slashTail[1]!;
    else if (knownZone(name)) result = name;
  }
  name = result ?? name;
  if (ianaCache.size >= IANA_CACHE_MAX) ianaCache.clear();
  ianaCache.set(tzid, result);
  return result;
}

export interface WallTime {
  year: number;
  month: number; // 1-12
  day: number;
  hour: number;
  minute: number;
  second: number;
}

/**
 * Converts a wall-clock time in an IANA zone to UTC milliseconds. In a DST gap the time is
 * moved forward by the gap; in an overlap the earlier instant is used (RFC 5545 3.3.5).
 */
export function wallTimeToUtc(t: WallTime, zone: string): number {
  const naive = Date.UTC(t.year, t.month - 1, t.day, t.hour, t.minute, t.second);
  if (!Number.isFinite(naive) || zone === "UTC") return naive;
  const before = zoneOffsetMinutes(naive - 86_400_000, zone);
  const after = zoneOffsetMinutes(naive + 86_400_000, zone);
  const valid = [...new Set([before, after])].filter((o) => zoneOffsetMinutes(naive - o * 60000, zone) === o);
  if (valid.length > 0) return naive - Math.max(...valid) * 60000;
  return naive - before * 60000;
}

/** Largest time value whose ISO form has a four-digit year (9999-12-31T23:59:59.999Z). */
const MAX_FOUR_DIGIT_YEAR = 253_402_300_799_999;

/** Date.prototype.toISOString for finite times, null otherwise. */
export function toIso(millis: number): string | null {
  if (!Number.isFinite(millis)) return null;
  // Years 1970-9999 in whole milliseconds are formatted here (Date's formatter is several times slower).
  if (millis < 0 || millis > MAX_FOUR_DIGIT_YEAR || !Number.isInteger(millis)) return new Date(millis).toISOString();
  const days = Math.floor(millis / 86_400_000);
  let rest = millis - days * 86_400_000;
  const hour = Math.floor(rest / 3_600_000);
  rest -= hour * 3_600_000;
  const minute = Math.floor(rest / 60_000);
  rest -= minute * 60_000;
  const second = Math.floor(rest / 1000);
  const ms = rest - second * 1000;
  // Civil date from days since 1970-01-01 (H. Hinnant's algorithm, proleptic Gregorian).
  const z = days + 719_468;
  const era = Math.floor(z / 146_097);
  const doe = z - era * 146_097;
  const yoe = Math.floor((doe - Math.floor(doe / 1460) + Math.floor(doe / 36_524) - Math.floor(doe / 146_096)) / 365);
  const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100));
  const mp = Math.floor((5 * doy + 2) / 153);
  const day = doy - Math.floor((153 * mp + 2) / 5) + 1;
  const month = mp < 10 ? mp + 3 : mp - 9;
  const year = yoe + era * 400 + (month <= 2 ? 1 : 0);
  return `${year}-${pad(month, 2)}-${pad(day, 2)}T${pad(hour, 2)}:${pad(minute, 2)}:${pad(second, 2)}.${pad(ms, 3)}Z`;
}

function pad(n: number, width: number): string {
  return String(n).padStart(width, "0");
}
