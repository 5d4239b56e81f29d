/**
 * The lease queries on real PostgreSQL with many rows due at the same instant (every room after a
 * round, every session of one meeting hour): PostgreSQL's plan must read the due rows in index
 * order and stop at the limit, not read and sort all of them (at 50,000 rooms that sort cost about
 * 45 ms per lease of 200 rooms). Each query is captured as the store sends it and explained with
 * its own parameters.
 */
import { type CompiledQuery, Kysely, PostgresDialect, sql } from "kysely";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Database } from "../../store/database.ts";
import { migrateToLatest } from "../../store/migrate.ts";
import { pgTypes } from "../../store/pg-timestamp.ts";
import { PostgresSubscriptionStore } from "../../store/postgres/graph-subscription-store.ts";
import { PostgresStore } from "../../store/postgres-store.ts";
import { type TestPostgres, createTestPostgres } from "../support/test-database.ts";

const ROWS = 20_000;
const DUE = new Date("2026-12-07T09:00:00Z");
const NOW = new Date("2026-12-07T09:00:30Z");

interface PlanNode {
  "Node Type": string;
  "Index Name"?: string;
  Plans?: PlanNode[];
}

function nodes(plan: PlanNode): PlanNode[] {
  return [plan, ...(plan.Plans ?? []).flatMap(nodes)];
}

describe("lease queries with many rows due at one instant", () => {
  let database: TestPostgres;
  let pool: pg.Pool;
  let db: Kysely<Database>;
  let store: PostgresStore;
  let subscriptions: PostgresSubscriptionStore;
  const sent: CompiledQuery[] = [];

  beforeAll(async () => {
    database = await createTestPostgres("lease_plans");
    pool = new pg.Pool({ connectionString: database.url, max: 2, types: pgTypes });
    db = new Kysely<Database>({
      dialect: new PostgresDialect({ pool }),
      log: (event) => {
        if (event.level === "query") sent.push(event.query);
      },
    });
    await migrateToLatest(db);
    await sql`insert into room (id, mailbox, display_name, device_family, created_at, updated_at)
      select 'room-' || lpad(g::text, 6, '0'), 'room' || g || '@contoso.example', 'Room ' || g, 'pull', ${DUE}, ${DUE}
      from generate_series(1, ${ROWS}) g`.execute(db);
    await sql`insert into sync_cursor (room_id, due_at, updated_at) select id, ${DUE}, ${DUE} from room`.execute(db);
    await sql`insert into device_state (room_id, due_at, updated_at) select id, ${DUE}, ${DUE} from room`.execute(db);
    await sql`insert into graph_subscription (room_id, due_at, created_at, updated_at) select id, ${DUE}, ${DUE}, ${DUE} from room`.execute(db);
    await sql`insert into bridge_session (occurrence_key, session_id, room_id, state, due_at, not_after, created_at, updated_at)
      select 'occ-' || id, 'ses-' || id, id, 'scheduled', ${DUE}, ${new Date(DUE.getTime() + 3_600_000)}, ${DUE}, ${DUE} from room`.execute(db);
    await sql`analyze`.execute(db);
    store = new PostgresStore(db);
    subscriptions = new PostgresSubscriptionStore(db, store.owner);
  }, 120_000);

  afterAll(async () => {
    await db?.destroy();
    await database?.drop();
  });

  /** Runs `lease`, then explains the lease statement it sent (an UPDATE ... RETURNING). */
  async function planOf(lease: () => Promise<unknown[]>, table: string): Promise<PlanNode[]> {
    sent.length = 0;
    expect((await lease()).length).toBe(200);
    const statement = sent.find((q) => q.sql.startsWith(`update "${table}"`));
    if (statement === undefined) throw new Error(`no update of ${table} was sent: ${sent.map((q) => q.sql.slice(0, 40)).join(" | ")}`);
    const explained = await pool.query<{ "QUERY PLAN": Array<{ Plan: PlanNode }> }>(`explain (format json) ${statement.sql}`, [...statement.parameters]);
    return nodes(explained.rows[0]!["QUERY PLAN"][0]!.Plan);
  }

  const cases: Array<{ name: string; table: string; index: string; lease: () => Promise<unknown[]> }> = [
    { name: "room leases (calendar rounds)", table: "sync_cursor", index: "sync_cursor_due_idx", lease: () => store.syncCursors.leaseDue(NOW, 200) },
    { name: "device claims (dispatch)", table: "device_state", index: "device_state_due_idx", lease: () => store.deviceStates.claimDue(NOW, 200) },
    {
      name: "bridge session claims (SGJ)",
      table: "bridge_session",
      index: "bridge_session_live_due_idx",
      lease: () => store.bridgeSessions.claimDue(NOW, 200),
    },
    {
      name: "Graph subscription claims",
      table: "graph_subscription",
      index: "graph_subscription_due_idx",
      lease: () => subscriptions.claimDue(NOW, 200, 60_000),
    },
  ];

  for (const c of cases) {
    it(`${c.name}: reads the due index in order and sorts nothing`, async () => {
      const plan = await planOf(c.lease, c.table);
      expect(plan.map((n) => n["Node Type"])).not.toContain("Sort");
      expect(plan.some((n) => n["Index Name"] === c.index)).toBe(true);
    });
  }
});
