/**
 * The engine's Google change-notification channels, built from `google.notifications` when the
 * Google source is configured: the channel manager on the store, and the handler of
 * `POST /v1/notifications/google` (app/http/api/callbacks.ts).
 */
import type { Kysely } from "kysely";
import type { Logger } from "pino";
import { GoogleChannelManager } from "../calendar/google/google-channels.ts";
import type { GoogleClient } from "../calendar/google/google-client.ts";
import type { Clock } from "../core/clock.ts";
import type { Config } from "../core/config.ts";
import type { Store } from "../core/ports/store.ts";
import { PostgresGoogleChannelStore } from "../store/postgres/google-channel-store.ts";

export interface GoogleChannelsParts {
  readonly config: Config;
  readonly client: GoogleClient | null;
  // biome-ignore lint/suspicious/noExplicitAny: the channel table is not part of the store's typed schema.
  readonly db: Kysely<any>;
  readonly store: Pick<Store, "owner" | "syncCursors">;
  readonly clock: Clock;
  /** Where Google reaches otj (`http.publicUrl`, or the local address once listening). */
  readonly publicUrl: () => string;
  /** Polls at once (the poller's `poke`). */
  readonly wake: () => void;
  readonly logger: Logger;
}

/** The channel manager, or null when Google notifications are off or Google is not configured. */
export function googleChannelsFor(parts: GoogleChannelsParts): GoogleChannelManager | null {
  if (!parts.config.google.notifications.enabled || parts.client === null) return null;
  if (parts.config.http.publicUrl === null) {
    parts.logger.warn(
      {},
      "google.notifications.enabled without http.publicUrl: channels point at this host's loopback address, which only an emulator reaches",
    );
  }
  return new GoogleChannelManager(
    { notificationUrl: () => `${parts.publicUrl()}/v1/notifications/google` },
    {
      api: parts.client,
      store: new PostgresGoogleChannelStore(parts.db, parts.store.owner),
      cursors: parts.store.syncCursors,
      clock: parts.clock,
      wake: parts.wake,
      logger: parts.logger.child({ component: "google-channels" }),
    },
  );
}
