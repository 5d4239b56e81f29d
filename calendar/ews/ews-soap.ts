/**
 * EWS SOAP 1.1 envelopes: built with fast-xml-parser's XMLBuilder (which escapes every text and
 * attribute value) and read with its XMLParser (namespace prefixes dropped, so `t:CalendarItem`
 * and `CalendarItem` read alike). No string slicing of XML anywhere.
 */

import { XMLBuilder, XMLParser } from "fast-xml-parser";

export const NS_SOAP = "http://schemas.xmlsoap.org/soap/envelope/";
export const NS_MESSAGES = "http://schemas.microsoft.com/exchange/services/2006/messages";
export const NS_TYPES = "http://schemas.microsoft.com/exchange/services/2006/types";

/** The schema version otj asks for: Exchange 2013 SP1 and later (2016, 2019, SE) answer it. */
export const SERVER_VERSION = "Exchange2013_SP1";

/** An element tree for XMLBuilder: `@name` keys are attributes, `#text` is text. */
export type XmlNode = { [name: string]: XmlValue };
export type XmlValue = string | number | boolean | XmlNode | readonly XmlNode[] | readonly string[];

const builder = new XMLBuilder({
  ignoreAttributes: false,
  attributeNamePrefix: "@",
  textNodeName: "#text",
  suppressEmptyNode: true,
  suppressBooleanAttributes: false,
});

/** Elements that may repeat; the parser always makes arrays of them so one and many read alike. */
const REPEATED = new Set([
  "CalendarItem",
  "GetItemResponseMessage",
  "FindItemResponseMessage",
  "GetRoomListsResponseMessage",
  "GetRoomsResponseMessage",
  "Address",
  "Room",
  "Attendee",
  "Value",
  "ItemId",
  "FieldURI",
]);

const parser = new XMLParser({
  removeNSPrefix: true,
  ignoreAttributes: false,
  attributeNamePrefix: "@",
  textNodeName: "#text",
  parseTagValue: false,
  parseAttributeValue: false,
  htmlEntities: true,
  isArray: (name) => REPEATED.has(name),
});

export interface EnvelopeOptions {
  /** Mailbox to impersonate (`ExchangeImpersonation`), or null for the account's own rights. */
  readonly impersonate: string | null;
}

/** A complete SOAP request with the `RequestServerVersion` (and impersonation) header and a UTC time zone context. */
export function buildEnvelope(operation: string, body: XmlNode, options: EnvelopeOptions): string {
  const header: XmlNode = {
    "t:RequestServerVersion": { "@Version": SERVER_VERSION },
    "t:TimeZoneContext": { "t:TimeZoneDefinition": { "@Id": "UTC" } },
  };
  if (options.impersonate !== null) {
    header["t:ExchangeImpersonation"] = { "t:ConnectingSID": { "t:SmtpAddress": options.impersonate } };
  }
  const envelope = {
    "soap:Envelope": {
      "@xmlns:soap": NS_SOAP,
      "@xmlns:m": NS_MESSAGES,
      "@xmlns:t": NS_TYPES,
      "soap:Header": header,
      "soap:Body": { [`m:${operation}`]: body },
    },
  };
  return `<?xml version="1.0" encoding="utf-8"?>${builder.build(envelope)}`;
}

/** Serialises an element tree (the emulator's replies). */
export function buildXml(tree: XmlNode): string {
  return `<?xml version="1.0" encoding="utf-8"?>${builder.build(tree)}`;
}

export type Xml = Record<string, unknown>;

/**
 * Parses a SOAP document. @returns the tree, or null when the text is not well-formed XML or
 * declares a DOCTYPE (SOAP forbids one; refusing it keeps entity expansion out).
 */
export function parseXml(text: string): Xml | null {
  if (/<!DOCTYPE/i.test(text)) return null;
  try {
    const tree = parser.parse(text, true) as unknown;
    return tree !== null && typeof tree === "object" ? (tree as Xml) : null;
  } catch {
    return null;
  }
}

/** The child element `name` of `node`, when it is an element. */
export function child(node: unknown, name: string): Xml | null {
  if (node === null || typeof node !== "object" || Array.isArray(node)) return null;
  const value = (node as Xml)[name];
  if (Array.isArray(value)) return value.length > 0 && typeof value[0] === "object" ? (value[0] as Xml) : null;
  return value !== null && typeof value === "object" ? (value as Xml) : null;
}

/** Every `name` child of `node` that is an element. */
export function children(node: unknown, name: string): Xml[] {
  if (node === null || typeof node !== "object" || Array.isArray(node)) return [];
  const value = (node as Xml)[name];
  const list = Array.isArray(value) ? value : value === undefined ? [] : [value];
  return list.filter((v): v is Xml => v !== null && typeof v === "object");
}

/** The text of child `name` (or of `node` itself when `name` is omitted); null when absent or empty. */
export function text(node: unknown, name?: string): string | null {
  let value: unknown = node;
  if (name !== undefined) {
    if (node === null || typeof node !== "object") return null;
    value = (node as Xml)[name];
    if (Array.isArray(value)) value = value[0];
  }
  if (typeof value === "string") return value === "" ? null : value;
  if (value !== null && typeof value === "object") {
    const t = (value as Xml)["#text"];
    return typeof t === "string" && t !== "" ? t : null;
  }
  return null;
}

/** Attribute `name` of `node`. */
export function attr(node: unknown, name: string): string | null {
  if (node === null || typeof node !== "object") return null;
  const value = (node as Xml)[`@${name}`];
  return typeof value === "string" ? value : null;
}

/** `Envelope/Body` of a parsed SOAP response. */
export function soapBody(tree: Xml): Xml | null {
  return child(child(tree, "Envelope"), "Body");
}

/** A SOAP fault, read from `Envelope/Body/Fault`. */
export interface SoapFault {
  readonly faultCode: string | null;
  readonly message: string | null;
  /** `detail/ResponseCode` (e.g. `ErrorServerBusy`), else the fault code without its prefix. */
  readonly responseCode: string | null;
  /** `detail/MessageXml/Value[@Name=BackOffMilliseconds]`, when present. */
  readonly backOffMs: number | null;
}

export function readFault(body: Xml | null): SoapFault | null {
  const fault = child(body, "Fault");
  if (fault === null) return null;
  const detail = child(fault, "detail");
  const faultCode = text(fault, "faultcode");
  return {
    faultCode,
    message: text(fault, "faultstring"),
    responseCode: text(detail, "ResponseCode") ?? (faultCode ? faultCode.replace(/^.*:/, "") : null),
    backOffMs: backOffOf(child(detail, "MessageXml")),
  };
}

/** `BackOffMilliseconds` from a `MessageXml` element, or null. */
export function backOffOf(messageXml: Xml | null): number | null {
  for (const value of children(messageXml, "Value")) {
    if (attr(value, "Name") !== "BackOffMilliseconds") continue;
    const ms = Number(text(value));
    return Number.isFinite(ms) && ms >= 0 ? Math.ceil(ms) : null;
  }
  return null;
}
