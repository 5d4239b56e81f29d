import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { ERROR_CODES, OtjError, toOtjError } from "../../core/errors.ts";

function documentedCodes(): Map<string, { retryable: string; exit: string; meaning: string }> {
  const doc = readFileSync(new URL("../../docs/errors.md", import.meta.url), "utf8");
  const rows = new Map<string, { retryable: string; exit: string; meaning: string }>();
  for (const line of doc.split("\n")) {
    const m = /^\| `(OTJ_[A-Z0-9_]+)` \| (yes|no) \| ([12]) \| (.+) \|$/.exec(line);
    if (m) rows.set(m[1]!, { retryable: m[2]!, exit: m[3]!, meaning: m[4]! });
  }
  return rows;
}

describe("error code registry", () => {
  it("docs/errors.md lists exactly the registry's codes with the same flags and text", () => {
    const doc = documentedCodes();
    expect([...doc.keys()].sort()).toEqual(Object.keys(ERROR_CODES).sort());
    for (const [code, info] of Object.entries(ERROR_CODES)) {
      expect(doc.get(code), code).toEqual({
        retryable: info.retryable ? "yes" : "no",
        exit: String(info.exitCode),
        meaning: info.description,
      });
    }
  });

  it("codes follow OTJ_<AREA>_<CONDITION>", () => {
    for (const code of Object.keys(ERROR_CODES)) expect(code).toMatch(/^OTJ_[A-Z]+(_[A-Z0-9]+)*$/);
  });

  it("OtjError carries code, retryable default and cause", () => {
    const cause = new Error("socket hang up");
    const err = new OtjError("OTJ_GRAPH_UNAVAILABLE", "graph down", { cause });
    expect(err.retryable).toBe(true);
    expect(err.cause).toBe(cause);
    expect(err.exitCode).toBe(1);
    expect(new OtjError("OTJ_USAGE", "x").exitCode).toBe(2);
    expect(new OtjError("OTJ_GRAPH_UNAVAILABLE", "x", { retryable: false }).retryable).toBe(false);
  });

  it("toOtjError keeps OtjErrors and wraps anything else", () => {
    const own = new OtjError("OTJ_USAGE", "bad");
    expect(toOtjError(own)).toBe(own);
    const wrapped = toOtjError(new TypeError("boom"));
    expect(wrapped.code).toBe("OTJ_INTERNAL");
    expect(wrapped.message).toBe("boom");
  });
});
