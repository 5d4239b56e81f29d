/**
 * iCalendar reading (FORMATS.md T1.2): ical.js first; a tolerant line reader when ical.js
 * refuses the document. Produces plain records; Teams and body rules run elsewhere.
 */
import ICAL from "ical.js";
import { LIMITS } from "./limits.ts";
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

/** RFC 5545 TEXT unescaping: \n \N newline, \, \; \\ literal. */
export function unescapeText(value: string): string {
  if (!value.includes("\\")) return value;
  return value.replace(/\\([nN,;\\:])/g, (_, c: string) => (c === "n" || c === "N" ? "\n" : c));
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

function readWithIcalJs(text: string): IcsCalendar {
  const jcal = ICAL.parse(text);
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
    const vtz: VtimezoneResolver = (tzid, wall) => {
      const zone = zones.get(tzid);
      if (!zone) return null;
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
        for (const [k, v] of Object.entries(rawParams ?? {})) params[k.toLowerCase()] = Array.isArray(v) ? v.join(",") : String(v);
        let value: string;
        if (type === "date-time" || type === "date") value = String(values[0] ?? "").replace(/[-:]/g, "");
        else if (type === "recur") value = p.getFirstValue()?.toString() ?? "";
        else if (type === "unknown" || p.name.startsWith("x-")) value = unescapeText(values.map(String).join(","));
        else value = values.map((v) => (typeof v === "object" && v !== null ? JSON.stringify(v) : String(v))).join(",");
        const list = props.get(p.name) ?? [];
        list.push({ value, params });
        props.set(p.name, list);
      }
      events.push(makeEvent(props, method, vtz));
    }
  }
  return { method: firstMethod, events, warnings };
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
