import { describe, expect, it } from "vitest";
import { RoundCompletions } from "../../calendar/round-completions.ts";
import { OtjError } from "../../core/errors.ts";
import { ManualClock } from "../../core/manual-clock.ts";
import type { RoundCompletion, RoundOutcome, SyncCursorStore } from "../../core/ports/store.ts";

const ok = (n: number): RoundOutcome => ({ outcome: "ok", deltaLink: `d${n}`, windowStart: null, windowEnd: null, nextDueAt: new Date(0) });

/** A store that records each call and answers with the flags `answer` gives (default all true). */
function fakeStore(answer: (rounds: readonly RoundCompletion[]) => boolean[] | Error = (r) => r.map(() => true)) {
  const calls: Array<{ rooms: string[]; now: Date }> = [];
  const store: Pick<SyncCursorStore, "completeRounds"> = {
    completeRounds: async (rounds, now) => {
      calls.push({ rooms: rounds.map((r) => r.roomId), now });
      const flags = answer(rounds);
      if (flags instanceof Error) throw flags;
      return flags;
    },
  };
  return { store, calls };
}

describe("RoundCompletions", () => {
  it("sends a batch when it is full, and the rest on flush, each caller getting its own flag", async () => {
    const clock = new ManualClock();
    const { store, calls } = fakeStore((rounds) => rounds.map((r) => r.roomId !== "r3"));
    const completions = new RoundCompletions(store, clock, { batchSize: 3, delayMs: 20 });
    const flags = ["r1", "r2", "r3", "r4", "r5"].map((id, n) => completions.add(id, ok(n)));
    expect(calls.map((c) => c.rooms)).toEqual([["r1", "r2", "r3"]]);
    await completions.flush();
    expect(calls.map((c) => c.rooms)).toEqual([
      ["r1", "r2", "r3"],
      ["r4", "r5"],
    ]);
    expect(await Promise.all(flags)).toEqual([true, true, false, true, true]);
    await completions.flush();
    expect(calls).toHaveLength(2);
  });

  it("sends a batch that is not full once its first round has waited delayMs on the clock", async () => {
    const clock = new ManualClock();
    const { store, calls } = fakeStore();
    const completions = new RoundCompletions(store, clock, { batchSize: 100, delayMs: 20 });
    const first = completions.add("r1", ok(1));
    clock.advance(10);
    const second = completions.add("r2", ok(2));
    clock.advance(9);
    expect(calls).toHaveLength(0);
    clock.advance(1);
    expect(calls).toEqual([{ rooms: ["r1", "r2"], now: clock.now() }]);
    expect(await Promise.all([first, second])).toEqual([true, true]);
    expect(clock.pendingTimers()).toBe(0);
  });

  it("a failed store call fails every round of its batch and no other", async () => {
    const clock = new ManualClock();
    let fail = true;
    const { store } = fakeStore((rounds) => {
      if (!fail) return rounds.map(() => true);
      fail = false;
      return new OtjError("OTJ_STORE_UNREACHABLE", "the database connection failed");
    });
    const completions = new RoundCompletions(store, clock, { batchSize: 2, delayMs: 20 });
    const results = ["r1", "r2", "r3"].map((id, n) =>
      completions.add(id, ok(n)).then(
        (flag) => flag,
        (error: OtjError) => error.code,
      ),
    );
    await completions.flush();
    expect(await Promise.all(results)).toEqual(["OTJ_STORE_UNREACHABLE", "OTJ_STORE_UNREACHABLE", true]);
  });

  it("rejects a batch size below 1", () => {
    expect(() => new RoundCompletions(fakeStore().store, new ManualClock(), { batchSize: 0, delayMs: 1 })).toThrow(RangeError);
  });
});
