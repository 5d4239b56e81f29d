/**
 * Batcher: turns many single writes into few statements. Each caller gets its own item's result,
 * or the batch's error.
 *
 * A batch goes out when `maxBatch` items wait, when the wait armed by the first item of a partial
 * batch ends (by default the next turn of the event loop; a Clock timer where the wait is measured
 * in clock time), or on `flush()`. With `serial`, one statement runs at a time and the items that
 * arrive meanwhile go out together in the next (at most `maxBatch` each); otherwise batches may
 * overlap.
 */

export interface BatcherOptions {
  /** Items per statement at most (at least 1; default 1,000). */
  readonly maxBatch?: number;
  /** Arms the wait of a partial batch: calls `fire` once it ends, returns a cancel. Default: the next turn of the event loop. */
  readonly wait?: (fire: () => void) => () => void;
  /** One statement at a time (default false). */
  readonly serial?: boolean;
  /** Awaited before each statement of a serial batcher (hold the writes while more urgent work runs). */
  readonly before?: () => Promise<void>;
}

interface Waiting<I, R> {
  readonly item: I;
  readonly resolve: (result: R) => void;
  readonly reject: (error: unknown) => void;
}

function nextTurn(fire: () => void): () => void {
  const handle = setImmediate(fire);
  return () => clearImmediate(handle);
}

export class Batcher<I, R> {
  readonly #write: (items: I[]) => Promise<R[]>;
  readonly #maxBatch: number;
  readonly #wait: (fire: () => void) => () => void;
  readonly #serial: boolean;
  readonly #before: () => Promise<void>;
  #pending: Array<Waiting<I, R>> = [];
  #cancelWait: (() => void) | null = null;
  /** The serial drain loop, while it runs. */
  #draining: Promise<void> | null = null;
  readonly #sending = new Set<Promise<void>>();

  /** @param write writes a batch and returns one result per item, in the order given. */
  constructor(write: (items: I[]) => Promise<R[]>, options: BatcherOptions = {}) {
    const maxBatch = options.maxBatch ?? 1_000;
    if (!(maxBatch >= 1)) throw new RangeError("Batcher: maxBatch must be at least 1");
    this.#write = write;
    this.#maxBatch = Math.floor(maxBatch);
    this.#wait = options.wait ?? nextTurn;
    this.#serial = options.serial ?? false;
    this.#before = options.before ?? (() => Promise.resolve());
  }

  /** Queues `item`; resolves with its result once its batch is written, rejects with the batch's failure. */
  add(item: I): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      this.#pending.push({ item, resolve, reject });
      if (this.#serial && this.#draining !== null) return;
      if (this.#pending.length >= this.#maxBatch) this.#send();
      else this.#cancelWait ??= this.#wait(() => this.#send());
    });
  }

  /** Sends what waits and resolves when every batch sent so far has been answered. Never rejects. */
  async flush(): Promise<void> {
    this.#send();
    while (this.#sending.size > 0) await Promise.all(this.#sending);
  }

  #send(): void {
    this.#cancelWait?.();
    this.#cancelWait = null;
    if (this.#pending.length === 0) return;
    if (this.#serial) {
      if (this.#draining === null) this.#draining = this.#track(this.#drain());
      return;
    }
    this.#track(this.#writeBatch(this.#pending.splice(0, this.#maxBatch)));
    if (this.#pending.length > 0) this.#cancelWait = this.#wait(() => this.#send());
  }

  async #drain(): Promise<void> {
    try {
      while (this.#pending.length > 0) {
        await this.#before();
        await this.#writeBatch(this.#pending.splice(0, this.#maxBatch));
      }
    } finally {
      this.#draining = null;
    }
  }

  async #writeBatch(batch: Array<Waiting<I, R>>): Promise<void> {
    try {
      const results = await this.#write(batch.map((w) => w.item));
      for (const [i, w] of batch.entries()) w.resolve(results[i] as R);
    } catch (error) {
      for (const w of batch) w.reject(error);
    }
  }

  #track(sent: Promise<void>): Promise<void> {
    this.#sending.add(sent);
    void sent.finally(() => this.#sending.delete(sent));
    return sent;
  }
}
