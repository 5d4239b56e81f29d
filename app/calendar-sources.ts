/**
 * The engine's CalendarSource: the adapters configured (Graph, Google, Exchange Server) behind
 * one MultiCalendarSource that sends each room to the adapter of its `source`.
 */
import type { Config } from "../core/config.ts";
import type { CalendarSourceName } from "../core/domain.ts";
import type { CalendarSource } from "../core/ports/calendar-source.ts";
import type { Store } from "../core/ports/store.ts";
import { MultiCalendarSource } from "../calendar/multi-calendar-source.ts";

/** Whether `google.*` names a service account key and a subject (the Google source is built then). */
export function hasGoogleCredentials(config: Config): boolean {
  const g = config.google;
  return (g.serviceAccountKey !== null || g.serviceAccountKeyFile !== null) && g.subject !== null;
}

/**
 * Rooms' sources read from the store, for the calls that come without a lease (room checks); the
 * poller's rounds get each room's source with its lease and never ask.
 */
export class StoreRoomSources {
  constructor(private readonly store: Pick<Store, "rooms">) {}

  readonly sourceOf = async (mailbox: string, signal: AbortSignal): Promise<CalendarSourceName | null> => {
    const room = await this.store.rooms.get(mailbox.trim().toLowerCase(), { signal });
    return room?.source ?? null;
  };
}

/** One source for every configured calendar system, or null when none is configured. */
export function combineCalendarSources(
  sources: Partial<Record<CalendarSourceName, CalendarSource | null>>,
  rooms: StoreRoomSources,
): MultiCalendarSource | null {
  const configured: Partial<Record<CalendarSourceName, CalendarSource>> = {};
  for (const [name, source] of Object.entries(sources) as [CalendarSourceName, CalendarSource | null][]) {
    if (source) configured[name] = source;
  }
  if (Object.keys(configured).length === 0) return null;
  return new MultiCalendarSource({ sources: configured, sourceOf: rooms.sourceOf });
}
