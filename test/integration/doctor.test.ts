/**
 * `otj doctor` against the Graph, Cisco device and bridge emulators and a real PostgreSQL: a
 * healthy deployment passes (exit 0); each planted fault fails its own check with its fix (exit 1).
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { systemClock } from "../../core/clock.ts";
import { BridgeEmulator } from "../../emulators/bridge/bridge-emulator.ts";
import { CiscoDeviceEmulator } from "../../emulators/cisco-device/cisco-device-emulator.ts";
import { ALL_APPLICATION_ROLES, GraphEmulator } from "../../emulators/graph/graph-emulator.ts";
import { createDatabase } from "../../store/create-database.ts";
import { migrateToLatest } from "../../store/migrate.ts";
import { PostgresStore } from "../../store/postgres-store.ts";
import { runCli } from "../support/cli.ts";
import { createTestPostgres, type TestPostgres } from "../support/test-database.ts";

const ROOM = "room101@contoso.example";
const STRIPPING_ROOM = "room102@contoso.example";
const DEVICE_PASSWORD = "device-secret-pw";
const HMAC = "doctor-hmac-secret";
const SECRETS_KEY = "doctor-secrets-key-0123456789";

interface Check {
  id: string;
  outcome: "pass" | "fail" | "warn" | "skip";
  detail: string;
  fix?: string;
}

let pg: TestPostgres;
let graph: GraphEmulator;
let device: CiscoDeviceEmulator;
let bridge: BridgeEmulator;
let dir: string;

function writeConfig(overrides: { clientSecret?: string; hmacSecret?: string; secretsKey?: string | null } = {}): string {
  const file = join(dir, `otj-${Math.random().toString(36).slice(2)}.json`);
  writeFileSync(
    file,
    JSON.stringify({
      database: { url: pg.url },
      graph: {
        tenantId: "c0ffee00-1111-2222-3333-444455556666",
        clientId: graph.clientId,
        clientSecret: overrides.clientSecret ?? graph.clientSecret,
        baseUrl: graph.url,
        authorityUrl: graph.url,
      },
      bridge: { adapter: "http", http: { baseUrl: bridge.url, token: "t", hmacSecret: overrides.hmacSecret ?? HMAC } },
      ...(overrides.secretsKey === null ? {} : { secrets: { key: overrides.secretsKey ?? SECRETS_KEY } }),
    }),
  );
  return file;
}

async function doctor(config: string, ...extra: string[]): Promise<{ code: number; checks: Check[]; text: string }> {
  const json = await runCli(["doctor", "--config", config, "--json", ...extra], { cwd: dir });
  const text = await runCli(["doctor", "--config", config, ...extra], { cwd: dir });
  expect(text.code).toBe(json.code);
  return { code: json.code, checks: (JSON.parse(json.stdout) as { checks: Check[] }).checks, text: text.stdout };
}

const check = (checks: Check[], id: string) => checks.find((c) => c.id === id);

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "otj-doctor-"));
  pg = await createTestPostgres("doctor");
  graph = new GraphEmulator({ seed: "doctor" });
  await graph.listen();
  graph.addRoom({ address: ROOM, displayName: "Room 101" });
  graph.addRoom({ address: STRIPPING_ROOM, displayName: "Room 102" });
  graph.setProcessing(STRIPPING_ROOM, { deleteComments: true });
  const start = new Date(Date.now() - 2 * 86_400_000);
  const external = {
    subject: "Partner sync",
    start: start.toISOString(),
    end: new Date(start.getTime() + 3_600_000).toISOString(),
    organizer: { name: "Ana", address: "ana@fabrikam.example" },
    body: { contentType: "html" as const, content: "<p>Join the meeting: https://teams.microsoft.com/l/meetup-join/19%3ameeting_x%40thread.v2/0</p>" },
  };
  graph.addEvent(ROOM, external);
  graph.addEvent(STRIPPING_ROOM, external);
  device = new CiscoDeviceEmulator({ users: { admin: { password: DEVICE_PASSWORD, role: "Admin" } } });
  await device.start();
  bridge = new BridgeEmulator({ clock: systemClock, token: "t", hmacSecret: HMAC });
  await bridge.start();

  const handle = await createDatabase(pg.url, { cwd: dir, poolSize: 2 });
  await migrateToLatest(handle.db);
  const store = new PostgresStore(handle.db, { secretKey: SECRETS_KEY });
  const now = new Date();
  await store.providers.add({ name: "contoso", partner: "cisco", tenantKey: "contoso@m.webex.com", sipDomain: "sgj.contoso.example" }, now);
  for (const mailbox of [ROOM, STRIPPING_ROOM]) {
    await store.rooms.add(
      {
        mailbox,
        displayName: mailbox,
        provider: "contoso",
        deviceFamily: "xapi",
        deviceAddress: device.url,
        deviceUsername: "admin",
        devicePassword: DEVICE_PASSWORD,
        insecureTls: true,
      },
      now,
    );
  }
  await handle.close();
});

afterAll(async () => {
  await bridge?.stop();
  await device?.stop();
  await graph?.stop();
  await pg?.drop();
  rmSync(dir, { recursive: true, force: true });
});

describe("otj doctor", () => {
  it("passes a healthy deployment: database, token and roles, the room's calendar and bodies, its device, the bridge", async () => {
    const { code, checks, text } = await doctor(writeConfig(), "--room", ROOM);
    expect(checks.filter((c) => c.outcome === "fail")).toEqual([]);
    expect(code).toBe(0);
    for (const id of [
      "config",
      "database",
      "secrets.key",
      "providers.sgj",
      "graph.token",
      "graph.roles.calendar",
      "room.calendar",
      "room.bodies",
      `device.${ROOM}`,
      "bridge",
    ]) {
      expect(check(checks, id)?.outcome, id).toBe("pass");
    }
    expect(check(checks, "graph.token")?.detail).toContain("Calendars.Read");
    expect(text).toContain("All checks passed.");
    expect(text).not.toContain(DEVICE_PASSWORD);
    expect(text).not.toContain(HMAC);
  });

  it("a room that strips external meetings' bodies: prints the Set-CalendarProcessing line", async () => {
    const { code, checks } = await doctor(writeConfig(), "--room", STRIPPING_ROOM);
    expect(code).toBe(1);
    const bodies = check(checks, "room.bodies");
    expect(bodies?.outcome).toBe("fail");
    expect(bodies?.fix).toBe(
      `Set-CalendarProcessing -Identity ${STRIPPING_ROOM} -DeleteComments $false -DeleteSubject $false -AddOrganizerToSubject $false -ProcessExternalMeetingMessages $true`,
    );
  });

  it("a mailbox outside the access policy (403) and one that is not a mailbox (404) each get their fix", async () => {
    graph.setMailboxAccess(ROOM, "denied");
    try {
      const denied = await doctor(writeConfig(), "--room", ROOM);
      expect(denied.code).toBe(1);
      expect(check(denied.checks, "room.calendar")).toMatchObject({ outcome: "fail", fix: expect.stringContaining("Test-ApplicationAccessPolicy") });
      graph.setMailboxAccess(ROOM, "notFound");
      const missing = await doctor(writeConfig(), "--room", ROOM);
      expect(check(missing.checks, "room.calendar")).toMatchObject({ outcome: "fail", fix: expect.stringContaining("is not a mailbox") });
    } finally {
      graph.setMailboxAccess(ROOM, "ok");
    }
  });

  it("an unknown room fails", async () => {
    const { code, checks } = await doctor(writeConfig(), "--room", "nobody@contoso.example");
    expect(code).toBe(1);
    expect(check(checks, "room")?.outcome).toBe("fail");
  });

  it("consent without Calendars.Read fails; without Place.Read.All only warns", async () => {
    graph.setRoles(ALL_APPLICATION_ROLES.filter((r) => r !== "Calendars.Read" && r !== "Place.Read.All"));
    try {
      const { code, checks } = await doctor(writeConfig());
      expect(code).toBe(1);
      expect(check(checks, "graph.roles.calendar")?.outcome).toBe("fail");
      expect(check(checks, "graph.roles.discovery")?.outcome).toBe("warn");
    } finally {
      graph.setRoles(ALL_APPLICATION_ROLES);
    }
  });

  it("a wrong client secret fails the token check", async () => {
    const { code, checks } = await doctor(writeConfig({ clientSecret: "not-the-secret" }));
    expect(code).toBe(1);
    expect(check(checks, "graph.token")).toMatchObject({ outcome: "fail", detail: expect.stringContaining("OTJ_GRAPH_AUTH") });
  });

  it("a device that refuses the stored credentials fails with OTJ_DEVICE_AUTH", async () => {
    const bad = new CiscoDeviceEmulator({ users: { admin: { password: "another-password", role: "Admin" } } });
    await bad.start();
    const handle = await createDatabase(pg.url, { cwd: dir, poolSize: 2 });
    const store = new PostgresStore(handle.db, { secretKey: SECRETS_KEY });
    try {
      await store.rooms.update(ROOM, { deviceAddress: bad.url, devicePassword: DEVICE_PASSWORD }, new Date());
      const { code, checks } = await doctor(writeConfig(), "--room", ROOM);
      expect(code).toBe(1);
      expect(check(checks, `device.${ROOM}`)).toMatchObject({ outcome: "fail", detail: expect.stringContaining("OTJ_DEVICE_AUTH") });
    } finally {
      await store.rooms.update(ROOM, { deviceAddress: device.url, devicePassword: DEVICE_PASSWORD }, new Date());
      await handle.close();
      await bad.stop();
    }
  });

  it("a bridge that refuses otj's signature fails", async () => {
    const { code, checks } = await doctor(writeConfig({ hmacSecret: "wrong-hmac-secret" }));
    expect(code).toBe(1);
    expect(check(checks, "bridge")).toMatchObject({ outcome: "fail", detail: expect.stringContaining("OTJ_BRIDGE_REJECTED") });
  });

  it("stored device passwords without secrets.key fail", async () => {
    const { code, checks } = await doctor(writeConfig({ secretsKey: null }));
    expect(code).toBe(1);
    expect(check(checks, "secrets.key")?.outcome).toBe("fail");
  });

  it("an SGJ provider without a SIP domain fails", async () => {
    const handle = await createDatabase(pg.url, { cwd: dir, poolSize: 2 });
    try {
      // Written below the store's validation: a database from before SIP domains were required.
      await handle.db
        .insertInto("provider" as never)
        .values({ id: "pv_nodomain01", name: "nodomain", partner: "generic", sgj_enabled: true, created_at: new Date(), updated_at: new Date() } as never)
        .execute();
      const { code, checks } = await doctor(writeConfig());
      expect(code).toBe(1);
      expect(check(checks, "providers.sgj")).toMatchObject({ outcome: "fail", detail: expect.stringContaining("nodomain") });
    } finally {
      await handle.db
        .deleteFrom("provider" as never)
        .where("id" as never, "=", "pv_nodomain01" as never)
        .execute();
      await handle.close();
    }
  });
});

describe("otj doctor on a broken configuration", () => {
  it("fails the config check (exit 1) and names the key", async () => {
    const file = join(dir, "broken.json");
    writeFileSync(file, JSON.stringify({ poll: { intervalSeconds: "often" } }));
    const run = await runCli(["doctor", "--config", file, "--json"], { cwd: dir });
    expect(run.code).toBe(1);
    const report = JSON.parse(run.stdout) as { ok: boolean; checks: Check[] };
    expect(report.ok).toBe(false);
    expect(report.checks[0]).toMatchObject({ id: "config", outcome: "fail", detail: expect.stringContaining("poll.intervalSeconds") });
  });
});
