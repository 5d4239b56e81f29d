import { describe, expect, it } from "vitest";
import type { Clock } from "../../core/clock.ts";
import { ManualClock } from "../../core/manual-clock.ts";
import { clockTicker } from "../../core/ticker.ts";

const T0 = Date.parse("2025-03-04T08:00:00.000Z");

describe("clockTicker", () => {
  it("starts at a random phase of the interval, then ticks every interval; stop ends it", () => {
    const clock = new ManualClock("2025-03-04T08:00:00.000Z");
    const ticks: number[] = [];
    const ticker = clockTicker(clock, { random: () => 0.25 })(60_000, () => ticks.push(clock.now().getTime() - T0));
    clock.advance(14_999);
    expect(ticks).toEqual([]);
    clock.advance(1);
    expect(ticks).toEqual([15_000]);
    clock.advance(120_000);
    expect(ticks).toEqual([15_000, 75_000, 135_000]);
    ticker.stop();
    clock.advance(600_000);
    expect(ticks).toHaveLength(3);
    expect(clock.pendingTimers()).toBe(0);
  });

  it("gives instances started together different phases", () => {
    const clock = new ManualClock("2025-03-04T08:00:00.000Z");
    const first: Record<string, number> = {};
    for (const [name, phase] of [
      ["a", 0.1],
      ["b", 0.7],
    ] as const) {
      clockTicker(clock, { random: () => phase })(10_000, () => {
        first[name] ??= clock.now().getTime() - T0;
      });
    }
    clock.advance(10_000);
    expect(first).toEqual({ a: 1_000, b: 7_000 });
  });

  it("does not replay ticks missed in a stall: the next comes at the next slot of its phase", () => {
    // A clock whose single pending timer the test fires by hand, as late as it likes.
    let now = T0;
    let pending: { at: number; callback: () => void } | null = null;
    const clock: Clock = {
      now: () => new Date(now),
      setTimer(at, callback) {
        pending = { at: at.getTime(), callback };
        return () => {
          pending = null;
        };
      },
    };
    const ticks: number[] = [];
    clockTicker(clock, { random: () => 0.5 })(1_000, () => ticks.push(now - T0));
    const fire = (late: number) => {
      const timer = pending!;
      now = timer.at + late;
      timer.callback();
    };
    expect(pending!.at - T0).toBe(500);
    fire(0);
    expect(pending!.at - T0).toBe(1_500);
    fire(5_200); // the process was paused: this timer fires at 6 700
    expect(ticks).toEqual([500, 6_700]);
    expect(pending!.at - T0).toBe(7_500);
  });
});
