/**
 * How the emulator writes instants the way Graph does: `{dateTime, timeZone}` with a wall-clock
 * `dateTime` of seven fraction digits in the zone `Prefer: outlook.timezone` asked for.
 */

import { findIana } from "windows-iana";

const UTC_NAMES: ReadonlySet<string> = new Set(["utc", "etc/utc", "gmt", "etc/gmt", "coordinated universal time"]);

/** An IANA zone for a Windows or IANA name, "UTC" for UTC, or null when unknown. */
export function resolveZone(name: string): string | null {
  const n = name.trim();
  if (UTC_NAMES.has(n.toLowerCase())) return "UTC";
  if (valid(n)) return n;
  const candidate = findIana(n)[0];
  return candidate && valid(candidate) ? candidate : null;
}

function valid(zone: string): boolean {
  try {
    new Intl.DateTimeFormat("en-US", { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}

const formatters = new Map<string, Intl.DateTimeFormat>();

/** `2025-03-04T09:00:00.0000000` for `ms` in `zone` (an IANA name or "UTC"). */
export function wallClock(ms: number, zone: string): string {
  if (zone === "UTC") return `${new Date(ms).toISOString().slice(0, 19)}.0000000`;
  let f = formatters.get(zone);
  if (!f) {
    f = new Intl.DateTimeFormat("en-US", {
      timeZone: zone,
      hourCycle: "h23",
      year: "numeric",
      month: "2-digit",
      day: "2-digit",
      hour: "2-digit",
      minute: "2-digit",
      second: "2-digit",
    });
    formatters.set(zone, f);
  }
  const p: Record<string, string> = {};
  for (const part of f.formatToParts(new Date(ms))) p[part.type] = part.value;
  return `${p["year"]}-${p["month"]}-${p["day"]}T${p["hour"]}:${p["minute"]}:${p["second"]}.0000000`;
}

/** Reads a `startDateTime`-style query value: ISO 8601, an offset honoured, none meaning UTC. */
export function parseQueryInstant(value: string | null): number | null {
  if (value === null || value === "") return null;
  const text = value.trim().replace(/ (\d{2}:?\d{2})$/, "+$1"); // a `+` that arrived unencoded became a space
  const hasZone = /(Z|[+-]\d{2}:?\d{2})$/i.test(text);
  const ms = Date.parse(hasZone ? text : `${text}Z`);
  return Number.isNaN(ms) ? null : ms;
}
