/**
 * Admission control for Graph requests: at most N requests in flight per
 * mailbox (batch items count) and M in total. A request holds its slots only while it is on the
 * wire, never while it waits for a retry.
 */

/** Grants slots; `release` must be called exactly once. */
export interface RequestGate {
  /**
   * Waits until one global slot and one slot per entry of `mailboxes` (repeats count) are free,
   * then takes them all at once.
   * @returns the function that gives them back.
   * @throws the signal's reason when `signal` aborts while waiting.
   */
  acquire(mailboxes: readonly string[], signal?: AbortSignal): Promise<() => void>;
}

/** No limits at all. */
export const UNLIMITED_GATE: RequestGate = {
  acquire: async () => () => {},
};

interface Waiter {
  readonly need: Map<string, number>;
  readonly grant: () => void;
}

export interface ConcurrencyGateOptions {
  /** Requests (batch items) in flight per mailbox; Graph's limit is 4. */
  perMailbox: number;
  /** HTTP requests in flight overall. */
  global: number;
}

/** A semaphore keyed by mailbox, first come first served per mailbox. */
export class ConcurrencyGate implements RequestGate {
  readonly #perMailbox: number;
  readonly #global: number;
  readonly #inFlight = new Map<string, number>();
  #globalInFlight = 0;
  readonly #waiters: Waiter[] = [];

  constructor(options: ConcurrencyGateOptions) {
    if (!(options.perMailbox >= 1) || !(options.global >= 1)) {
      throw new RangeError("ConcurrencyGate: perMailbox and global must be at least 1");
    }
    this.#perMailbox = options.perMailbox;
    this.#global = options.global;
  }

  /** Requests in flight for `mailbox` now. */
  inFlight(mailbox?: string): number {
    return mailbox === undefined ? this.#globalInFlight : (this.#inFlight.get(mailbox.toLowerCase()) ?? 0);
  }

  acquire(mailboxes: readonly string[], signal?: AbortSignal): Promise<() => void> {
    signal?.throwIfAborted();
    const need = new Map<string, number>();
    for (const m of mailboxes) {
      const key = m.toLowerCase();
      need.set(key, (need.get(key) ?? 0) + 1);
    }
    for (const [key, n] of need) {
      if (n > this.#perMailbox) {
        return Promise.reject(new RangeError(`ConcurrencyGate: ${n} slots asked for ${key}, limit ${this.#perMailbox}`));
      }
    }
    // Waiters never fit at rest (each release drains them), so a request that fits may pass
    // them, unless it would take a slot of a mailbox someone is already waiting for.
    if (this.#fits(need) && !this.#waiters.some((w) => [...need.keys()].some((k) => w.need.has(k)))) {
      return Promise.resolve(this.#take(need));
    }
    return new Promise((resolve, reject) => {
      const waiter: Waiter = {
        need,
        grant: () => {
          signal?.removeEventListener("abort", onAbort);
          resolve(this.#take(need));
        },
      };
      const onAbort = () => {
        const i = this.#waiters.indexOf(waiter);
        if (i >= 0) this.#waiters.splice(i, 1);
        reject(signal?.reason);
      };
      signal?.addEventListener("abort", onAbort, { once: true });
      this.#waiters.push(waiter);
    });
  }

  #fits(need: Map<string, number>): boolean {
    if (this.#globalInFlight >= this.#global) return false;
    for (const [key, n] of need) {
      if ((this.#inFlight.get(key) ?? 0) + n > this.#perMailbox) return false;
    }
    return true;
  }

  #take(need: Map<string, number>): () => void {
    this.#globalInFlight++;
    for (const [key, n] of need) this.#inFlight.set(key, (this.#inFlight.get(key) ?? 0) + n);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.#globalInFlight--;
      for (const [key, n] of need) {
        const left = (this.#inFlight.get(key) ?? 0) - n;
        if (left <= 0) this.#inFlight.delete(key);
        else this.#inFlight.set(key, left);
      }
      this.#drain();
    };
  }

  #drain(): void {
    for (let i = 0; i < this.#waiters.length && this.#globalInFlight < this.#global; ) {
      const waiter = this.#waiters[i]!;
      if (this.#fits(waiter.need)) {
        this.#waiters.splice(i, 1);
        waiter.grant();
      } else {
        i++;
      }
    }
  }
}
