/**
 * One Google Calendar event (an `events.list` item with `singleEvents=true`) to the port's
 * SourceOccurrence. The raw event is kept as the `google` parser format.
 *
 * - An instance of a series has `recurringEventId` and `originalStartTime`; it is an exception
 *   when its start moved away from its original slot (Google keeps the instance id).
 * - The room's own answer is its attendee entry (`resource: true` or `self: true`, or its
 *   address): `declined` means the room is not booked.
 * - `visibility: private|confidential` maps to the sensitivity the privacy rules read.
 * - A cancelled entry is not an occurrence: the caller treats it as removed.
 */
import type { Person, Sensitivity } from "../../core/domain.ts";
import type { RoomResponse, SourceOccurrence } from "../../core/ports/calendar-source.ts";

type Json = Record<string, unknown>;

export type GoogleMapped = { ok: true; occurrence: SourceOccurrence } | { ok: false; reason: string };

const SENSITIVITY: Record<string, Sensitivity> = { default: "normal", public: "normal", private: "private", confidential: "confidential" };
const RESPONSE: Record<string, RoomResponse> = { accepted: "accepted", tentative: "tentative", declined: "declined", needsAction: "none" };

function obj(v: unknown): Json | null {
  return v !== null && typeof v === "object" && !Array.isArray(v) ? (v as Json) : null;
}

function str(v: unknown): string | null {
  return typeof v === "string" && v !== "" ? v : null;
}

/** `{dateTime}` or `{date}` to ISO UTC ms; all-day dates as UTC midnight. */
function time(v: unknown): { iso: string; allDay: boolean } | null {
  const o = obj(v);
  const dateTime = str(o?.["dateTime"]);
  if (dateTime) {
    const ms = Date.parse(dateTime);
    return Number.isNaN(ms) || !/(?:Z|[+-]\d{2}:\d{2})$/i.test(dateTime) ? null : { iso: new Date(ms).toISOString(), allDay: false };
  }
  const date = str(o?.["date"]);
  if (date && /^\d{4}-\d{2}-\d{2}$/.test(date)) {
    const ms = Date.parse(`${date}T00:00:00Z`);
    return Number.isNaN(ms) ? null : { iso: new Date(ms).toISOString(), allDay: true };
  }
  return null;
}

/** Whether an `events.list` item is a cancellation (deleted event or cancelled instance). */
export function isCancelledEntry(event: Json): boolean {
  return event["status"] === "cancelled";
}

export function mapGoogleEvent(event: Json, roomCalendar: string): GoogleMapped {
  const id = str(event["id"]);
  if (!id) return { ok: false, reason: "no id" };
  const start = time(event["start"]);
  const end = time(event["end"]);
  if (!start || !end) return { ok: false, reason: "unreadable start or end" };
  const seriesId = str(event["recurringEventId"]);
  const original = seriesId ? time(event["originalStartTime"]) : null;
  const kind = seriesId === null ? "single" : original !== null && original.iso !== start.iso ? "exception" : "occurrence";
  const organizer = obj(event["organizer"]);
  const organizerPerson: Person | null = organizer ? { name: str(organizer["displayName"]), email: str(organizer["email"]) } : null;
  const room = roomCalendar.toLowerCase();
  const attendees = Array.isArray(event["attendees"]) ? (event["attendees"] as unknown[]).map(obj).filter((a): a is Json => a !== null) : [];
  const self = attendees.find((a) => String(a["email"] ?? "").toLowerCase() === room) ?? attendees.find((a) => a["self"] === true && a["resource"] === true);
  const roomResponse: RoomResponse = self ? (RESPONSE[String(self["responseStatus"])] ?? "none") : "none";
  const conference = obj(event["conferenceData"]);
  const video = (Array.isArray(conference?.["entryPoints"]) ? (conference["entryPoints"] as unknown[]) : [])
    .map(obj)
    .find((e) => e?.["entryPointType"] === "video" && /^https:\/\//i.test(String(e?.["uri"] ?? "")));
  const onlineMeetingUrl = str(video?.["uri"]) ?? (/^https:\/\//i.test(String(event["hangoutLink"] ?? "")) ? str(event["hangoutLink"]) : null);
  const updated = str(event["updated"]);
  return {
    ok: true,
    occurrence: {
      sourceId: id,
      uid: str(event["iCalUID"]),
      seriesId,
      kind,
      start: start.iso,
      end: end.iso,
      recurrenceId: original?.iso ?? null,
      allDay: start.allDay,
      subject: str(event["summary"]),
      organizer: organizerPerson,
      sensitivity: SENSITIVITY[String(event["visibility"] ?? "default")] ?? "private",
      cancelled: false,
      roomResponse,
      onlineMeetingUrl,
      hasBody: str(event["description"]) !== null || str(conference?.["notes"]) !== null,
      changeKey: str(event["etag"]),
      lastModified: updated && !Number.isNaN(Date.parse(updated)) ? new Date(Date.parse(updated)).toISOString() : null,
      raw: { format: "google", content: JSON.stringify(event) },
    },
  };
}
