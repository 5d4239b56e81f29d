/**
 * Migrations on real PostgreSQL: up -> down -> up on a fresh database, a failing run applies
 * nothing, and two `otj migrate` runs at once are safe (advisory lock).
 */
import { sql } from "kysely";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { OtjError } from "../../core/errors.ts";
import { type DatabaseHandle, createDatabase } from "../../store/create-database.ts";
import { PostgresStore } from "../../store/postgres-store.ts";
import { MIGRATION_FILE_PATTERN, loadMigrations, migrateDown, migrateToLatest, migrationStatus } from "../../store/migrate.ts";
import { runCli } from "../support/cli.ts";
import { type TestPostgres, createTestPostgres } from "../support/test-database.ts";

const OTJ_TABLES = [
  "alarm",
  "bridge_session",
  "console_revocation",
  "device_fetch",
  "device_state",
  "event_log",
  "ews_device",
  "google_channel",
  "graph_subscription",
  "job_lease",
  "meeting",
  "provider",
  "request_budget",
  "room",
  "sync_cursor",
];

async function tables(handle: DatabaseHandle): Promise<string[]> {
  const result = await sql<{ table_name: string }>`select table_name from information_schema.tables
    where table_schema = 'public' and table_name not like 'kysely_%' order by table_name`.execute(handle.db);
  return result.rows.map((r) => r.table_name);
}

describe("migrations", () => {
  let database: TestPostgres;
  let handle: DatabaseHandle;

  beforeAll(async () => {
    database = await createTestPostgres("migrations");
    handle = await createDatabase(database.url, { cwd: process.cwd() });
  });
  afterAll(async () => {
    await handle?.close();
    await database?.drop();
  });

  it("names every migration YYYYMMDDHHMM_snake_name.ts, in order", async () => {
    const names = Object.keys(await loadMigrations());
    expect(names.length).toBeGreaterThan(0);
    for (const name of names) expect(`${name}.ts`).toMatch(MIGRATION_FILE_PATTERN);
    expect([...names].sort()).toEqual(names);
  });

  it("goes up, down and up again on a fresh database", async () => {
    expect(await tables(handle)).toEqual([]);
    const first = await migrateToLatest(handle.db);
    expect(first.applied).toEqual(Object.keys(await loadMigrations()));
    expect(await tables(handle)).toEqual(OTJ_TABLES);
    expect((await migrateToLatest(handle.db)).applied).toEqual([]);
    expect((await migrationStatus(handle.db)).every((m) => m.executedAt !== null)).toBe(true);

    const down = await migrateDown(handle.db, "all");
    expect(down.applied).toEqual([...first.applied].reverse());
    expect(await tables(handle)).toEqual([]);
    expect((await migrationStatus(handle.db)).every((m) => m.executedAt === null)).toBe(true);

    expect((await migrateToLatest(handle.db)).applied).toEqual(first.applied);
    expect(await tables(handle)).toEqual(OTJ_TABLES);
  });

  it("moves the EWS feed's last reads into device_fetch and back (202612070010), keeping the rows", async () => {
    await migrateToLatest(handle.db);
    const store = new PostgresStore(handle.db);
    const at = new Date("2026-12-01T08:00:00.000Z");
    await store.providers.add({ partner: "cisco", name: "webex", tenantKey: "acme@m.webex.com" }, at);
    const poly = (await store.rooms.add({ mailbox: "poly-mig@contoso.example", displayName: "Poly", provider: "webex", deviceFamily: "ews" }, at)).room;
    const panel = (await store.rooms.add({ mailbox: "panel-mig@contoso.example", displayName: "Panel", provider: "webex", deviceFamily: "pull" }, at)).room;
    await store.ewsDevices.issueFirstPassword(poly.id, at);
    // Down to just before the unified record: the EWS feed's reads lived in ews_device then.
    const names = Object.keys(await loadMigrations());
    const after = names.length - 1 - names.indexOf("202612070010_unified_device_fetch");
    await migrateDown(handle.db, after + 1);
    await sql`delete from device_fetch`.execute(handle.db);
    await sql`update ews_device set last_fetch_at = ${at}, last_operation = 'FindItem' where room_id = ${poly.id}`.execute(handle.db);
    await sql`insert into device_fetch (room_id, fetched_at) values (${panel.id}, ${at})`.execute(handle.db);

    await migrateToLatest(handle.db);
    const fetches = await store.alarms.lastFetches();
    expect(fetches.get(poly.id)).toEqual({ at, via: "ews:FindItem" });
    expect(fetches.get(panel.id)?.at).toEqual(at);

    await migrateDown(handle.db, after + 1);
    const back = await sql<{
      last_fetch_at: Date;
      last_operation: string;
    }>`select last_fetch_at, last_operation from ews_device where room_id = ${poly.id}`.execute(handle.db);
    expect(back.rows).toEqual([{ last_fetch_at: at, last_operation: "FindItem" }]);
    await migrateToLatest(handle.db);
    await migrateDown(handle.db, "all");
  });

  it("applies nothing of a run that fails", async () => {
    const broken = await createTestPostgres("migrations_broken");
    const other = await createDatabase(broken.url, { cwd: process.cwd() });
    try {
      // A table in the way makes the last statement of the initial migration fail.
      await sql`create table event_log (id int)`.execute(other.db);
      const error = await migrateToLatest(other.db).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(OtjError);
      expect((error as OtjError).code).toBe("OTJ_STORE_MIGRATION_FAILED");
      expect((error as OtjError).message).toContain("nothing of this run was applied");
      expect(await tables(other)).toEqual(["event_log"]);
    } finally {
      await other.close();
      await broken.drop();
    }
  });

  it("two concurrent `otj migrate` runs both succeed and apply each migration once", async () => {
    const fresh = await createTestPostgres("migrations_race");
    try {
      const runs = await Promise.all([1, 2].map(() => runCli(["migrate", "--database-url", fresh.url, "--json"])));
      expect(runs.map((run) => run.code)).toEqual([0, 0]);
      const applied = runs.map((run) => (JSON.parse(run.stdout) as { applied: string[] }).applied);
      const names = Object.keys(await loadMigrations());
      expect([...applied].sort((x, y) => x.length - y.length)).toEqual([[], names]);
      const check = await createDatabase(fresh.url, { cwd: process.cwd() });
      try {
        const rows = await sql<{ name: string }>`select name from kysely_migration order by name`.execute(check.db);
        expect(rows.rows.map((r) => r.name)).toEqual(names);
        expect(await tables(check)).toEqual(OTJ_TABLES);
      } finally {
        await check.close();
      }
      expect(runs.map((run) => run.stderr).join("")).toMatch(/up to date/);
    } finally {
      await fresh.drop();
    }
  });

  it("reports an unreachable database with a clear message and exit 1", async () => {
    const run = await runCli(["migrate", "--database-url", "postgres://postgres@127.0.0.1:1/none"]);
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/OTJ_STORE_UNREACHABLE: cannot reach postgres:\/\/postgres@127\.0\.0\.1:1\/none: connection refused/);
  });
});
