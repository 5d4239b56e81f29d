/**
 * The core Batcher (serial mode: one statement at a time, later items go together in the next)
 * and the Semaphore (a bound on work at once, urgent work first).
 */
import { describe, expect, it } from "vitest";
import { Batcher } from "../../core/batcher.ts";
import { Semaphore } from "../../core/semaphore.ts";

/** A promise with its resolve, to hold work until the test lets it go. */
function gate<T = void>() {
  let open!: (value: T) => void;
  const promise = new Promise<T>((resolve) => {
    open = resolve;
  });
  return { promise, open };
}

describe("Batcher (serial)", () => {
  it("writes items added in one turn together, holds later ones until the statement returns, and caps a batch at maxBatch", async () => {
    const batches: number[][] = [];
    const hold = gate();
    const batcher = new Batcher<number, string>(
      async (items) => {
        batches.push([...items]);
        if (batches.length === 1) await hold.promise;
        return items.map((i) => `r${i}`);
      },
      { serial: true, maxBatch: 2 },
    );
    const first = [batcher.add(1), batcher.add(2), batcher.add(3)];
    await expect.poll(() => batches.length).toBe(1);
    const later = [batcher.add(4)];
    expect(batches).toEqual([[1, 2]]);
    hold.open();
    expect(await Promise.all([...first, ...later])).toEqual(["r1", "r2", "r3", "r4"]);
    expect(batches).toEqual([
      [1, 2],
      [3, 4],
    ]);
  });

  it("rejects every caller of a failed batch, and goes on with the next", async () => {
    let calls = 0;
    const batcher = new Batcher<number, number>(
      async (items) => {
        calls++;
        if (calls === 1) throw new Error("store down");
        return items;
      },
      { serial: true },
    );
    const failed = [batcher.add(1), batcher.add(2)];
    await expect(Promise.all(failed)).rejects.toThrow("store down");
    await expect(failed[1]).rejects.toThrow("store down");
    await expect(batcher.add(3)).resolves.toBe(3);
  });

  it("waits for `before` ahead of each statement", async () => {
    const held = gate();
    const written: number[] = [];
    const batcher = new Batcher<number, null>(
      async (items) => {
        written.push(...items);
        return items.map(() => null);
      },
      { serial: true, before: () => held.promise },
    );
    const done = batcher.add(1);
    await new Promise((resolve) => setImmediate(resolve));
    expect(written).toEqual([]);
    held.open();
    await done;
    expect(written).toEqual([1]);
  });
});

describe("Semaphore", () => {
  it("runs at most max at once, and lets urgent work go before normal work that waits", async () => {
    const lanes = new Semaphore(1);
    const order: string[] = [];
    const first = gate();
    const running = lanes.run(async () => {
      order.push("first");
      await first.promise;
    });
    const normal = lanes.run(async () => void order.push("normal"));
    const urgent = lanes.run(async () => void order.push("urgent"), "urgent");
    let drained = false;
    void lanes.noneWaiting().then(() => {
      drained = true;
    });
    await new Promise((resolve) => setImmediate(resolve));
    expect(order).toEqual(["first"]);
    expect(drained).toBe(false);
    first.open();
    await Promise.all([running, normal, urgent]);
    expect(order).toEqual(["first", "urgent", "normal"]);
    expect(drained).toBe(true);
  });

  it("refuses a bound below 1", () => {
    expect(() => new Semaphore(0)).toThrow(RangeError);
  });
});
