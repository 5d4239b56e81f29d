/**
 * UTC offsets of IANA time zones from the platform's Intl data: one formatter per zone, kept
 * (only zones Intl knows get one; Intl also takes other spellings of a name, so the map is bounded
 * and starts again when full).
 */

const FORMATTERS_MAX = 1024;
const formatters = new Map<string, Intl.DateTimeFormat>();

/** The zone's formatter; throws a RangeError for a zone Intl does not know. */
function formatter(zone: string): Intl.DateTimeFormat {
  let f = formatters.get(zone);
  if (f === undefined) {
    f = new Intl.DateTimeFormat("en-US", {
      timeZone: zone,
      hourCycle: "h23",
      year: "numeric",
      month: "numeric",
      day: "numeric",
      hour: "numeric",
      minute: "numeric",
      second: "numeric",
    });
    if (formatters.size >= FORMATTERS_MAX) formatters.clear();
    formatters.set(zone, f);
  }
  return f;
}

/** Whether Intl knows `zone`. */
export function knownZone(zone: string): boolean {
  try {
    formatter(zone);
    return true;
  } catch {
    return false;
  }
}

/** Minutes `zone` is ahead of UTC at the instant `utcMillis`. */
export function zoneOffsetMinutes(utcMillis: number, zone: string): number {
  const p: Record<string, number> = {};
  for (const part of formatter(zone).formatToParts(new Date(utcMillis))) if (part.type !== "literal") p[part.type] = Number(part.value);
  const wall = Date.UTC(p.year!, p.month! - 1, p.day!, p.hour! % 24, p.minute!, p.second!);
  return Math.round((wall - Math.floor(utcMillis / 1000) * 1000) / 60_000);
}

/**
 * The instant a wall-clock time in `zone` names, the wall time given as if it were UTC
 * (`Date.UTC(...)`). The offset is found in two steps, so a time right across a daylight-saving
 * change gets the offset in force then; a time that does not exist (skipped by a change) moves
 * by the change.
 */
export function wallTimeToInstant(wallAsUtcMillis: number, zone: string): number {
  const first = wallAsUtcMillis - zoneOffsetMinutes(wallAsUtcMillis, zone) * 60_000;
  return wallAsUtcMillis - zoneOffsetMinutes(first, zone) * 60_000;
}
