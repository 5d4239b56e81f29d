/**
 * Graph event JSON → SourceOccurrence. Keeps the event's JSON verbatim as the
 * raw invite (`format: "graph"`) so the parser reads it later; reads only what the poller needs
 * before parsing (identity, time, state).
 */

import { resolveTimeZone, wallTimeToUtc } from "../../parser/timezone.ts";
import type { Person, Sensitivity } from "../../core/domain.ts";
import type { OccurrenceKind, RoomResponse, SourceOccurrence } from "../../core/ports/calendar-source.ts";

export type MappedEvent =
  | { readonly ok: true; readonly occurrence: SourceOccurrence }
  | { readonly ok: false; readonly id: string | null; readonly reason: string };

const KINDS: Readonly<Record<string, OccurrenceKind>> = {
  singleInstance: "single",
  occurrence: "occurrence",
  exception: "exception",
};

const SENSITIVITIES: ReadonlySet<string> = new Set(["normal", "personal", "private", "confidential"]);

const RESPONSES: Readonly<Record<string, RoomResponse>> = {
  accepted: "accepted",
  organizer: "accepted",
  tentativelyAccepted: "tentative",
  declined: "declined",
  none: "none",
  notResponded: "none",
};

type Json = Record<string, unknown>;

function obj(value: unknown): Json | null {
  return value !== null && typeof value === "object" && !Array.isArray(value) ? (value as Json) : null;
}

function str(value: unknown): string | null {
  return typeof value === "string" && value !== "" ? value : null;
}

/** Maps one calendarView/delta item (not an `@removed` entry). */
export function mapGraphEvent(event: unknown): MappedEvent {
  const e = obj(event);
  if (!e) return { ok: false, id: null, reason: "not a JSON object" };
  const id = str(e["id"]);
  if (!id) return { ok: false, id: null, reason: "no id" };
  const type = typeof e["type"] === "string" ? e["type"] : "singleInstance";
  const kind = KINDS[type];
  if (!kind) return { ok: false, id, reason: `type ${type} is not an occurrence` };
  const start = graphDateTime(e["start"]);
  const end = graphDateTime(e["end"]);
  if (!start || !end) return { ok: false, id, reason: "start/end missing or in an unknown time zone" };
  const recurrenceId = kind === "single" ? null : (isoInstant(e["originalStart"]) ?? (kind === "occurrence" ? start : null));
  const organizerAddress = obj(obj(e["organizer"])?.["emailAddress"]);
  const organizer: Person | null = organizerAddress ? { name: str(organizerAddress["name"]), email: str(organizerAddress["address"]) } : null;
  const sensitivity = typeof e["sensitivity"] === "string" && SENSITIVITIES.has(e["sensitivity"]) ? (e["sensitivity"] as Sensitivity) : "normal";
  const response = str(obj(e["responseStatus"])?.["response"]);
  const etag = str(e["@odata.etag"]);
  return {
    ok: true,
    occurrence: {
      sourceId: id,
      uid: str(e["iCalUId"]),
      seriesId: kind === "single" ? null : str(e["seriesMasterId"]),
      kind,
      start,
      end,
      recurrenceId,
      allDay: e["isAllDay"] === true,
      subject: str(e["subject"]),
      organizer,
      sensitivity,
      cancelled: e["isCancelled"] === true,
      roomResponse: (response && RESPONSES[response]) || "none",
      onlineMeetingUrl: str(obj(e["onlineMeeting"])?.["joinUrl"]),
      hasBody: hasText(obj(e["body"])?.["content"]),
      changeKey: str(e["changeKey"]) ?? (etag ? etag.replace(/^W\/"|"$/g, "") : null),
      lastModified: isoInstant(e["lastModifiedDateTime"]),
      raw: { format: "graph", content: JSON.stringify(event) },
    },
  };
}

/** Whether an HTML or text body has anything but markup and white space. */
function hasText(content: unknown): boolean {
  if (typeof content !== "string" || content === "") return false;
  return /[^\s\u00a0]/.test(content.replace(/<[^>]*>/g, "").replace(/&nbsp;|&#160;/gi, " "));
}

/** A DateTimeOffset (`2025-03-04T09:00:00Z`, or without offset meaning UTC) → ISO UTC ms. */
function isoInstant(value: unknown): string | null {
  if (typeof value !== "string") return null;
  const hasZone = /(Z|[+-]\d{2}:?\d{2})$/i.test(value);
  const ms = Date.parse(hasZone ? value : `${value}Z`);
  return Number.isNaN(ms) ? null : new Date(ms).toISOString();
}

/** Graph's `{dateTime, timeZone}` → ISO UTC ms, or null when unreadable. */
export function graphDateTime(value: unknown): string | null {
  const v = obj(value);
  if (!v || typeof v["dateTime"] !== "string") return null;
  return graphDateTimeToIso(v["dateTime"], typeof v["timeZone"] === "string" ? v["timeZone"] : "UTC");
}

const LOCAL = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?$/;

/**
 * Reads a wall-clock `dateTime` (no offset, 7 fraction digits as Graph writes it) in `timeZone`
 * (UTC, an IANA name, or a Windows name such as `W. Europe Standard Time`).
 * @returns ISO UTC with milliseconds, or null for an unreadable value or unknown zone.
 */
export function graphDateTimeToIso(dateTime: string, timeZone: string): string | null {
  if (/(Z|[+-]\d{2}:\d{2})$/i.test(dateTime)) {
    const ms = Date.parse(dateTime);
    return Number.isNaN(ms) ? null : new Date(ms).toISOString();
  }
  const m = LOCAL.exec(dateTime);
  if (!m) return null;
  const fraction = (m[7] ?? "").padEnd(3, "0").slice(0, 3);
  if (Number.isNaN(Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3])))) return null;
  const zone = resolveTimeZone(timeZone);
  if (zone === null) return null;
  // The parser's conversion (RFC 5545 rules in DST gaps and overlaps), plus Graph's fraction.
  const utc = wallTimeToUtc(
    { year: Number(m[1]), month: Number(m[2]), day: Number(m[3]), hour: Number(m[4]), minute: Number(m[5]), second: Number(m[6] ?? 0) },
    zone,
  );
  return new Date(utc + Number(fraction)).toISOString();
}
