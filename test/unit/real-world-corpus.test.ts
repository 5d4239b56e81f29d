/**
 * The real-world corpus: test/fixtures/real/<case>.<ext> beside <case>.expected.json. Each case
 * reproduces the features of an invite or link observed in public (its `source`) with invented
 * names, ids and hosts; the expected join (a subset of the parse output) and, where the case is
 * about dialing, the plan come from what the source shows and docs/formats.md.
 */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import type { Join } from "../../core/domain.ts";
import { DEFAULT_PRIVACY, planJoin } from "../../join/join-planner.ts";
import { compileRules } from "../../join/rules.ts";
import { parseInviteDetailed } from "../../parser/index.ts";

interface RealCase {
  source: string;
  class: number;
  pins: string;
  /** Subset of Invite.join; null = no join; { notProvider } = whatever it is, none of these. */
  join: Record<string, unknown> | { notProvider: string[] } | null;
  plan?: { route: string; rule: string; dialString: string | null };
}

const dir = new URL("../fixtures/real/", import.meta.url).pathname;
const files = readdirSync(dir);
const cases = files
  .filter((f) => f.endsWith(".expected.json"))
  .map((f) => {
    const base = f.slice(0, -".expected.json".length);
    const input = files.find((g) => g !== f && g.startsWith(`${base}.`) && !g.endsWith(".expected.json"));
    return { base, input, expected: JSON.parse(readFileSync(join(dir, f), "utf8")) as RealCase };
  });

let passed = 0;
afterAll(() => {
  console.log(`real-world corpus: ${passed}/${cases.length}`);
});

describe("real-world corpus", () => {
  it("has at least 150 cases, each with an input, a source and one of the seven classes", () => {
    expect(cases.length).toBeGreaterThanOrEqual(150);
    for (const c of cases) {
      expect(c.input, c.base).toBeDefined();
      expect(c.expected.source, c.base).toMatch(/\S{10,}/);
      expect([1, 2, 3, 4, 5, 6, 7], c.base).toContain(c.expected.class);
    }
    for (const cls of [1, 2, 3, 4, 5, 6, 7]) expect(cases.filter((c) => c.expected.class === cls).length, `class ${cls}`).toBeGreaterThanOrEqual(5);
  });

  it.each(cases)("$base", async ({ input, expected }) => {
    const parsed = await parseInviteDetailed(readFileSync(join(dir, input!)), { filename: input! });
    expect(parsed.details.length).toBeGreaterThanOrEqual(1);
    const detail = parsed.details[0]!;
    const got: Join | null = detail.invite.join;
    const want = expected.join;
    if (want === null) expect(got).toBeNull();
    else if ("notProvider" in want) expect(want.notProvider).not.toContain(got?.provider ?? "none");
    else expect(got).toMatchObject(want);
    if (expected.plan) {
      const room = { mailbox: "room101@contoso.example", privacy: DEFAULT_PRIVACY, provider: null };
      const settings = { providers: [], rules: compileRules([]), now: new Date("2026-11-24T12:00:00.000Z") };
      const entry = planJoin(detail, room, settings).entry;
      expect({ route: entry.route, rule: entry.rule, dialString: entry.dialString }).toEqual(expected.plan);
    }
    passed++;
  });
});
