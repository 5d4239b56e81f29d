/**
 * parseInvite: one invite file (MIME, iCalendar, Graph event JSON, HTML or text) to the CLI contract's
 * ParseOutput. Pure: no network, no clock, no database. Never throws on bad input: problems
 * become warnings, and "no join information" is a result (join null).
 */
import { isAscii } from "node:buffer";
import type { ParsedMail } from "mailparser";
import type { Invite, InviteFormat, ParseOutput, Person, Sensitivity } from "../core/domain.ts";
import { type Assembled, assembleJoin, type InviteContext, type InviteSources } from "./assemble.ts";
import { looksLikeHtml } from "./body.ts";
import { googleEventList, looksLikeGoogleEvent, readGoogleEvent } from "./google-event.ts";
import { type IcsEvent, readCalendar } from "./ical.ts";
import { LIMITS } from "./limits.ts";
import { decodeCalendarBytes, type FastMail, readMimeFast } from "./mime-fast.ts";
import { threadFromConfLink } from "./providers/teams.ts";
import { resolveTimeZone, toIso, wallTimeToUtc } from "./timezone.ts";

export interface ParseOptions {
  format?: InviteFormat | "auto";
  /** "auto" (default): the fast MIME reader, mailparser when it declines; "mailparser": always the reference reader. */
  mimeReader?: "auto" | "mailparser";
  /** File name, used only as a hint for auto-detection. */
  filename?: string;
}

/** An Invite plus what the planner needs that the stable JSON does not carry. */
export interface InviteDetail {
  invite: Invite;
  context: InviteContext;
}

export interface DetailedParse {
  format: InviteFormat;
  details: InviteDetail[];
  warnings: string[];
}

/** An invite's calendar facts, without its join. */
export interface Meta {
  uid: string | null;
  method: string | null;
  sequence: number | null;
  subject: string | null;
  organizer: Person | null;
  start: string | null;
  end: string | null;
  recurrenceId: string | null;
  recurring: boolean;
  cancelled: boolean;
  sensitivity: Sensitivity;
}

export const EMPTY_META: Meta = {
  uid: null,
  method: null,
  sequence: null,
  subject: null,
  organizer: null,
  start: null,
  end: null,
  recurrenceId: null,
  recurring: false,
  cancelled: false,
  sensitivity: "normal",
};

function emptySources(): InviteSources {
  return { structuredUrls: [], structuredThreadId: null, meetingUrls: [], html: null, text: null, location: null, peopleAddresses: [] };
}

/** What one parse call carries down: its warnings, and whether the planner's context is wanted. */
interface Run {
  warnings: Set<string>;
  withContext: boolean;
}

function build(meta: Meta, sources: InviteSources, run: Run): InviteDetail {
  const warnings = run.warnings;
  let assembled: Assembled;
  try {
    assembled = assembleJoin(sources, run.withContext);
  } catch (error) {
    // Defensive: a bug in one extractor must not lose the invite.
    warnings.add(`join extraction failed: ${error instanceof Error ? error.message.slice(0, 100) : "error"}`);
    assembled = {
      join: null,
      alternatives: [],
      warnings: [],
      context: { text: "", location: "", printedVideoAddresses: [], providerLink: null, providerPasscode: null, providerMeetingNumber: null },
    };
  }
  for (const w of assembled.warnings) warnings.add(w);
  const invite: Invite = {
    uid: meta.uid,
    method: meta.method,
    sequence: meta.sequence,
    subject: meta.subject,
    organizer: meta.organizer,
    start: meta.start,
    end: meta.end,
    recurrenceId: meta.recurrenceId,
    recurring: meta.recurring,
    cancelled: meta.cancelled,
    sensitivity: meta.sensitivity,
    join: assembled.join,
    alternatives: assembled.alternatives,
  };
  return { invite, context: assembled.context };
}

// ---------------------------------------------------------------- format detection

export function detectFormat(text: string, filename?: string): InviteFormat {
  const head = text
    .replace(/^\uFEFF/, "")
    .trimStart()
    .slice(0, 4096);
  if (/^BEGIN:VCALENDAR/i.test(head)) return "ics";
  if (head.startsWith("{") || head.startsWith("[")) {
    if (looksLikeGoogleEvent(head)) return "google";
    if (/"@odata\.|"start"\s*:\s*\{|"dateTime"|"iCalUId"|"onlineMeeting"/.test(head) || /\.json$/i.test(filename ?? "")) return "graph";
  }
  if (/^(?:[A-Za-z][A-Za-z0-9-]{0,76}:[^\r\n]*\r?\n)(?:(?:[A-Za-z][A-Za-z0-9-]{0,76}:|[ \t])[^\r\n]*\r?\n){0,200}/.test(head)) {
    const headerBlock = /^(?:(?:[A-Za-z][A-Za-z0-9-]{0,76}:|[ \t])[^\r\n]*\r?\n)+\r?\n/.exec(head);
    if (headerBlock && /^(?:from|to|subject|date|mime-version|content-type|received|message-id|return-path)\s*:/im.test(headerBlock[0])) return "eml";
  }
  if (/\.eml$/i.test(filename ?? "")) return "eml";
  if (/\.ics$/i.test(filename ?? "")) return "ics";
  if (looksLikeHtml(head) || /^<!doctype html/i.test(head)) return "html";
  return "text";
}

// ---------------------------------------------------------------- iCalendar

const SENSITIVITY_BY_CLASS: Record<string, Sensitivity> = { PUBLIC: "normal", PRIVATE: "private", CONFIDENTIAL: "confidential" };

function prop(ev: IcsEvent, name: string): string | null {
  const v = ev.props.get(name)?.[0]?.value;
  return v === undefined || v.trim() === "" ? null : v;
}

function icsOrganizer(ev: IcsEvent): Person | null {
  const p = ev.props.get("organizer")?.[0];
  if (!p) return null;
  const email = p.value.replace(/^mailto:/i, "").trim() || null;
  const name = p.params.cn?.replace(/^"|"$/g, "").trim() || null;
  return { name, email };
}

function icsSources(ev: IcsEvent, mimeHtml: string | null, mimeText: string | null): InviteSources {
  const s = emptySources();
  for (const name of ["x-microsoft-skypeteamsmeetingurl", "x-microsoft-onlinemeetingconflink", "x-microsoft-onlinemeetingexternallink", "url", "conference"]) {
    for (const p of ev.props.get(name) ?? []) {
      const v = p.value.trim();
      if (/^(?:https?:\/\/|msteams:)/i.test(v)) s.structuredUrls.push(v);
    }
  }
  const propsJson = prop(ev, "x-microsoft-skypeteamsproperties");
  if (propsJson) {
    try {
      const parsed = JSON.parse(propsJson) as { cid?: unknown };
      if (typeof parsed.cid === "string") s.structuredThreadId = parsed.cid;
    } catch {
      const m = /"cid"\s*:\s*"([^"]{1,300})"/.exec(propsJson);
      if (m) s.structuredThreadId = m[1]!;
    }
  }
  if (!s.structuredThreadId) {
    const conf = prop(ev, "x-microsoft-onlinemeetingconflink");
    if (conf) s.structuredThreadId = threadFromConfLink(conf);
  }
  const altDesc = (ev.props.get("x-alt-desc") ?? []).find((p) => /html/i.test(p.params.fmttype ?? "text/html"));
  s.html = altDesc?.value ?? mimeHtml;
  s.text = prop(ev, "description") ?? mimeText;
  s.location = prop(ev, "location");
  const organizer = icsOrganizer(ev);
  if (organizer?.email) s.peopleAddresses.push(organizer.email);
  for (const a of ev.props.get("attendee") ?? []) s.peopleAddresses.push(a.value.replace(/^mailto:/i, ""));
  return s;
}

function icsMeta(ev: IcsEvent): Meta {
  const method = ev.method;
  const status = prop(ev, "status")?.toUpperCase() ?? null;
  const seq = prop(ev, "sequence");
  const cls = prop(ev, "class")?.toUpperCase() ?? "PUBLIC";
  const sensitivityProp = prop(ev, "x-microsoft-cdo-importance");
  void sensitivityProp;
  return {
    uid: prop(ev, "uid"),
    method,
    sequence: seq !== null && /^\d{1,9}$/.test(seq.trim()) ? Number(seq) : null,
    subject: prop(ev, "summary"),
    organizer: icsOrganizer(ev),
    start: ev.timeOf("dtstart"),
    end: ev.timeOf("dtend"),
    recurrenceId: ev.props.has("recurrence-id") ? ev.timeOf("recurrence-id") : null,
    recurring: ev.props.has("rrule") || ev.props.has("rdate"),
    cancelled: method === "CANCEL" || status === "CANCELLED",
    sensitivity: SENSITIVITY_BY_CLASS[cls] ?? "private",
  };
}

function parseCalendarText(text: string, mimeHtml: string | null, mimeText: string | null, run: Run): InviteDetail[] {
  const warnings = run.warnings;
  const cal = readCalendar(text);
  for (const w of cal.warnings) warnings.add(w);
  return cal.events.map((ev) => {
    const meta = icsMeta(ev);
    for (const w of ev.timeWarnings) warnings.add(w);
    return build(meta, icsSources(ev, mimeHtml, mimeText), run);
  });
}

// ---------------------------------------------------------------- MIME

function isCalendarAttachment(a: ParsedMail["attachments"][number]): boolean {
  const type = (a.contentType ?? "").toLowerCase();
  return type === "text/calendar" || type === "application/ics" || /\.ics$/i.test(a.filename ?? "");
}

/** The parts of a message the parser reads, from either MIME reader. */
type MailParts = FastMail;

async function readWithMailparser(input: Buffer, warnings: Set<string>): Promise<MailParts | null> {
  let mail: ParsedMail;
  try {
    // Loaded on first use: the fast reader handles most mail, and mailparser weighs ~20 MB.
    const { simpleParser } = await import("mailparser");
    mail = await simpleParser(input, {
      skipImageLinks: true,
      skipHtmlToText: true,
      skipTextToHtml: true,
      skipTextLinks: true,
      maxHtmlLengthToParse: LIMITS.partChars,
    });
  } catch (error) {
    warnings.add(`unreadable MIME message (${error instanceof Error ? error.message.slice(0, 80) : "error"})`);
    return null;
  }
  const parts: MailParts = {
    subject: mail.subject?.trim() || null,
    from: mail.from?.value?.[0] ? { name: mail.from.value[0].name?.trim() || null, address: mail.from.value[0].address?.trim() || null } : null,
    html: typeof mail.html === "string" ? mail.html : null,
    text: mail.text ?? null,
    calendars: [],
    forwarded: [],
    tnef: false,
  };
  for (const a of mail.attachments) {
    const type = (a.contentType ?? "").toLowerCase();
    if (type === "application/ms-tnef" || /^winmail\.dat$/i.test(a.filename ?? "")) parts.tnef = true;
    else if (isCalendarAttachment(a)) {
      const ct = a.headers?.get("content-type") as { params?: Record<string, string> } | string | undefined;
      const charset = typeof ct === "object" ? (ct.params?.charset ?? null) : null;
      parts.calendars.push({ bytes: a.content, charset });
    } else if (type === "message/rfc822") parts.forwarded.push(a.content);
  }
  return parts;
}

/** Reads a message with the fast reader, or with mailparser when the fast one declines. */
export async function readMailParts(input: Buffer, warnings: Set<string>, useFast = true): Promise<MailParts | null> {
  const fast = useFast ? readMimeFast(input) : null;
  return fast ?? (await readWithMailparser(input, warnings));
}

async function parseMime(input: Buffer, run: Run, depth: number, useFast = true, budget = { forwarded: LIMITS.forwardedMessages }): Promise<InviteDetail[]> {
  const warnings = run.warnings;
  const mail = await readMailParts(input, warnings, useFast);
  if (mail === null) return [build({ ...EMPTY_META }, emptySources(), run)];
  if (mail.tnef) warnings.add("winmail.dat (TNEF) not decoded");
  const html = mail.html !== null && mail.html.trim() !== "" ? mail.html : null;
  const text = mail.text !== null && mail.text.trim() !== "" ? mail.text : null;
  const details: InviteDetail[] = [];
  const seen = new Set<string>();
  for (const calendar of mail.calendars.slice(0, LIMITS.calendarParts)) {
    for (const d of parseCalendarText(decodeCalendarBytes(calendar.bytes, calendar.charset), html, text, run)) {
      const key = `${d.invite.uid ?? ""}|${d.invite.recurrenceId ?? ""}|${d.invite.sequence ?? ""}`;
      if (d.invite.uid !== null && seen.has(key)) continue;
      seen.add(key);
      details.push(d);
    }
  }
  const nested: InviteDetail[] = [];
  for (const message of mail.forwarded) {
    if (depth >= LIMITS.mimeDepth) {
      warnings.add(`forwarded messages nested deeper than ${LIMITS.mimeDepth} levels were not read`);
      break;
    }
    if (budget.forwarded-- <= 0) {
      warnings.add(`more than ${LIMITS.forwardedMessages} forwarded messages; the rest were not read`);
      break;
    }
    nested.push(...(await parseMime(message, run, depth + 1, useFast, budget)));
  }
  if (details.length === 0 && (nested.length === 0 || html || text)) {
    const meta: Meta = { ...EMPTY_META, subject: mail.subject, organizer: mail.from ? { name: mail.from.name, email: mail.from.address } : null };
    const s = emptySources();
    s.html = html;
    s.text = text;
    if (meta.organizer?.email) s.peopleAddresses.push(meta.organizer.email);
    const own = build(meta, s, run);
    // A forwarding note without meeting details adds nothing beside the attached invite.
    if (nested.length === 0 || own.invite.join !== null) details.push(own);
  }
  return [...details, ...nested];
}

// ---------------------------------------------------------------- Graph event JSON

type Json = Record<string, unknown>;

function obj(v: unknown): Json | null {
  return v !== null && typeof v === "object" && !Array.isArray(v) ? (v as Json) : null;
}

function str(v: unknown): string | null {
  return typeof v === "string" && v.trim() !== "" ? v : null;
}

function graphTime(v: unknown, warnings: Set<string>): string | null {
  const o = obj(v);
  const dateTime = str(o?.dateTime);
  if (!dateTime) return null;
  const m = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2}))?(?:\.\d+)?(Z|[+-]\d{2}:?\d{2})?$/.exec(dateTime.trim());
  if (!m) {
    warnings.add("unreadable Graph dateTime");
    return null;
  }
  if (m[7]) return toIso(Date.parse(dateTime));
  const zoneName = str(o?.timeZone) ?? "UTC";
  const zone = resolveTimeZone(zoneName);
  if (!zone) warnings.add(`unknown time zone "${zoneName.slice(0, 60)}"; time read as UTC`);
  const wall = { year: +m[1]!, month: +m[2]!, day: +m[3]!, hour: +m[4]!, minute: +m[5]!, second: +(m[6] ?? 0) };
  return toIso(wallTimeToUtc(wall, zone ?? "UTC"));
}

const GRAPH_SENSITIVITY: Record<string, Sensitivity> = { normal: "normal", private: "private", personal: "personal", confidential: "confidential" };

function graphEvent(ev: Json, run: Run): InviteDetail {
  const warnings = run.warnings;
  const organizerAddr = obj(obj(ev.organizer)?.emailAddress);
  const type = str(ev.type);
  const originalStart = str(ev.originalStart);
  const meta: Meta = {
    uid: str(ev.iCalUId),
    method: null,
    sequence: null,
    subject: str(ev.subject),
    organizer: organizerAddr ? { name: str(organizerAddr.name), email: str(organizerAddr.address) } : null,
    start: graphTime(ev.start, warnings),
    end: graphTime(ev.end, warnings),
    recurrenceId: (type === "occurrence" || type === "exception") && originalStart ? toIso(Date.parse(originalStart)) : null,
    recurring: type === "seriesMaster" || obj(ev.recurrence) !== null,
    cancelled: ev.isCancelled === true,
    sensitivity: GRAPH_SENSITIVITY[String(ev.sensitivity ?? "normal").toLowerCase()] ?? "private",
  };
  const s = emptySources();
  const joinUrl = str(obj(ev.onlineMeeting)?.joinUrl);
  if (joinUrl) s.structuredUrls.push(joinUrl);
  const onlineMeetingUrl = str(ev.onlineMeetingUrl);
  if (onlineMeetingUrl) s.meetingUrls.push(onlineMeetingUrl);
  const locations = Array.isArray(ev.locations) ? ev.locations : [];
  for (const l of locations.slice(0, 50)) {
    const uri = str(obj(l)?.locationUri);
    if (uri && /^(?:https?|sips?|h323):/i.test(uri)) s.meetingUrls.push(uri);
  }
  const body = obj(ev.body);
  const content = str(body?.content);
  if (content) {
    if (String(body?.contentType ?? "").toLowerCase() === "html" || looksLikeHtml(content)) s.html = content;
    else s.text = content;
  } else {
    s.text = str(ev.bodyPreview);
  }
  s.location = str(obj(ev.location)?.displayName);
  if (meta.organizer?.email) s.peopleAddresses.push(meta.organizer.email);
  for (const a of Array.isArray(ev.attendees) ? ev.attendees.slice(0, 500) : []) {
    const addr = str(obj(obj(a)?.emailAddress)?.address);
    if (addr) s.peopleAddresses.push(addr);
  }
  return build(meta, s, run);
}

function parseGraph(text: string, run: Run): InviteDetail[] {
  const warnings = run.warnings;
  let data: unknown;
  try {
    data = JSON.parse(text.replace(/^\uFEFF/, ""));
  } catch (error) {
    warnings.add(`invalid JSON (${error instanceof Error ? error.message.slice(0, 80) : "error"})`);
    return [];
  }
  const list = Array.isArray(data) ? data : Array.isArray(obj(data)?.value) ? (obj(data)!.value as unknown[]) : [data];
  if (list.length > LIMITS.graphEvents) warnings.add(`more than ${LIMITS.graphEvents} events; the rest were ignored`);
  const events = list
    .slice(0, LIMITS.graphEvents)
    .map(obj)
    .filter((e): e is Json => e !== null);
  return events.map((ev) => graphEvent(ev, run));
}

/** Parses a Graph event object already in memory (the calendar poller's path). */
export function parseGraphEvent(event: Record<string, unknown>): DetailedParse {
  const run: Run = { warnings: new Set<string>(), withContext: true };
  return { format: "graph", details: [graphEvent(event, run)], warnings: [...run.warnings] };
}

// ---------------------------------------------------------------- Google event JSON

function googleEvent(ev: Json, run: Run): InviteDetail {
  const s = emptySources();
  const meta = readGoogleEvent(ev, run.warnings, s);
  return build(meta, s, run);
}

function parseGoogle(text: string, run: Run): InviteDetail[] {
  let data: unknown;
  try {
    data = JSON.parse(text.replace(/^\uFEFF/, ""));
  } catch (error) {
    run.warnings.add(`invalid JSON (${error instanceof Error ? error.message.slice(0, 80) : "error"})`);
    return [];
  }
  const events = googleEventList(data);
  if (events.length > LIMITS.graphEvents) run.warnings.add(`more than ${LIMITS.graphEvents} events; the rest were ignored`);
  return events.slice(0, LIMITS.graphEvents).map((ev) => googleEvent(ev, run));
}

/** Parses a Google Calendar event object already in memory (the calendar poller's path). */
export function parseGoogleEvent(event: Record<string, unknown>): DetailedParse {
  const run: Run = { warnings: new Set<string>(), withContext: true };
  return { format: "google", details: [googleEvent(event, run)], warnings: [...run.warnings] };
}

// ---------------------------------------------------------------- entry points

function decodeText(input: Buffer): string {
  if (input[0] === 0xff && input[1] === 0xfe) return input.subarray(2).toString("utf16le");
  // ASCII reads the same as UTF-8 (no BOM, nothing to replace) and copies faster as Latin-1.
  if (isAscii(input)) return input.toString("latin1");
  let text = input.toString("utf8");
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  if (text.includes("\uFFFD") && !input.includes(Buffer.from("\uFFFD"))) text = input.toString("latin1");
  return text;
}

export function parseInviteDetailed(input: Buffer | string, options: ParseOptions = {}): Promise<DetailedParse> {
  return parseWith(input, options, { warnings: new Set<string>(), withContext: true });
}

async function parseWith(input: Buffer | string, options: ParseOptions, run: Run): Promise<DetailedParse> {
  const warnings = run.warnings;
  let buffer = typeof input === "string" ? Buffer.from(input, "utf8") : input;
  if (buffer.length > LIMITS.inputBytes) {
    buffer = buffer.subarray(0, LIMITS.inputBytes);
    warnings.add(`input truncated to ${LIMITS.inputBytes} bytes`);
  }
  const text = typeof input === "string" && buffer.length === Buffer.byteLength(input) ? input : decodeText(buffer);
  const format = !options.format || options.format === "auto" ? detectFormat(text, options.filename) : options.format;
  let details: InviteDetail[];
  if (text.trim() === "") return { format, details: [], warnings: ["empty input"] };
  try {
    switch (format) {
      case "eml":
        details = await parseMime(buffer, run, 0, options.mimeReader !== "mailparser");
        break;
      case "ics":
        details = parseCalendarText(decodeCalendarBytes(buffer), null, null, run);
        break;
      case "graph":
        details = parseGraph(text, run);
        break;
      case "google":
        details = parseGoogle(text, run);
        break;
      case "html": {
        const s = emptySources();
        s.html = text;
        details = [build({ ...EMPTY_META }, s, run)];
        break;
      }
      default: {
        const s = emptySources();
        s.text = text;
        details = [build({ ...EMPTY_META }, s, run)];
      }
    }
  } catch (error) {
    warnings.add(`input could not be parsed (${error instanceof Error ? error.message.slice(0, 100) : "error"})`);
    details = [];
  }
  return { format, details, warnings: [...warnings] };
}

export async function parseInvite(input: Buffer | string, options: ParseOptions = {}): Promise<ParseOutput> {
  // The planner's context is not part of ParseOutput: skip building it.
  const detailed = await parseWith(input, options, { warnings: new Set<string>(), withContext: false });
  return { format: detailed.format, invites: detailed.details.map((d) => d.invite), warnings: detailed.warnings };
}
