/**
 * One EWS `CalendarItem` (as GetItem returns it) → SourceOccurrence.
 *
 * The item is rewritten as the Graph event JSON the parser already reads (`format: "graph"`):
 * the HTML body, subject, location, organizer, attendees, Lync/Teams join URL, UID, times,
 * sensitivity, cancellation and the room's response carry over one to one, so EWS rooms get
 * exactly the Graph parsing path without a second parser format. docs/exchange-server.md lists
 * the field mapping.
 */

import { type MappedEvent, mapGraphEvent } from "../graph/graph-event-mapper.ts";
import { attr, child, children, text, type Xml } from "./ews-soap.ts";

const TYPES: Readonly<Record<string, string>> = {
  Single: "singleInstance",
  Occurrence: "occurrence",
  Exception: "exception",
  RecurringMaster: "seriesMaster",
};

const RESPONSES: Readonly<Record<string, string>> = {
  Organizer: "organizer",
  Accept: "accepted",
  Tentative: "tentativelyAccepted",
  Decline: "declined",
  NoResponseReceived: "notResponded",
  Unknown: "none",
};

function mailbox(node: Xml | null): { emailAddress: { name: string | null; address: string | null } } | null {
  const m = child(node, "Mailbox");
  if (m === null) return null;
  return { emailAddress: { name: text(m, "Name"), address: text(m, "EmailAddress") } };
}

function utc(value: string | null): { dateTime: string; timeZone: "UTC" } | null {
  if (value === null) return null;
  const ms = Date.parse(/(Z|[+-]\d{2}:\d{2})$/i.test(value) ? value : `${value}Z`);
  return Number.isNaN(ms) ? null : { dateTime: new Date(ms).toISOString().replace(/Z$/, ""), timeZone: "UTC" };
}

/** The Graph-shaped event of one CalendarItem (also the raw invite otj keeps). */
export function ewsItemToGraphEvent(item: Xml): Record<string, unknown> {
  const itemId = child(item, "ItemId");
  const type = TYPES[text(item, "CalendarItemType") ?? "Single"] ?? "singleInstance";
  const uid = text(item, "UID");
  const body = child(item, "Body");
  const bodyType = attr(body, "BodyType") === "Text" ? "text" : "html";
  const attendees = [...children(child(item, "RequiredAttendees"), "Attendee"), ...children(child(item, "OptionalAttendees"), "Attendee")]
    .map((a) => mailbox(a))
    .filter((a) => a !== null);
  const joinUrl = text(item, "JoinOnlineMeetingUrl");
  const recurrenceId = text(item, "RecurrenceId");
  const event: Record<string, unknown> = {
    id: attr(itemId, "Id"),
    changeKey: attr(itemId, "ChangeKey"),
    type,
    iCalUId: uid,
    // EWS gives an occurrence no link to its master's ItemId; the UID names the series.
    seriesMasterId: type === "occurrence" || type === "exception" ? uid : null,
    subject: text(item, "Subject"),
    body: { contentType: bodyType, content: text(body) ?? "" },
    start: utc(text(item, "Start")),
    end: utc(text(item, "End")),
    originalStart: recurrenceId !== null ? (utc(recurrenceId)?.dateTime ?? null) : null,
    isAllDay: text(item, "IsAllDayEvent") === "true",
    isCancelled: text(item, "IsCancelled") === "true",
    sensitivity: (text(item, "Sensitivity") ?? "Normal").toLowerCase(),
    responseStatus: { response: RESPONSES[text(item, "MyResponseType") ?? "Unknown"] ?? "none" },
    organizer: mailbox(child(item, "Organizer")),
    attendees,
    location: { displayName: text(item, "Location") },
    onlineMeeting: joinUrl !== null ? { joinUrl } : null,
    lastModifiedDateTime: text(item, "LastModifiedTime"),
  };
  return event;
}

/** Maps one CalendarItem; `ok: false` (with a reason, never content) for an item that is no occurrence. */
export function mapEwsItem(item: Xml): MappedEvent {
  const event = ewsItemToGraphEvent(item);
  if (event["type"] === "seriesMaster")
    return { ok: false, id: typeof event["id"] === "string" ? event["id"] : null, reason: "a recurring master, not an occurrence" };
  return mapGraphEvent(event);
}
