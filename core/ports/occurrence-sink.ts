/**
 * OccurrenceSink: what the calendar side tells the join side.
 *
 * The calendar poller (and the MIME ingest) call it after a room's stored meetings changed: an
 * occurrence was added, changed or removed. The composition root fans it out to the device
 * dispatcher (recompute what the device should hold) and the SGJ bridge scheduler (schedule,
 * move or cancel sessions). Both read the meetings back from the store, so the call carries no
 * payload and may be repeated: an implementation must be idempotent.
 */

export interface OccurrenceSink {
  /**
   * The meetings of `roomId` changed at `now` (the clock's time of the change).
   *
   * Idempotent; a call for a room whose meetings did not change does nothing harmful. A rejection
   * is reported by the caller and the call is repeated later; it never undoes the stored change.
   * Aborting `signal` rejects with its reason.
   */
  roomUpdated(roomId: string, now: Date, signal?: AbortSignal): Promise<void>;
}

/** A sink that does nothing (CLI commands and tests that do not drive devices). */
export const NO_OCCURRENCE_SINK: OccurrenceSink = {
  roomUpdated: async () => {},
};
