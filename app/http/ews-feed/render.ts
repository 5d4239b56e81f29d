/**
 * What the EWS feed answers: SOAP 1.1 envelopes in the EWS messages/types namespaces, the
 * calendar items built from otj's planned meetings, and SOAP faults. Everything the feed writes
 * from data goes through xml() (escaped).
 */
import { createHash } from "node:crypto";
import type { Meeting } from "../../../core/ports/store.ts";
import { ewsDateTime, type RequestedZone } from "./time-zone.ts";

export const NS_SOAP = "http://schemas.xmlsoap.org/soap/envelope/";
export const NS_MESSAGES = "http://schemas.microsoft.com/exchange/services/2006/messages";
export const NS_TYPES = "http://schemas.microsoft.com/exchange/services/2006/types";

export function xml(value: string): string {
  // Characters XML 1.0 cannot carry are dropped; the five specials are escaped.
  return value
    .replace(/[^\u0009\u000A\u000D\u0020-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/gu, "")
    .replace(/&/g, "&amp;")
    .replace(/</g, "&lt;")
    .replace(/>/g, "&gt;")
    .replace(/"/g, "&quot;")
    .replace(/'/g, "&apos;");
}

export function envelope(bodyXml: string): string {
  return (
    `<?xml version="1.0" encoding="utf-8"?>` +
    `<s:Envelope xmlns:s="${NS_SOAP}">` +
    `<s:Header><h:ServerVersionInfo MajorVersion="15" MinorVersion="1" MajorBuildNumber="2507" MinorBuildNumber="6" Version="V2017_07_11" xmlns:h="${NS_TYPES}" xmlns="${NS_TYPES}"/></s:Header>` +
    `<s:Body>${bodyXml}</s:Body></s:Envelope>`
  );
}

export function soapFault(faultCode: "Client" | "Server", responseCode: string, message: string): string {
  return (
    `<?xml version="1.0" encoding="utf-8"?>` +
    `<s:Envelope xmlns:s="${NS_SOAP}"><s:Body><s:Fault>` +
    `<faultcode xmlns:a="${NS_TYPES}">${faultCode === "Client" ? "s:Client" : "s:Server"}</faultcode>` +
    `<faultstring xml:lang="en-US">${xml(message)}</faultstring>` +
    `<detail><e:ResponseCode xmlns:e="${NS_TYPES}">${xml(responseCode)}</e:ResponseCode><e:Message xmlns:e="${NS_TYPES}">${xml(message)}</e:Message></detail>` +
    `</s:Fault></s:Body></s:Envelope>`
  );
}

/** One response message of an operation (`FindItem` -> FindItemResponseMessage). */
export function responseMessages(operation: string, messages: string[]): string {
  return `<m:${operation}Response xmlns:m="${NS_MESSAGES}" xmlns:t="${NS_TYPES}"><m:ResponseMessages>${messages.join("")}</m:ResponseMessages></m:${operation}Response>`;
}

export function success(operation: string, inner: string): string {
  return `<m:${operation}ResponseMessage ResponseClass="Success"><m:ResponseCode>NoError</m:ResponseCode>${inner}</m:${operation}ResponseMessage>`;
}

export function failure(operation: string, code: string, message: string, inner = ""): string {
  return `<m:${operation}ResponseMessage ResponseClass="Error"><m:MessageText>${xml(message)}</m:MessageText><m:ResponseCode>${xml(code)}</m:ResponseCode><m:DescriptiveLinkKey>0</m:DescriptiveLinkKey>${inner}</m:${operation}ResponseMessage>`;
}

const b64 = (text: string, bytes: number) => createHash("sha256").update(text, "utf8").digest().subarray(0, bytes).toString("base64");

/** The calendar folder's id for a room (opaque, stable). */
export function calendarFolderId(roomId: string): string {
  return `AAMkAGNhbGVuZGFy${b64(`folder|${roomId}`, 24)}`;
}

export const ITEM_ID_PREFIX = "AAMkAG90ag";

/** A meeting's ItemId: opaque, stable for its occurrence in this room (the prefix and 30 bytes in base64). */
export function itemIdOf(roomId: string, occurrenceKey: string): string {
  return `${ITEM_ID_PREFIX}${b64(`item|${roomId}|${occurrenceKey}`, 30)}`;
}

export interface FeedOptions {
  /** Where the dial string goes: `location` (Location and the body's join block) or `body` (the body only). */
  dialStringIn: "location" | "body";
  /** The lobby notice in the body of SGJ meetings. */
  lobbyNotice: string;
}

export const DEFAULT_FEED_OPTIONS: FeedOptions = {
  dialStringIn: "location",
  lobbyNotice: "This room joins as a guest: it waits in the meeting's lobby until someone in the meeting admits it.",
};

/** What a device shows for one meeting, in plain text (the join block). */
export function joinBlock(m: Meeting, options: FeedOptions): string {
  const dial = m.route === "none" ? null : m.dialString;
  const lines: string[] = [];
  if (dial === null) {
    lines.push("No video join information for this meeting.");
  } else if (m.route === "webrtc") {
    lines.push("Join from this room over WebRTC:", dial);
  } else {
    lines.push("Join from this room (video system):", `SIP: ${dial.startsWith("sip:") ? dial : `sip:${dial}`}`);
    if (m.route === "sgj") lines.push("", options.lobbyNotice);
  }
  return lines.join("\n");
}

export interface ItemShape {
  withBody: boolean;
  bodyType: "Text" | "HTML";
  /** The device's requested zone: Start/End in it with their offset, its id as TimeZone; null: UTC. */
  zone: RequestedZone | null;
  /** `BaseShape` IdOnly: the ItemId alone. */
  idOnly?: boolean;
}

export interface RenderedItem {
  itemId: string;
  changeKey: string;
  xml: string;
}

/** A meeting as an EWS CalendarItem; `withBody` for GetItem. */
export function calendarItem(roomId: string, m: Meeting, options: FeedOptions, shape: ItemShape): RenderedItem {
  const dial = m.route === "none" ? null : m.dialString;
  const subject = m.subjectShown ?? "";
  const location = options.dialStringIn === "location" && dial !== null ? dial : "";
  const block = joinBlock(m, options);
  const itemId = itemIdOf(roomId, m.occurrenceKey);
  // The change key follows everything the device is shown, so any change reaches it.
  const changeKey = `DwAAABYA${b64(JSON.stringify([subject, m.start.toISOString(), m.end.toISOString(), location, block, m.organizerName, m.organizerEmail, m.sensitivity]), 18)}`;
  const body = shape.bodyType === "HTML" ? `<html><body><pre>${block.split("\n").map(xml).join("<br>")}</pre></body></html>` : block;
  const organizer =
    m.organizerEmail !== null || m.organizerName !== null
      ? `<t:Organizer><t:Mailbox><t:Name>${xml(m.organizerName ?? m.organizerEmail ?? "")}</t:Name>${m.organizerEmail !== null ? `<t:EmailAddress>${xml(m.organizerEmail)}</t:EmailAddress><t:RoutingType>SMTP</t:RoutingType>` : ""}<t:MailboxType>Mailbox</t:MailboxType></t:Mailbox></t:Organizer>`
      : "";
  if (shape.idOnly === true)
    return { itemId, changeKey, xml: `<t:CalendarItem><t:ItemId Id="${xml(itemId)}" ChangeKey="${xml(changeKey)}"/></t:CalendarItem>` };
  const out =
    `<t:CalendarItem>` +
    `<t:ItemId Id="${xml(itemId)}" ChangeKey="${xml(changeKey)}"/>` +
    `<t:ItemClass>IPM.Appointment</t:ItemClass>` +
    `<t:Subject>${xml(subject)}</t:Subject>` +
    `<t:Sensitivity>${m.sensitivity === "normal" ? "Normal" : "Private"}</t:Sensitivity>` +
    (shape.withBody ? `<t:Body BodyType="${shape.bodyType}">${shape.bodyType === "HTML" ? xml(body) : xml(body)}</t:Body>` : "") +
    `<t:Start>${ewsDateTime(m.start, shape.zone)}</t:Start>` +
    `<t:End>${ewsDateTime(m.end, shape.zone)}</t:End>` +
    `<t:IsAllDayEvent>false</t:IsAllDayEvent>` +
    `<t:LegacyFreeBusyStatus>Busy</t:LegacyFreeBusyStatus>` +
    `<t:Location>${xml(location)}</t:Location>` +
    `<t:IsMeeting>true</t:IsMeeting>` +
    `<t:IsCancelled>false</t:IsCancelled>` +
    `<t:CalendarItemType>Single</t:CalendarItemType>` +
    organizer +
    (shape.zone !== null ? `<t:TimeZone>${xml(shape.zone.id)}</t:TimeZone>` : "") +
    `</t:CalendarItem>`;
  return { itemId, changeKey, xml: out };
}

/** The POX Autodiscover answer: where the device finds EWS. */
export function autodiscoverResponse(mailbox: string, displayName: string, ewsUrl: string): string {
  return (
    `<?xml version="1.0" encoding="utf-8"?>` +
    `<Autodiscover xmlns="http://schemas.microsoft.com/exchange/autodiscover/responseschema/2006">` +
    `<Response xmlns="http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a">` +
    `<User><DisplayName>${xml(displayName)}</DisplayName><AutoDiscoverSMTPAddress>${xml(mailbox)}</AutoDiscoverSMTPAddress></User>` +
    `<Account><AccountType>email</AccountType><Action>settings</Action>` +
    `<Protocol><Type>EXCH</Type><Server>${xml(new URL(ewsUrl).host)}</Server><ASUrl>${xml(ewsUrl)}</ASUrl><EwsUrl>${xml(ewsUrl)}</EwsUrl><AuthPackage>Basic</AuthPackage></Protocol>` +
    `<Protocol><Type>EXPR</Type><Server>${xml(new URL(ewsUrl).host)}</Server><ASUrl>${xml(ewsUrl)}</ASUrl><EwsUrl>${xml(ewsUrl)}</EwsUrl><AuthPackage>Basic</AuthPackage><SSL>${ewsUrl.startsWith("https:") ? "On" : "Off"}</SSL></Protocol>` +
    `</Account></Response></Autodiscover>`
  );
}

export function autodiscoverError(code: string, message: string): string {
  return (
    `<?xml version="1.0" encoding="utf-8"?>` +
    `<Autodiscover xmlns="http://schemas.microsoft.com/exchange/autodiscover/responseschema/2006">` +
    `<Response><Error Time="00:00:00" Id="1"><ErrorCode>${xml(code)}</ErrorCode><Message>${xml(message)}</Message><DebugData/></Error></Response></Autodiscover>`
  );
}
