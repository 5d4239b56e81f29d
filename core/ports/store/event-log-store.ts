/** The event log's part of the store. */
import type { StoreCallOptions } from "./options.ts";
import type { LoggedEvent, NewLoggedEvent } from "../../records/logged-event.ts";

export interface EventLogStore {
  /** Appends entries in order (one statement). */
  append(entries: readonly NewLoggedEvent[], options?: StoreCallOptions): Promise<void>;
  /**
   * Newest first, optionally filtered; `beforeId` pages backwards, `since` keeps entries at or
   * after it, `sessionId` keeps a bridge session's entries.
   */
  list(
    filter?: { roomId?: string; occurrenceKey?: string; kind?: string; beforeId?: number; limit?: number; since?: Date; sessionId?: string },
    options?: StoreCallOptions,
  ): Promise<LoggedEvent[]>;
}
