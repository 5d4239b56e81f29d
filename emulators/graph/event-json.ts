/**
 * Renders stored events as Graph's event JSON, honouring
 * `outlook.timezone`, `outlook.body-content-type` and `$select`.
 */

import { wallClock } from "./graph-time.ts";
import type { EventFields, SeriesMaster, StoredEvent } from "./mailbox-calendar.ts";

export interface RenderOptions {
  /** IANA zone or "UTC", and the name to echo in `timeZone`. */
  readonly zone: string;
  readonly zoneName: string;
  readonly bodyType: "html" | "text";
  /** `$select`d properties (lowercased), or null for all. */
  readonly select: ReadonlySet<string> | null;
  /** The mailbox whose copy this is (the room). */
  readonly mailbox: { address: string; displayName: string };
}

const ENTITIES: Readonly<Record<string, string>> = { amp: "&", lt: "<", gt: ">", quot: '"', apos: "'", nbsp: "\u00a0", "#160": "\u00a0", "#39": "'" };

function decodeEntities(text: string): string {
  return text.replace(/&(#?\w+);/g, (m, name: string) => ENTITIES[name.toLowerCase()] ?? m);
}

/**
 * Outlook's HTML → text conversion, roughly: block ends become line breaks and a link becomes
 * `text<url>` (so a text body still carries the join URL).
 */
export function htmlToText(html: string, keepLinks: boolean): string {
  const text = html
    .replace(/<(script|style|head)[\s\S]*?<\/\1>/gi, "")
    .replace(/<a\s[^>]*?href\s*=\s*"([^"]*)"[^>]*>([\s\S]*?)<\/a>/gi, (_m, href: string, inner: string) =>
      // Marked with control characters so the tag stripping below leaves the link alone.
      keepLinks ? `${inner}\u0001${href}\u0002` : inner,
    )
    .replace(/<br\s*\/?>|<\/(p|div|tr|li|h\d)>/gi, "\r\n")
    .replace(/<[^>]*>/g, "")
    .replace(/\u0001/g, "<")
    .replace(/\u0002/g, ">");
  return decodeEntities(text)
    .replace(/[ \t]+\r\n/g, "\r\n")
    .replace(/(\r\n){3,}/g, "\r\n\r\n")
    .trim();
}

function bodyOf(fields: EventFields, bodyType: "html" | "text"): { contentType: string; content: string } {
  const body = fields.body ?? { contentType: "html" as const, content: "" };
  if (bodyType === "text" && body.contentType === "html") return { contentType: "text", content: htmlToText(body.content, true) };
  if (bodyType === "html" && body.contentType === "text") {
    const escaped = body.content.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/\r?\n/g, "<br>\r\n");
    return { contentType: "html", content: `<html><body>${escaped}</body></html>` };
  }
  return { ...body };
}

function preview(fields: EventFields): string {
  const body = fields.body;
  if (!body) return "";
  const text = body.contentType === "html" ? htmlToText(body.content, false) : body.content;
  return text.replace(/\s+/g, " ").trim().slice(0, 255);
}

function dt(ms: number, o: RenderOptions): { dateTime: string; timeZone: string } {
  return { dateTime: wallClock(ms, o.zone), timeZone: o.zoneName };
}

function iso(ms: number): string {
  return `${new Date(ms).toISOString().slice(0, 19)}Z`;
}

function common(id: string, fields: EventFields, changeKey: string, createdMs: number, lastModifiedMs: number, o: RenderOptions): Record<string, unknown> {
  const organizer = fields.organizer ?? { name: o.mailbox.displayName, address: o.mailbox.address };
  const location = fields.location ?? { displayName: o.mailbox.displayName, locationType: "conferenceRoom" };
  const response = fields.responseStatus ?? { response: "accepted", time: iso(createdMs) };
  return {
    "@odata.etag": `W/"${changeKey}"`,
    id,
    createdDateTime: new Date(createdMs).toISOString().replace("Z", "0000Z"),
    lastModifiedDateTime: new Date(lastModifiedMs).toISOString().replace("Z", "0000Z"),
    changeKey,
    categories: [],
    transactionId: null,
    originalStartTimeZone: fields.originalStartTimeZone ?? "UTC",
    originalEndTimeZone: fields.originalStartTimeZone ?? "UTC",
    reminderMinutesBeforeStart: 15,
    isReminderOn: false,
    hasAttachments: false,
    subject: fields.subject ?? "",
    bodyPreview: preview(fields),
    importance: "normal",
    sensitivity: fields.sensitivity ?? "normal",
    isAllDay: fields.isAllDay ?? false,
    isCancelled: fields.isCancelled ?? false,
    isOrganizer: organizer.address.toLowerCase() === o.mailbox.address,
    responseRequested: true,
    showAs: fields.showAs ?? "busy",
    webLink: `https://outlook.office365.com/owa/?itemid=${encodeURIComponent(id)}&exvsurl=1&path=/calendar/item`,
    onlineMeetingUrl: null,
    isOnlineMeeting: fields.isOnlineMeeting ?? Boolean(fields.onlineMeeting),
    onlineMeetingProvider: fields.onlineMeetingProvider ?? (fields.onlineMeeting ? "teamsForBusiness" : "unknown"),
    allowNewTimeProposals: true,
    isDraft: false,
    hideAttendees: false,
    responseStatus: { response: response.response, time: response.time ?? iso(createdMs) },
    body: bodyOf(fields, o.bodyType),
    location: { displayName: location.displayName, locationType: location.locationType ?? "default", uniqueIdType: "unknown", address: {}, coordinates: {} },
    locations: [{ displayName: location.displayName, locationType: location.locationType ?? "default", uniqueIdType: "unknown" }],
    attendees: (fields.attendees ?? []).map((a) => ({
      type: a.type ?? "required",
      status: { response: a.response ?? "none", time: "0001-01-01T00:00:00Z" },
      emailAddress: { name: a.name, address: a.address },
    })),
    organizer: { emailAddress: { name: organizer.name, address: organizer.address } },
    onlineMeeting: fields.onlineMeeting
      ? {
          joinUrl: fields.onlineMeeting.joinUrl,
          conferenceId: fields.onlineMeeting.conferenceId ?? null,
          tollNumber: fields.onlineMeeting.tollNumber ?? null,
          tollFreeNumbers: fields.onlineMeeting.tollFreeNumbers ?? [],
          phones: [],
          quickDial: null,
        }
      : null,
    ...(fields.extra ?? {}),
  };
}

function selectFields(full: Record<string, unknown>, select: ReadonlySet<string> | null): Record<string, unknown> {
  if (select === null) return full;
  const out: Record<string, unknown> = { "@odata.etag": full["@odata.etag"], id: full["id"] };
  for (const [k, v] of Object.entries(full)) if (select.has(k.toLowerCase())) out[k] = v;
  return out;
}

/** A calendarView item (single, occurrence or exception). */
export function renderEvent(e: StoredEvent, o: RenderOptions): Record<string, unknown> {
  const full: Record<string, unknown> = {
    ...common(e.id, e.fields, e.changeKey, e.createdMs, e.lastModifiedMs, o),
    iCalUId: e.iCalUId,
    seriesMasterId: e.seriesMasterId,
    type: e.type,
    occurrenceId: e.originalStartMs === null ? null : `OID.${e.seriesMasterId}.${new Date(e.originalStartMs).toISOString().slice(0, 10)}`,
    ...(e.originalStartMs === null ? {} : { originalStart: iso(e.originalStartMs) }),
    start: dt(e.startMs, o),
    end: dt(e.endMs, o),
    recurrence: null,
  };
  return selectFields(full, o.select);
}

/** A series master as `/events` lists it. */
export function renderMaster(m: SeriesMaster, o: RenderOptions): Record<string, unknown> {
  const r = m.recurrence;
  const first = new Date(m.startMs);
  const full: Record<string, unknown> = {
    ...common(m.id, m.fields, m.changeKey, m.createdMs, m.lastModifiedMs, o),
    iCalUId: m.iCalUId,
    seriesMasterId: null,
    type: "seriesMaster",
    occurrenceId: null,
    start: dt(m.startMs, o),
    end: dt(m.endMs, o),
    recurrence: {
      pattern: {
        type: r.type,
        interval: r.interval ?? 1,
        month: 0,
        dayOfMonth: 0,
        daysOfWeek: r.type === "weekly" ? (r.daysOfWeek ?? [first.toLocaleDateString("en-US", { weekday: "long", timeZone: "UTC" }).toLowerCase()]) : [],
        firstDayOfWeek: "sunday",
        index: "first",
      },
      range: {
        type: r.count !== undefined ? "numbered" : "endDate",
        startDate: first.toISOString().slice(0, 10),
        endDate: r.until !== undefined ? new Date(Date.parse(r.until)).toISOString().slice(0, 10) : "0001-01-01",
        recurrenceTimeZone: "UTC",
        numberOfOccurrences: r.count ?? 0,
      },
    },
  };
  return selectFields(full, o.select);
}
