/** The event log's part of the store. */
import type { StoreCallOptions } from "./options.ts";
import type { LoggedEvent, NewLoggedEvent } from "../../records/logged-event.ts";

export interface EventLogStore {
  /** Appends entries in order (one statement). */
  append(entries: readonly NewLoggedEvent[], options?: StoreCallOptions): Promise<void>;
  /** Newest first, optionally filtered; `beforeId` pages backwards. */
  list(
    filter?: { roomId?: string; occurrenceKey?: string; kind?: string; beforeId?: number; limit?: number },
    options?: StoreCallOptions,
  ): Promise<LoggedEvent[]>;
}
