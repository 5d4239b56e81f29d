/** Bridge sessions (SGJ): the bridge scheduler's part of the store. */
import type { BridgeState } from "../../domain.ts";
import type { LeaseOptions, StoreCallOptions } from "./options.ts";
import type { BridgeSession, BridgeSessionPatch, ScheduleBridgeSession } from "../../records/bridge-session.ts";

export interface BridgeClaimOptions extends LeaseOptions {
  /** Also claim sessions due within this many ms after `now` (timers fire them exactly). */
  horizonMs?: number;
}

/** A session to start, as the caller last read it. */
export interface BridgeStartItem {
  occurrenceKey: string;
  /** The due time read: a session whose `dueAt` moved since (the meeting moved) is not started. */
  dueAt: Date;
}

/** What {@link BridgeSessionStore.startMany} writes on every session it starts. */
export interface BridgeStart {
  /** The adapter recorded on the session (`http`, `graph`, `emulator`). */
  adapter: string | null;
  lobbyDeadline: Date;
  /** When the scheduler looks next; each session gets the earlier of this and its `notAfter`. */
  nextDueAt: Date;
  /** The transition's cause (the state machine's), the message of its event log entry. */
  cause: string;
}

/** An external id a start request's reply gave a session. */
export interface BridgeExternalId {
  occurrenceKey: string;
  externalId: string;
  /** The session's next due time once the bridge has answered, if it is still `starting` (see recordExternalIds). */
  dueAt?: Date;
}

export interface BridgeSessionStore {
  /**
   * Creates the occurrence's session in state `scheduled`, or, while it is still `scheduled`,
   * moves its times (the meeting moved). A session past `scheduled` is left as it is. Idempotent.
   */
  schedule(
    session: ScheduleBridgeSession,
    now: Date,
    options?: StoreCallOptions,
  ): Promise<{ session: BridgeSession; change: "created" | "rescheduled" | "unchanged" }>;
  /**
   * Claims up to `limit` live sessions due by `now + horizonMs` whose lease is free or expired
   * (SKIP LOCKED + lease), soonest first. Two instances calling at once get disjoint sessions.
   */
  claimDue(now: Date, limit: number, options?: BridgeClaimOptions): Promise<BridgeSession[]>;
  /**
   * Compare-and-set: moves the session to `to` (with `patch`) only if its state is one of `from`
   * (any state when `from` is omitted). Returns the updated session, or null when the state did
   * not match or the session does not exist. Does not touch the lease.
   */
  transition(
    occurrenceKey: string,
    change: { from?: readonly BridgeState[]; to: BridgeState; patch?: BridgeSessionPatch },
    now: Date,
    options?: StoreCallOptions,
  ): Promise<BridgeSession | null>;
  /**
   * The batched start: moves each given session `scheduled` -> `starting` in one statement, but
   * only those still `scheduled`, still due at the `dueAt` given and claimed by this owner (the
   * compare-and-set of {@link transition}, per session). Each moved session gets one more attempt,
   * the adapter, the lobby deadline and its next due time, and loses its last error; each gets an
   * event log entry `bridge.starting` with the cause, written in the same transaction. Returns the
   * sessions it moved (any order); a session started meanwhile by anyone is never moved twice.
   */
  startMany(sessions: readonly BridgeStartItem[], start: BridgeStart, now: Date, options?: StoreCallOptions): Promise<BridgeSession[]>;
  /**
   * Records the external ids start requests returned, in one statement: a live session takes the
   * id, a final one only when it has none yet (so the bridge can still be told to leave). When an
   * item has a `dueAt`, the session's next due time settles too: a session still `starting` takes
   * that `dueAt`; one the bridge already reported in the lobby or admitted without its id (looked
   * at early to ask for it) goes back to its lobby deadline or its `notAfter`. Returns every given
   * session that exists, as it is afterwards.
   */
  recordExternalIds(ids: readonly BridgeExternalId[], now: Date, options?: StoreCallOptions): Promise<BridgeSession[]>;
  /**
   * Of these sessions, the keys of those still `starting` without the bridge's id, in one
   * statement: the start requests held for their instant that may still leave (a session ended
   * meanwhile, by any instance, is not among them). Any order.
   */
  unansweredStarts(occurrenceKeys: readonly string[], options?: StoreCallOptions): Promise<string[]>;
  /** Extends this owner's claim; false when lost. */
  renewLease(occurrenceKey: string, now: Date, options?: LeaseOptions): Promise<boolean>;
  /** Releases this owner's claim on one session. */
  release(occurrenceKey: string, now: Date, options?: StoreCallOptions): Promise<void>;
  /** Releases this owner's claims on these sessions (one statement); returns how many it held. */
  releaseMany(occurrenceKeys: readonly string[], now: Date, options?: StoreCallOptions): Promise<number>;
  get(occurrenceKey: string, options?: StoreCallOptions): Promise<BridgeSession | null>;
  getBySessionId(sessionId: string, options?: StoreCallOptions): Promise<BridgeSession | null>;
  /**
   * Sessions ordered by due time, optionally only these states or this room, only the live ones
   * and those changed since a time, and at most `limit` of them (the first by due time).
   */
  list(
    filter?: { states?: readonly BridgeState[]; roomId?: string; liveOrUpdatedSince?: Date; limit?: number },
    options?: StoreCallOptions,
  ): Promise<BridgeSession[]>;
  /**
   * How many sessions are in each state (states with none are absent), counted in the database:
   * every live session, and the finished ones changed since `finishedSince` (all when omitted).
   */
  countByState(filter?: { finishedSince?: Date }, options?: StoreCallOptions): Promise<Record<string, number>>;
  /** Releases every claim this owner holds (shutdown); live sessions stay as they are. */
  releaseAll(now: Date, options?: StoreCallOptions): Promise<number>;
}
