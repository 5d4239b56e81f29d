/**
 * The engine's CalendarSource: the adapters configured (Graph, Google, Exchange Server) behind
 * one MultiCalendarSource that sends each room to the adapter of its `source`.
 */
import type { Kysely } from "kysely";
import { ewsCalendarSourceFromConfig, hasEwsCredentials } from "../calendar/ews/ews-from-config.ts";
import type { GoogleClient } from "../calendar/google/google-client.ts";
import type { GraphClient } from "../calendar/graph/graph-client.ts";
import { graphFromConfig, hasGraphCredentials } from "../calendar/graph/graph-from-config.ts";
import type { Clock } from "../core/clock.ts";
import type { Config } from "../core/config.ts";
import type { Logger } from "../core/logger.ts";
import type { CalendarSourceName } from "../core/domain.ts";
import type { CalendarSource } from "../core/ports/calendar-source.ts";
import type { Store } from "../core/ports/store.ts";
import { MultiCalendarSource } from "../calendar/multi-calendar-source.ts";
import { PostgresRequestBudgetStore } from "../store/postgres/request-budget-store.ts";
import type { EngineMetrics } from "./metrics.ts";

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
  readonly #store: Pick<Store, "rooms">;

  constructor(store: Pick<Store, "rooms">) {
    this.#store = store;
  }

  readonly sourceOf = async (mailbox: string, signal: AbortSignal): Promise<CalendarSourceName | null> => {
    const room = await this.#store.rooms.get(mailbox.trim().toLowerCase(), { signal });
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

export interface CalendarSourcesParts {
  config: Config;
  clock: Clock;
  cwd: string;
  logger: Logger;
  store: Pick<Store, "rooms">;
  /** The engine's database: the Google daily budget is counted there, for all instances together. */
  // biome-ignore lint/suspicious/noExplicitAny: the budget table is not part of the store's typed schema.
  db: Kysely<any> | null;
  metrics: EngineMetrics;
}

/** What the engine's calendar side is built of: the combined source and the clients other parts reuse. */
export interface CalendarSources {
  source: CalendarSource | null;
  graphClient: GraphClient | null;
  googleClient: GoogleClient | null;
  /** Closes what the sources keep open (the EWS client's authenticated NTLM connections). */
  close(): Promise<void>;
}

/** Graph, Google and Exchange Server (EWS) as configured, each room sent to the adapter of its `source`. */
export async function buildCalendarSources(parts: CalendarSourcesParts): Promise<CalendarSources> {
  const { config, clock, logger, metrics } = parts;
  // Loaded only when configured: the Google client libraries are large and every CLI command imports this file.
  const google = hasGoogleCredentials(config)
    ? (await import("../calendar/google/google-from-config.ts")).googleFromConfig(config, clock, {
        cwd: parts.cwd,
        logger,
        ...(parts.db ? { sharedBudget: { store: new PostgresRequestBudgetStore(parts.db) } } : {}),
      })
    : null;
  const graph = hasGraphCredentials(config)
    ? graphFromConfig(config, clock, {
        logger,
        // Counts every Graph answer by status, and the waits Graph asks for when it throttles.
        fetch: async (input, init) => {
          const response = await globalThis.fetch(input, init);
          metrics.graphRequests.inc({ status: String(response.status) });
          const retryAfter = Number(response.headers.get("retry-after"));
          if ((response.status === 429 || response.status === 503) && retryAfter > 0) metrics.throttleWaits.inc(retryAfter);
          return response;
        },
      })
    : null;
  const ews = hasEwsCredentials(config) ? ewsCalendarSourceFromConfig(config, { clock, logger }) : null;
  return {
    source: combineCalendarSources(
      { graph: graph?.source ?? null, google: google?.source ?? null, ews: ews?.source ?? null },
      new StoreRoomSources(parts.store),
    ),
    graphClient: graph?.client ?? null,
    googleClient: google?.client ?? null,
    close: async () => {
      await ews?.client.close();
    },
  };
}
