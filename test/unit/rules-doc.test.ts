/** docs/rules.md's custom rule examples are valid rules and plan the fixtures as the page says. */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { compileRules } from "../../join/rules.ts";
import { runCli } from "../support/cli.ts";

const doc = readFileSync(new URL("../../docs/rules.md", import.meta.url), "utf8");
const blocks = [...doc.matchAll(/^```json\n([\s\S]*?)^```$/gm)].map((m) => JSON.parse(m[1]!) as Record<string, unknown>);
const rules = blocks.filter((b) => typeof b.id === "string" && typeof b.template === "string");
const plans = blocks.filter((b) => typeof b.rule === "string");
const dir = mkdtempSync(join(tmpdir(), "otj-rules-doc-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function plan(fixture: string): Promise<Record<string, unknown>> {
  const config = join(dir, "config.json");
  writeFileSync(config, JSON.stringify({ join: { rules } }));
  const run = await runCli(["plan", `test/fixtures/invites/${fixture}`, "--config", config, "--json"]);
  expect(run.code, run.stderr).toBe(0);
  return (JSON.parse(run.stdout) as { invites: Array<Record<string, unknown>> }).invites[0]!;
}

describe("docs/rules.md examples", () => {
  it("are valid custom rules", () => {
    expect(rules.map((r) => r.id)).toEqual(["meet-gateway", "pexip-teams"]);
    expect(() => compileRules(rules)).not.toThrow();
  });

  it("the Google Meet gateway plans as documented", async () => {
    expect(await plan("52-html-wrap-google-redirect-meet.html")).toMatchObject(plans[0]!);
  });

  it("the Pexip-style alias plans as documented, and leaves invites without a Teams meeting alone", async () => {
    expect(await plan("06-ics-exchange-v5-request.ics")).toMatchObject(plans[1]!);
    expect((await plan("42-text-no-meeting.txt")).rule).not.toBe("custom:pexip-teams");
  });
});
