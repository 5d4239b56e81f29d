/**
 * A fast reader for the common shape of meeting-request mails (multipart/alternative or mixed,
 * 7bit/8bit/quoted-printable/base64, charsets Node's TextDecoder knows). Anything outside that
 * shape returns null and the caller falls back to mailparser, the reference reader; a test keeps
 * both paths in agreement on every MIME fixture.
 */
import { isAscii } from "node:buffer";
import { TextDecoder } from "node:util";
import { LIMITS } from "./limits.ts";

export interface CalendarPart {
  bytes: Buffer;
  charset: string | null;
}

/**
 * iCalendar bytes to text: unfold first, on bytes, because folding may split a UTF-8 sequence
 * (RFC 5545 3.1), then decode with the part's charset (UTF-8 by default).
 */
export function decodeCalendarBytes(bytes: Buffer, charset: string | null = null): string {
  // ASCII splits no character, so it can be decoded first and unfolded as text (the common case).
  if ((charset === null || UTF8_LABELS.has(charset.trim().toLowerCase().replace(/^"|"$/g, ""))) && isAscii(bytes)) {
    return unfoldText(bytes.toString("latin1"));
  }
  const unfolded = unfoldBytes(bytes);
  const decoder = decoderFor(charset ?? "utf-8") ?? decoderFor("utf-8")!;
  let text = decoder.decode(unfolded);
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  // Not UTF-8 after all: read it as windows-1252 rather than losing characters.
  if (charset === null && text.includes("\uFFFD") && !unfolded.includes(Buffer.from("\uFFFD"))) text = cp1252.decode(unfolded);
  return text;
}

const UTF8_LABELS = new Set(["utf-8", "utf8", "unicode-1-1-utf-8"]);

/** Removes CRLF/LF followed by a space or tab (the text form of unfoldBytes). */
function unfoldText(text: string): string {
  let out = "";
  let from = 0;
  for (let lf = text.indexOf("\n"); lf >= 0; lf = text.indexOf("\n", lf + 1)) {
    const next = text.charCodeAt(lf + 1);
    if (next !== 32 && next !== 9) continue;
    out += text.slice(from, lf > from && text.charCodeAt(lf - 1) === 13 ? lf - 1 : lf);
    from = lf + 2;
    lf++;
  }
  return from === 0 ? text : out + text.slice(from);
}

/** Removes CRLF/LF followed by a space or tab (RFC 5545 3.1 folding), copying the runs between folds. */
function unfoldBytes(bytes: Buffer): Buffer {
  let out: Buffer | null = null;
  let o = 0;
  let from = 0;
  for (let lf = bytes.indexOf(10); lf >= 0; lf = bytes.indexOf(10, lf + 1)) {
    const next = bytes[lf + 1];
    if (next !== 32 && next !== 9) continue;
    const foldStart = lf > from && bytes[lf - 1] === 13 ? lf - 1 : lf;
    out ??= Buffer.allocUnsafe(bytes.length);
    if (foldStart - from > 64) o += bytes.copy(out, o, from, foldStart);
    else for (let k = from; k < foldStart; k++) out[o++] = bytes[k]!;
    from = lf + 2;
    lf++;
  }
  if (out === null) return bytes;
  o += bytes.copy(out, o, from);
  return out.subarray(0, o);
}

export interface FastMail {
  subject: string | null;
  from: { name: string | null; address: string | null } | null;
  html: string | null;
  text: string | null;
  calendars: CalendarPart[];
  forwarded: Buffer[];
  tnef: boolean;
}

interface Part {
  headers: Map<string, string>;
  body: Buffer;
}

const MAX_HEADER_BYTES = 256 * 1024;
const MAX_PARTS = 200;

function splitHeaderBody(buf: Buffer): { head: string; body: Buffer } | null {
  const limit = Math.min(buf.length, MAX_HEADER_BYTES);
  for (let i = 0; i < limit; i++) {
    if (buf[i] !== 10) continue;
    if (buf[i + 1] === 10) return { head: headerText(buf, i), body: buf.subarray(i + 2) };
    if (buf[i + 1] === 13 && buf[i + 2] === 10) return { head: headerText(buf, i), body: buf.subarray(i + 3) };
    if (i === 0 || (i === 1 && buf[0] === 13)) return { head: "", body: buf.subarray(i + 1) };
  }
  return buf.length < MAX_HEADER_BYTES ? { head: headerText(buf, buf.length), body: Buffer.alloc(0) } : null;
}

/** Header bytes as text: UTF-8 when valid (8-bit headers), else Latin-1. */
function headerText(buf: Buffer, end: number): string {
  const utf8 = buf.toString("utf8", 0, end);
  return utf8.includes("\uFFFD") ? buf.toString("latin1", 0, end) : utf8;
}

function parseHeaders(head: string): Map<string, string> | null {
  const headers = new Map<string, string>();
  const unfolded = head.replace(/\r?\n[ \t]+/g, " ");
  for (const line of unfolded.split(/\r?\n/)) {
    if (line === "") continue;
    const colon = line.indexOf(":");
    if (colon <= 0) {
      if (headers.size === 0) return null;
      continue;
    }
    const name = line.slice(0, colon).trim().toLowerCase();
    if (!/^[a-z0-9-]{1,76}$/.test(name)) return null;
    if (!headers.has(name)) headers.set(name, line.slice(colon + 1).trim());
  }
  return headers;
}

interface ContentType {
  type: string;
  params: Map<string, string>;
}

function parseParams(value: string): ContentType | null {
  const semi = value.indexOf(";");
  const type = (semi < 0 ? value : value.slice(0, semi)).trim().toLowerCase();
  const params = new Map<string, string>();
  let rest = semi < 0 ? "" : value.slice(semi + 1);
  const re = /^\s*([A-Za-z0-9_.*-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^;\s]*))\s*(?:;|$)/;
  let guard = 0;
  while (rest.trim() !== "" && guard++ < 50) {
    const m = re.exec(rest);
    if (!m) {
      const next = rest.indexOf(";");
      if (next < 0) break;
      rest = rest.slice(next + 1);
      continue;
    }
    const name = m[1]!.toLowerCase();
    if (name.includes("*")) return null; // RFC 2231 continuations: leave to mailparser
    params.set(name, m[2] !== undefined ? m[2].replace(/\\(.)/g, "$1") : m[3]!);
    rest = rest.slice(m[0].length);
  }
  return { type, params };
}

/** Bytes 0x80-0x9F of windows-1252 (WHATWG also uses it for iso-8859-1 and us-ascii). */
const CP1252_HIGH =
  "\u20AC\u0081\u201A\u0192\u201E\u2026\u2020\u2021\u02C6\u2030\u0160\u2039\u0152\u008D\u017D\u008F" +
  "\u0090\u2018\u2019\u201C\u201D\u2022\u2013\u2014\u02DC\u2122\u0161\u203A\u0153\u009D\u017E\u0178";
const CP1252_LABELS = new Set([
  "windows-1252",
  "cp1252",
  "x-cp1252",
  "iso-8859-1",
  "iso8859-1",
  "latin1",
  "l1",
  "us-ascii",
  "ascii",
  "iso-ir-100",
  "cp819",
  "ibm819",
]);

interface Decoder {
  decode(bytes: Uint8Array): string;
}

/** Latin-1 text (one character per byte) as windows-1252: 0x80-0x9F mapped, the rest kept. */
function cp1252FromLatin1(latin1: string, mayHaveC1: boolean): string {
  if (!mayHaveC1 || !/[\u0080-\u009f]/.test(latin1)) return latin1;
  return latin1.replace(/[\u0080-\u009f]/g, (c) => CP1252_HIGH[c.charCodeAt(0) - 0x80]!);
}

/** Node's TextDecoder reads windows-1252 as plain Latin-1; this one maps 0x80-0x9F properly. */
const cp1252: Decoder = {
  decode(bytes) {
    const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length);
    return cp1252FromLatin1(buf.toString("latin1"), !isAscii(buf));
  },
};

const decoders = new Map<string, Decoder | null>();

export function decoderFor(charset: string | undefined): Decoder | null {
  const label = (charset ?? "us-ascii").trim().toLowerCase().replace(/^"|"$/g, "");
  let d = decoders.get(label);
  if (d === undefined) {
    if (CP1252_LABELS.has(label)) d = cp1252;
    else {
      try {
        d = new TextDecoder(label);
      } catch {
        d = null;
      }
    }
    decoders.set(label, d);
  }
  return d;
}

function isHex(c: number): boolean {
  return (c >= 48 && c <= 57) || (c >= 65 && c <= 70) || (c >= 97 && c <= 102);
}

function hexValue(c: number): number {
  return c <= 57 ? c - 48 : (c | 32) - 87;
}

/**
 * Quoted-printable to a binary string (one character per decoded byte). Working on a Latin-1
 * string lets the runs between '=' signs be sliced rather than copied byte by byte.
 * `high` tells whether any decoded byte may be 0x80 or above.
 */
function decodeQuotedPrintableBinary(buf: Buffer): { binary: string; high: boolean } {
  const s = buf.toString("latin1");
  const n = s.length;
  let high = !isAscii(buf);
  let out = "";
  let i = 0;
  while (i < n) {
    const eq = s.indexOf("=", i);
    if (eq < 0) {
      out += s.slice(i);
      break;
    }
    if (eq > i) out += s.slice(i, eq);
    const a = s.charCodeAt(eq + 1);
    const b = s.charCodeAt(eq + 2);
    if (a === 13 && b === 10) {
      i = eq + 3;
    } else if (a === 10) {
      i = eq + 2;
    } else if (isHex(a) && isHex(b)) {
      const byte = hexValue(a) * 16 + hexValue(b);
      if (byte >= 0x80) high = true;
      out += String.fromCharCode(byte);
      i = eq + 3;
    } else {
      // A soft break followed by trailing whitespace, or a stray '=' (kept, as mailparser does).
      let j = eq + 1;
      while (s.charCodeAt(j) === 32 || s.charCodeAt(j) === 9) j++;
      if (s.charCodeAt(j) === 13 && s.charCodeAt(j + 1) === 10) i = j + 2;
      else if (s.charCodeAt(j) === 10) i = j + 1;
      else {
        out += "=";
        i = eq + 1;
      }
    }
  }
  return { binary: out, high };
}

function decodeQuotedPrintable(buf: Buffer): Buffer {
  return Buffer.from(decodeQuotedPrintableBinary(buf).binary, "latin1");
}

function transferEncoding(part: Part): string {
  return (part.headers.get("content-transfer-encoding") ?? "7bit").trim().toLowerCase();
}

function transferDecode(part: Part): Buffer | null {
  const cte = transferEncoding(part);
  if (cte === "7bit" || cte === "8bit" || cte === "binary" || cte === "") return part.body;
  if (cte === "quoted-printable") return decodeQuotedPrintable(part.body);
  if (cte === "base64") return Buffer.from(part.body.toString("latin1").replace(/[^A-Za-z0-9+/=]/g, ""), "base64");
  return null;
}

/** A text part's content as a string: transferDecode then `decoder`, without a byte round trip for quoted-printable windows-1252. */
function decodeTextPart(part: Part, decoder: Decoder): string | null {
  if (transferEncoding(part) === "quoted-printable") {
    const { binary, high } = decodeQuotedPrintableBinary(part.body);
    return decoder === cp1252 ? cp1252FromLatin1(binary, high) : decoder.decode(Buffer.from(binary, "latin1"));
  }
  const bytes = transferDecode(part);
  return bytes === null ? null : decoder.decode(bytes);
}

/** RFC 2047 encoded words (adjacent words joined without the whitespace between them). */
export function decodeEncodedWords(value: string): string | null {
  if (!value.includes("=?")) return value;
  let failed = false;
  const out = value.replace(/=\?([^?\s]{1,40})\?([QqBb])\?([^?\s]*)\?=(?:\s+(?==\?))?/g, (_w, charset: string, enc: string, data: string) => {
    const d = decoderFor(charset.replace(/\*.*$/, ""));
    if (!d) {
      failed = true;
      return "";
    }
    let bytes: Buffer;
    if (enc.toUpperCase() === "B") bytes = Buffer.from(data, "base64");
    else bytes = decodeQuotedPrintable(Buffer.from(data.replace(/_/g, " "), "latin1"));
    return d.decode(bytes);
  });
  return failed ? null : out;
}

function splitMultipart(body: Buffer, boundary: string): Buffer[] | null {
  const delimiter = Buffer.from(`--${boundary}`, "latin1");
  const parts: Buffer[] = [];
  let pos = body.indexOf(delimiter);
  // A multipart without a single delimiter has no parts (an empty or truncated container).
  if (pos < 0) return parts;
  while (pos >= 0 && parts.length <= MAX_PARTS) {
    // The delimiter must start a line.
    let after = pos + delimiter.length;
    if (body[after] === 45 && body[after + 1] === 45) return parts;
    while (body[after] === 32 || body[after] === 9) after++;
    if (body[after] === 13) after++;
    if (body[after] !== 10) return null;
    const start = after + 1;
    let next = body.indexOf(delimiter, start);
    while (next >= 0 && !(body[next - 1] === 10)) next = body.indexOf(delimiter, next + 1);
    if (next < 0) {
      // No closing delimiter (a truncated message): the last part runs to the end.
      parts.push(body.subarray(start));
      return parts;
    }
    let end = next - 1;
    if (body[end - 1] === 13) end--;
    parts.push(body.subarray(start, Math.max(start, end)));
    pos = next;
  }
  return null;
}

function readPart(raw: Buffer): Part | null {
  const split = splitHeaderBody(raw);
  if (!split) return null;
  const headers = parseHeaders(split.head);
  if (!headers) return null;
  return { headers, body: split.body };
}

interface Collected {
  html: string | null;
  text: string | null;
  calendars: CalendarPart[];
  forwarded: Buffer[];
  tnef: boolean;
  parts: number;
}

function walk(part: Part, acc: Collected, depth: number): boolean {
  if (++acc.parts > MAX_PARTS || depth > 10) return false;
  const ctHeader = part.headers.get("content-type") ?? "text/plain";
  const ct = parseParams(ctHeader);
  if (!ct) return false;
  const disposition = parseParams(part.headers.get("content-disposition") ?? "inline");
  if (!disposition) return false;
  const filename = disposition.params.get("filename") ?? ct.params.get("name") ?? "";
  const attachment = disposition.type === "attachment";
  if (ct.type.startsWith("multipart/")) {
    const boundary = ct.params.get("boundary");
    if (!boundary) return false;
    const children = splitMultipart(part.body, boundary);
    if (!children) return false;
    for (const child of children) {
      const p = readPart(child);
      if (!p || !walk(p, acc, depth + 1)) return false;
    }
    return true;
  }
  if (ct.type === "message/rfc822") {
    const body = transferDecode(part);
    if (!body) return false;
    acc.forwarded.push(body);
    return true;
  }
  if (ct.type === "application/ms-tnef" || /^winmail\.dat$/i.test(filename)) {
    acc.tnef = true;
    return true;
  }
  const isCalendar = ct.type === "text/calendar" || ct.type === "application/ics" || /\.ics$/i.test(filename);
  const isBodyText = !attachment && !isCalendar && (ct.type === "text/plain" || ct.type === "text/html");
  if (!isCalendar && !isBodyText) return true; // other attachments carry nothing we read
  if (isCalendar) {
    const bytes = transferDecode(part);
    if (!bytes) return false;
    const charset = ct.params.get("charset") ?? null;
    if (charset !== null && !decoderFor(charset)) return false;
    acc.calendars.push({ bytes, charset });
    return true;
  }
  const decoder = decoderFor(ct.params.get("charset") ?? "us-ascii");
  if (!decoder) return false;
  const text = decodeTextPart(part, decoder);
  if (text === null) return false;
  // Several inline bodies of one kind are joined by mailparser in its own way: defer to it.
  if (ct.type === "text/html") {
    if (acc.html !== null) return false;
    acc.html = text;
  } else {
    if (acc.text !== null) return false;
    acc.text = text;
  }
  return true;
}

function parseFrom(value: string | undefined): FastMail["from"] | undefined {
  if (value === undefined) return null;
  const decoded = decodeEncodedWords(value);
  if (decoded === null) return undefined;
  const angle = /^\s*(?:"((?:[^"\\]|\\.)*)"|([^<]*?))\s*<([^<>\s]+@[^<>\s]+)>\s*$/.exec(decoded);
  if (angle) return { name: (angle[1] ?? angle[2] ?? "").replace(/\\(.)/g, "$1").trim() || null, address: angle[3]!.trim() };
  const bare = /^\s*([^\s<>",;]+@[^\s<>",;]+)\s*$/.exec(decoded);
  if (bare) return { name: null, address: bare[1]! };
  return undefined;
}

/** Reads a common-shape MIME message, or returns null to defer to mailparser. */
export function readMimeFast(buf: Buffer): FastMail | null {
  if (buf.length > LIMITS.inputBytes) return null;
  const top = readPart(buf);
  if (!top || (!top.headers.has("content-type") && !top.headers.has("mime-version") && !top.headers.has("subject"))) return null;
  const acc: Collected = { html: null, text: null, calendars: [], forwarded: [], tnef: false, parts: 0 };
  if (!walk(top, acc, 0)) return null;
  const subjectRaw = top.headers.get("subject");
  const subject = subjectRaw === undefined ? null : decodeEncodedWords(subjectRaw);
  if (subject === null && subjectRaw !== undefined) return null;
  const from = parseFrom(top.headers.get("from"));
  if (from === undefined) return null;
  return { subject: subject?.trim() || null, from, html: acc.html, text: acc.text, calendars: acc.calendars, forwarded: acc.forwarded, tnef: acc.tnef };
}
