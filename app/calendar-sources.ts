/**
 * The engine's CalendarSource: the adapters configured (Graph, Google, Exchange Server) behind
 * one MultiCalendarSource that sends each room to the adapter of its `source`.
 */
import type { Clock } from "../core/clock.ts";
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

/** How long a room's source is remembered before it is read again (a room moved by another process). */
const SOURCE_TTL_MS = 30_000;

/**
 * Rooms' sources read from the store, remembered for a short while so a quiet poll cycle does
 * not read every room again; `forget()` drops them all (a room changed here).
 */
export class StoreRoomSources {
  readonly #cache = new Map<string, { source: CalendarSourceName | null; at: number }>();

  constructor(
    private readonly store: Pick<Store, "rooms">,
    private readonly clock: Pick<Clock, "now">,
  ) {}

  readonly sourceOf = async (mailbox: string, signal: AbortSignal): Promise<CalendarSourceName | null> => {
    const key = mailbox.trim().toLowerCase();
    const now = this.clock.now().getTime();
    const hit = this.#cache.get(key);
    if (hit && now - hit.at < SOURCE_TTL_MS) return hit.source;
    const room = await this.store.rooms.get(key, { signal });
    const source = room?.source ?? null;
    this.#cache.set(key, { source, at: now });
    return source;
  };

  forget(): void {
    this.#cache.clear();
  }
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
