/**
 * `otj providers ...`, `otj rooms add|list|remove|token` and the store options, run in-process
 * through main(argv, io) against a fresh PostgreSQL database (and once on the embedded PGlite).
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { acquirePgliteLock } from "../../store/pglite-lock.ts";
import { type CliRun, runCli } from "../support/cli.ts";
import { type TestPostgres, createTestPostgres } from "../support/test-database.ts";

let database: TestPostgres;
let workDir: string;

beforeAll(async () => {
  database = await createTestPostgres("cli");
  workDir = mkdtempSync(join(tmpdir(), "otj-cli-"));
  expect((await runCli(["migrate", "--database-url", database.url])).code).toBe(0);
});
afterAll(async () => {
  await database?.drop();
  if (workDir) rmSync(workDir, { recursive: true, force: true });
});

/** Runs otj against the test database (through --database-url unless `env` says otherwise). */
function otj(args: string[], options: { env?: NodeJS.ProcessEnv; flag?: boolean; cwd?: string } = {}): Promise<CliRun> {
  const argv = options.flag === false ? args : [...args, "--database-url", database.url];
  return runCli(argv, { env: options.env ?? {}, cwd: options.cwd ?? workDir });
}

function json<T = Record<string, unknown>>(run: CliRun): T {
  expect(run.code, run.stderr).toBe(0);
  return JSON.parse(run.stdout) as T;
}

async function reset(): Promise<void> {
  for (const room of json<{ rooms: Array<{ id: string }> }>(await otj(["rooms", "list", "--json"])).rooms) {
    await otj(["rooms", "remove", room.id]);
  }
  for (const provider of json<{ providers: Array<{ name: string }> }>(await otj(["providers", "list", "--json"])).providers) {
    await otj(["providers", "remove", provider.name, "--force"]);
  }
}

describe("otj providers", () => {
  beforeEach(reset);

  it("adds, sets, lists and removes provider records", async () => {
    const added = json(
      await otj([
        "providers",
        "add",
        "--name",
        "contoso-pexip",
        "--partner",
        "pexip",
        "--tenant-key",
        "teams@vc.contoso.example",
        "--sip-domain",
        "vc.contoso.example",
        "--no-sgj",
        "--instruction-url",
        "https://pexip.me/teams/contoso",
        "--json",
      ]),
    );
    expect(added).toMatchObject({ name: "contoso-pexip", partner: "pexip", tenantKey: "teams@vc.contoso.example", sgjEnabled: false, sgjTemplate: null });
    expect(added["id"]).toMatch(/^pv_[0-9a-z]{10}$/);

    const set = json(
      await otj(["providers", "set", "contoso-pexip", "--sgj", "--sgj-template", "{meetingId}.{passcode}@sgj.contoso.example", "--tenant-key", "", "--json"]),
    );
    expect(set).toMatchObject({
      partner: "pexip",
      sgjEnabled: true,
      sgjTemplate: "{meetingId}.{passcode}@sgj.contoso.example",
      tenantKey: null,
      sipDomain: "vc.contoso.example",
    });

    await otj(["providers", "add", "--name", "acme", "--partner", "generic"]);
    const listed = json<{ providers: Array<{ name: string }> }>(await otj(["providers", "list", "--json"]));
    expect(listed.providers.map((p) => p.name)).toEqual(["acme", "contoso-pexip"]);
    const table = await otj(["providers", "list"]);
    expect(table.stdout).toMatch(/^NAME\s+PARTNER/);
    expect(table.stdout).toContain("contoso-pexip");

    const removed = await otj(["providers", "remove", "acme"]);
    expect(removed.code).toBe(0);
    expect(removed.stderr).toContain("removed provider acme");
  });

  it("refuses bad input with exit 2, duplicates and unknown names with exit 1", async () => {
    expect((await otj(["providers", "add", "--name", "x"])).code).toBe(2);
    expect((await otj(["providers", "add", "--name", "x", "--partner", "zoom"])).code).toBe(2);
    const badTemplate = await otj(["providers", "add", "--name", "x", "--partner", "generic", "--sgj-template", "{meetingid}@x.example"]);
    expect(badTemplate.code).toBe(2);
    expect(badTemplate.stderr).toContain("OTJ_PROVIDER_INVALID");
    expect(badTemplate.stderr).toContain("{meetingid}");
    expect((await otj(["providers", "add", "--name", "x", "--partner", "generic"])).code).toBe(0);
    const duplicate = await otj(["providers", "add", "--name", "X", "--partner", "poly"]);
    expect(duplicate.code).toBe(1);
    expect(duplicate.stderr).toContain("OTJ_STORE_CONFLICT");
    expect((await otj(["providers", "set", "nope", "--partner", "poly"])).code).toBe(1);
    expect((await otj(["providers", "remove", "nope"])).code).toBe(1);
  });

  it("refuses to remove a provider rooms use unless --force", async () => {
    await otj(["providers", "add", "--name", "p", "--partner", "cisco"]);
    await otj(["rooms", "add", "--mailbox", "r1@contoso.example", "--name", "R1", "--provider", "p", "--device-family", "pull"]);
    const refused = await otj(["providers", "remove", "p"]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/OTJ_PROVIDER_IN_USE: provider "p" is used by 1 room\(s\) \(r1@contoso\.example\).*--force/);
    const forced = await otj(["providers", "remove", "p", "--force"]);
    expect(forced.code).toBe(0);
    expect(forced.stderr).toContain("1 room(s) now use the built-in defaults");
    expect(json<{ rooms: Array<{ provider: string | null }> }>(await otj(["rooms", "list", "--json"])).rooms[0]?.provider).toBeNull();
  });
});

describe("otj rooms", () => {
  beforeEach(async () => {
    await reset();
    await otj(["providers", "add", "--name", "contoso", "--partner", "cisco", "--tenant-key", "contoso@m.webex.com"]);
  });

  it("adds an xapi room; the password never appears in any output", async () => {
    const passwordFile = join(workDir, "pw.txt");
    writeFileSync(passwordFile, "file-s3cret\n");
    const added = await otj([
      "rooms",
      "add",
      "--mailbox",
      "Room101@Contoso.example",
      "--name",
      "Room 101",
      "--provider",
      "contoso",
      "--device-family",
      "xapi",
      "--device-address",
      "room101.contoso.example",
      "--device-username",
      "admin",
      "--device-password-file",
      passwordFile,
      "--insecure-tls",
      "--sip-uri",
      "sip:room101@video.contoso.example",
      "--subject-replace",
      "all",
      "--json",
    ]);
    const room = json(added);
    expect(room).toMatchObject({
      mailbox: "room101@contoso.example",
      displayName: "Room 101",
      provider: "contoso",
      deviceFamily: "xapi",
      deviceAddress: "https://room101.contoso.example",
      deviceUsername: "admin",
      hasDevicePassword: true,
      insecureTls: true,
      sipUri: "room101@video.contoso.example",
      subjectReplace: "all",
      privateMeetings: "process",
    });
    expect(room["id"]).toMatch(/^rm_[0-9a-z]{10}$/);
    // A legacy room on plain http:// off loopback, its password from the environment.
    const addR2 = [
      "rooms",
      "add",
      "--mailbox",
      "r2@contoso.example",
      "--name",
      "R2",
      "--provider",
      "contoso",
      "--device-family",
      "xapi-legacy",
      "--device-address",
      "http://10.1.1.1:8080",
      "--device-password-env",
      "ROOM_PW",
    ];
    const viaEnv = await otj(addR2, { env: { ROOM_PW: "env-s3cret" } });
    // Plain http:// off loopback needs the room's opt-in.
    expect(viaEnv.code).toBe(2);
    expect(viaEnv.stderr).toContain("--insecure-http");
    const optedIn = await otj([...addR2, "--insecure-http"], { env: { ROOM_PW: "env-s3cret" } });
    expect(optedIn.code, optedIn.stderr).toBe(0);
    const list = await otj(["rooms", "list", "--json"]);
    const table = await otj(["rooms", "list"]);
    for (const run of [added, viaEnv, optedIn, list, table]) {
      expect(run.stdout + run.stderr).not.toMatch(/s3cret/);
    }
    expect(json<{ rooms: unknown[] }>(list).rooms.length).toBe(2);
    expect(table.stdout).toMatch(/^ID\s+MAILBOX\s+NAME\s+PROVIDER\s+FAMILY\s+ADDRESS\n/);
    expect(table.stdout).toContain("http://10.1.1.1:8080");
  });

  it("prints a pull room's token once as {id, mailbox, deviceToken}; rooms token shows and rotates it", async () => {
    const added = json<{ id: string; mailbox: string; deviceToken: string }>(
      await otj(["rooms", "add", "--mailbox", "panel@contoso.example", "--name", "Panel", "--provider", "contoso", "--device-family", "pull", "--json"]),
    );
    expect(Object.keys(added).sort()).toEqual(["deviceToken", "id", "mailbox"]);
    const listed = await otj(["rooms", "list", "--json"]);
    expect(listed.stdout).not.toContain(added.deviceToken);
    expect((await otj(["rooms", "token", "PANEL@contoso.example"])).stdout).toBe(`${added.deviceToken}\n`);
    const rotated = json<{ deviceToken: string }>(await otj(["rooms", "token", added.id, "--rotate", "--json"]));
    expect(rotated.deviceToken).not.toBe(added.deviceToken);
    expect(json<{ deviceToken: string }>(await otj(["rooms", "token", added.id, "--json"])).deviceToken).toBe(rotated.deviceToken);

    const human = await otj(["rooms", "add", "--mailbox", "panel2@contoso.example", "--name", "Panel 2", "--provider", "contoso", "--device-family", "pull"]);
    expect(human.stdout).toMatch(/^[A-Za-z0-9_-]{32}\n$/);
    expect(human.stderr).toContain("otj rooms token panel2@contoso.example");
  });

  it("removes a room named by mailbox or id", async () => {
    const a = json<{ id: string }>(
      await otj(["rooms", "add", "--mailbox", "a@contoso.example", "--name", "A", "--provider", "contoso", "--device-family", "pull", "--json"]),
    );
    await otj(["rooms", "add", "--mailbox", "b@contoso.example", "--name", "B", "--provider", "contoso", "--device-family", "pull"]);
    expect((await otj(["rooms", "remove", a.id])).code).toBe(0);
    expect(json(await otj(["rooms", "remove", "B@CONTOSO.EXAMPLE", "--json"]))).toMatchObject({ mailbox: "b@contoso.example" });
    expect(json<{ rooms: unknown[] }>(await otj(["rooms", "list", "--json"])).rooms).toEqual([]);
    const missing = await otj(["rooms", "remove", "a@contoso.example"]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain("OTJ_STORE_NOT_FOUND");
  });

  it("answers bad input with a clear message and the right exit code, writing nothing", async () => {
    const base = ["rooms", "add", "--name", "X", "--provider", "contoso", "--device-family", "pull"];
    expect((await otj(["rooms", "add", "--name", "X", "--provider", "contoso", "--device-family", "pull"])).code).toBe(2);
    expect((await otj(["rooms", "add", "--mailbox", "x@contoso.example", "--name", "X", "--provider", "contoso", "--device-family", "fax"])).code).toBe(2);
    const invalid = await otj([...base, "--mailbox", "not a mailbox"]);
    expect(invalid.code).toBe(2);
    expect(invalid.stderr).toContain('OTJ_ROOM_INVALID: mailbox "not a mailbox" is not a valid mailbox address');
    const noAddress = await otj(["rooms", "add", "--mailbox", "x@contoso.example", "--name", "X", "--provider", "contoso", "--device-family", "xapi"]);
    expect(noAddress.code).toBe(2);
    expect(noAddress.stderr).toContain("needs a device address");
    const unknownProvider = await otj(["rooms", "add", "--mailbox", "x@contoso.example", "--name", "X", "--provider", "nope", "--device-family", "pull"]);
    expect(unknownProvider.code).toBe(1);
    expect(unknownProvider.stderr).toContain('provider "nope" does not exist');
    const twoPasswords = await otj([...base, "--mailbox", "x@contoso.example", "--device-password", "a", "--device-password-env", "B"]);
    expect(twoPasswords.code).toBe(2);
    expect(twoPasswords.stderr).toContain("OTJ_USAGE");
    expect((await otj([...base, "--mailbox", "x@contoso.example"])).code).toBe(0);
    const duplicate = await otj([...base, "--mailbox", "X@contoso.example"]);
    expect(duplicate.code).toBe(1);
    expect(duplicate.stderr).toContain("OTJ_STORE_CONFLICT");
    expect(json<{ rooms: unknown[] }>(await otj(["rooms", "list", "--json"])).rooms.length).toBe(1);
  });
});

describe("store options", () => {
  const unreachable = "postgres://postgres@127.0.0.1:1/none";

  it("takes the database URL from --database-url, then OTJ_DATABASE__URL, then DATABASE_URL, then the config", async () => {
    const config = join(workDir, "otj.json");
    writeFileSync(config, JSON.stringify({ database: { url: unreachable } }));
    const list = ["providers", "list", "--json"];
    expect((await otj([...list, "--config", config], { flag: false })).code).toBe(1);
    expect((await otj([...list, "--config", config], { flag: false, env: { DATABASE_URL: database.url } })).code).toBe(0);
    expect((await otj([...list, "--config", config], { flag: false, env: { DATABASE_URL: unreachable, OTJ_DATABASE__URL: database.url } })).code).toBe(0);
    expect((await otj([...list, "--config", config], { env: { DATABASE_URL: unreachable, OTJ_DATABASE__URL: unreachable } })).code).toBe(0);
    const failed = await otj(list, { flag: false, env: { DATABASE_URL: unreachable } });
    expect(failed.stderr).toContain("OTJ_STORE_UNREACHABLE: cannot reach postgres://postgres@127.0.0.1:1/none: connection refused");
  });

  it("refuses a configuration with an unknown key, naming it (exit 2)", async () => {
    const config = join(workDir, "bad.json");
    writeFileSync(config, JSON.stringify({ poll: { intervalSecs: 5 } }));
    const run = await otj(["rooms", "list", "--config", config]);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain("OTJ_CONFIG_INVALID");
    expect(run.stderr).toContain("poll.intervalSecs: unknown key (did you mean poll.intervalSeconds?)");
  });

  it("uses embedded PGlite in ./.otj/db by default, takes over a stale lock, and refuses a held one", async () => {
    const cwd = mkdtempSync(join(tmpdir(), "otj-pglite-"));
    try {
      const dir = join(cwd, ".otj", "db");
      mkdirSync(dir, { recursive: true });
      // A crashed process left its lock: a pid that cannot be alive.
      writeFileSync(join(dir, "otj.lock"), JSON.stringify({ pid: 2 ** 22 + 1, host: (await import("node:os")).hostname(), since: "2025-01-01T00:00:00Z" }));
      const added = await otj(["providers", "add", "--name", "embedded", "--partner", "generic"], { flag: false, cwd });
      expect(added.code, added.stderr).toBe(0);

      const release = acquirePgliteLock(dir);
      try {
        const locked = await otj(["providers", "list"], { flag: false, cwd });
        expect(locked.code).toBe(1);
        expect(locked.stderr).toContain(`OTJ_STORE_LOCKED: the embedded database ${dir} is in use by process ${process.pid}`);
        expect(locked.stderr).toMatch(/HTTP API|--database-url/);
      } finally {
        release();
      }
      const listed = await otj(["providers", "list", "--json"], { flag: false, cwd });
      expect(json<{ providers: Array<{ name: string }> }>(listed).providers.map((p) => p.name)).toEqual(["embedded"]);
    } finally {
      rmSync(cwd, { recursive: true, force: true });
    }
    // Creates and migrates an on-disk PGlite database twice (WebAssembly Postgres, CPU-bound): about
    // 10 s on an idle 2-core machine, several times that on a loaded one.
  }, 300_000);
});
