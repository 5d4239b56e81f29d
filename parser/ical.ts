/**
 * iCalendar reading (docs/formats.md, T1.2): ical.js first; a tolerant line reader when ical.js
 * refuses the document. Produces plain records; Teams and body rules run elsewhere.
 */
import ICAL from "ical.js";
import { LIMITS } from "./limits.ts";
import { asciiWordAt } from "./text.ts";
import { resolveTimeZone, toIso, wallTimeToUtc, type WallTime } from "./timezone.ts";

export interface IcsProperty {
  value: string;
  params: Record<string, string>;
}

export interface IcsEvent {
  props: Map<string, IcsProperty[]>;
  /** Calendar METHOD (from the enclosing VCALENDAR). */
  method: string | null;
  /** UTC conversion for a date-time property of this event (null when absent or unreadable). */
  timeOf(name: string): string | null;
  timeWarnings: string[];
}

export interface IcsCalendar {
  method: string | null;
  events: IcsEvent[];
  warnings: string[];
}

/**
 * RFC 5545 TEXT unescaping: \n \N newline, \, \; \\ literal, and \: (which some writers emit)
 * unless `colon` is false (ical.js's own TEXT decoding leaves "\:" alone).
 */
export function unescapeText(value: string, colon = true): string {
  let at = value.indexOf("\\");
  if (at < 0) return value;
  let out = "";
  let last = 0;
  while (at >= 0 && at + 1 < value.length) {
    const c = value[at + 1]!;
    if (c === "n" || c === "N" || c === "," || c === ";" || c === "\\" || (c === ":" && colon)) {
      out += value.slice(last, at) + (c === "n" || c === "N" ? "\n" : c);
      last = at + 2;
      at = value.indexOf("\\", last);
    } else {
      at = value.indexOf("\\", at + 1);
    }
  }
  return out + value.slice(last);
}

function unfold(text: string): string {
  return text.replace(/\r?\n[ \t]/g, "");
}

const WALL = /^(\d{4})(\d{2})(\d{2})(?:T(\d{2})(\d{2})(\d{2})(Z)?)?$/;

function parseWall(value: string): { wall: WallTime; utc: boolean; isDate: boolean } | null {
  const m = WALL.exec(value.trim());
  if (!m) return null;
  const wall: WallTime = {
    year: Number(m[1]),
    month: Number(m[2]),
    day: Number(m[3]),
    hour: m[4] ? Number(m[4]) : 0,
    minute: m[5] ? Number(m[5]) : 0,
    second: m[6] ? Number(m[6]) : 0,
  };
  if (wall.month < 1 || wall.month > 12 || wall.day < 1 || wall.day > 31 || wall.hour > 23 || wall.minute > 59 || wall.second > 60) return null;
  return { wall, utc: m[7] === "Z", isDate: m[4] === undefined };
}

type VtimezoneResolver = (tzid: string, wall: WallTime) => number | null;

function convert(prop: IcsProperty | undefined, vtz: VtimezoneResolver, warnings: string[]): string | null {
  if (!prop) return null;
  const parsed = parseWall(prop.value);
  if (!parsed) {
    warnings.push(`unreadable date-time "${prop.value.slice(0, 40)}"`);
    return null;
  }
  if (parsed.utc) return toIso(wallTimeToUtc(parsed.wall, "UTC"));
  const tzid = prop.params.tzid;
  if (!tzid || parsed.isDate) {
    return toIso(wallTimeToUtc(parsed.wall, "UTC"));
  }
  const zone = resolveTimeZone(tzid);
  if (zone) return toIso(wallTimeToUtc(parsed.wall, zone));
  const viaVtz = vtz(tzid, parsed.wall);
  if (viaVtz !== null) return toIso(viaVtz);
  warnings.push(`unknown time zone "${tzid.slice(0, 60)}"; time read as UTC`);
  return toIso(wallTimeToUtc(parsed.wall, "UTC"));
}

function addDuration(startIso: string | null, duration: string | undefined): string | null {
  if (!startIso || !duration) return null;
  const m = /^([+-])?P(?:(\d{1,5})W)?(?:(\d{1,5})D)?(?:T(?:(\d{1,5})H)?(?:(\d{1,5})M)?(?:(\d{1,5})S)?)?$/.exec(duration.trim());
  if (!m) return null;
  const sign = m[1] === "-" ? -1 : 1;
  const seconds = ((Number(m[2] ?? 0) * 7 + Number(m[3] ?? 0)) * 86400 + Number(m[4] ?? 0) * 3600 + Number(m[5] ?? 0) * 60 + Number(m[6] ?? 0)) * sign;
  return toIso(Date.parse(startIso) + seconds * 1000);
}

function makeEvent(props: Map<string, IcsProperty[]>, method: string | null, vtz: VtimezoneResolver): IcsEvent {
  const cache = new Map<string, string | null>();
  const timeWarnings: string[] = [];
  const event: IcsEvent = {
    props,
    method,
    timeWarnings,
    timeOf(name: string) {
      if (cache.has(name)) return cache.get(name)!;
      let result: string | null;
      if (name === "dtend" && !props.has("dtend")) {
        result = addDuration(event.timeOf("dtstart"), props.get("duration")?.[0]?.value);
        if (result === null) result = event.timeOf("dtstart");
      } else {
        result = convert(props.get(name)?.[0], vtz, timeWarnings);
      }
      cache.set(name, result);
      return result;
    },
  };
  return event;
}

// ---------------------------------------------------------------- ical.js, line by line

interface ParseState {
  component: unknown[];
  stack: unknown[][];
  designSet?: unknown;
}

/** The parts of ICAL.parse this module drives directly (public on ICAL.parse, not in its types). */
const icalParse = ICAL.parse as unknown as {
  _handleContentLine(line: string, state: ParseState): void;
  ParserError: new (message: string) => Error;
};
const ICALENDAR_DESIGN = (ICAL.design as unknown as { icalendar: unknown }).icalendar;
const LINE_START = /[^ \t]/;
const LANGUAGE_ONLY = /^;language=([A-Za-z0-9-]*)$/i;

/**
 * The same jCal as ICAL.parse(input), and the same errors. ical.js decodes TEXT values with one
 * callback per escape, which dominates on long descriptions; the plain TEXT properties
 * (DESCRIPTION, SUMMARY, LOCATION, COMMENT, with no parameter but LANGUAGE) are therefore decoded
 * here, exactly as ical.js would, and every other line goes to ical.js's own line handler.
 */
function icalParseFast(input: string): unknown {
  const root: unknown[] = [];
  const state: ParseState = { component: root, stack: [root] };
  eachContentLine(input, (line) => {
    if (!fastTextLine(line, state)) icalParse._handleContentLine(line, state);
  });
  if (state.stack.length > 1) throw new icalParse.ParserError("invalid ical body. component began but did not end");
  return root.length === 1 ? root[0] : root;
}

/** A TEXT property line decoded as ical.js's _handleContentLine would, or false to let it. */
function fastTextLine(line: string, state: ParseState): boolean {
  if (state.designSet !== ICALENDAR_DESIGN || state.component[0] === "vcard") return false;
  const valuePos = line.indexOf(":");
  if (valuePos < 0) return false;
  let paramPos = line.indexOf(";");
  if (paramPos > valuePos) paramPos = -1;
  const name = fastTextName(line, paramPos < 0 ? valuePos : paramPos);
  if (name === null) return false;
  let params: Record<string, string> = {};
  if (paramPos >= 0) {
    const language = LANGUAGE_ONLY.exec(line.slice(paramPos, valuePos));
    if (!language) return false;
    params = { language: language[1]! };
  }
  (state.component[1] as unknown[]).push([name, params, "text", unescapeText(line.slice(valuePos + 1), false)]);
  return true;
}

/** line.slice(0, end).toLowerCase() when it is one of the TEXT properties decoded here, else null. */
function fastTextName(line: string, end: number): string | null {
  if (end === 11) return asciiWordAt(line, 0, "description") ? "description" : null;
  if (end === 8) return asciiWordAt(line, 0, "location") ? "location" : null;
  if (end !== 7) return null;
  if (asciiWordAt(line, 0, "summary")) return "summary";
  return asciiWordAt(line, 0, "comment") ? "comment" : null;
}

/** ical.js's parse._eachLine: lines split on LF (CR dropped before it), continuation lines joined. */
function eachContentLine(buffer: string, callback: (line: string) => void): void {
  const len = buffer.length;
  let lastPos = buffer.search(LINE_START);
  let pos = lastPos;
  // Starts undefined, as in ical.js (a continuation first would read "undefined...").
  let line = undefined as unknown as string;
  let newlineOffset: number;
  do {
    pos = buffer.indexOf("\n", lastPos) + 1;
    newlineOffset = pos > 1 && buffer[pos - 2] === "\r" ? 2 : 1;
    if (pos === 0) {
      pos = len;
      newlineOffset = 0;
    }
    const firstChar = buffer[lastPos];
    if (firstChar === " " || firstChar === "\t") {
      line += buffer.slice(lastPos + 1, pos - newlineOffset);
    } else {
      if (line) callback(line);
      line = buffer.slice(lastPos, pos - newlineOffset);
    }
    lastPos = pos;
  } while (pos !== len);
  line = line.trim();
  if (line.length) callback(line);
}

// ---------------------------------------------------------------- VTIMEZONE

/** A BYDAY entry that every month has: a weekday, or its 1st-4th or last-4th occurrence. */
const EVERY_MONTH_WEEKDAY = /^(?:[+-]?[1-4])?(?:SU|MO|TU|WE|TH|FR|SA)$/;

/**
 * Exchange and Outlook write VTIMEZONE rules from 1601; ical.js expands every yearly transition
 * from there on the first lookup (about 12 ms). For a rule with transitions in every year, the
 * same way each year (FREQ=YEARLY, INTERVAL 1, one BYMONTH, BYDAY weekdays every month has, no
 * COUNT, UNTIL, RDATE, EXDATE or EXRULE), the transitions from a later year on are the same, and
 * a lookup only reads the transitions just before the looked-up time: starting the rule three
 * years before the earliest time that will be looked up gives the same offsets.
 */
function startRulesLater(zone: ICAL.Component, earliestYear: number): void {
  const startYear = earliestYear - 3;
  for (const part of zone.getAllSubcomponents()) {
    if (part.getAllSubcomponents().length > 0) continue;
    if (part.getAllProperties("dtstart").length !== 1 || part.getAllProperties("rrule").length !== 1) continue;
    if (part.hasProperty("rdate") || part.hasProperty("exdate") || part.hasProperty("exrule")) continue;
    const dtstartProp = part.getFirstProperty("dtstart")!;
    if (dtstartProp.type !== "date-time" || dtstartProp.getParameter("tzid") !== undefined) continue;
    const start = dtstartProp.getFirstValue();
    const rule = part.getFirstPropertyValue("rrule");
    if (!(start instanceof ICAL.Time) || !(rule instanceof ICAL.Recur)) continue;
    if (start.isDate || start.zone === ICAL.Timezone.utcTimezone || start.year >= startYear || start.day > 28) continue;
    if (rule.freq !== "YEARLY" || (rule.interval ?? 1) !== 1 || rule.count || rule.until) continue;
    const parts = rule.parts as Record<string, unknown[] | undefined>;
    if (Object.keys(parts).some((k) => k !== "BYMONTH" && k !== "BYDAY")) continue;
    // Every year must have its transitions: one month, and weekdays that every month has.
    const month = parts.BYMONTH?.[0];
    if (parts.BYMONTH?.length !== 1 || typeof month !== "number" || month < 1 || month > 12) continue;
    if (!parts.BYDAY?.length || !parts.BYDAY.every((d) => typeof d === "string" && EVERY_MONTH_WEEKDAY.test(d))) continue;
    const later = start.clone();
    later.year = startYear;
    dtstartProp.setValue(later);
  }
}

/** Occurrences per year of each recurrence frequency (before INTERVAL and BYxxx parts). */
const PER_YEAR: Record<string, number> = { YEARLY: 1, MONTHLY: 12, WEEKLY: 53, DAILY: 366, HOURLY: 8_784, MINUTELY: 527_040, SECONDLY: 31_622_400 };

/**
 * About how many transitions ical.js expands to look up a time in `untilYear`: it walks every
 * rule from its DTSTART. Outlook writes yearly rules (a handful of transitions once started
 * late, see startRulesLater), but a hostile or broken zone (FREQ=MINUTELY from 1601) would take
 * minutes; such a zone is treated as unknown instead.
 */
function expansionCost(zone: ICAL.Component, untilYear: number): number {
  let cost = 0;
  for (const part of zone.getAllSubcomponents()) {
    cost += part.getAllProperties("rdate").length;
    const start = part.getFirstPropertyValue("dtstart");
    const startYear = start instanceof ICAL.Time ? start.year : untilYear;
    const years = Math.max(1, untilYear - startYear + 1);
    for (const rrule of part.getAllProperties("rrule")) {
      const rule = rrule.getFirstValue();
      if (!(rule instanceof ICAL.Recur)) continue;
      const parts = rule.parts as Record<string, unknown[] | undefined>;
      let multiplicity = 1;
      for (const list of Object.values(parts)) if (Array.isArray(list) && list.length > 1) multiplicity *= list.length;
      const perYear = ((PER_YEAR[rule.freq] ?? 1) / Math.max(1, rule.interval ?? 1)) * multiplicity;
      cost += rule.count ? Math.min(rule.count, perYear * years) : perYear * years;
    }
  }
  return cost;
}

/** More transitions than this makes a VTIMEZONE unknown (Outlook's zones need a few dozen). */
const MAX_ZONE_EXPANSION = 5_000;

function readWithIcalJs(text: string): IcsCalendar {
  const jcal = icalParseFast(text) as unknown[];
  const roots = (Array.isArray(jcal[0]) ? jcal : [jcal]) as unknown[];
  const warnings: string[] = [];
  const events: IcsEvent[] = [];
  let firstMethod: string | null = null;
  for (const root of roots) {
    const cal = new ICAL.Component(root as never);
    const method = (cal.getFirstPropertyValue("method") as string | null)?.toString().toUpperCase() ?? null;
    firstMethod ??= method;
    const zones = new Map<string, ICAL.Timezone>();
    for (const tz of cal.getAllSubcomponents("vtimezone")) {
      try {
        const zone = new ICAL.Timezone(tz);
        if (zone.tzid) zones.set(zone.tzid, zone);
      } catch {
        warnings.push("unreadable VTIMEZONE ignored");
      }
    }
    const rootEvents: IcsEvent[] = [];
    const shifted = new Set<ICAL.Timezone>();
    const costly = new Set<ICAL.Timezone>();
    const vtz: VtimezoneResolver = (tzid, wall) => {
      const zone = zones.get(tzid);
      if (!zone) return null;
      if (!shifted.has(zone)) {
        shifted.add(zone);
        const seen = wallYears(rootEvents);
        const years = { earliest: Math.min(seen?.earliest ?? wall.year, wall.year), latest: Math.max(seen?.latest ?? wall.year, wall.year) };
        if (zone.component) {
          if (seen !== null) startRulesLater(zone.component, years.earliest);
          // Reported like any unknown zone ("unknown time zone ...; time read as UTC").
          if (expansionCost(zone.component, years.latest) > MAX_ZONE_EXPANSION) costly.add(zone);
        }
      }
      if (costly.has(zone)) return null;
      try {
        const t = ICAL.Time.fromData({ ...wall, isDate: false }, zone);
        return t.toUnixTime() * 1000;
      } catch {
        return null;
      }
    };
    const vevents = cal.getAllSubcomponents("vevent");
    if (vevents.length > LIMITS.eventsPerCalendar) warnings.push(`more than ${LIMITS.eventsPerCalendar} events; the rest were ignored`);
    for (const ev of vevents.slice(0, LIMITS.eventsPerCalendar)) {
      const props = new Map<string, IcsProperty[]>();
      for (const p of ev.getAllProperties()) {
        const [, rawParams, type, ...values] = p.toJSON() as [string, Record<string, unknown>, string, ...unknown[]];
        const params: Record<string, string> = {};
        for (const k in rawParams) {
          if (!Object.hasOwn(rawParams, k)) continue;
          const v = rawParams[k];
          params[k.toLowerCase()] = Array.isArray(v) ? v.join(",") : String(v);
        }
        let value: string;
        if (type === "date-time" || type === "date") value = String(values[0] ?? "").replace(/[-:]/g, "");
        else if (type === "recur") value = p.getFirstValue()?.toString() ?? "";
        else if (type === "unknown" || p.name.startsWith("x-")) value = unescapeText(values.map(String).join(","));
        else value = values.map((v) => (typeof v === "object" && v !== null ? JSON.stringify(v) : String(v))).join(",");
        const list = props.get(p.name) ?? [];
        list.push({ value, params });
        props.set(p.name, list);
      }
      const event = makeEvent(props, method, vtz);
      rootEvents.push(event);
      events.push(event);
    }
  }
  return { method: firstMethod, events, warnings };
}

/** The earliest and latest years among the times of `events` that can be looked up in a VTIMEZONE. */
function wallYears(events: IcsEvent[]): { earliest: number; latest: number } | null {
  let years: { earliest: number; latest: number } | null = null;
  for (const ev of events) {
    for (const name of ["dtstart", "dtend", "recurrence-id"]) {
      const prop = ev.props.get(name)?.[0];
      const parsed = prop ? parseWall(prop.value) : null;
      if (!parsed) continue;
      const y = parsed.wall.year;
      years = years === null ? { earliest: y, latest: y } : { earliest: Math.min(years.earliest, y), latest: Math.max(years.latest, y) };
    }
  }
  return years;
}

/** Tolerant reader: unfolded lines, NAME;PARAM=V:VALUE, VEVENT blocks, nothing validated. */
function readLeniently(text: string): IcsCalendar {
  const events: IcsEvent[] = [];
  let method: string | null = null;
  let current: Map<string, IcsProperty[]> | null = null;
  let depth = 0;
  for (const line of unfold(text).split(/\r\n|\r|\n/)) {
    const colon = findValueColon(line);
    if (colon < 0) continue;
    const head = line.slice(0, colon);
    const value = line.slice(colon + 1);
    const [rawName, ...paramParts] = head.split(";");
    const name = (rawName ?? "").trim().toLowerCase();
    if (name === "begin" && value.trim().toUpperCase() === "VEVENT") {
      current = new Map();
      depth = 0;
      continue;
    }
    if (!current) {
      if (name === "method") method = value.trim().toUpperCase();
      continue;
    }
    if (name === "begin") depth++;
    if (name === "end") {
      if (value.trim().toUpperCase() === "VEVENT" && depth === 0) {
        if (events.length < LIMITS.eventsPerCalendar) events.push(makeEvent(current, method, () => null));
        current = null;
        continue;
      }
      depth = Math.max(0, depth - 1);
      continue;
    }
    if (depth > 0) continue;
    const params: Record<string, string> = {};
    for (const part of paramParts) {
      const eq = part.indexOf("=");
      if (eq > 0) params[part.slice(0, eq).trim().toLowerCase()] = part.slice(eq + 1).replace(/^"|"$/g, "");
    }
    const textual = !["dtstart", "dtend", "recurrence-id", "rrule", "exdate", "dtstamp"].includes(name);
    const list = current.get(name) ?? [];
    list.push({ value: textual ? unescapeText(value) : value.trim(), params });
    current.set(name, list);
  }
  for (const ev of events) ev.method = method;
  return { method, events, warnings: [] };
}

/** Index of the colon that separates name/params from the value (colons in quoted params skipped). */
function findValueColon(line: string): number {
  let quoted = false;
  for (let i = 0; i < line.length && i < 1000; i++) {
    const c = line[i];
    if (c === '"') quoted = !quoted;
    else if (c === ":" && !quoted) return i;
  }
  return -1;
}

export function readCalendar(text: string): IcsCalendar {
  try {
    return readWithIcalJs(text);
  } catch (error) {
    const lenient = readLeniently(text);
    const reason = error instanceof Error ? error.message.split("\n")[0]!.slice(0, 120) : "unreadable";
    lenient.warnings.push(`invalid iCalendar (${reason}); read leniently`);
    return lenient;
  }
}
