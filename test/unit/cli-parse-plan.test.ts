import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import type { ParseOutput } from "../../core/domain.ts";
import { runCli } from "../support/cli.ts";

const fixtures = new URL("../fixtures/invites/", import.meta.url).pathname;
const V4_CISCO = `${fixtures}04-graph-v4-cisco-cvi.json`;

describe("otj parse", () => {
  it("prints ParseOutput JSON with --json", async () => {
    const r = await runCli(["parse", V4_CISCO, "--json"]);
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout) as ParseOutput;
    expect(out.format).toBe("graph");
    expect(out.invites[0]!.join?.teams?.cvi?.tenantKey).toMatch(/@m\.webex\.com$/);
  });

  it("prints a readable summary without --json", async () => {
    const r = await runCli(["parse", V4_CISCO]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/join: {2}Teams \(commercial\)/);
    expect(r.stdout).toMatch(/CVI .*@m\.webex\.com/);
  });

  it("reads stdin with '-' and honours --format", async () => {
    const r = await runCli(["parse", "-", "--json", "--format", "text"], { stdin: "Meeting ID: 123 456 789 012\nPasscode: Xy7Qp2\nMicrosoft Teams meeting\n" });
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout) as ParseOutput;
    expect(out.format).toBe("text");
    expect(out.invites[0]!.join?.teams).toMatchObject({ meetingId: "123456789012", passcode: "Xy7Qp2", cloud: "commercial" });
  });

  it("exits 1 on an unreadable file and 2 on bad usage", async () => {
    const missing = await runCli(["parse", "/nonexistent/invite.eml"]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/OTJ_INPUT_UNREADABLE/);
    expect((await runCli(["parse"])).code).toBe(2);
    expect((await runCli(["parse", V4_CISCO, "--format", "pdf"])).code).toBe(2);
    expect((await runCli(["no-such-command"])).code).toBe(2);
  });

  it("answers --help with 0", async () => {
    const r = await runCli(["parse", "--help"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/--format/);
  });
});

describe("otj plan and explain", () => {
  it("routes a CVI invite with the partner's dial string and IVR", async () => {
    const r = await runCli(["plan", V4_CISCO, "--json"]);
    expect(r.code).toBe(0);
    const plan = JSON.parse(r.stdout) as { invites: Array<{ route: string; rule: string; dialString: string; ivr: { dtmf: string } }> };
    expect(plan.invites[0]).toMatchObject({ route: "cvi", rule: "teams-cvi" });
    expect(plan.invites[0]!.dialString).toMatch(/^\d{10}\.[^@]+@m\.webex\.com$/);
    expect(plan.invites[0]!.ivr.dtmf).toMatch(/^\d{10}#$/);
  });

  it("explains which rule matched and why earlier ones did not", async () => {
    const r = await runCli(["explain", V4_CISCO]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/-> teams-cvi/);
    expect(r.stdout).toMatch(/cancelled +not matched: not cancelled/);
    expect(r.stdout).toMatch(/teams-sgj +not reached/);
  });

  it("refuses an invalid custom rule in --config with exit 2", async () => {
    const { writeFileSync, mkdtempSync } = await import("node:fs");
    const { tmpdir } = await import("node:os");
    const dir = mkdtempSync(`${tmpdir()}/otj-`);
    writeFileSync(
      `${dir}/c.json`,
      JSON.stringify({ join: { rules: [{ id: "bad", priority: 5, match: { field: "text", regex: "(a+)+" }, route: "direct", template: "x@y.example" }] } }),
    );
    const r = await runCli(["plan", V4_CISCO, "--config", `${dir}/c.json`]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/join\.rules\[0\].*nested quantifiers/);
  });
});

describe("the installed bin", () => {
  it("runs through node directly (npx otj)", async () => {
    const bin = new URL("../../bin/otj.js", import.meta.url).pathname;
    const { stdout } = await promisify(execFile)(process.execPath, [bin, "parse", V4_CISCO, "--json"], { timeout: 100_000 });
    expect((JSON.parse(stdout) as ParseOutput).invites).toHaveLength(1);
  });
});
