/**
 * The demo's Poly room system: reads its room's calendar from otj's EWS feed over HTTP the way a
 * Poly device does (POX Autodiscover for the EWS address, then `FindItem` with a `CalendarView` on
 * the calendar folder and `GetItem` for the bodies; Basic auth with the room's device
 * credentials), through otj's own EWS client, and tells what the device would show and dial.
 */
import { EwsClient, messageError } from "../calendar/ews/ews-client.ts";
import { mapEwsFailure } from "../calendar/ews/ews-error-mapper.ts";
import { attr, buildXml, child, children, parseXml, text, type Xml, type XmlNode } from "../calendar/ews/ews-soap.ts";
import { OtjError } from "../core/errors.ts";

const AUTODISCOVER_REQUEST_NS = "http://schemas.microsoft.com/exchange/autodiscover/outlook/requestschema/2006";
const AUTODISCOVER_RESPONSE_NS = "http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a";
/** As many meetings as a device's calendar list shows for a day. */
const MAX_SHOWN = 50;

export interface DeviceCredentials {
  /** The engine's origin the device is set up with (`http://127.0.0.1:PORT`). */
  origin: string;
  /** `deviceUsername` (the room mailbox) and `devicePassword`. */
  username: string;
  password: string;
}

/** One calendar entry as the device shows it. */
export interface ShownMeeting {
  itemId: string;
  subject: string;
  start: Date;
  end: Date;
  /** What the device dials: the item's Location, else the `SIP:` line of its body; null when neither. */
  dial: string | null;
  body: string;
}

export interface DeviceCalendar {
  /** The EWS address Autodiscover named. */
  ewsUrl: string;
  meetings: ShownMeeting[];
}

function badAnswer(what: string): OtjError {
  return new OtjError("OTJ_EWS_BAD_RESPONSE", `Autodiscover: ${what}`, { details: { backoff: "none" } });
}

/** POX Autodiscover: the EWS address for the device's mailbox. */
async function autodiscover(device: DeviceCredentials, authorization: string, signal: AbortSignal): Promise<string> {
  const request: XmlNode = {
    Autodiscover: {
      "@xmlns": AUTODISCOVER_REQUEST_NS,
      Request: { EMailAddress: device.username, AcceptableResponseSchema: AUTODISCOVER_RESPONSE_NS },
    },
  };
  let status: number;
  let reply: string;
  try {
    const response = await fetch(`${device.origin}/autodiscover/autodiscover.xml`, {
      method: "POST",
      headers: { "Content-Type": "text/xml; charset=utf-8", Authorization: authorization },
      body: buildXml(request),
      signal,
    });
    status = response.status;
    reply = await response.text();
  } catch (cause) {
    if (signal.aborted) throw signal.reason;
    throw mapEwsFailure({ kind: "network", cause }, "Autodiscover");
  }
  if (status < 200 || status > 299) throw mapEwsFailure({ kind: "ews", status, responseCode: null, message: null, backOffMs: null }, "Autodiscover");
  const answer = child(child(parseXml(reply), "Autodiscover"), "Response");
  const error = child(answer, "Error");
  if (error !== null) throw badAnswer(`error ${text(error, "ErrorCode") ?? "?"}: ${text(error, "Message") ?? ""}`);
  const protocols = children(child(answer, "Account"), "Protocol");
  const ews = protocols.map((p) => text(p, "EwsUrl")).find((url) => url !== null);
  if (ews === undefined || ews === null) throw badAnswer("no EwsUrl in the answer");
  return ews;
}

/** The response messages of `operation`; the first one that failed is thrown. */
function succeeded(messages: Xml[], operation: string): Xml[] {
  for (const m of messages) {
    const error = messageError(m, operation);
    if (error !== null) throw error;
  }
  return messages;
}

/**
 * Reads the device's calendar between `from` and `to` as a Poly device does.
 * @throws OtjError (`OTJ_EWS_*`) when the feed refuses the credentials or answers something else.
 */
export async function readDeviceCalendar(
  device: DeviceCredentials,
  range: { from: Date; to: Date },
  clock: { now(): Date },
  signal: AbortSignal,
): Promise<DeviceCalendar> {
  const authorization = `Basic ${Buffer.from(`${device.username}:${device.password}`, "utf8").toString("base64")}`;
  const ewsUrl = await autodiscover(device, authorization, signal);
  const client = new EwsClient({ url: ewsUrl, username: device.username, password: device.password, auth: "basic", impersonation: false }, { clock });
  const [found] = succeeded(
    await client.call(
      "FindItem",
      {
        "@Traversal": "Shallow",
        "m:ItemShape": { "t:BaseShape": "Default" },
        "m:CalendarView": { "@MaxEntriesReturned": MAX_SHOWN, "@StartDate": range.from.toISOString(), "@EndDate": range.to.toISOString() },
        "m:ParentFolderIds": { "t:DistinguishedFolderId": { "@Id": "calendar" } },
      },
      device.username,
      signal,
    ),
    "FindItem",
  );
  const ids = children(child(child(found, "RootFolder"), "Items"), "CalendarItem")
    .map((item) => attr(child(item, "ItemId"), "Id"))
    .filter((id) => id !== null);
  if (ids.length === 0) return { ewsUrl, meetings: [] };
  const messages = succeeded(
    await client.call(
      "GetItem",
      { "m:ItemShape": { "t:BaseShape": "Default", "t:BodyType": "Text" }, "m:ItemIds": { "t:ItemId": ids.map((id) => ({ "@Id": id })) } },
      device.username,
      signal,
    ),
    "GetItem",
  );
  const meetings = messages
    .flatMap((m) => children(child(m, "Items"), "CalendarItem"))
    .map((item): ShownMeeting => {
      const body = text(item, "Body") ?? "";
      return {
        itemId: attr(child(item, "ItemId"), "Id") ?? "",
        subject: text(item, "Subject") ?? "",
        start: new Date(text(item, "Start") ?? Number.NaN),
        end: new Date(text(item, "End") ?? Number.NaN),
        dial: text(item, "Location") ?? /^SIP: *(\S+)$/m.exec(body)?.[1] ?? null,
        body,
      };
    });
  return { ewsUrl, meetings };
}

const hhmm = (at: Date) => at.toISOString().slice(11, 16);

/** The demo's lines for what the device shows: one per meeting, time, subject and what it dials. */
export function deviceCalendarLines(title: string, calendar: DeviceCalendar): string[] {
  const lines = [title];
  if (calendar.meetings.length === 0) lines.push("  (no meetings)");
  for (const m of calendar.meetings) {
    lines.push(`  ${hhmm(m.start)}-${hhmm(m.end)}  ${m.subject.slice(0, 28).padEnd(28)} -> dials ${m.dial ?? "(nothing to dial)"}`);
  }
  return lines;
}
