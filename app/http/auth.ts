/** Bearer-token checks in constant time, and a rolling-window rate limit per device token. */
import { secretsEqual } from "../../core/constant-time.ts";

/** Compares secrets in constant time (hashing first, so lengths leak nothing either). */
export function secretEquals(given: string | null | undefined, expected: string | null | undefined): boolean {
  if (!given || !expected) return false;
  return secretsEqual(given, expected);
}

export function bearerOf(header: string | string[] | undefined): string | null {
  const value = Array.isArray(header) ? header[0] : header;
  const m = /^Bearer\s+(\S{1,4096})$/i.exec(value ?? "");
  return m ? m[1]! : null;
}

/**
 * The last `limit` times per key within a rolling `windowMs`, and how long until a key may go
 * again (its oldest counted time ages out). Keys whose times all aged out are dropped once the map
 * grows large.
 */
class RollingWindow {
  readonly #times = new Map<string, number[]>();
  readonly #limit: number;
  readonly #windowMs: number;

  constructor(limit: number, windowMs: number) {
    this.#limit = limit;
    this.#windowMs = windowMs;
  }

  /** 0 when `key` may go now, else the milliseconds until it may. */
  waitMs(key: string, nowMs: number): number {
    const recent = this.#recent(key, nowMs);
    return recent.length >= this.#limit ? recent[recent.length - this.#limit]! + this.#windowMs - nowMs : 0;
  }

  /** Counts one time for `key` at `nowMs`. */
  record(key: string, nowMs: number): void {
    const recent = this.#recent(key, nowMs);
    recent.push(nowMs);
    this.#times.set(key, recent.slice(-this.#limit));
    if (this.#times.size > 50_000) {
      for (const [k, times] of this.#times) if (times.every((t) => t <= nowMs - this.#windowMs)) this.#times.delete(k);
    }
  }

  #recent(key: string, nowMs: number): number[] {
    return (this.#times.get(key) ?? []).filter((t) => t > nowMs - this.#windowMs);
  }
}

/** At most `limit` requests per key in any `windowMs`; answers how long to wait when over. */
export class RollingRateLimiter extends RollingWindow {
  /** Records a request at `nowMs`; returns 0 when allowed, else the milliseconds to wait (a refused request is not counted). */
  take(key: string, nowMs: number): number {
    const wait = this.waitMs(key, nowMs);
    if (wait === 0) this.record(key, nowMs);
    return wait;
  }
}

/**
 * Failed attempts per key (a client address and what it guessed at) in a rolling window. Only
 * failures count, so a user who signs in correctly never locks anyone out; once a client is over
 * the limit every attempt of it is refused before the guess is checked (a correct guess must
 * look the same as a wrong one, and a device token check costs a query). `waitMs` says whether
 * `key` may try now.
 */
export class FailureLimiter extends RollingWindow {
  /** Records a failed attempt at `nowMs`. */
  fail(key: string, nowMs: number): void {
    this.record(key, nowMs);
  }
}
