/**
 * Golden pairs: every test/fixtures/invites/<case>.<ext> beside <case>.expected.json (the whole
 * `otj parse --json` output). Invites must match exactly; each expected warning must be the
 * prefix of some actual warning (extra warnings are allowed).
 */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import type { ParseOutput } from "../../core/domain.ts";
import { parseInvite } from "../../parser/index.ts";

const dir = new URL("../fixtures/invites/", import.meta.url).pathname;
const files = readdirSync(dir);
const cases = files
  .filter((f) => f.endsWith(".expected.json"))
  .map((f) => {
    const base = f.slice(0, -".expected.json".length);
    const input = files.find((g) => g !== f && g.startsWith(`${base}.`) && !g.endsWith(".expected.json"));
    return { base, input, expected: f };
  });

describe("golden invites", () => {
  it("has at least 60 cases, each with an input file", () => {
    expect(cases.length).toBeGreaterThanOrEqual(60);
    for (const c of cases) expect(c.input, c.base).toBeDefined();
  });

  it.each(cases)("$base", async ({ input, expected }) => {
    const want = JSON.parse(readFileSync(join(dir, expected), "utf8")) as ParseOutput;
    const got = await parseInvite(readFileSync(join(dir, input!)), { filename: input! });
    expect(got.format).toBe(want.format);
    expect(got.invites).toEqual(want.invites);
    for (const w of want.warnings) {
      expect(
        got.warnings.some((g) => g.startsWith(w)),
        `warning "${w}" in ${JSON.stringify(got.warnings)}`,
      ).toBe(true);
    }
  });
});
