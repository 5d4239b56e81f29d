/**
 * Repeating ticks driven by the Clock, for work that runs "about every N seconds" (poll rounds,
 * the dispatch and bridge sweeps, subscription upkeep). What is due is always decided from the
 * database, so a tick only says "look now".
 *
 * Each ticker starts at a random phase within its interval (its jitter), then ticks exactly every
 * interval from there, so instances started together do not all look at the same second, and
 * work due one interval after a tick (the poller's next round) is due at the next tick. Tests
 * inject a fake Clock (its timers fire when it advances) and a fixed `random`.
 */
import type { CancelTimer, Clock } from "./clock.ts";

export interface Ticker {
  /** Stops the ticks; a tick already running is not interrupted. Idempotent. */
  stop(): void;
}

/** Starts calling `onTick` about every `intervalMs`. */
export type TickerFactory = (intervalMs: number, onTick: () => void) => Ticker;

export interface ClockTickerOptions {
  /** Uniform in [0, 1), draws the phase; default Math.random. */
  random?: () => number;
}

/**
 * Ticks on `clock`'s timers: the first after a random share of the interval, then every interval
 * after it. After a stall (the process was paused) the missed ticks are not replayed: the next
 * comes at the next slot of the same phase.
 */
export function clockTicker(clock: Clock, options: ClockTickerOptions = {}): TickerFactory {
  const random = options.random ?? Math.random;
  return (intervalMs, onTick) => {
    const interval = Math.max(1, intervalMs);
    let next = clock.now().getTime() + Math.floor(random() * interval);
    let cancel: CancelTimer | null = null;
    let stopped = false;
    const arm = (): void => {
      cancel = clock.setTimer(new Date(next), () => {
        if (stopped) return;
        const now = clock.now().getTime();
        next += interval;
        if (next <= now) next += Math.ceil((now - next + 1) / interval) * interval;
        arm();
        onTick();
      });
    };
    arm();
    return {
      stop() {
        stopped = true;
        cancel?.();
        cancel = null;
      },
    };
  };
}

/**
 * A tick handler for `run`: a tick that comes while the last one still runs is skipped, and a
 * failure goes to `onError` (a log line) instead of stopping the ticks.
 */
export function skipWhileBusy(run: () => Promise<unknown>, onError: (error: unknown) => void): () => void {
  let busy = false;
  return () => {
    if (busy) return;
    busy = true;
    run()
      .catch(onError)
      .finally(() => {
        busy = false;
      });
  };
}
