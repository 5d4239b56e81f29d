import { describe, expect, it } from "vitest";
import { backoffMs } from "../../core/backoff.ts";

describe("backoffMs", () => {
  it("doubles from the base and stops at the cap, without jitter", () => {
    const policy = { baseMs: 1000, capMs: 5000, jitter: "none" } as const;
    expect([0, 1, 2, 3, 10].map((a) => backoffMs(a, policy))).toEqual([1000, 2000, 4000, 5000, 5000]);
    expect(backoffMs(-3, policy)).toBe(1000);
  });

  it("draws the wait from half to all of the ceiling with jitter", () => {
    expect(backoffMs(2, { baseMs: 1000 }, () => 0)).toBe(2000);
    expect(backoffMs(2, { baseMs: 1000 }, () => 0.5)).toBe(3000);
    expect(backoffMs(2, { baseMs: 1000 }, () => 0.999_999)).toBe(4000);
  });

  it("holds the exponent at maxExponent (default 20), so the wait stays finite", () => {
    expect(backoffMs(50, { baseMs: 1, jitter: "none" })).toBe(2 ** 20);
    expect(backoffMs(50, { baseMs: 10, maxExponent: 6, jitter: "none" })).toBe(640);
  });
});
