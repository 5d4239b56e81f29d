/** A room's calendar sync position, poll schedule and the outcome of one poll round. */

/** A room's calendar sync position and poll schedule. */
export interface SyncCursor {
  roomId: string;
  /** The Graph deltaLink of the last completed round, or null (next round is an initial sync). */
  deltaLink: string | null;
  windowStart: Date | null;
  windowEnd: Date | null;
  /** When the room should be polled next (backoff included). */
  dueAt: Date;
  lastSuccessAt: Date | null;
  lastFailureAt: Date | null;
  lastErrorCode: string | null;
  lastError: string | null;
  consecutiveFailures: number;
  leaseOwner: string | null;
  leaseExpiresAt: Date | null;
}

export type RoundOutcome =
  | { outcome: "ok"; deltaLink: string | null; windowStart: Date | null; windowEnd: Date | null; nextDueAt: Date }
  | { outcome: "error"; code: string; message: string; nextDueAt: Date; resetCursor?: boolean };

/** One room's finished round, for `SyncCursorStore.completeRounds`. */
export interface RoundCompletion {
  roomId: string;
  result: RoundOutcome;
}
