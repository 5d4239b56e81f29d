/**
 * A job run at once and then on every tick of a ticker, one run at a time (a tick while a run is
 * going is skipped); `stop()` stops ticking, aborts the running run and waits for it. The change
 * notification managers (Graph subscriptions, Google channels) run their reconcile with it.
 */
import type { TickerFactory } from "./ticker.ts";

export class PeriodicJob {
  #ticker: { stop(): void } | null = null;
  #running: Promise<unknown> | null = null;
  #abort = new AbortController();
  readonly #run: (signal: AbortSignal) => Promise<unknown>;
  readonly #onError: (error: unknown) => void;

  /**
   * @param run one run; it gets a signal aborted by `stop()`.
   * @param onError a run's failure (not called when the run was aborted by `stop()`).
   */
  constructor(run: (signal: AbortSignal) => Promise<unknown>, onError: (error: unknown) => void) {
    this.#run = run;
    this.#onError = onError;
  }

  /** Runs at once and then on `ticker`'s ticks every `intervalMs`. Idempotent. */
  start(ticker: TickerFactory, intervalMs: number): void {
    if (this.#ticker !== null) return;
    if (this.#abort.signal.aborted) this.#abort = new AbortController();
    const tick = () => {
      if (this.#running !== null) return;
      const signal = this.#abort.signal;
      this.#running = this.#run(signal)
        .catch((error: unknown) => {
          if (!signal.aborted) this.#onError(error);
        })
        .finally(() => {
          this.#running = null;
        });
    };
    this.#ticker = ticker(intervalMs, tick);
    tick();
  }

  /** Stops ticking, aborts a running run with `reason` and waits for it to end. */
  async stop(reason: string): Promise<void> {
    this.#ticker?.stop();
    this.#ticker = null;
    this.#abort.abort(new Error(reason));
    await this.#running;
  }
}
