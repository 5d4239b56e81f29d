import { describe, expect, it } from "vitest";
import { GraphCalendarSource } from "../../calendar/graph/graph-calendar-source.ts";
import { clockSleeper } from "../../calendar/request-retry.ts";
import { GraphClient } from "../../calendar/graph/graph-client.ts";
import type { CancelTimer, Clock } from "../../core/clock.ts";

/** A clock whose timers fire only when the test moves time. */
class SteppedClock implements Clock {
  #ms = 0;
  #timers: Array<{ at: number; callback: () => void }> = [];
  now(): Date {
    return new Date(this.#ms);
  }
  setTimer(at: Date, callback: () => void): CancelTimer {
    const timer = { at: at.getTime(), callback };
    this.#timers.push(timer);
    return () => {
      this.#timers = this.#timers.filter((t) => t !== timer);
    };
  }
  advance(ms: number): void {
    this.#ms += ms;
    const due = this.#timers.filter((t) => t.at <= this.#ms);
    this.#timers = this.#timers.filter((t) => t.at > this.#ms);
    for (const t of due) t.callback();
  }
  get pending(): number {
    return this.#timers.length;
  }
}

describe("clockSleeper", () => {
  it("waits on the clock's timers and cancels its timer on abort", async () => {
    const clock = new SteppedClock();
    const sleep = clockSleeper(clock);
    let done = false;
    const waiting = sleep(1500, new AbortController().signal).then(() => {
      done = true;
    });
    clock.advance(1499);
    await Promise.resolve();
    expect(done).toBe(false);
    clock.advance(1);
    await waiting;
    expect(done).toBe(true);
    const controller = new AbortController();
    const aborted = sleep(1000, controller.signal);
    controller.abort(new Error("stop"));
    await expect(aborted).rejects.toThrow("stop");
    expect(clock.pending).toBe(0);
  });
});

describe("GraphCalendarSource arguments", () => {
  const clock = new SteppedClock();
  const client = new GraphClient({ tenantId: "contoso.example", clientId: "c", clientSecret: "s" }, { clock });

  it("rejects bad options and windows before any request", async () => {
    expect(() => new GraphCalendarSource({ maxPagesPerRound: 0 }, { client, clock })).toThrow(/maxPagesPerRound/);
    for (const batchSize of [0, 21, 2.5]) expect(() => new GraphCalendarSource({ batchSize }, { client, clock })).toThrow(/batchSize/);
    const source = new GraphCalendarSource({}, { client, clock });
    const signal = new AbortController().signal;
    await expect(source.syncRoom("room@contoso.example", null, { start: "2025-03-05T00:00:00Z", end: "2025-03-04T00:00:00Z" }, signal)).rejects.toThrow(
      RangeError,
    );
    await expect(source.syncRoom("room@contoso.example", null, { start: "2020-01-01T00:00:00Z", end: "2025-03-04T00:00:00Z" }, signal)).rejects.toThrow(/1825/);
    await expect(
      source.syncRoom("room@contoso.example/../x", null, { start: "2025-03-03T00:00:00Z", end: "2025-03-04T00:00:00Z" }, signal),
    ).rejects.toMatchObject({ code: "OTJ_ROOM_INVALID" });
    expect(client.requestCount).toBe(0);
  });
});
