/**
 * Semaphore: at most `max` pieces of work at once, the others wait their turn in FIFO order.
 * Work may be given a lane: `urgent` work waiting goes before any `normal` work (and new normal
 * work waits while urgent work waits), so bookkeeping does not hold up what is due.
 */
export type Lane = "urgent" | "normal";

export class Semaphore {
  #active = 0;
  readonly #urgent: Array<() => void> = [];
  readonly #normal: Array<() => void> = [];
  #drained: Array<() => void> = [];
  readonly #max: number;

  constructor(max: number) {
    if (!(max >= 1)) throw new RangeError("Semaphore: max must be at least 1");
    this.#max = max;
  }

  async run<T>(work: () => Promise<T>, lane: Lane = "normal"): Promise<T> {
    const queue = lane === "urgent" ? this.#urgent : this.#normal;
    if (this.#active >= this.#max || this.#urgent.length > 0 || (lane === "normal" && this.#normal.length > 0)) {
      await new Promise<void>((resolve) => queue.push(resolve));
    } else this.#active++;
    try {
      return await work();
    } finally {
      const next = this.#urgent.shift() ?? this.#normal.shift();
      if (next) next();
      else this.#active--;
      if (this.#urgent.length === 0 && this.#normal.length === 0 && this.#drained.length > 0) {
        for (const resolve of this.#drained.splice(0)) resolve();
      }
    }
  }

  /** Resolves when no work waits for a slot (what runs may still be running). */
  noneWaiting(): Promise<void> {
    if (this.#urgent.length === 0 && this.#normal.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.#drained.push(resolve));
  }
}
