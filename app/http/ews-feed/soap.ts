/**
 * Reading SOAP requests of the EWS feed, defensively: the body is capped (EWS_BODY_LIMIT, also the
 * route's limit), DTDs and entity declarations are refused before any parser sees the text, the
 * element nesting is measured by a linear scan and bounded, and only then does fast-xml-parser
 * (entity processing off) build the tree. Every refusal is a SoapFault, answered as a SOAP fault.
 */
import { XMLParser } from "fast-xml-parser";

/** Largest request body the feed reads (bytes). A device's requests are a few KiB. */
export const EWS_BODY_LIMIT = 64 * 1024;
/** Deepest element nesting accepted; EWS requests nest about 8 levels. */
export const MAX_XML_DEPTH = 32;

/** A request the feed refuses; `responseCode` is the EWS code put in the fault's detail. */
export class SoapFault extends Error {
  constructor(
    readonly responseCode: string,
    message: string,
    readonly faultCode: "Client" | "Server" = "Client",
    readonly httpStatus = 500,
  ) {
    super(message);
  }
}

export type XmlNode = Record<string, unknown>;

export interface SoapRequest {
  /** Local name of the Body's first element, e.g. `FindItem`. */
  operation: string;
  /** That element's content. */
  request: XmlNode;
  header: XmlNode;
}

/**
 * Whether the elements nest deeper than `max`, by one pass over the text (no regular expression
 * that could backtrack); `null` when the tags do not balance (an unterminated or unclosed tag).
 */
export function xmlNestingExceeds(text: string, max: number): boolean | null {
  let depth = 0;
  let i = text.indexOf("<");
  while (i !== -1) {
    if (text.startsWith("<!--", i)) {
      const end = text.indexOf("-->", i + 4);
      if (end === -1) return null;
      i = text.indexOf("<", end + 3);
      continue;
    }
    if (text.startsWith("<![CDATA[", i)) {
      const end = text.indexOf("]]>", i + 9);
      if (end === -1) return null;
      i = text.indexOf("<", end + 3);
      continue;
    }
    const close = text.indexOf(">", i + 1);
    if (close === -1) return null;
    const next = text[i + 1];
    if (next === "/") {
      depth--;
      if (depth < 0) return null;
    } else if (next !== "?" && next !== "!" && text[close - 1] !== "/") {
      depth++;
      if (depth > max) return true;
    }
    i = text.indexOf("<", close + 1);
  }
  // Elements left open: not a document.
  return depth === 0 ? false : null;
}

const parser = new XMLParser({
  ignoreAttributes: false,
  attributeNamePrefix: "@_",
  removeNSPrefix: true,
  processEntities: false,
  htmlEntities: false,
  parseTagValue: false,
  parseAttributeValue: false,
  trimValues: true,
});

/** The element's children as a list whether the parser saw one or many. */
export function asArray(value: unknown): unknown[] {
  if (value === undefined || value === null) return [];
  return Array.isArray(value) ? value : [value];
}

export function child(node: unknown, name: string): XmlNode | undefined {
  if (node === null || typeof node !== "object") return undefined;
  const value = (node as XmlNode)[name];
  const first = Array.isArray(value) ? value[0] : value;
  return first !== null && typeof first === "object" ? (first as XmlNode) : first === "" ? {} : undefined;
}

export function attr(node: unknown, name: string): string | undefined {
  if (node === null || typeof node !== "object") return undefined;
  const value = (node as XmlNode)[`@_${name}`];
  return typeof value === "string" ? value : undefined;
}

export function text(node: unknown, name: string): string | undefined {
  if (node === null || typeof node !== "object") return undefined;
  const value = (node as XmlNode)[name];
  const first = Array.isArray(value) ? value[0] : value;
  if (typeof first === "string") return first;
  if (first !== null && typeof first === "object" && typeof (first as XmlNode)["#text"] === "string") return (first as XmlNode)["#text"] as string;
  return undefined;
}

/** Parses a SOAP 1.1 envelope; throws SoapFault for anything the feed refuses. */
export function parseSoapEnvelope(body: string): SoapRequest {
  if (Buffer.byteLength(body, "utf8") > EWS_BODY_LIMIT)
    throw new SoapFault("ErrorInvalidRequest", `the request is larger than ${EWS_BODY_LIMIT} bytes`, "Client", 413);
  // No DTD, no entity declaration: external entities (file reads) and entity expansion (billion
  // laughs) never reach a parser.
  if (/<!DOCTYPE|<!ENTITY/i.test(body)) throw new SoapFault("ErrorInvalidRequest", "DTDs and entity declarations are not accepted");
  const nesting = xmlNestingExceeds(body, MAX_XML_DEPTH);
  if (nesting === null) throw new SoapFault("ErrorSchemaValidation", "the request is not well-formed XML");
  if (nesting) throw new SoapFault("ErrorSchemaValidation", `the request nests elements deeper than ${MAX_XML_DEPTH} levels`);
  let tree: XmlNode;
  try {
    tree = parser.parse(body) as XmlNode;
  } catch {
    throw new SoapFault("ErrorSchemaValidation", "the request is not well-formed XML");
  }
  const envelope = child(tree, "Envelope");
  const soapBody = child(envelope, "Body");
  if (envelope === undefined || soapBody === undefined) throw new SoapFault("ErrorSchemaValidation", "the request is not a SOAP envelope");
  const operation = Object.keys(soapBody).find((k) => !k.startsWith("@_") && k !== "#text");
  if (operation === undefined) throw new SoapFault("ErrorInvalidRequest", "the SOAP body names no operation");
  return { operation, request: child(soapBody, operation) ?? {}, header: child(envelope, "Header") ?? {} };
}

/** Parses a POX Autodiscover request (same guards); returns the e-mail address asked for, if any. */
export function parseAutodiscoverRequest(body: string): string | null {
  if (Buffer.byteLength(body, "utf8") > EWS_BODY_LIMIT)
    throw new SoapFault("ErrorInvalidRequest", `the request is larger than ${EWS_BODY_LIMIT} bytes`, "Client", 413);
  if (/<!DOCTYPE|<!ENTITY/i.test(body)) throw new SoapFault("ErrorInvalidRequest", "DTDs and entity declarations are not accepted");
  const nesting = xmlNestingExceeds(body, MAX_XML_DEPTH);
  if (nesting !== false) throw new SoapFault("ErrorSchemaValidation", "the request is not well-formed XML or nests too deep");
  let tree: XmlNode;
  try {
    tree = parser.parse(body) as XmlNode;
  } catch {
    throw new SoapFault("ErrorSchemaValidation", "the request is not well-formed XML");
  }
  return text(child(child(tree, "Autodiscover"), "Request"), "EMailAddress") ?? null;
}
