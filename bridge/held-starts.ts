/**
 * Start requests held for their send instant (the session's instant, or `sendAheadMs` before
 * it). With a bridge whose start is idempotent, the start pipeline moves sessions to `starting`
 * `preStartMs` ahead of that send instant and holds their requests here until it. A session ended inside that window (its meeting cancelled, declined,
 * moved away from SGJ, its room removed) must not get its request: the bridge never heard of it,
 * so it is finished like a cancelled `scheduled` session, without any bridge call.
 *
 * Two guards, and exactly one outcome per session, "never sent" or "sent, then stopped":
 *
 * - the instance that holds the request and ends the session itself drops it from the queue at
 *   once (SessionActions.onFinished → {@link HeldStarts.withhold}): no statement at all;
 * - at the instant, before any request leaves, one statement reads which of the instant's
 *   sessions are still `starting` without the bridge's id (store.unansweredStarts), so a session
 *   another instance ended meanwhile is dropped too. The first `firstBatch` sessions (as many
 *   requests as can be in flight) are read on their own, so that they leave after a small read;
 *   the rest are read at the same time and would wait for a free slot anyway.
 *
 * A session ended after that read (or after its request left) gets its request; the reply is
 * recorded on the ended session and the bridge is told to leave at once (StartPipeline). The read
 * never lets a request leave for a session the store does not hold as `starting`; if the read
 * fails, the requests leave as before (the reply still ends what was ended).
 */
import { toOtjError } from "../core/errors.ts";
import type { SchedulerContext } from "./scheduler-context.ts";

interface Held {
  key: string;
  send(): void;
}

export interface HeldStartsOptions {
  /** Sessions read on their own first at an instant (maxStartsInFlight). */
  firstBatch: number;
  /** A held session found ended at its instant: its request was not sent. */
  dropped(key: string): void;
}

export class HeldStarts {
  /** Per instant, its held requests by occurrence key, and its timer. */
  readonly #instants = new Map<number, { held: Map<string, Held>; cancel: () => void }>();
  /** Requests whose instant came, waiting for the read that lets them go. */
  readonly #reading = new Map<string, Held>();
  /** Resolved when no request waits for its instant (shutdown). */
  #passed: Array<() => void> = [];
  #abandoned = false;

  readonly #ctx: SchedulerContext;
  readonly #options: HeldStartsOptions;

  constructor(ctx: SchedulerContext, options: HeldStartsOptions) {
    this.#ctx = ctx;
    this.#options = options;
  }

  /** Holds the request of session `key` until the instant `at` (one Clock timer per instant). */
  hold(at: number, key: string, send: () => void): void {
    const waiting = this.#instants.get(at);
    if (waiting !== undefined) {
      waiting.held.set(key, { key, send });
      return;
    }
    const entry = { held: new Map([[key, { key, send }]]), cancel: () => {} };
    this.#instants.set(at, entry);
    entry.cancel = this.#ctx.clock.setTimer(new Date(at), () => {
      if (this.#instants.get(at) !== entry) return;
      this.#instants.delete(at);
      const held = [...entry.held.values()];
      for (const h of held) this.#reading.set(h.key, h);
      const first = this.#options.firstBatch;
      void this.#ctx.track(this.#readThenSend(held.slice(0, first)));
      if (held.length > first) void this.#ctx.track(this.#readThenSend(held.slice(first)));
      this.#noneLeft();
    });
  }

  /**
   * Drops the held request of a session this instance has just ended (its final state is
   * written). True when the request had not left: the bridge never heard of the session.
   */
  withhold(key: string): boolean {
    if (this.#reading.delete(key)) return true;
    for (const [at, entry] of this.#instants) {
      if (!entry.held.delete(key)) continue;
      if (entry.held.size === 0) {
        entry.cancel();
        this.#instants.delete(at);
        this.#noneLeft();
      }
      return true;
    }
    return false;
  }

  /** Drops every held request (a crash, as BridgeScheduler.abandon). */
  abandon(): void {
    this.#abandoned = true;
    for (const waiting of this.#instants.values()) waiting.cancel();
    this.#instants.clear();
    this.#reading.clear();
    this.#noneLeft();
  }

  /** Resolves once every held request's instant has come (at most preStartMs). */
  whenPassed(): Promise<void> {
    if (this.#instants.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.#passed.push(resolve));
  }

  #noneLeft(): void {
    if (this.#instants.size === 0) for (const resolve of this.#passed.splice(0)) resolve();
  }

  /** The instant's read, then the requests of the sessions still waiting for them. */
  async #readThenSend(held: Held[]): Promise<void> {
    const ctx = this.#ctx;
    let wanted: Set<string> | null;
    try {
      wanted = new Set(await ctx.lanes.run(() => ctx.store.bridgeSessions.unansweredStarts(held.map((h) => h.key)), "urgent"));
    } catch (error) {
      const e = toOtjError(error);
      ctx.logger.warn(
        { component: "bridge", sessions: held.length, code: e.code, error: e.message },
        "reading the held starts failed; their requests leave (a session ended meanwhile is stopped once the reply is in)",
      );
      wanted = null;
    }
    for (const h of held) {
      // Withheld meanwhile by this instance (or abandoned): nothing leaves.
      if (this.#reading.get(h.key) !== h || this.#abandoned) continue;
      this.#reading.delete(h.key);
      if (wanted === null || wanted.has(h.key)) h.send();
      else this.#options.dropped(h.key);
    }
  }
}
