/**
 * `otj plan|explain --room` plan as the engine does for the stored room, and providers that
 * would make an unroutable SGJ address are refused (or, stored earlier, planned `none` with a
 * warning and an alarm). Through the CLI, on real PostgreSQL.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type CliRun, runCli } from "../support/cli.ts";
import { type TestPostgres, createTestPostgres } from "../support/test-database.ts";

let database: TestPostgres;
let dir: string;
let invite: string;

beforeAll(async () => {
  database = await createTestPostgres("plan_room");
  dir = mkdtempSync(join(tmpdir(), "otj-plan-room-"));
  // An external Teams meeting without CVI coordinates, subject "Supplier status".
  const fixture = JSON.parse(readFileSync(new URL("../fixtures/plans/cases/20-sgj-default-session-form.json", import.meta.url), "utf8")) as {
    invite: { content: string };
  };
  invite = join(dir, "invite.ics");
  writeFileSync(invite, fixture.invite.content);
  expect((await otj(["migrate"])).code).toBe(0);
});
afterAll(async () => {
  await database?.drop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

function otj(args: string[]): Promise<CliRun> {
  return runCli([...args, "--database-url", database.url], { env: {}, cwd: dir });
}

function planOf(run: CliRun): { route: string; dialString: string | null; rule: string; warnings: string[]; subjectShown: string | null } {
  expect(run.code, run.stderr).toBe(0);
  return (JSON.parse(run.stdout) as { invites: Array<ReturnType<typeof planOf>> }).invites[0]!;
}

describe("providers and SGJ without a SIP domain", () => {
  it("refuses --sgj without --sip-domain, with a clear error; without --sgj SGJ stays off", async () => {
    const refused = await otj(["providers", "add", "--name", "nodomain", "--partner", "pexip", "--sgj"]);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain("OTJ_PROVIDER_INVALID");
    expect(refused.stderr).toContain("no SIP domain");
    expect((await otj(["providers", "add", "--name", "quiet", "--partner", "pexip"])).code).toBe(0);
    const listed = JSON.parse((await otj(["providers", "list", "--json"])).stdout) as
      | { providers: Array<{ name: string; sgjEnabled: boolean }> }
      | Array<{ name: string; sgjEnabled: boolean }>;
    const providers = Array.isArray(listed) ? listed : listed.providers;
    expect(providers.find((p) => p.name === "quiet")?.sgjEnabled).toBe(false);
    // Removing the domain of an SGJ provider is refused too.
    expect((await otj(["providers", "add", "--name", "withdomain", "--partner", "pexip", "--sip-domain", "sgj.contoso.example"])).code).toBe(0);
    const cleared = await otj(["providers", "set", "withdomain", "--sip-domain", ""]);
    expect(cleared.code, cleared.stdout).not.toBe(0);
  });
});

describe("otj plan|explain --room", () => {
  it("refuses an unknown room with exit 1", async () => {
    for (const command of ["plan", "explain"]) {
      const run = await otj([command, invite, "--room", "nobody@contoso.example"]);
      expect(run.code).toBe(1);
      expect(run.stderr).toContain("nobody@contoso.example");
    }
  });

  it("uses the room's provider and privacy settings; privacy flags given override them", async () => {
    expect((await otj(["providers", "add", "--name", "fabrikam", "--partner", "pexip", "--sip-domain", "sgj.fabrikam.example"])).code).toBe(0);
    const added = await otj([
      "rooms",
      "add",
      "--mailbox",
      "room101@contoso.example",
      "--name",
      "Room 101",
      "--provider",
      "fabrikam",
      "--device-family",
      "pull",
      "--subject-replace",
      "all",
      "--subject-template",
      "Booked",
    ]);
    expect(added.code, added.stderr).toBe(0);
    const plan = planOf(await otj(["plan", invite, "--room", "room101@contoso.example", "--json"]));
    expect(plan).toMatchObject({ route: "sgj", rule: "teams-sgj", subjectShown: "Booked" });
    expect(plan.dialString).toMatch(/^sgj_[0-9a-f]{12}@sgj\.fabrikam\.example$/);
    const overridden = planOf(await otj(["plan", invite, "--room", "ROOM101@contoso.example", "--json", "--subject-replace", "never"]));
    expect(overridden.subjectShown).toBe("Supplier status");
    expect(overridden.dialString).toBe(plan.dialString);
    const explained = await otj(["explain", invite, "--room", "room101@contoso.example"]);
    expect(explained.code).toBe(0);
    expect(explained.stdout).toContain("sgj.fabrikam.example");
    // Without --room: the illustration default, as before.
    const bare = await runCli(["plan", invite, "--json"], { env: {}, cwd: dir });
    expect(planOf(bare).dialString).toMatch(/@sgj\.otj\.invalid$/);
  });

  it("plans route none with a warning, and raises an alarm, for a provider stored with SGJ and no SIP domain", async () => {
    expect((await otj(["providers", "add", "--name", "legacy", "--partner", "pexip", "--sip-domain", "sgj.legacy.example"])).code).toBe(0);
    expect(
      (await otj(["rooms", "add", "--mailbox", "room102@contoso.example", "--name", "Room 102", "--provider", "legacy", "--device-family", "pull"])).code,
    ).toBe(0);
    // As an older otj stored it: SGJ on, no domain.
    const client = new pg.Client({ connectionString: database.url });
    await client.connect();
    await client.query("update provider set sip_domain = null, sgj_enabled = true where name = 'legacy'");
    await client.end();
    const plan = planOf(await otj(["plan", invite, "--room", "room102@contoso.example", "--json"]));
    expect(plan).toMatchObject({ route: "none", dialString: null, rule: "teams-sgj-no-domain" });
    expect(plan.warnings.join(" ")).toContain("provider legacy enables SIP Guest Join without a SIP domain");
    const status = JSON.parse((await otj(["status", "--json"])).stdout) as {
      rooms: Array<{ mailbox: string; alarms: Array<{ code: string; message: string }> }>;
    };
    const room = status.rooms.find((r) => r.mailbox === "room102@contoso.example");
    expect(room?.alarms.map((a) => a.code)).toEqual(["OTJ_PROVIDER_INVALID"]);
    expect(status.rooms.find((r) => r.mailbox === "room101@contoso.example")?.alarms).toEqual([]);
  });
});
