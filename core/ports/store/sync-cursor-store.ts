/** Sync cursors and room leases: the poller's part of the store. */
import type { LeaseOptions, StoreCallOptions } from "./options.ts";
import type { RoundCompletion, RoundOutcome, SyncCursor } from "../../records/sync-cursor.ts";
import type { CalendarSourceName } from "../../domain.ts";

/** A room leased to this instance for one poll round. */
export interface RoomLease {
  roomId: string;
  mailbox: string;
  /** The room's calendar system, read by the lease query itself (no extra query per room). */
  source: CalendarSourceName;
  cursor: SyncCursor;
}

export interface SyncCursorStore {
  /**
   * Leases up to `limit` enabled rooms whose poll is due (`dueAt <= now`) and whose lease is free
   * or expired, most overdue first. Two instances calling at once get disjoint rooms.
   */
  leaseDue(now: Date, limit: number, options?: LeaseOptions): Promise<RoomLease[]>;
  /**
   * {@link leaseDue} for the rooms a change notification made due ({@link markDue}) since their
   * last lease, oldest request first: a round in progress takes them ahead of its queue.
   */
  leaseRequested(now: Date, limit: number, options?: LeaseOptions): Promise<RoomLease[]>;
  /** Extends this owner's lease; false when the lease was lost (expired and taken over). */
  renewLease(roomId: string, now: Date, options?: LeaseOptions): Promise<boolean>;
  /**
   * Records a finished round and releases the lease. Returns false (and writes nothing) when this
   * owner no longer holds the lease: the round's results must then be discarded.
   */
  completeRound(roomId: string, result: RoundOutcome, now: Date, options?: StoreCallOptions): Promise<boolean>;
  /**
   * {@link completeRound} for many rooms in one statement (one transaction): each room is
   * recorded and released exactly as `completeRound` would, independently of the others.
   * @returns one flag per entry, in the order given: false (nothing written for that room) when
   *   this owner no longer holds its lease.
   * @throws OTJ_INTERNAL when a room appears twice; a database failure writes nothing.
   */
  completeRounds(rounds: readonly RoundCompletion[], now: Date, options?: StoreCallOptions): Promise<boolean[]>;
  /** Makes a room due at `now` (a change notification arrived). */
  markDue(roomId: string, now: Date, options?: StoreCallOptions): Promise<void>;
  /** Forgets the delta link so the next round is a full sync. */
  resetCursor(roomId: string, now: Date, options?: StoreCallOptions): Promise<void>;
  get(roomId: string, options?: StoreCallOptions): Promise<SyncCursor | null>;
  /** The cursors of these rooms (unknown rooms are left out), in no particular order. */
  getMany(roomIds: readonly string[], options?: StoreCallOptions): Promise<SyncCursor[]>;
  /** Every room's cursor (status pages: one query for all rooms). */
  list(options?: StoreCallOptions): Promise<SyncCursor[]>;
  /** Releases every room lease this owner holds (shutdown). Returns how many. */
  releaseAll(now: Date, options?: StoreCallOptions): Promise<number>;
}
