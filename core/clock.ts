/**
 * The Clock port: the only source of "now" in otj.
 *
 * Components never call `Date.now()` or `new Date()` to decide anything; they ask the clock they
 * were given, and pass `now` on to the store. Tests inject a fake clock (test/support/fake-clock.ts)
 * and the demo a fast one, so nothing in a test ever sleeps.
 */

/** Cancels a timer set with {@link Clock.setTimer}; calling it again does nothing. */
export type CancelTimer = () => void;

export interface Clock {
  /** The current instant. Each call returns a new Date the caller may keep. */
  now(): Date;
  /**
   * Calls `callback` once, at `at` or as soon as possible after it (at once when `at` has passed).
   * Timers do not keep the process alive.
   */
  setTimer(at: Date, callback: () => void): CancelTimer;
}

/** The part of the Clock that only reads the time (token caches, request signing). */
export type NowClock = Pick<Clock, "now">;

/** Node's setTimeout caps delays at 2^31-1 ms (about 24.8 days); longer waits are chained. */
const MAX_TIMEOUT_MS = 2_147_483_647;

/** The wall clock (`otj run`). */
export const systemClock: Clock = {
  now: () => new Date(),
  setTimer(at, callback) {
    let handle: NodeJS.Timeout | undefined;
    let cancelled = false;
    const arm = (): void => {
      const delay = at.getTime() - Date.now();
      if (delay > MAX_TIMEOUT_MS) {
        handle = setTimeout(arm, MAX_TIMEOUT_MS);
      } else {
        handle = setTimeout(
          () => {
            if (!cancelled) callback();
          },
          Math.max(0, delay),
        );
      }
      handle.unref();
    };
    arm();
    return () => {
      cancelled = true;
      if (handle !== undefined) clearTimeout(handle);
    };
  },
};

/** `now` plus `ms` milliseconds, as a new Date. */
export function addMs(now: Date, ms: number): Date {
  return new Date(now.getTime() + ms);
}
