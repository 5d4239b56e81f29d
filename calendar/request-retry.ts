/**
 * The one request retry loop of the calendar sources (Graph, Google, EWS), and the state of a
 * round it counts into: a request is sent, and a failure the source's error table calls
 * retryable is retried after the wait it names (Retry-After, BackOffMilliseconds, or a jittered
 * backoff), a bounded number of times, never for a single wait longer than `maxWaitMs` nor past
 * the round's deadline. Waits run on an injected Sleeper, so tests never sleep.
 */
import { setTimeout as delay } from "node:timers/promises";
import type { Logger } from "pino";
import { addMs, type Clock } from "../core/clock.ts";

/** Waits `ms` milliseconds or rejects with the signal's reason. Injected so tests never sleep. */
export type Sleeper = (ms: number, signal: AbortSignal) => Promise<void>;

export const realSleeper: Sleeper = (ms, signal) => delay(ms, undefined, { signal });

/** Waits on the clock's own timers (a fast demo clock, a fake test clock). */
export function clockSleeper(clock: Clock): Sleeper {
  return (ms, signal) =>
    new Promise<void>((resolve, reject) => {
      signal.throwIfAborted();
      const onAbort = () => {
        cancel();
        reject(signal.reason);
      };
      const cancel = clock.setTimer(addMs(clock.now(), ms), () => {
        signal.removeEventListener("abort", onAbort);
        resolve();
      });
      signal.addEventListener("abort", onAbort, { once: true });
    });
}

/** The clock a source is given: its timers (when it has them) also time retry waits. */
export type SourceClock = Pick<Clock, "now"> & Partial<Pick<Clock, "setTimer">>;

/** The sleeper given, else the clock's timers, else real time. */
export function sleeperFor(clock: SourceClock, sleep: Sleeper | undefined): Sleeper {
  return sleep ?? (clock.setTimer ? clockSleeper(clock as Clock) : realSleeper);
}

/** The counters and limits of one round (or one directory read). */
export interface RoundState {
  readonly mailbox: string;
  readonly signal: AbortSignal;
  readonly deadline: number;
  pages: number;
  requests: number;
  retries: number;
  waitedMs: number;
}

/** What one failed attempt means: the error to throw, and the wait before a retry (null: no retry). */
export interface RetryVerdict {
  readonly error: unknown;
  /** Asked only while retries are left (a jittered wait draws its random then). */
  readonly waitMs: () => number | null;
  /** The error code for the debug line. */
  readonly code?: string;
}

export interface RequestRetryOptions {
  readonly clock: Pick<Clock, "now">;
  readonly sleep: Sleeper;
  /** A round's time budget, waits included. */
  readonly budgetMs: number;
  /** Retries of one request. */
  readonly maxRetries: number;
  /** A single wait longer than this is not waited out: the error goes to the caller. */
  readonly maxWaitMs: number;
  readonly logger?: Logger | undefined;
  /** The debug line of a retry, e.g. "graph request retry". */
  readonly retryMessage: string;
  /** The source's error table: how attempt `attempt` (0-based) of `what` failed. */
  readonly classify: (error: unknown, attempt: number, state: RoundState, what: string) => RetryVerdict;
  /** Runs before each attempt (a source that checks its signal or its budget per request); throws to stop. */
  readonly beforeAttempt?: (state: RoundState) => void;
}

export class RequestRetry {
  readonly #o: RequestRetryOptions;

  constructor(options: RequestRetryOptions) {
    this.#o = options;
  }

  /** A fresh round's state: its deadline is the budget from now. */
  state(mailbox: string, signal: AbortSignal): RoundState {
    return { mailbox, signal, deadline: this.#o.clock.now().getTime() + this.#o.budgetMs, pages: 0, requests: 0, retries: 0, waitedMs: 0 };
  }

  /** Runs one request, retrying what the source's table calls retryable within the round's budget. */
  async run<T>(state: RoundState, send: () => Promise<T>, what = ""): Promise<T> {
    const o = this.#o;
    for (let attempt = 0; ; attempt++) {
      o.beforeAttempt?.(state);
      state.requests++;
      try {
        return await send();
      } catch (error) {
        const verdict = o.classify(error, attempt, state, what);
        const wait = attempt < o.maxRetries ? verdict.waitMs() : null;
        if (wait === null || wait > o.maxWaitMs || o.clock.now().getTime() + wait > state.deadline) throw verdict.error;
        o.logger?.debug({ roomMailbox: state.mailbox, code: verdict.code, waitMs: wait, attempt }, o.retryMessage);
        await o.sleep(wait, state.signal);
        state.retries++;
        state.waitedMs += wait;
      }
    }
  }
}

/** A source's option that must be a positive number. @throws RangeError naming the source and the option. */
export function positiveOption(owner: string, name: string, value: number): number {
  if (!Number.isFinite(value) || value <= 0) throw new RangeError(`${owner}: ${name} must be a positive number`);
  return value;
}

/** The retry options every source reads (`poll.roundBudgetSeconds` and the adapter's own). */
export interface RetryTunables {
  /** A round's time budget, waits included (default 120). */
  readonly roundBudgetSeconds?: number;
  /** Retries of one request. */
  readonly maxRetries?: number;
  /** A single wait longer than this goes to the caller instead (default 60 s). */
  readonly maxWaitMs?: number;
}

/** The limits of `options`, checked; `defaultRetries` when `maxRetries` is absent. */
export function retryLimits(owner: string, options: RetryTunables, defaultRetries: number): Pick<RequestRetryOptions, "budgetMs" | "maxRetries" | "maxWaitMs"> {
  return {
    budgetMs: positiveOption(owner, "roundBudgetSeconds", options.roundBudgetSeconds ?? 120) * 1000,
    maxRetries: Math.max(0, Math.floor(options.maxRetries ?? defaultRetries)),
    maxWaitMs: positiveOption(owner, "maxWaitMs", options.maxWaitMs ?? 60_000),
  };
}
