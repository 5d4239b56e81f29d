/**
 * The cost of /v1/status and of a /metrics scrape does not depend on how much history the
 * database holds (real PostgreSQL): the rows PostgreSQL reads from bridge_session for them stay
 * the same when 20,000 finished sessions are added. And the prune deletes history past its
 * retention, never a live session, under a job lease one instance holds at a time.
 */
import {
  type KyselyPlugin,
  type PluginTransformQueryArgs,
  type PluginTransformResultArgs,
  PostgresQueryCompiler,
  type QueryResult,
  type RootOperationNode,
  type UnknownRow,
  sql,
} from "kysely";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildHttpServer } from "../../app/http/server.ts";
import { buildStatus } from "../../app/status.ts";
import { EngineMetrics } from "../../app/metrics.ts";
import { Engine } from "../../app/main.ts";
import { resolveConfig } from "../../core/config.ts";
import { createLogger } from "../../core/logger.ts";
import { PostgresStore } from "../../store/postgres-store.ts";
import { FakeClock } from "../support/fake-clock.ts";
import { openTestStore, type TestStore } from "../support/test-database.ts";
import { seedRoom } from "./bridge-harness.ts";

const NOW = new Date("2026-12-01T12:00:00Z");
const DAY = 86_400_000;
const settings = { endBufferMinutes: 0, windowFutureDays: 7, pollFailuresBeforeAlarm: 3, pushFailuresBeforeAlarm: 3 };

/** Records the SQL and parameters of every query issued through the Kysely it is plugged into. */
class QueryRecorder implements KyselyPlugin {
  readonly queries: Array<{ sql: string; parameters: readonly unknown[] }> = [];
  readonly #compiler = new PostgresQueryCompiler();
  transformQuery(args: PluginTransformQueryArgs): RootOperationNode {
    const compiled = this.#compiler.compileQuery(args.node, args.queryId);
    this.queries.push({ sql: compiled.sql, parameters: compiled.parameters });
    return args.node;
  }
  async transformResult(args: PluginTransformResultArgs): Promise<QueryResult<UnknownRow>> {
    return args.result;
  }
}

let db: TestStore;
let roomId: string;

beforeAll(async () => {
  db = await openTestStore("postgres");
  const room = await seedRoom(db.store, NOW);
  roomId = room.id;
});
afterAll(async () => db?.close());

/** Inserts `n` sessions in `state`, last changed `ageDays` ago, keys prefixed `prefix`. */
async function insertSessions(prefix: string, n: number, state: string, ageDays: number): Promise<void> {
  const at = new Date(NOW.getTime() - ageDays * DAY);
  await sql`insert into bridge_session (occurrence_key, session_id, room_id, state, due_at, not_after, created_at, updated_at)
    select ${prefix} || g, 'sgj_' || ${prefix} || lpad(to_hex(g), 10, '0'), ${roomId}, ${state}, ${at}, ${at}, ${at}, ${at}
    from generate_series(1, ${n}) g`.execute(db.handle.db);
}

/** Rows PostgreSQL read from bridge_session running these queries (EXPLAIN ANALYZE), and whether any scanned it whole. */
async function rowsRead(queries: ReadonlyArray<{ sql: string; parameters: readonly unknown[] }>): Promise<{ rows: number; seqScans: number }> {
  let rows = 0;
  let seqScans = 0;
  const visit = (node: Record<string, unknown>) => {
    if (node["Relation Name"] === "bridge_session") {
      const loops = Number(node["Actual Loops"] ?? 1);
      rows += (Number(node["Actual Rows"] ?? 0) + Number(node["Rows Removed by Filter"] ?? 0) + Number(node["Rows Removed by Index Recheck"] ?? 0)) * loops;
      if (node["Node Type"] === "Seq Scan") seqScans++;
    }
    for (const child of (node["Plans"] as Record<string, unknown>[] | undefined) ?? []) visit(child);
  };
  for (const q of queries) {
    if (!/bridge_session/.test(q.sql)) continue;
    const plan = await db.handle.db.executeQuery<{ "QUERY PLAN": Array<{ Plan: Record<string, unknown> }> }>({
      sql: `explain (analyze, format json) ${q.sql}`,
      parameters: q.parameters,
      query: { kind: "RawNode" } as never,
      queryId: { queryId: "explain" },
    });
    visit(plan.rows[0]!["QUERY PLAN"][0]!.Plan);
  }
  return { rows, seqScans };
}

/** Runs a status read and a metrics scrape on a store that records its queries; returns them. */
async function statusAndScrape(): Promise<{
  queries: Array<{ sql: string; parameters: readonly unknown[] }>;
  status: Awaited<ReturnType<typeof buildStatus>>;
  metrics: string;
}> {
  const recorder = new QueryRecorder();
  const store = new PostgresStore(db.handle.db.withPlugin(recorder));
  const queries = recorder.queries;
  const status = await buildStatus(store, NOW, settings);
  const metrics = new EngineMetrics();
  metrics.watchStore(store, () => NOW);
  return { queries, status, metrics: await metrics.registry.metrics() };
}

describe("status and metrics cost, whatever the history", () => {
  it("reads tens of bridge_session rows, by index, with 22,000 finished sessions in the history as with none", async () => {
    await insertSessions("live-", 5, "scheduled", 0);
    await insertSessions("recent-", 3, "ended", 0.25);
    await sql`analyze bridge_session`.execute(db.handle.db);
    const before = await statusAndScrape();
    const costBefore = await rowsRead(before.queries);

    await insertSessions("old-", 20_000, "ended", 10);
    await insertSessions("oldfail-", 2_000, "failed", 5);
    await sql`analyze bridge_session`.execute(db.handle.db);
    const after = await statusAndScrape();
    const costAfter = await rowsRead(after.queries);

    expect(after.queries.map((q) => q.sql)).toEqual(before.queries.map((q) => q.sql));
    expect(after.queries.some((q) => /bridge_session/.test(q.sql))).toBe(true);
    expect(costAfter.seqScans).toBe(0);
    // 8 live or recent sessions, read by a few queries: tens of rows, not the 22,000 of history.
    expect(costBefore.rows).toBeLessThan(50);
    expect(costAfter.rows).toBeLessThan(50);
    // What they report is unchanged: the live and recent sessions, and their counts.
    expect(after.status.bridgeSessions).toHaveLength(8);
    expect(after.metrics).toContain('otj_bridge_sessions{state="scheduled"} 5');
    expect(after.metrics).toContain('otj_bridge_sessions{state="ended"} 3');
    expect(after.metrics).not.toContain('state="failed"');
  });
});

describe("retention", () => {
  it("prunes finished sessions, old event log entries and old meetings; never live sessions; one instance at a time", async () => {
    await db.truncate();
    const room = await seedRoom(db.store, NOW, { mailbox: "room202@contoso.example" });
    roomId = room.id;
    await insertSessions("keep-live-", 4, "lobby", 60);
    await insertSessions("keep-recent-", 6, "ended", 29);
    await insertSessions("drop-", 7_000, "cancelled", 31);
    const old = new Date(NOW.getTime() - 91 * DAY);
    const recent = new Date(NOW.getTime() - 89 * DAY);
    await db.store.eventLog.append([
      ...Array.from({ length: 5 }, () => ({ at: old, kind: "meeting.added", roomId, message: "old" })),
      { at: recent, kind: "meeting.added", roomId, message: "recent" },
    ]);
    await sql`insert into meeting (occurrence_key, room_id, source, start_at, end_at, content_hash, created_at, updated_at)
      values ('m-old', ${roomId}, 'graph', ${old}, ${old}, 'h', ${old}, ${old}),
             ('m-recent', ${roomId}, 'graph', ${recent}, ${recent}, 'h', ${recent}, ${recent}),
             ('m-future', ${roomId}, 'graph', ${new Date(NOW.getTime() + DAY)}, ${new Date(NOW.getTime() + DAY + 3_600_000)}, 'h', ${NOW}, ${NOW})`.execute(
      db.handle.db,
    );

    // The Google daily budget's rows: a past day older than the event log's retention goes, today stays.
    await sql`insert into request_budget (name, day, used) values ('google', ${old.toISOString().slice(0, 10)}, 5), ('google', ${NOW.toISOString().slice(0, 10)}, 7)`.execute(
      db.handle.db,
    );

    const config = resolveConfig({ database: { url: db.url }, log: { level: "silent" } }, { env: {}, cwd: process.cwd() });
    const clock = new FakeClock(NOW);
    const engine = new Engine({ config, clock, logger: createLogger("silent"), cwd: process.cwd(), source: null, bridge: null, ticks: false });
    await engine.start(false);
    try {
      // Another instance holds the lease: this one skips.
      const other = await db.openAnother();
      expect(await other.store.retention.claimJob("retention", NOW, 60_000)).toBe(true);
      expect(await engine.workflows.prune()).toBeNull();
      expect(await db.store.bridgeSessions.countByState()).toMatchObject({ cancelled: 7_000 });
      await other.store.retention.releaseJob("retention", NOW);
      await other.close();

      expect(await engine.workflows.prune()).toEqual({ bridgeSessions: 7_000, eventLog: 5, meetings: 1, alarms: 0 });
      expect(await db.store.bridgeSessions.countByState()).toEqual({ lobby: 4, ended: 6 });
      expect((await db.store.eventLog.list({ roomId })).map((e) => e.message)).toEqual(["recent"]);
      const left = await sql<{ occurrence_key: string }>`select occurrence_key from meeting order by occurrence_key`.execute(db.handle.db);
      expect(left.rows.map((r) => r.occurrence_key)).toEqual(["m-future", "m-recent"]);
      const budgets = await sql<{ day: string }>`select day from request_budget order by day`.execute(db.handle.db);
      expect(budgets.rows.map((r) => r.day)).toEqual([NOW.toISOString().slice(0, 10)]);
      // Nothing more to do; the lease was given back.
      expect(await engine.workflows.prune()).toEqual({ bridgeSessions: 0, eventLog: 0, meetings: 0, alarms: 0 });
    } finally {
      await engine.stop();
    }
  }, 60_000);
});

describe("http.metricsToken", () => {
  it("GET /metrics answers 401 without the token, and the metrics with it", async () => {
    const app = await buildHttpServer({
      store: db.store,
      clock: new FakeClock(NOW),
      logger: createLogger("silent"),
      metrics: new EngineMetrics(),
      adminToken: "admin-token-0123456789-0123456789-abc",
      metricsToken: "metrics-token-0123456789",
      settings: { startBufferMinutes: 5, ...settings },
      readiness: async () => ({ database: true }),
    });
    await app.listen({ host: "127.0.0.1", port: 0 });
    try {
      const url = `http://127.0.0.1:${(app.server.address() as { port: number }).port}/metrics`;
      expect((await fetch(url)).status).toBe(401);
      expect((await fetch(url, { headers: { authorization: "Bearer wrong-token" } })).status).toBe(401);
      expect((await fetch(url, { headers: { authorization: "Bearer admin-token-0123456789-0123456789-abc" } })).status).toBe(401);
      const ok = await fetch(url, { headers: { authorization: "Bearer metrics-token-0123456789" } });
      expect(ok.status).toBe(200);
      expect(await ok.text()).toContain("otj_poll_rounds_total");
    } finally {
      await app.close();
    }
  });
});
