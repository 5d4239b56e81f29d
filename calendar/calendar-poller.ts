/**
 * CalendarPoller: keeps every room's stored meetings in step with its calendar.
 *
 * A round leases the rooms whose poll is due (the database decides, with leases so two engine
 * instances never poll one room at once), and runs each room's round (room-poll.ts: delta round
 * on the CalendarSource → parse, plan and reconcile (apply-round.ts, reconcile.ts) → tell the
 * OccurrenceSink → record the outcome, or the failure with a backoff), at most `poll.maxInFlight`
 * at a time. Successful rounds are recorded in batches (RoundCompletions: one statement for many
 * rooms) while the workers go on. One room's failure never stops the others; every room gets an
 * outcome in the RoundReport.
 *
 * The Clock ticks (core/ticker.ts, at a random phase per instance); a tick starts a round unless one is running (then one more round follows
 * it). `stop()` stops ticking, lets rooms in flight finish within a grace period, aborts the rest
 * and releases this instance's leases.
 */

import { setMaxListeners } from "node:events";
import { addMs, type Clock } from "../core/clock.ts";
import { toOtjError } from "../core/errors.ts";
import { clockTicker } from "../core/ticker.ts";
import type { CalendarSource } from "../core/ports/calendar-source.ts";
import type { MeetingPlanner } from "../core/ports/meeting-planner.ts";
import { NO_OCCURRENCE_SINK, type OccurrenceSink } from "../core/ports/occurrence-sink.ts";
import type { RoomLease, Store } from "../core/ports/store.ts";
import type { InviteDetail } from "../parser/index.ts";
import { type PollerLogger, type RoomRoundOutcome, RoomPoll, type RoundContext } from "./room-poll.ts";
import { RoundCompletions } from "./round-completions.ts";

export type { PollerLogger, RoomRoundOutcome } from "./room-poll.ts";

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
  /** Plans each occurrence for its room (join/ implements it with the compiled `join.rules`). */
  readonly planner: MeetingPlanner<InviteDetail>;
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
  readonly #clock: Clock;
  readonly #logger: PollerLogger | undefined;
  readonly #scheduleTick: TickScheduler;
  readonly #onRound: ((report: RoundReport) => void) | undefined;
  readonly #poll: PollSettings;
  readonly #leaseMs: number;
  readonly #leaseBatch: number;
  readonly #graceMs: number;
  readonly #completeBatch: number;
  readonly #completeDelayMs: number;
  /** Runs each leased room's round. */
  readonly #room: RoomPoll;
  #ticker: { stop(): void } | null = null;
  #running: Promise<RoundReport | null> | null = null;
  /** Every round in progress (ticked or called directly), for the drain. */
  readonly #active = new Set<Promise<RoundReport>>();
  #again = false;
  /** A change notification made rooms due while a round runs: the round leases them next. */
  #requested = false;
  #stopping = false;
  #abort = new AbortController();

  constructor(options: CalendarPollerOptions, deps: CalendarPollerDeps) {
    const poll = options.poll;
    if (!(poll.maxInFlight >= 1)) throw new RangeError("CalendarPoller: poll.maxInFlight must be at least 1");
    if (!(poll.intervalSeconds >= 1)) throw new RangeError("CalendarPoller: poll.intervalSeconds must be at least 1");
    this.#poll = poll;
    this.#store = deps.store;
    this.#clock = deps.clock;
    this.#logger = deps.logger;
    this.#scheduleTick = deps.scheduleTick ?? ((_expression, onTick, intervalMs) => clockTicker(deps.clock)(intervalMs, onTick));
    this.#onRound = deps.onRound;
    this.#leaseMs = options.leaseMs ?? poll.roundBudgetSeconds * 1000 + 60_000;
    this.#leaseBatch = options.leaseBatch ?? Math.max(4 * poll.maxInFlight, 100);
    this.#room = new RoomPoll(
      {
        poll,
        planner: options.planner,
        leaseMs: this.#leaseMs,
        baseBackoffMs: options.baseBackoffMs ?? 15_000,
        permanentBackoffMs: options.permanentBackoffMs ?? 300_000,
        maxBackoffMs: options.maxBackoffMs ?? 3_600_000,
      },
      {
        store: deps.store,
        source: deps.source,
        clock: deps.clock,
        sink: deps.sink ?? NO_OCCURRENCE_SINK,
        logger: deps.logger,
        random: deps.random ?? Math.random,
      },
    );
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
      this.#requested = true;
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

  /**
   * A room's settings changed (its privacy rules or provider may change every plan): its calendar
   * is read again from scratch, in a round started now.
   */
  async repoll(roomId: string): Promise<void> {
    const now = this.#clock.now();
    await this.#store.syncCursors.resetCursor(roomId, now);
    await this.#store.syncCursors.markDue(roomId, now);
    this.poke();
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
      this.#completeBatch > 1
        ? new RoundCompletions(this.#store.syncCursors, this.#clock, { batchSize: this.#completeBatch, delayMs: this.#completeDelayMs })
        : null;
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
    // Rooms a notification made due after the round started (their due time is past its start):
    // leased ahead of the queue, so a change reaches its room within a few rooms' polls instead of
    // after the whole round. Tolerates a failure (the rooms stay due for the next round).
    let requesting: Promise<void> | null = null;
    const takeRequested = async (): Promise<void> => {
      this.#requested = false;
      try {
        const leased = await this.#store.syncCursors.leaseRequested(this.#clock.now(), this.#leaseBatch, { leaseMs: this.#leaseMs, signal });
        queue.unshift(...leased);
      } catch (error) {
        if (!signal.aborted) this.#logger?.warn({ err: toOtjError(error).message }, "leasing notified rooms failed");
      }
    };
    const next = async (): Promise<RoomLease | undefined> => {
      for (;;) {
        if (this.#stopping || signal.aborted) return undefined;
        if (this.#requested && requesting === null) {
          requesting = takeRequested().finally(() => {
            requesting = null;
          });
        }
        if (requesting !== null) await requesting;
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
        const polled = await this.#room.run(lease, ctx);
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
}
