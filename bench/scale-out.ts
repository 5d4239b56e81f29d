/**
 * `scale-out`: one, two and three engine processes on one PostgreSQL, polling the same rooms from
 * the Graph emulator (25 ms per request) in its own process. Each engine process is this file
 * started with OTJ_BENCH_ROLE: a PostgresStore, the Graph client and source and a CalendarPoller,
 * as `otj run` builds them; the instances share the rooms through the store's leases.
 *
 * The initial sync runs once, with three engines; then, for one, two and three engines, one
 * no-change round started on every engine at the same moment (every room due once).
 * Metrics: `rooms-per-second-1|2|3` (rooms / wall time of the round, all engines done),
 * `three-vs-one` (target >= 2.5), `polled-twice` and `lost` per round, checked two ways: the
 * room ids the engines report (each room exactly once over all engines) and the Graph requests the
 * emulator answered (one delta request per room in a no-change round). Both must be 0.
 * Rooms: OTJ_BENCH_SCALE_OUT_ROOMS (default 30,000); the emulator's latency per request:
 * OTJ_BENCH_SCALE_OUT_LATENCY_MS (default 25: the engines are then CPU-bound on a small machine).
 */
import { GraphCalendarSource } from "../calendar/graph/graph-calendar-source.ts";
import { realSleeper } from "../calendar/request-retry.ts";
import { GraphClient } from "../calendar/graph/graph-client.ts";
import { ConcurrencyGate } from "../calendar/graph/request-gate.ts";
import { CalendarPoller } from "../calendar/calendar-poller.ts";
import { ManualClock } from "../core/manual-clock.ts";
import { roomPlanner } from "../join/room-planning.ts";
import { createDatabase, type DatabaseHandle } from "../store/create-database.ts";
import { migrateToLatest } from "../store/migrate.ts";
import { PostgresStore } from "../store/postgres-store.ts";
import { createTestPostgres } from "../test/support/test-database.ts";
import { BenchChild, isBenchChild, serveBenchChild } from "./bench-child.ts";
import { EmulatorProcess, type RequestCounts, seed, type Started } from "./poll-cycle.ts";
import { cpuSeconds, report } from "./report.ts";

const ENGINE_ROLE = "otj-bench-scale-out-engine";
/** The emulator's answer time per request; OTJ_BENCH_SCALE_OUT_LATENCY_MS overrides it (see docs/performance.md). */
const LATENCY_MS = Number(process.env["OTJ_BENCH_SCALE_OUT_LATENCY_MS"] ?? 25);
const MAX_IN_FLIGHT = 50;
const TARGET_RATIO = 2.5;

type EngineOp = { op: "start"; databaseUrl: string; graph: Omit<Started, "firstEvent">; nowMs: number } | { op: "round"; nowMs: number } | { op: "stop" };

interface EngineRound {
  roomIds: string[];
  failed: number;
  seconds: number;
  cpuSeconds: number;
}

/** The engine side: one instance, as `otj run` builds its calendar half. */
function serveEngine(): void {
  let handle: DatabaseHandle | null = null;
  let poller: CalendarPoller | null = null;
  let clock: ManualClock | null = null;
  serveBenchChild<EngineOp>(
    async (r) => {
      switch (r.op) {
        case "start": {
          handle = await createDatabase(r.databaseUrl, { cwd: process.cwd(), poolSize: 20 });
          clock = new ManualClock(new Date(r.nowMs));
          const store = new PostgresStore(handle.db);
          const g = r.graph;
          const client = new GraphClient(
            { tenantId: g.tenantId, clientId: g.clientId, clientSecret: g.clientSecret, baseUrl: g.url, authorityUrl: g.url },
            { clock, gate: new ConcurrencyGate({ perMailbox: 4, global: MAX_IN_FLIGHT }) },
          );
          const source = new GraphCalendarSource({}, { client, clock, sleep: realSleeper });
          poller = new CalendarPoller(
            {
              poll: { intervalSeconds: 60, windowPastHours: 24, windowFutureDays: 7, maxInFlight: MAX_IN_FLIGHT, roundBudgetSeconds: 120 },
              planner: roomPlanner([]),
            },
            { store, source, clock },
          );
          return null;
        }
        case "round": {
          clock!.advanceTo(new Date(r.nowMs));
          const t0 = performance.now();
          const c0 = cpuSeconds();
          const report = await poller!.runRound();
          return {
            roomIds: report.rooms.filter((o) => o.outcome === "ok").map((o) => o.roomId),
            failed: report.failed,
            seconds: (performance.now() - t0) / 1000,
            cpuSeconds: cpuSeconds() - c0,
          } satisfies EngineRound;
        }
        case "stop":
          await handle?.close();
          return null;
      }
    },
    (r) => r.op === "stop",
  );
}

if (isBenchChild(ENGINE_ROLE)) serveEngine();

export async function benchScaleOut(): Promise<void> {
  const rooms = Number(process.env["OTJ_BENCH_SCALE_OUT_ROOMS"] ?? 30_000);
  const pg = await createTestPostgres("bench_scale");
  const handle = await createDatabase(pg.url, { cwd: process.cwd(), poolSize: 10 });
  const emulator = new EmulatorProcess();
  let engines: Array<BenchChild<EngineOp>> = [];
  let nowMs = Date.now();
  try {
    await migrateToLatest(handle.db);
    const { graph } = await seed(emulator, new PostgresStore(handle.db), rooms, 0, new Date(nowMs));
    await emulator.call({ op: "latency", ms: LATENCY_MS });

    const startEngines = async (count: number) => {
      engines = Array.from({ length: count }, () => new BenchChild<EngineOp>(import.meta.url, ENGINE_ROLE));
      await Promise.all(engines.map((e) => e.call({ op: "start", databaseUrl: pg.url, graph, nowMs })));
    };
    const stopEngines = async () => {
      await Promise.all(engines.map((e) => e.close({ op: "stop" })));
      engines = [];
    };
    /** One round on every engine at once; every room due once. */
    const round = async () => {
      nowMs += 60_000;
      const before = await emulator.call<RequestCounts>({ op: "requests" });
      const t0 = performance.now();
      const results = await Promise.all(engines.map((e) => e.call<EngineRound>({ op: "round", nowMs })));
      const seconds = (performance.now() - t0) / 1000;
      const after = await emulator.call<RequestCounts>({ op: "requests" });
      const ids = results.flatMap((x) => x.roomIds);
      const distinct = new Set(ids).size;
      return {
        seconds,
        polledTwice: ids.length - distinct,
        lost: rooms - distinct,
        failed: results.reduce((n, x) => n + x.failed, 0),
        requests: after.waited - before.waited,
        perEngine: results.map((x) => `${x.roomIds.length} rooms, ${x.cpuSeconds.toFixed(1)} s CPU`).join("; "),
        emulatorCpuSeconds: after.cpuSeconds - before.cpuSeconds,
      };
    };

    await startEngines(3);
    const initial = await round();
    process.stderr.write(`scale-out: initial sync of ${rooms} rooms with 3 engines in ${initial.seconds.toFixed(1)} s (${initial.perEngine})\n`);
    await stopEngines();

    const perSecond: number[] = [];
    for (const count of [1, 2, 3]) {
      await startEngines(count);
      const r = await round();
      await stopEngines();
      perSecond[count] = rooms / r.seconds;
      report({ bench: "scale-out", metric: `rooms-per-second-${count}`, value: rooms / r.seconds, unit: "rooms/s", baseline: null, ratio: null });
      report({ bench: "scale-out", metric: `polled-twice-${count}`, value: r.polledTwice, unit: "rooms", baseline: 0, ratio: null });
      report({ bench: "scale-out", metric: `lost-${count}`, value: r.lost + r.failed, unit: "rooms", baseline: 0, ratio: null });
      report({
        bench: "scale-out",
        metric: `graph-requests-beyond-one-per-room-${count}`,
        value: r.requests - rooms,
        unit: "requests",
        baseline: 0,
        ratio: null,
      });
      process.stderr.write(
        `scale-out: ${count} engine(s): ${rooms} rooms in ${r.seconds.toFixed(2)} s (${r.perEngine}); emulator CPU ${r.emulatorCpuSeconds.toFixed(1)} s; Graph requests ${r.requests}\n`,
      );
    }
    const ratio = perSecond[3]! / perSecond[1]!;
    report({ bench: "scale-out", metric: "three-vs-one", value: ratio, unit: "x", baseline: TARGET_RATIO, ratio: ratio / TARGET_RATIO });
  } finally {
    await Promise.all(engines.map((e) => e.close({ op: "stop" })));
    await emulator.close();
    await handle.close();
    await pg.drop();
  }
}
