/**
 * history-500k: the cost of a /metrics scrape and of GET /v1/status on an `otj run` process whose
 * PostgreSQL database holds 500,000 finished bridge sessions (about eight months of SIP Guest
 * Join for 1,000 rooms) besides 1,000 rooms and a few live sessions. Reports the p95 latency of
 * each (sequential requests) and how much the process's resident memory grew over 8 parallel
 * scrapes and status reads, ten times over: with reads that never load finished sessions, both
 * stay flat whatever the history.
 */
import { sql } from "kysely";
import { createTestPostgres } from "../test/support/test-database.ts";
import { rssMb, seedDatabase, startOtjRun } from "./otj-process.ts";
import { report } from "./report.ts";

const ROOMS = 1_000;
const FINISHED = 500_000;
const ADMIN = "history-bench-admin-token-0123456789abcdef";
const FINAL = ["ended", "denied", "timeout", "failed", "cancelled"];

function p95(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil(sorted.length * 0.95) - 1)]!;
}

async function timed(url: string, headers: Record<string, string>): Promise<number> {
  const t0 = performance.now();
  const response = await fetch(url, { headers });
  await response.arrayBuffer();
  if (!response.ok) throw new Error(`${url} answered ${response.status}`);
  return performance.now() - t0;
}

export async function benchHistory500k(): Promise<void> {
  const pg = await createTestPostgres("history");
  try {
    await seedDatabase(pg.url, async (store, db, now) => {
      const added = await store.rooms.addMany(
        Array.from({ length: ROOMS }, (_, i) => ({ mailbox: `room${i}@contoso.example`, displayName: `Room ${i}`, provider: "webex", deviceFamily: "pull" })),
        now,
      );
      if (!added.applied) throw new Error("seeding rooms failed");
      // 500,000 finished sessions over the last eight months, spread over the rooms and final states.
      await sql`insert into bridge_session (occurrence_key, session_id, room_id, state, due_at, not_after, created_at, updated_at)
      select 'hist-' || g, 'sgj_' || lpad(to_hex(g), 12, '0'), r.id, (${sql.val(FINAL)}::text[])[1 + g % 5],
             t, t + interval '1 hour', t, t + interval '1 hour'
      from generate_series(1, ${FINISHED}) g
      cross join lateral (select ${now}::timestamptz - (g % 240 + 2) * interval '1 day' - (g % 600) * interval '1 minute' as t) ts
      join (select id, row_number() over (order by id) - 1 as n from room) r on r.n = g % ${ROOMS}`.execute(db);
      await sql`insert into bridge_session (occurrence_key, session_id, room_id, state, due_at, not_after, created_at, updated_at)
      select 'live-' || r.n, 'sgj_live' || lpad(to_hex(r.n), 8, '0'), r.id, 'scheduled', ${now}::timestamptz + interval '1 hour', ${now}::timestamptz + interval '2 hours', ${now}, ${now}
      from (select id, row_number() over (order by id) as n from room) r where r.n <= 20`.execute(db);
      await sql`analyze`.execute(db);
    });

    const otj = await startOtjRun(pg.url, { OTJ_HTTP__ADMIN_TOKEN: ADMIN });
    const child = otj.child;
    try {
      const port = otj.port;
      const base = `http://127.0.0.1:${port}`;
      const admin = { authorization: `Bearer ${ADMIN}` };
      for (let i = 0; i < 5; i++) {
        await timed(`${base}/metrics`, {});
        await timed(`${base}/v1/status`, admin);
      }
      const scrapes: number[] = [];
      const statuses: number[] = [];
      for (let i = 0; i < 40; i++) {
        scrapes.push(await timed(`${base}/metrics`, {}));
        statuses.push(await timed(`${base}/v1/status`, admin));
      }
      const rssBefore = rssMb(child.pid!);
      let rssPeak = rssBefore;
      for (let round = 0; round < 10; round++) {
        await Promise.all(Array.from({ length: 8 }, (_, i) => (i % 2 === 0 ? timed(`${base}/metrics`, {}) : timed(`${base}/v1/status`, admin))));
        rssPeak = Math.max(rssPeak, rssMb(child.pid!));
      }
      const metricsP95 = p95(scrapes);
      const statusP95 = p95(statuses);
      report({ bench: "history-500k", metric: "metrics-scrape-p95", value: metricsP95, unit: "ms", baseline: 100, ratio: metricsP95 / 100 });
      report({ bench: "history-500k", metric: "status-p95", value: statusP95, unit: "ms", baseline: 100, ratio: statusP95 / 100 });
      report({ bench: "history-500k", metric: "rss-growth-parallel", value: rssPeak - rssBefore, unit: "MB", baseline: null, ratio: null });
    } finally {
      await otj.stop();
    }
  } finally {
    await pg.drop();
  }
}
