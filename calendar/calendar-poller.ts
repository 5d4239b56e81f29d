/**
 * CalendarPoller: keeps every room's stored meetings in step with its calendar.
 *
 * A round leases the rooms whose poll is due (the database decides, with leases so two engine
 * instances never poll one room at once), and for each of them, at most `poll.maxInFlight` at a
 * time: runs one delta round on the CalendarSource → parses and plans what changed → upserts the
 * occurrences (idempotent by occurrence key and content hash) → removes what left → tells the
 * OccurrenceSink when anything changed → records the outcome and the next due time (backoff on
 * failure, Retry-After honoured). Successful rounds are recorded in batches (RoundCompletions:
 * one statement for many rooms) while the workers go on. One room's failure never stops the
 * others; every room gets an outcome in the RoundReport.
 *
 * The Clock ticks (core/ticker.ts, at a random phase per instance); a tick starts a round unless one is running (then one more round follows
 * it). `stop()` stops ticking, lets rooms in flight finish within a grace period, aborts the rest
 * and releases this instance's leases.
 */

import type { ComponentLogger } from "../core/logger.ts";
import { setMaxListeners } from "node:events";
import { backoffMs } from "../core/backoff.ts";
import { addMs, type Clock } from "../core/clock.ts";
import { clockTicker } from "../core/ticker.ts";
import { type OtjError, toOtjError } from "../core/errors.ts";
import type { CalendarSource, FullRoundReason, RoomSyncResult, SyncCursor as SourceCursor } from "../core/ports/calendar-source.ts";
import { NO_OCCURRENCE_SINK, type OccurrenceSink } from "../core/ports/occurrence-sink.ts";
import type { MeetingUpsert, NewLoggedEvent, Provider, RoomLease, RoundOutcome, Store } from "../core/ports/store.ts";
import { occurrenceKey } from "../join/dial-string.ts";
import { isPrivate } from "../join/join-planner.ts";
import type { CompiledRule } from "../join/rules.ts";
import { mapOccurrence, type PlanningContext, syncWindowFor } from "./occurrence-mapper.ts";
import { RoundCompletions } from "./round-completions.ts";

/** The `poll.*` configuration slice the poller reads. */
export interface PollSettings {
  readonly intervalSeconds: number;
  readonly windowPastHours: number;
  readonly windowFutureDays: number;
  /** Rooms polled at once (each round of one room sends its requests one after another). */
  readonly maxInFlight: number;
  /** Time budget of one room's delta round; the lease covers it. */
  readonly roundBudgetSeconds: number;
}

export interface CalendarPollerOptions {
  readonly poll: PollSettings;
  /** `join.rules`, compiled (join/rules.ts compileRules). */
  readonly rules: readonly CompiledRule[];
  /** Lease length per room (default: round budget + 60 s). */
  readonly leaseMs?: number;
  /**
   * Rooms leased per store call (default max(4 × maxInFlight, 100)); the next call goes out while
   * about this many leased rooms still wait, so an instance holds up to twice this many ahead.
   */
  readonly leaseBatch?: number;
  /** First backoff after a retryable failure without Retry-After (default 15 s), doubling. */
  readonly baseBackoffMs?: number;
  /** First backoff after a failure retrying cannot fix soon (403, 404, auth; default 5 min), doubling. */
  readonly permanentBackoffMs?: number;
  /** Backoff ceiling (default 1 h). */
  readonly maxBackoffMs?: number;
  /** Time `stop()` gives rooms in flight before aborting them (default 10 s). */
  readonly shutdownGraceMs?: number;
  /**
   * Successful rounds are recorded together, this many per store call (default
   * max(2 × maxInFlight, 100)); 1 records each room on its own.
   */
  readonly completeBatch?: number;
  /** Longest a finished room waits for its batch to be recorded, in clock ms (default 20). */
  readonly completeDelayMs?: number;
}

/** Structured logger (a pino logger fits). */
export type PollerLogger = ComponentLogger;

/**
 * Starts a repeating tick at least once every `intervalMs`; by default the Clock's ticker
 * (core/ticker.ts), which goes by `intervalMs`. `expression` is the same period as a
 * second-precision cron expression, for schedulers that want one.
 */
export type TickScheduler = (expression: string, onTick: () => void, intervalMs: number) => { stop(): void };

export interface CalendarPollerDeps {
  readonly store: Store;
  readonly source: CalendarSource;
  readonly clock: Clock;
  readonly sink?: OccurrenceSink;
  readonly logger?: PollerLogger;
  readonly scheduleTick?: TickScheduler;
  /** For backoff jitter; default Math.random. */
  readonly random?: () => number;
  /** Called with every finished round (metrics). */
  readonly onRound?: (report: RoundReport) => void;
}

/** One room's result in a round. */
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

export interface RoundReport {
  readonly startedAt: Date;
  readonly finishedAt: Date;
  readonly rooms: readonly RoomRoundOutcome[];
  readonly ok: number;
  readonly failed: number;
  /** Rooms whose meetings changed. */
  readonly changed: number;
  /** Why leasing stopped early (the database failed), else null. */
  readonly leaseError: string | null;
}

interface RoundContext {
  readonly now: Date;
  readonly signal: AbortSignal;
  /** Where successful rounds are recorded, in batches. */
  readonly completions: RoundCompletions | null;
  providers?: Promise<Provider[]>;
}

/** A room whose outcome is known once its batch has been recorded. */
interface Deferred {
  readonly later: Promise<RoomRoundOutcome>;
}

interface Applied {
  added: number;
  updated: number;
  removed: number;
  unchanged: number;
}

const DELTA_LOOP_RESET_AFTER = 3;

/** The cron expression that ticks at least once every `intervalSeconds` (second-precision cron). */
export function tickExpression(intervalSeconds: number): string {
  const s = Math.max(1, Math.floor(intervalSeconds));
  if (s % 60 === 0) {
    const minutes = gcd(s / 60, 60);
    return minutes >= 60 ? "0 0 * * * *" : minutes === 1 ? "0 * * * * *" : `0 */${minutes} * * * *`;
  }
  const seconds = gcd(s, 60);
  return seconds === 1 ? "* * * * * *" : `*/${seconds} * * * * *`;
}

function gcd(a: number, b: number): number {
  return b === 0 ? a : gcd(b, a % b);
}

export class CalendarPoller {
  readonly #store: Store;
  readonly #source: CalendarSource;
  readonly #clock: Clock;
  readonly #sink: OccurrenceSink;
  readonly #logger: PollerLogger | undefined;
  readonly #scheduleTick: TickScheduler;
  readonly #random: () => number;
  readonly #onRound: ((report: RoundReport) => void) | undefined;
  readonly #poll: PollSettings;
  readonly #rules: readonly CompiledRule[];
  readonly #leaseMs: number;
  readonly #leaseBatch: number;
  readonly #baseBackoffMs: number;
  readonly #permanentBackoffMs: number;
  readonly #maxBackoffMs: number;
  readonly #graceMs: number;
  readonly #completeBatch: number;
  readonly #completeDelayMs: number;
  /** Rooms whose sink call failed: the sink is called again on their next round. */
  readonly #sinkPending = new Set<string>();
  #ticker: { stop(): void } | null = null;
  #running: Promise<RoundReport | null> | null = null;
  /** Every round in progress (ticked or called directly), for the drain. */
  readonly #active = new Set<Promise<RoundReport>>();
  #again = false;
  #stopping = false;
  #abort = new AbortController();

  constructor(options: CalendarPollerOptions, deps: CalendarPollerDeps) {
    const poll = options.poll;
    if (!(poll.maxInFlight >= 1)) throw new RangeError("CalendarPoller: poll.maxInFlight must be at least 1");
    if (!(poll.intervalSeconds >= 1)) throw new RangeError("CalendarPoller: poll.intervalSeconds must be at least 1");
    this.#poll = poll;
    this.#rules = options.rules;
    this.#store = deps.store;
    this.#source = deps.source;
    this.#clock = deps.clock;
    this.#sink = deps.sink ?? NO_OCCURRENCE_SINK;
    this.#logger = deps.logger;
    this.#scheduleTick = deps.scheduleTick ?? ((_expression, onTick, intervalMs) => clockTicker(deps.clock)(intervalMs, onTick));
    this.#random = deps.random ?? Math.random;
    this.#onRound = deps.onRound;
    this.#leaseMs = options.leaseMs ?? poll.roundBudgetSeconds * 1000 + 60_000;
    this.#leaseBatch = options.leaseBatch ?? Math.max(4 * poll.maxInFlight, 100);
    this.#baseBackoffMs = options.baseBackoffMs ?? 15_000;
    this.#permanentBackoffMs = options.permanentBackoffMs ?? 300_000;
    this.#maxBackoffMs = options.maxBackoffMs ?? 3_600_000;
    this.#graceMs = options.shutdownGraceMs ?? 10_000;
    this.#completeBatch = Math.max(1, Math.floor(options.completeBatch ?? Math.max(2 * poll.maxInFlight, 100)));
    this.#completeDelayMs = options.completeDelayMs ?? 20;
  }

  /** Starts ticking every `poll.intervalSeconds` (the Clock's ticker). Idempotent. */
  start(): void {
    if (this.#ticker !== null) return;
    this.#stopping = false;
    if (this.#abort.signal.aborted) this.#abort = new AbortController();
    this.#ticker = this.#scheduleTick(tickExpression(this.#poll.intervalSeconds), () => this.poke(), this.#poll.intervalSeconds * 1000);
  }

  /**
   * Asks for a round now (a tick, or a change notification made a room due): starts one unless a
   * round is running, in which case one more round follows it.
   */
  poke(): void {
    if (this.#stopping) return;
    if (this.#running !== null) {
      this.#again = true;
      return;
    }
    this.#running = this.runRound(this.#abort.signal)
      .catch((error: unknown) => {
        this.#logger?.warn({ err: toOtjError(error).message }, "poll round failed");
        return null;
      })
      .finally(() => {
        this.#running = null;
        if (this.#again && !this.#stopping) {
          this.#again = false;
          this.poke();
        }
      });
  }

  /** Whether a round started by a tick or `poke()` is running. */
  get busy(): boolean {
    return this.#running !== null;
  }

  /** Resolves when no ticked round is running (tests, shutdown). */
  async idle(): Promise<void> {
    while (this.#running !== null) await this.#running;
  }

  /**
   * Stops ticking and drains: rooms in flight may finish within the grace period, then the rest
   * are aborted; leased rooms not yet started are not polled. Releases this instance's leases.
   */
  async stop(graceMs = this.#graceMs): Promise<void> {
    this.#stopping = true;
    this.#again = false;
    this.#ticker?.stop();
    this.#ticker = null;
    const active = [...this.#active];
    if (active.length > 0) {
      let cancel = () => {};
      const expired = new Promise<void>((resolve) => {
        cancel = this.#clock.setTimer(addMs(this.#clock.now(), graceMs), resolve);
      });
      await Promise.race([Promise.allSettled(active), expired]);
      cancel();
    }
    this.#abort.abort(new Error("calendar poller stopped"));
    await Promise.allSettled(active);
    await this.#running;
    await this.#store.syncCursors.releaseAll(this.#clock.now()).catch((error: unknown) => {
      this.#logger?.warn({ err: toOtjError(error).message }, "releasing room leases failed");
    });
  }

  /**
   * One round: leases every room due at the round's start (in batches, as workers free up) and
   * polls each once, `poll.maxInFlight` at a time. Never rejects for one room's failure.
   * @throws only the signal's reason when aborted before it started.
   */
  async runRound(outer: AbortSignal = this.#abort.signal): Promise<RoundReport> {
    outer.throwIfAborted();
    // One listener per request in flight sits on the round's signal: a child signal without the
    // default listener cap, so the caller's own signal keeps a single listener.
    const controller = new AbortController();
    setMaxListeners(0, controller.signal);
    const onAbort = () => controller.abort(outer.reason);
    outer.addEventListener("abort", onAbort, { once: true });
    const round = this.#round(controller.signal);
    this.#active.add(round);
    try {
      return await round;
    } finally {
      this.#active.delete(round);
      outer.removeEventListener("abort", onAbort);
    }
  }

  async #round(signal: AbortSignal): Promise<RoundReport> {
    const startedAt = this.#clock.now();
    const completions =
      this.#completeBatch > 1 ? new RoundCompletions(this.#store.syncCursors, this.#clock, { batchSize: this.#completeBatch, delayMs: this.#completeDelayMs }) : null;
    const ctx: RoundContext = { now: startedAt, signal, completions };
    const outcomes: Array<RoomRoundOutcome | Promise<RoomRoundOutcome>> = [];
    const queue: RoomLease[] = [];
    const concurrency = this.#poll.maxInFlight;
    let exhausted = false;
    let leaseError: string | null = null;
    let refilling: Promise<void> | null = null;

    const refill = async (): Promise<void> => {
      try {
        const leased = await this.#store.syncCursors.leaseDue(startedAt, this.#leaseBatch, { leaseMs: this.#leaseMs, signal });
        if (leased.length < this.#leaseBatch) exhausted = true;
        queue.push(...leased);
      } catch (error) {
        exhausted = true;
        if (!signal.aborted) {
          leaseError = toOtjError(error).message;
          this.#logger?.warn({ err: leaseError }, "leasing due rooms failed");
        }
      }
    };
    const next = async (): Promise<RoomLease | undefined> => {
      for (;;) {
        if (this.#stopping || signal.aborted) return undefined;
        // Refill while a batch or more is still queued: leasing takes as long as several rooms'
        // rounds, and workers must not wait for it.
        if (!exhausted && refilling === null && queue.length < Math.max(concurrency, this.#leaseBatch)) {
          refilling = refill().finally(() => {
            refilling = null;
          });
        }
        const lease = queue.shift();
        if (lease !== undefined) return lease;
        if (refilling === null) return undefined;
        await refilling;
      }
    };
    const worker = async (): Promise<void> => {
      for (let lease = await next(); lease !== undefined; lease = await next()) {
        const polled = await this.#pollRoom(lease, ctx);
        outcomes.push("later" in polled ? polled.later : polled);
      }
    };
    await Promise.all(Array.from({ length: concurrency }, worker));
    // Also after an abort (stop): rounds that finished are recorded, their leases released.
    await completions?.flush();
    const rooms = await Promise.all(outcomes);

    const report: RoundReport = {
      startedAt,
      finishedAt: this.#clock.now(),
      rooms,
      ok: rooms.filter((o) => o.outcome === "ok").length,
      failed: rooms.filter((o) => o.outcome === "error").length,
      changed: rooms.filter((o) => o.added + o.updated + o.removed > 0).length,
      leaseError,
    };
    if (rooms.length > 0) {
      this.#logger?.info(
        { rooms: rooms.length, ok: report.ok, failed: report.failed, changed: report.changed, ms: report.finishedAt.getTime() - startedAt.getTime() },
        "poll round",
      );
    }
    this.#onRound?.(report);
    return report;
  }

  async #pollRoom(lease: RoomLease, ctx: RoundContext): Promise<RoomRoundOutcome | Deferred> {
    const { cursor } = lease;
    const window = syncWindowFor(ctx.now, this.#poll, { start: cursor.windowStart, end: cursor.windowEnd });
    const sourceCursor: SourceCursor | null =
      cursor.deltaLink !== null && cursor.windowStart !== null && cursor.windowEnd !== null
        ? { token: cursor.deltaLink, window: { start: cursor.windowStart.toISOString(), end: cursor.windowEnd.toISOString() } }
        : null;
    let result: RoomSyncResult;
    try {
      result = await this.#source.syncRoom(lease.mailbox, sourceCursor, window, ctx.signal);
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
    const done = (recorded: boolean): RoomRoundOutcome => (recorded ? this.#ok(lease, result, applied, nextDueAt, requests, sinkError) : this.#lost(lease, result, requests));
    const notRecorded = async (error: unknown): Promise<RoomRoundOutcome> => (ctx.signal.aborted ? this.#aborted(lease, result, applied, requests) : this.#fail(lease, ctx, error, requests));
    if (ctx.completions !== null) {
      // The cursor goes with the next batch and the worker moves on meanwhile. Until the batch is
      // written the room keeps its lease; if it never is (a crash), the next round reads the same
      // changes again and applies them idempotently.
      return { later: ctx.completions.add(lease.roomId, round).then(done, notRecorded) };
    }
    try {
      return done(await this.#store.syncCursors.completeRound(lease.roomId, round, this.#clock.now(), { signal: ctx.signal }));
    } catch (error) {
      return notRecorded(error);
    }
  }

  #ok(lease: RoomLease, result: RoomSyncResult, applied: Applied, nextDueAt: Date, requests: number, sinkError: string | null): RoomRoundOutcome {
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

  /** Writes one room's round: upserts, removals (moved, merged, left the window) and the event log. */
  async #apply(lease: RoomLease, result: RoomSyncResult, ctx: RoundContext): Promise<Applied> {
    const options = { signal: ctx.signal };
    const now = this.#clock.now();
    const room = await this.#store.rooms.get(lease.roomId, options);
    if (room === null) return { added: 0, updated: 0, removed: 0, unchanged: 0 };
    ctx.providers ??= this.#store.providers.list(options);
    const planning: PlanningContext = { room, providers: await ctx.providers, rules: this.#rules, now };
    const existing = await this.#store.meetings.list(room.id, { includeCancelled: true }, options);
    const byKey = new Map(existing.map((m) => [m.occurrenceKey, m]));
    const upserts: MeetingUpsert[] = [];
    const stale = new Map<string, string>();
    for (const occurrence of result.changed) {
      const key = occurrenceKey(room.mailbox, occurrence.uid, occurrence.recurrenceId, occurrence.start);
      const mime = occurrence.kind === "single" && occurrence.uid !== null ? existing.filter((m) => m.source === "mime" && m.icalUid === occurrence.uid) : [];
      const previous = byKey.get(key) ?? mime[0] ?? null;
      const mapped = await mapOccurrence(occurrence, planning, previous);
      upserts.push(mapped.upsert);
      // A single meeting that moved has a new key; its old row goes. A raw-mail copy of the same
      // single meeting merges into Graph's.
      for (const m of existing) {
        if (m.occurrenceKey === key) continue;
        if (m.sourceEventId === occurrence.sourceId) stale.set(m.occurrenceKey, "moved");
      }
      for (const m of mime) if (m.occurrenceKey !== key) stale.set(m.occurrenceKey, "merged");
    }
    const results = upserts.length > 0 ? await this.#store.meetings.upsert(upserts, now, options) : [];
    const keys = new Set(upserts.map((u) => u.occurrenceKey));
    for (const key of keys) stale.delete(key);

    const removed = new Map<string, string>();
    if (stale.size > 0) for (const key of await this.#store.meetings.remove([...stale.keys()], options)) removed.set(key, stale.get(key)!);
    if (result.removedIds.length > 0) {
      for (const key of await this.#store.meetings.removeBySourceEventIds(room.id, result.removedIds, options)) removed.set(key, "source-removed");
    }
    if (result.full) {
      // What a full round did not list is gone; raw-mail meetings Graph never had stay while current.
      const windowStart = Date.parse(result.cursor.window.start);
      const keep = new Set(keys);
      for (const m of existing) {
        if (m.source === "mime" && !stale.has(m.occurrenceKey) && !removed.has(m.occurrenceKey) && m.end.getTime() > windowStart) keep.add(m.occurrenceKey);
      }
      for (const key of await this.#store.meetings.removeAllExcept(room.id, [...keep], options)) removed.set(key, "not-in-full-round");
    }

    const log: NewLoggedEvent[] = [];
    const applied: Applied = { added: 0, updated: 0, removed: removed.size, unchanged: 0 };
    const byUpsertKey = new Map(upserts.map((u) => [u.occurrenceKey, u]));
    for (const r of results) {
      if (r.change === "unchanged") {
        applied.unchanged++;
        continue;
      }
      applied[r.change]++;
      log.push(meetingEvent(`meeting.${r.change}`, now, byUpsertKey.get(r.occurrenceKey)!));
    }
    for (const [key, reason] of removed) {
      const before = byKey.get(key);
      log.push({
        at: now,
        kind: "meeting.removed",
        roomId: room.id,
        occurrenceKey: key,
        message: `removed (${reason})`,
        data: { reason, ...(before ? { start: before.start.toISOString(), route: before.route } : {}) },
      });
    }
    if (log.length > 0) await this.#store.eventLog.append(log, options);
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

  #lost(lease: RoomLease, result: RoomSyncResult, requests: number): RoomRoundOutcome {
    this.#logger?.warn({ roomId: lease.roomId }, "room lease lost during its round; results discarded");
    return { ...this.#blank(lease, result, requests), outcome: "lease-lost" };
  }

  #aborted(lease: RoomLease, result: RoomSyncResult | null, applied: Applied | null, requests: number): RoomRoundOutcome {
    return { ...this.#blank(lease, result, requests), ...(applied ?? {}), outcome: "aborted" };
  }

  #blank(lease: RoomLease, result: RoomSyncResult | null, requests: number): RoomRoundOutcome {
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

/** An audit entry for an added or updated occurrence: never a private meeting's subject, never a passcode. */
function meetingEvent(kind: string, now: Date, m: MeetingUpsert): NewLoggedEvent {
  const shown = isPrivate({ sensitivity: m.sensitivity } as Parameters<typeof isPrivate>[0]) ? null : m.subjectShown;
  return {
    at: now,
    kind,
    roomId: m.roomId,
    occurrenceKey: m.occurrenceKey,
    message: `${kind === "meeting.added" ? "added" : "updated"}: ${m.start.toISOString()} route ${m.route} (${m.rule ?? "none"})${m.cancelled ? ", cancelled" : ""}${m.declined ? ", declined" : ""}`,
    data: {
      start: m.start.toISOString(),
      end: m.end.toISOString(),
      route: m.route,
      rule: m.rule,
      cancelled: m.cancelled,
      declined: m.declined,
      source: m.source,
      ...(shown !== null ? { subjectShown: shown } : {}),
    },
  };
}
