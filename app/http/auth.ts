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

/** At most `limit` requests per key in any `windowMs`; answers how long to wait when over. */
export class RollingRateLimiter {
  readonly #hits = new Map<string, number[]>();
  readonly #limit: number;
  readonly #windowMs: number;

  constructor(limit: number, windowMs: number) {
    this.#limit = limit;
    this.#windowMs = windowMs;
  }

  /** Records a request at `nowMs`; returns 0 when allowed, else the milliseconds to wait. */
  take(key: string, nowMs: number): number {
    const since = nowMs - this.#windowMs;
    const list = (this.#hits.get(key) ?? []).filter((t) => t > since);
    if (list.length >= this.#limit) {
      this.#hits.set(key, list);
      return list[0]! + this.#windowMs - nowMs;
    }
    list.push(nowMs);
    this.#hits.set(key, list);
    if (this.#hits.size > 50_000) this.#prune(since);
    return 0;
  }

  #prune(since: number): void {
    for (const [k, v] of this.#hits) if (v.every((t) => t <= since)) this.#hits.delete(k);
  }
}

/**
 * Failed attempts per key (a client address and what it guessed at) in a rolling window. Only
 * failures count, so a user who signs in correctly never locks anyone out; once a client is over
 * the limit every attempt of it is refused before the guess is checked (a correct guess must
 * look the same as a wrong one, and a device token check costs a query).
 */
export class FailureLimiter {
  readonly #failures = new Map<string, number[]>();
  readonly #limit: number;
  readonly #windowMs: number;

  constructor(limit: number, windowMs: number) {
    this.#limit = limit;
    this.#windowMs = windowMs;
  }

  /** 0 when `key` may try now, else the milliseconds until it may (its oldest failure ages out). */
  waitMs(key: string, nowMs: number): number {
    const recent = this.#recent(key, nowMs);
    return recent.length >= this.#limit ? recent[recent.length - this.#limit]! + this.#windowMs - nowMs : 0;
  }

  /** Records a failed attempt at `nowMs`. */
  fail(key: string, nowMs: number): void {
    const recent = this.#recent(key, nowMs);
    recent.push(nowMs);
    this.#failures.set(key, recent.slice(-this.#limit));
    if (this.#failures.size > 50_000) {
      for (const [k, times] of this.#failures) if (times.every((t) => t <= nowMs - this.#windowMs)) this.#failures.delete(k);
    }
  }

  #recent(key: string, nowMs: number): number[] {
    return (this.#failures.get(key) ?? []).filter((t) => t > nowMs - this.#windowMs);
  }
}
