/**
 * A Clock that stands still until its owner moves it; timers fire in order as time passes them.
 * Tests use it (test/support/fake-clock.ts) and so does `otj demo`, to run a morning in seconds.
 */
import type { CancelTimer, Clock } from "./clock.ts";

interface Timer {
  at: number;
  seq: number;
  callback: () => void;
}

export class ManualClock implements Clock {
  #current: number;
  #timers: Timer[] = [];
  #seq = 0;

  constructor(start: Date | string = "2025-03-04T08:00:00.000Z") {
    this.#current = new Date(start).getTime();
  }

  now(): Date {
    return new Date(this.#current);
  }

  setTimer(at: Date, callback: () => void): CancelTimer {
    const timer: Timer = { at: at.getTime(), seq: this.#seq++, callback };
    this.#timers.push(timer);
    return () => {
      this.#timers = this.#timers.filter((t) => t !== timer);
    };
  }

  /** Moves time forward by `ms`, firing each timer due on the way at its own instant. */
  advance(ms: number): void {
    this.advanceTo(new Date(this.#current + ms));
  }

  /** Moves time to `to` (never backwards), firing due timers in time order. */
  advanceTo(to: Date): void {
    const target = to.getTime();
    for (;;) {
      const next = this.#timers.filter((t) => t.at <= target).sort((a, b) => a.at - b.at || a.seq - b.seq)[0];
      if (next === undefined) break;
      this.#timers = this.#timers.filter((t) => t !== next);
      this.#current = Math.max(this.#current, next.at);
      next.callback();
    }
    this.#current = Math.max(this.#current, target);
  }

  /** Timers not yet fired. */
  pendingTimers(): number {
    return this.#timers.length;
  }
}
