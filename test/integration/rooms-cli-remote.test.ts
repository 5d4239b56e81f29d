/**
 * `otj rooms set`, `rooms import` (every problem of a line, --update), and `--url`/`--token`
 * making `status` and `rooms add|set|remove|import` use a running engine's HTTP API: the CLI run
 * in-process, the engine's HTTP server listening on a real port, real PostgreSQL.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { FastifyInstance } from "fastify";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { buildHttpServer } from "../../app/http/server.ts";
import { EngineMetrics } from "../../app/metrics.ts";
import type { StatusOutput } from "../../app/status.ts";
import { createLogger } from "../../core/logger.ts";
import type { Room } from "../../core/ports/store.ts";
import { type CliRun, runCli } from "../support/cli.ts";
import { FakeClock } from "../support/fake-clock.ts";
import { openTestStore, type TestStore } from "../support/test-database.ts";

const ADMIN = "admin-token-0123456789abcdef0123456789";
let db: TestStore;
let app: FastifyInstance;
let base: string;
let workDir: string;
const changed: string[] = [];

beforeAll(async () => {
  db = await openTestStore("postgres");
  workDir = mkdtempSync(join(tmpdir(), "otj-remote-"));
  app = await buildHttpServer({
    store: db.store,
    clock: new FakeClock("2026-03-04T08:00:00.000Z"),
    logger: createLogger("silent"),
    metrics: new EngineMetrics(),
    adminToken: ADMIN,
    settings: { startBufferMinutes: 5, endBufferMinutes: 0, windowFutureDays: 7, pollFailuresBeforeAlarm: 3, pushFailuresBeforeAlarm: 3 },
    readiness: async () => ({ database: true }),
    onRoomChanged: (room: Room) => changed.push(room.mailbox),
  });
  await app.listen({ host: "127.0.0.1", port: 0 });
  base = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`;
});
afterAll(async () => {
  await app?.close();
  await db?.close();
  if (workDir) rmSync(workDir, { recursive: true, force: true });
});
beforeEach(async () => {
  await db.truncate();
  changed.length = 0;
  await db.store.providers.add({ name: "webex", partner: "cisco", tenantKey: "contoso@m.webex.com" }, new Date());
  await db.store.rooms.add(
    {
      mailbox: "room1@contoso.example",
      displayName: "Room 1",
      provider: "webex",
      deviceFamily: "xapi",
      deviceAddress: "https://10.0.0.5",
      deviceUsername: "admin",
      devicePassword: "hunter2",
      insecureTls: true,
      sipUri: "room1@sip.contoso.example",
    },
    new Date(),
  );
});

const local = (args: string[], stdin?: string) => runCli([...args, "--database-url", db.url], { cwd: workDir, ...(stdin !== undefined ? { stdin } : {}) });
const remote = (args: string[], stdin?: string) =>
  runCli([...args, "--url", base, "--token", ADMIN], { cwd: workDir, ...(stdin !== undefined ? { stdin } : {}) });

function ok(run: CliRun): CliRun {
  expect(run.code, run.stderr).toBe(0);
  return run;
}

function csvFile(name: string, text: string): string {
  const path = join(workDir, name);
  writeFileSync(path, text);
  return path;
}

describe("otj rooms set", () => {
  it("changes only the fields given, clears with an empty value, and takes back an opt-in", async () => {
    const run = ok(await local(["rooms", "set", "room1@contoso.example", "--name", "Board Room", "--sip-uri", "", "--no-insecure-tls", "--json"]));
    const printed = JSON.parse(run.stdout) as Record<string, unknown>;
    expect(printed).toMatchObject({ mailbox: "room1@contoso.example", displayName: "Board Room" });
    expect(run.stdout + run.stderr).not.toContain("hunter2");
    await db.store.rooms.update("room1@contoso.example", { subjectReplace: "all" }, new Date());
    ok(await local(["rooms", "set", "room1@contoso.example", "--private-join", "disabled"]));
    const room = await db.store.rooms.get("room1@contoso.example");
    // A privacy flag not given keeps its stored value (its CLI default is not a change).
    expect(room?.privacy).toMatchObject({ subjectReplace: "all", privateJoin: "disabled" });
    expect(room).toMatchObject({
      displayName: "Board Room",
      sipUri: null,
      providerName: "webex",
      device: { address: "https://10.0.0.5", insecureTls: false, hasPassword: true },
    });
  });

  it("refuses no flags (exit 2), an unknown room and a bad value, changing nothing", async () => {
    const none = await local(["rooms", "set", "room1@contoso.example"]);
    expect(none.code).toBe(2);
    expect(none.stderr).toContain("OTJ_USAGE");
    const unknown = await local(["rooms", "set", "nobody@contoso.example", "--name", "X"]);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain("OTJ_STORE_NOT_FOUND");
    const bad = await local(["rooms", "set", "room1@contoso.example", "--provider", "nope"]);
    expect(bad.code).toBe(1);
    expect((await db.store.rooms.get("room1@contoso.example"))?.providerName).toBe("webex");
  });
});

describe("otj rooms import", () => {
  it("reports every problem of a line, not only the first, and writes nothing", async () => {
    const file = csvFile(
      "bad.csv",
      "mailbox,displayName,provider,deviceFamily\nnew1@contoso.example,New 1,webex,pull\nnew2@contoso.example,New 2,nope,fax\nroom1@contoso.example,Again,webex,pull\n",
    );
    const run = await local(["rooms", "import", file]);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain("OTJ_IMPORT_INVALID");
    const line3 = run.stderr.split("\n").filter((l) => l.startsWith("line 3: "));
    expect(line3).toEqual([expect.stringContaining("device family"), expect.stringContaining('provider "nope" does not exist')]);
    expect(run.stderr).toContain("line 4: a room with mailbox room1@contoso.example already exists");
    expect(run.stderr).not.toMatch(/^line 2:/m);
    expect((await db.store.rooms.list()).map((r) => r.mailbox)).toEqual(["room1@contoso.example"]);
  });

  it("--update changes existing rooms, adds new ones and leaves equal rows alone", async () => {
    const file = csvFile(
      "update.csv",
      "mailbox,displayName,provider,deviceFamily,deviceAddress,deviceUsername,insecureTls,sipUri\n" +
        "room1@contoso.example,Room One,webex,xapi,https://10.0.0.5,admin,true,room1@sip.contoso.example\n" +
        "new1@contoso.example,New 1,webex,pull,,,,\n",
    );
    const dry = ok(await local(["rooms", "import", file, "--update", "--dry-run"]));
    expect(dry.stderr).toContain("nothing was added (--dry-run)");
    expect((await db.store.rooms.get("room1@contoso.example"))?.displayName).toBe("Room 1");
    const run = ok(await local(["rooms", "import", file, "--update", "--json"]));
    const out = JSON.parse(run.stdout) as {
      imported: number;
      rooms: Array<{ mailbox: string; deviceToken?: string }>;
      changed: Array<{ mailbox: string; fields: string[] }>;
      unchanged: number;
    };
    expect(out.imported).toBe(1);
    expect(out.rooms[0]).toMatchObject({ mailbox: "new1@contoso.example", deviceToken: expect.any(String) });
    expect(out.changed).toEqual([expect.objectContaining({ mailbox: "room1@contoso.example", fields: ["display name: Room 1 -> Room One"] })]);
    expect(run.stderr).toContain("changed room1@contoso.example: display name: Room 1 -> Room One");
    expect((await db.store.rooms.get("room1@contoso.example"))?.device.hasPassword).toBe(true);
    const again = ok(await local(["rooms", "import", file, "--update"]));
    expect(again.stderr).toContain("nothing to import: 2 of 2 rows match their rooms already");
  });
});

describe("--url and --token: the running engine's API", () => {
  it("status --url prints what the local status prints", async () => {
    const there = JSON.parse(ok(await remote(["status", "--json"])).stdout) as StatusOutput;
    expect(there.rooms.map((r) => r.mailbox)).toEqual(["room1@contoso.example"]);
    const text = ok(await remote(["status"])).stdout;
    expect(text).toContain("Room 1 <room1@contoso.example>");
  });

  it("rooms add, set, remove through the engine, which hears of each change", async () => {
    const added = JSON.parse(
      ok(await remote(["rooms", "add", "--mailbox", "pull1@contoso.example", "--name", "Pull 1", "--provider", "webex", "--device-family", "pull", "--json"]))
        .stdout,
    ) as { id: string; deviceToken: string };
    expect(added.deviceToken).toMatch(/\S{16,}/);
    expect(await db.store.rooms.get("pull1@contoso.example")).not.toBeNull();
    const set = JSON.parse(ok(await remote(["rooms", "set", "pull1@contoso.example", "--name", "Pull One", "--json"])).stdout) as { displayName: string };
    expect(set.displayName).toBe("Pull One");
    expect(changed).toContain("pull1@contoso.example");
    expect((await db.store.rooms.get(added.id))?.displayName).toBe("Pull One");
    const removed = JSON.parse(ok(await remote(["rooms", "remove", added.id, "--json"])).stdout) as { mailbox: string };
    expect(removed.mailbox).toBe("pull1@contoso.example");
    expect(await db.store.rooms.get(added.id)).toBeNull();
    const gone = await remote(["rooms", "set", added.id, "--name", "X"]);
    expect(gone.code).toBe(1);
    expect(gone.stderr).toContain("OTJ_STORE_NOT_FOUND");
  });

  it("rooms import --url reports every problem, or applies with --update", async () => {
    const bad = await remote(["rooms", "import", "-"], "mailbox,displayName,provider,deviceFamily\nnew2@contoso.example,New 2,nope,fax\n");
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain("OTJ_IMPORT_INVALID");
    expect(bad.stderr.split("\n").filter((l) => l.startsWith("line 2: "))).toHaveLength(2);
    const good = ok(
      await remote(
        ["rooms", "import", "-", "--update"],
        "mailbox,displayName,provider,deviceFamily,deviceAddress,deviceUsername,insecureTls,sipUri\nroom1@contoso.example,Room Uno,webex,xapi,https://10.0.0.5,admin,true,room1@sip.contoso.example\n",
      ),
    );
    expect(good.stderr).toContain("changed room1@contoso.example");
    expect((await db.store.rooms.get("room1@contoso.example"))?.displayName).toBe("Room Uno");
    expect(changed).toContain("room1@contoso.example");
  });

  it("a wrong token is the engine's 401; --token alone or with --database-url is a usage error", async () => {
    const wrong = await runCli(["status", "--url", base, "--token", "x".repeat(40)], { cwd: workDir });
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toContain("OTJ_HTTP_UNAUTHORIZED");
    const fromEnv = await runCli(["status", "--json", "--url", base], { cwd: workDir, env: { OTJ_HTTP__ADMIN_TOKEN: ADMIN } });
    expect(fromEnv.code, fromEnv.stderr).toBe(0);
    expect((await runCli(["status", "--token", ADMIN], { cwd: workDir })).code).toBe(2);
    expect((await runCli(["status", "--url", base, "--token", ADMIN, "--database-url", db.url], { cwd: workDir })).code).toBe(2);
    const noToken = await runCli(["status", "--url", base], { cwd: workDir, env: {} });
    expect(noToken.code).toBe(2);
  });
});
