/**
 * WriteBatcher: turns many single writes into few statements. Writes added in the same turn of
 * the event loop, and those added while the previous batch is being written, go out together
 * (at most `maxBatch` per statement, one statement at a time). Each caller gets its own item's
 * result, or the batch's error.
 */
export class WriteBatcher<I, R> {
  private pending: Array<{ item: I; resolve: (result: R) => void; reject: (error: unknown) => void }> = [];
  private running = false;

  private readonly maxBatch: number;
  private readonly before: () => Promise<void>;

  /**
   * @param write writes a batch and returns one result per item, in the order given.
   * @param options.maxBatch items per statement at most (default 1,000).
   * @param options.before awaited before each statement (hold the writes while more urgent work runs).
   */
  constructor(
    private readonly write: (items: I[]) => Promise<R[]>,
    options: { maxBatch?: number; before?: () => Promise<void> } = {},
  ) {
    this.maxBatch = options.maxBatch ?? 1_000;
    this.before = options.before ?? (() => Promise.resolve());
  }

  /** Queues `item`; resolves with its result once its batch is written. */
  add(item: I): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      this.pending.push({ item, resolve, reject });
      if (this.running) return;
      this.running = true;
      setImmediate(() => void this.drain());
    });
  }

  private async drain(): Promise<void> {
    while (this.pending.length > 0) {
      await this.before();
      const batch = this.pending.splice(0, this.maxBatch);
      try {
        const results = await this.write(batch.map((b) => b.item));
        for (const [i, b] of batch.entries()) b.resolve(results[i] as R);
      } catch (error) {
        for (const b of batch) b.reject(error);
      }
    }
    this.running = false;
  }
}
