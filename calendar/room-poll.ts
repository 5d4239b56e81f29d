/**
 * One room's calendar round, as the CalendarPoller's workers run it: one delta round on the
 * CalendarSource → the round written into the room's meetings (apply-round.ts: parse, plan,
 * reconcile) → the OccurrenceSink told when anything changed → the outcome recorded with the next
 * due time (with the round's batch of completions, or on its own), or the failure recorded with a
 * backoff (Retry-After honoured; a delta loop seen three times drops the cursor).
 */

import { backoffMs } from "../core/backoff.ts";
import { addMs, type Clock } from "../core/clock.ts";
import type { ComponentLogger } from "../core/logger.ts";
import { type OtjError, toOtjError } from "../core/errors.ts";
import type { CalendarSource, FullRoundReason, RoomSyncResult, SyncCursor as SourceCursor } from "../core/ports/calendar-source.ts";
import type { MeetingPlanner } from "../core/ports/meeting-planner.ts";
import type { OccurrenceSink } from "../core/ports/occurrence-sink.ts";
import type { Provider, RoomLease, RoundOutcome, Store } from "../core/ports/store.ts";
import type { InviteDetail } from "../parser/index.ts";
import { applyRoomRound } from "./apply-round.ts";
import { syncWindowFor, type WindowSettings } from "./occurrence-mapper.ts";
import type { Applied } from "./reconcile.ts";
import type { RoundCompletions } from "./round-completions.ts";

/** Structured logger (a pino logger fits). */
/** Structured logger (a pino logger fits). */
export type PollerLogger = ComponentLogger;

/** One room's result in a round. */
/** What a round's report needs of its listing. */
type RoundShape = Pick<RoomSyncResult, "full" | "reason">;

/** A finished round waiting to be recorded: its shape and counts, not its listing. */
interface RoundDone extends RoundShape {
  readonly applied: Applied;
  readonly nextDueAt: Date;
  readonly requests: number;
  readonly sinkError: string | null;
}

export interface RoomRoundOutcome {
  readonly roomId: string;
  readonly mailbox: string;
  /** `lease-lost`: another instance took the room over, nothing was recorded; `aborted`: stopped. */
  readonly outcome: "ok" | "error" | "lease-lost" | "aborted";
  /** The round listed the whole window. */
  readonly full: boolean;
  readonly reason: FullRoundReason | null;
  readonly added: number;
  readonly updated: number;
  readonly removed: number;
  readonly unchanged: number;
  /** Error code (`error`), else null. */
  readonly code: string | null;
  readonly message: string | null;
  /** When the room is due again (null when nothing was recorded). */
  readonly nextDueAt: Date | null;
  /** Whether the cursor was dropped (the next round is a full one). */
  readonly resetCursor: boolean;
  /** HTTP requests the round sent, retries included (0 when unknown). */
  readonly requests: number;
  /** The sink's failure, when it failed (retried next round). */
  readonly sinkError: string | null;
}

/** What the rooms of one round share. */
export interface RoundContext {
  readonly now: Date;
  readonly signal: AbortSignal;
  /** Where successful rounds are recorded, in batches. */
  readonly completions: RoundCompletions | null;
  providers?: Promise<Provider[]>;
}

/** A room whose outcome is known once its batch has been recorded. */
export interface Deferred {
  readonly later: Promise<RoomRoundOutcome>;
}

const DELTA_LOOP_RESET_AFTER = 3;

/** What one room's round needs to know (the poller fills it from its options). */
export interface RoomPollOptions {
  /** The `poll.*` keys a room's round reads. */
  readonly poll: WindowSettings & { readonly intervalSeconds: number };
  readonly planner: MeetingPlanner<InviteDetail>;
  readonly leaseMs: number;
  readonly baseBackoffMs: number;
  readonly permanentBackoffMs: number;
  readonly maxBackoffMs: number;
}

export interface RoomPollDeps {
  readonly store: Store;
  readonly source: CalendarSource;
  readonly clock: Clock;
  readonly sink: OccurrenceSink;
  readonly logger: PollerLogger | undefined;
  /** For backoff jitter. */
  readonly random: () => number;
}

export class RoomPoll {
  readonly #store: Store;
  readonly #source: CalendarSource;
  readonly #clock: Clock;
  readonly #sink: OccurrenceSink;
  readonly #logger: PollerLogger | undefined;
  readonly #random: () => number;
  readonly #poll: RoomPollOptions["poll"];
  readonly #planner: MeetingPlanner<InviteDetail>;
  readonly #leaseMs: number;
  readonly #baseBackoffMs: number;
  readonly #permanentBackoffMs: number;
  readonly #maxBackoffMs: number;
  /** Rooms whose sink call failed: the sink is called again on their next round. */
  readonly #sinkPending = new Set<string>();

  constructor(options: RoomPollOptions, deps: RoomPollDeps) {
    this.#poll = options.poll;
    this.#planner = options.planner;
    this.#leaseMs = options.leaseMs;
    this.#baseBackoffMs = options.baseBackoffMs;
    this.#permanentBackoffMs = options.permanentBackoffMs;
    this.#maxBackoffMs = options.maxBackoffMs;
    this.#store = deps.store;
    this.#source = deps.source;
    this.#clock = deps.clock;
    this.#sink = deps.sink;
    this.#logger = deps.logger;
    this.#random = deps.random;
  }

  /** Polls one leased room once (see the module comment). */
  async run(lease: RoomLease, ctx: RoundContext): Promise<RoomRoundOutcome | Deferred> {
    const { cursor } = lease;
    const window = syncWindowFor(ctx.now, this.#poll, { start: cursor.windowStart, end: cursor.windowEnd });
    const sourceCursor: SourceCursor | null =
      cursor.deltaLink !== null && cursor.windowStart !== null && cursor.windowEnd !== null
        ? { token: cursor.deltaLink, window: { start: cursor.windowStart.toISOString(), end: cursor.windowEnd.toISOString() } }
        : null;
    let result: RoomSyncResult;
    try {
      result = await this.#source.syncRoom(lease.mailbox, sourceCursor, window, ctx.signal, { source: lease.source });
    } catch (error) {
      return this.#fail(lease, ctx, error, 0);
    }
    let applied: Applied = { added: 0, updated: 0, removed: 0, unchanged: 0 };
    const requests = result.stats.requests;
    if (result.full || result.changed.length > 0 || result.removedIds.length > 0) {
      try {
        if (!(await this.#store.syncCursors.renewLease(lease.roomId, this.#clock.now(), { leaseMs: this.#leaseMs, signal: ctx.signal }))) {
          return this.#lost(lease, result, requests);
        }
        applied = await this.#apply(lease, result, ctx);
      } catch (error) {
        return this.#fail(lease, ctx, error, requests);
      }
    }
    const changed = applied.added + applied.updated + applied.removed > 0;
    let sinkError: string | null = null;
    if (changed || this.#sinkPending.has(lease.roomId)) {
      try {
        await this.#sink.roomUpdated(lease.roomId, this.#clock.now(), ctx.signal);
        this.#sinkPending.delete(lease.roomId);
      } catch (error) {
        if (ctx.signal.aborted) return this.#aborted(lease, result, applied, requests);
        this.#sinkPending.add(lease.roomId);
        sinkError = toOtjError(error).message;
        this.#logger?.warn({ roomId: lease.roomId, err: sinkError }, "occurrence sink failed; retried next round");
      }
    }
    // Due a little before the next tick: the tick that fires one interval after this round's
    // start must find the room due, or the effective interval doubles.
    const intervalMs = this.#poll.intervalSeconds * 1000;
    const nextDueAt = addMs(ctx.now, intervalMs - Math.min(1000, intervalMs / 4));
    const round: RoundOutcome = {
      outcome: "ok",
      deltaLink: result.cursor.token,
      windowStart: new Date(result.cursor.window.start),
      windowEnd: new Date(result.cursor.window.end),
      nextDueAt,
    };
    // Only the round's shape outlives this call: the listing itself (bodies, occurrences) must not
    // wait in memory for the batch that records the cursor.
    return this.#record(lease, ctx, round, { full: result.full, reason: result.reason, applied, nextDueAt, requests, sinkError });
  }

  /** Records the finished round (batched with other rooms' when the round has completions). */
  #record(lease: RoomLease, ctx: RoundContext, round: RoundOutcome, done: RoundDone): RoomRoundOutcome | Deferred | Promise<RoomRoundOutcome> {
    const recorded = (ok: boolean): RoomRoundOutcome =>
      ok ? this.#ok(lease, done, done.applied, done.nextDueAt, done.requests, done.sinkError) : this.#lost(lease, done, done.requests);
    const notRecorded = async (error: unknown): Promise<RoomRoundOutcome> =>
      ctx.signal.aborted ? this.#aborted(lease, done, done.applied, done.requests) : this.#fail(lease, ctx, error, done.requests);
    if (ctx.completions !== null) {
      // The cursor goes with the next batch and the worker moves on meanwhile. Until the batch is
      // written the room keeps its lease; if it never is (a crash), the next round reads the same
      // changes again and applies them idempotently.
      return { later: ctx.completions.add(lease.roomId, round).then(recorded, notRecorded) };
    }
    return this.#store.syncCursors.completeRound(lease.roomId, round, this.#clock.now(), { signal: ctx.signal }).then(recorded, notRecorded);
  }

  #ok(lease: RoomLease, result: RoundShape, applied: Applied, nextDueAt: Date, requests: number, sinkError: string | null): RoomRoundOutcome {
    return {
      roomId: lease.roomId,
      mailbox: lease.mailbox,
      outcome: "ok",
      full: result.full,
      reason: result.reason,
      ...applied,
      code: null,
      message: null,
      nextDueAt,
      resetCursor: false,
      requests,
      sinkError,
    };
  }

  /** Writes one room's round (apply-round.ts); nothing when the room is gone. */
  async #apply(lease: RoomLease, result: RoomSyncResult, ctx: RoundContext): Promise<Applied> {
    const options = { signal: ctx.signal };
    const now = this.#clock.now();
    const room = await this.#store.rooms.get(lease.roomId, options);
    if (room === null) return { added: 0, updated: 0, removed: 0, unchanged: 0 };
    ctx.providers ??= this.#store.providers.list(options);
    const applied = await applyRoomRound(this.#store, result, { room, providers: await ctx.providers, planner: this.#planner, now }, options);
    if (result.warnings.length > 0) this.#logger?.warn({ roomId: room.id, warnings: result.warnings.slice(0, 20) }, "calendar round warnings");
    return applied;
  }

  async #fail(lease: RoomLease, ctx: RoundContext, error: unknown, requests: number): Promise<RoomRoundOutcome> {
    if (ctx.signal.aborted) return this.#aborted(lease, null, null, requests);
    const e = toOtjError(error);
    const now = this.#clock.now();
    const { cursor } = lease;
    let resetCursor = false;
    let delayMs: number;
    if (e.code === "OTJ_GRAPH_SYNC_RESET") {
      resetCursor = true;
      delayMs = 0;
    } else {
      if (e.code === "OTJ_CALENDAR_DELTA_LOOP") {
        const loops = cursor.lastErrorCode === "OTJ_CALENDAR_DELTA_LOOP" ? cursor.consecutiveFailures + 1 : 1;
        resetCursor = loops >= DELTA_LOOP_RESET_AFTER;
      }
      delayMs = this.#backoffMs(e, cursor.consecutiveFailures);
    }
    const nextDueAt = addMs(now, delayMs);
    let recorded = false;
    try {
      recorded = await this.#store.syncCursors.completeRound(
        lease.roomId,
        { outcome: "error", code: e.code, message: e.message, nextDueAt, ...(resetCursor ? { resetCursor } : {}) },
        now,
        { signal: ctx.signal },
      );
      if (recorded) {
        await this.#store.eventLog.append(
          [
            {
              at: now,
              kind: "poll.error",
              roomId: lease.roomId,
              message: `${e.code}: ${e.message}`,
              data: { code: e.code, retryable: e.retryable, failures: cursor.consecutiveFailures + 1, nextDueAt: nextDueAt.toISOString(), resetCursor },
            },
          ],
          { signal: ctx.signal },
        );
      }
    } catch (storeError) {
      this.#logger?.warn({ roomId: lease.roomId, err: toOtjError(storeError).message }, "recording a poll failure failed");
    }
    this.#logger?.warn({ roomId: lease.roomId, mailbox: lease.mailbox, code: e.code, err: e.message, nextDueAt }, "room poll failed");
    return {
      roomId: lease.roomId,
      mailbox: lease.mailbox,
      outcome: recorded ? "error" : "lease-lost",
      full: false,
      reason: null,
      added: 0,
      updated: 0,
      removed: 0,
      unchanged: 0,
      code: e.code,
      message: e.message,
      nextDueAt: recorded ? nextDueAt : null,
      resetCursor: recorded && resetCursor,
      requests,
      sinkError: null,
    };
  }

  /** Retry-After when the service named one, else exponential with jitter from the failure count. */
  #backoffMs(error: OtjError, failures: number): number {
    const retryAfter = (error.details as { retryAfterMs?: unknown } | undefined)?.retryAfterMs;
    if (typeof retryAfter === "number" && retryAfter >= 0) return Math.min(retryAfter, this.#maxBackoffMs);
    const base = error.retryable ? this.#baseBackoffMs : this.#permanentBackoffMs;
    return backoffMs(failures, { baseMs: base, capMs: this.#maxBackoffMs }, this.#random);
  }

  #lost(lease: RoomLease, result: RoundShape, requests: number): RoomRoundOutcome {
    this.#logger?.warn({ roomId: lease.roomId }, "room lease lost during its round; results discarded");
    return { ...this.#blank(lease, result, requests), outcome: "lease-lost" };
  }

  #aborted(lease: RoomLease, result: RoundShape | null, applied: Applied | null, requests: number): RoomRoundOutcome {
    return { ...this.#blank(lease, result, requests), ...(applied ?? {}), outcome: "aborted" };
  }

  #blank(lease: RoomLease, result: RoundShape | null, requests: number): RoomRoundOutcome {
    return {
      roomId: lease.roomId,
      mailbox: lease.mailbox,
      outcome: "aborted",
      full: result?.full ?? false,
      reason: result?.reason ?? null,
      added: 0,
      updated: 0,
      removed: 0,
      unchanged: 0,
      code: null,
      message: null,
      nextDueAt: null,
      resetCursor: false,
      requests,
      sinkError: null,
    };
  }
}
