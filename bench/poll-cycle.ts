/**
 * poll-cycle-10k: one poll cycle over 10,000 rooms through the real stack (CalendarPoller →
 * GraphCalendarSource → Graph SDK → HTTP → Graph emulator with 25 ms latency per request, and
 * PostgreSQL, or in-memory PGlite when no server answers).
 *
 * Metrics (docs/performance.md's benchmark line):
 * - `no-change-cycle` (main): a cycle in which no room changed: one delta request per room.
 *   Baseline: the latency bound, ceil(requests / poll.maxInFlight) × 25 ms, where requests are
 *   the Graph requests that each wait 25 ms (`$batch` items count, not the `$batch` envelopes,
 *   which add no latency of their own in the emulator, nor token requests).
 * - `changed-5pct-cycle`: the same with 5 % of the rooms changed (parse, plan, upsert, event log).
 * - `initial-sync`: the first, full cycle (every room's window listed); same kind of baseline.
 * - `notified-room-mid-round`: a change notification (markDue + poke, as the notification routes
 *   do) a third of the way into a no-change round, for the room that round would poll last:
 *   seconds until that room's calendar is read. Baseline 2 s (the product's aim).
 * - `rss`: resident memory of the engine side after the cycles; `rss-after-initial-sync` and
 *   `heap-after-initial-sync` (after a full collection) right after the first cycle;
 *   `rss-after-initial-sync-idle` after the engine then idled OTJ_BENCH_IDLE_MS (default 20 s, less
 *   than a round at 50,000 rooms leaves of the 60-s interval); `peak-rss-initial-sync` the
 *   process's peak resident memory up to the end of the initial sync.
 *
 * `npm run bench` runs each size in its own process (bench/index.ts), so what ran before it does
 * not count in its memory or its timings.
 *
 * The emulator runs in a child process (this same file, started with OTJ_BENCH_ROLE), as Graph
 * runs elsewhere: its CPU and memory are not the engine's.
 */

import { setFlagsFromString, writeHeapSnapshot } from "node:v8";
import { runInNewContext } from "node:vm";
import { GraphCalendarSource } from "../calendar/graph/graph-calendar-source.ts";
import { realSleeper } from "../calendar/request-retry.ts";
import { GraphClient } from "../calendar/graph/graph-client.ts";
import { ConcurrencyGate } from "../calendar/graph/request-gate.ts";
import { CalendarPoller } from "../calendar/calendar-poller.ts";
import type { CalendarSource } from "../core/ports/calendar-source.ts";
import { ManualClock } from "../core/manual-clock.ts";
import type { NewRoom } from "../core/ports/store.ts";
import { GraphEmulator } from "../emulators/graph/graph-emulator.ts";
import { teamsHtmlV4 } from "../emulators/invite-factory.ts";
import { roomPlanner } from "../join/room-planning.ts";
import { createDatabase, type DatabaseHandle } from "../store/create-database.ts";
import { migrateToLatest } from "../store/migrate.ts";
import { PostgresStore } from "../store/postgres-store.ts";
import { withOverrides } from "../test/support/delegate.ts";
import { createTestPostgres, type TestPostgres } from "../test/support/test-database.ts";
import { BenchChild, isBenchChild, serveBenchChild } from "./bench-child.ts";
import { startCpuProfile } from "./cpu-profile.ts";
import { cpuSeconds, report } from "./report.ts";

export interface PollCycleOptions {
  rooms?: number;
  latencyMs?: number;
  maxInFlight?: number;
  /** Fraction of rooms changed in the second measured cycle. */
  changedFraction?: number;
  /** GraphCalendarSource batchSize (first pages per `$batch`; 1: no batching). */
  batchSize?: number;
}

async function openDatabase(): Promise<{ handle: DatabaseHandle; kind: string; url: string | null; drop: () => Promise<void> }> {
  let pg: TestPostgres | null = null;
  try {
    pg = await createTestPostgres("bench_poll");
  } catch {
    pg = null;
  }
  const handle = await createDatabase(pg?.url ?? "memory://", { cwd: process.cwd(), poolSize: 20 });
  await migrateToLatest(handle.db);
  return { handle, kind: pg ? "postgres" : "pglite", url: pg?.url ?? null, drop: async () => pg?.drop() };
}

/** Heap in use after a full collection (what the engine retains, without garbage). */
function heapAfterGc(): number {
  setFlagsFromString("--expose-gc");
  (runInNewContext("gc") as () => void)();
  return process.memoryUsage().heapUsed;
}

function mailboxOf(i: number): string {
  return `room${String(i).padStart(5, "0")}@contoso.example`;
}

const WORKER_ROLE = "otj-bench-graph-emulator";

type EmulatorOp =
  | { op: "start"; rooms: number; eventsPerRoom: number; body: string; dayMs: number }
  | { op: "latency"; ms: number }
  | { op: "update"; changes: EventChange[] }
  | { op: "requests" }
  | { op: "stop" };

/** Graph requests the emulator answered: `waited` each waited the latency; `http` came over HTTP. */
export interface RequestCounts {
  waited: number;
  http: number;
  /** CPU the emulator process used so far. */
  cpuSeconds: number;
}

export interface Started {
  url: string;
  tenantId: string;
  clientId: string;
  clientSecret: string;
  /** The first event id of each room. */
  firstEvent: string[];
}

/** The child side: one emulator, seeded and driven by IPC messages. */
function serveEmulator(): void {
  let emu: GraphEmulator | null = null;
  serveBenchChild<EmulatorOp>(
    async (r) => {
      switch (r.op) {
        case "start": {
          emu = await GraphEmulator.start({ seed: "bench-poll", recordRequests: 0, shuffleBatch: false });
          const firstEvent: string[] = [];
          for (let i = 0; i < r.rooms; i++) {
            const mailbox = mailboxOf(i);
            emu.addMailbox(mailbox);
            for (let e = 0; e < r.eventsPerRoom; e++) {
              const start = new Date(r.dayMs + 86_400_000 + (9 + e * 2) * 3_600_000 + (i % 4) * 900_000).toISOString();
              const added = emu.addEvent(mailbox, {
                subject: `Review ${i}.${e}`,
                start,
                end: new Date(Date.parse(start) + 1_800_000).toISOString(),
                organizer: { name: "Ana Ruiz", address: "ana@contoso.example" },
                body: { contentType: "html", content: r.body },
              });
              if (e === 0) firstEvent.push(added!.id);
            }
          }
          return { url: emu.url, tenantId: emu.tenantId, clientId: emu.clientId, clientSecret: emu.clientSecret, firstEvent } satisfies Started;
        }
        case "latency":
          emu!.setLatency(r.ms);
          return null;
        case "update":
          for (const c of r.changes) emu!.updateEvent(c.mailbox, c.id, { subject: c.subject });
          return null;
        case "requests": {
          const s = emu!.stats();
          const envelopes = s.byRoute["batch"] ?? 0;
          return {
            waited: s.requests - envelopes - s.tokenRequests,
            http: s.requests - s.batchItems - s.tokenRequests,
            cpuSeconds: cpuSeconds(),
          } satisfies RequestCounts;
        }
        case "stop":
          await emu?.stop();
          return null;
      }
    },
    (r) => r.op === "stop",
  );
}

/** The main side: a Graph emulator in a child process (scale-out uses it too). */
export class EmulatorProcess {
  readonly #child = new BenchChild<EmulatorOp>(import.meta.url, WORKER_ROLE);

  call<T>(request: EmulatorOp): Promise<T> {
    return this.#child.call<T>(request);
  }

  close(): Promise<void> {
    return this.#child.close({ op: "stop" });
  }
}

if (isBenchChild(WORKER_ROLE)) serveEmulator();

type EventChange = { mailbox: string; id: string; subject: string };

/** The bench's rooms, all on the Webex provider (the CVI invites name it). */
async function seedRooms(store: PostgresStore, rooms: number, now: Date): Promise<void> {
  await store.providers.add({ name: "webex", partner: "cisco", tenantKey: "contoso@m.webex.com" }, now);
  const inputs: NewRoom[] = [];
  for (let i = 0; i < rooms; i++) inputs.push({ mailbox: mailboxOf(i), displayName: `Room ${i}`, provider: "webex", deviceFamily: "pull" });
  if (!(await store.rooms.addMany(inputs, now)).applied) throw new Error("bench setup: rooms not added");
}

const SEED_ROLE = "otj-bench-seed-rooms";
type SeedOp = { op: "seed"; url: string; rooms: number; nowMs: number } | { op: "stop" };

/** The child side of the seeding process: adds the rooms as `otj rooms import` would, then exits. */
function serveSeeder(): void {
  serveBenchChild<SeedOp>(
    async (r) => {
      if (r.op === "stop") return null;
      const handle = await createDatabase(r.url, { cwd: process.cwd() });
      try {
        await seedRooms(new PostgresStore(handle.db), r.rooms, new Date(r.nowMs));
      } finally {
        await handle.close();
      }
      return null;
    },
    (r) => r.op === "stop",
  );
}

if (isBenchChild(SEED_ROLE)) serveSeeder();

/** Seeds the emulator: its rooms' events, and the changes the changed cycle makes. */
async function seedEmulator(
  emulator: EmulatorProcess,
  rooms: number,
  changedRooms: number,
  now: Date,
): Promise<{ graph: Omit<Started, "firstEvent">; changes: EventChange[] }> {
  const body = teamsHtmlV4(
    { threadKey: "bench", meetingId: "35715924681234", passcode: "Hk4mN8pQ", cvi: { tenantKey: "contoso@m.webex.com", videoId: "1182453796" } },
    2000,
  );
  const dayMs = Math.floor(now.getTime() / 86_400_000) * 86_400_000;
  const { firstEvent, ...graph } = await emulator.call<Started>({ op: "start", rooms, eventsPerRoom: 2, body, dayMs });
  const changes: EventChange[] = [];
  for (let i = 0; i < changedRooms; i++) {
    const n = Math.floor((i * rooms) / changedRooms);
    changes.push({ mailbox: mailboxOf(n), id: firstEvent[n]!, subject: `Review ${n} (moved agenda)` });
  }
  return { graph, changes };
}

/**
 * Seeds the emulator and the store in this process. Returns only what the cycles need (the room
 * inputs and the emulator's event ids stay here).
 */
export async function seed(
  emulator: EmulatorProcess,
  store: PostgresStore,
  rooms: number,
  changedRooms: number,
  now: Date,
): Promise<{ graph: Omit<Started, "firstEvent">; changes: EventChange[] }> {
  await seedRooms(store, rooms, now);
  return seedEmulator(emulator, rooms, changedRooms, now);
}

/**
 * Seeds the store from a process of its own on PostgreSQL (as rooms are imported by `otj rooms
 * import`, not by the engine), so that adding 50,000 rooms in one call leaves nothing in the
 * engine process's memory; on PGlite, which one process holds, in this one.
 */
async function seedApart(db: { handle: DatabaseHandle; url: string | null }, rooms: number, now: Date): Promise<void> {
  if (db.url === null) return seedRooms(new PostgresStore(db.handle.db), rooms, now);
  const seeder = new BenchChild<SeedOp>(import.meta.url, SEED_ROLE);
  try {
    await seeder.call({ op: "seed", url: db.url, rooms, nowMs: now.getTime() });
  } finally {
    await seeder.close({ op: "stop" });
  }
}

export async function benchPollCycle(options: PollCycleOptions = {}): Promise<void> {
  const rooms = options.rooms ?? 10_000;
  const name = `poll-cycle-${rooms / 1000}k`;
  const latencyMs = options.latencyMs ?? 25;
  const maxInFlight = options.maxInFlight ?? 50;
  const changedFraction = options.changedFraction ?? 0.05;
  const clock = new ManualClock(new Date());
  const emulator = new EmulatorProcess();
  const db = await openDatabase();
  try {
    const store = new PostgresStore(db.handle.db);
    const changedRooms = Math.round(rooms * changedFraction);
    await seedApart(db, rooms, clock.now());
    const { graph: emu, changes } = await seedEmulator(emulator, rooms, changedRooms, clock.now());

    const client = new GraphClient(
      { tenantId: emu.tenantId, clientId: emu.clientId, clientSecret: emu.clientSecret, baseUrl: emu.url, authorityUrl: emu.url },
      { clock, gate: new ConcurrencyGate({ perMailbox: 4, global: maxInFlight }) },
    );
    const graphSource = new GraphCalendarSource(options.batchSize !== undefined ? { batchSize: options.batchSize } : {}, { client, clock, sleep: realSleeper });
    // Tells when one watched room's round has read its calendar (the notified-room measure).
    let watched: { mailbox: string; done: () => void } | null = null;
    const source: CalendarSource = withOverrides<CalendarSource>(graphSource, {
      syncRoom: async (mailbox, cursor, window, signal) => {
        const result = await graphSource.syncRoom(mailbox, cursor, window, signal);
        if (watched?.mailbox === mailbox) watched.done();
        return result;
      },
    });
    const poller = new CalendarPoller(
      { poll: { intervalSeconds: 60, windowPastHours: 24, windowFutureDays: 7, maxInFlight, roundBudgetSeconds: 120 }, planner: roomPlanner([]) },
      { store, source, clock },
    );
    await emulator.call({ op: "latency", ms: latencyMs });
    const bound = (requests: number) => (Math.ceil(requests / maxInFlight) * latencyMs) / 1000;

    // Keeps the figures of a round, not its report (the engine itself keeps no report).
    const cycle = async (): Promise<{ seconds: number; cpuSeconds: number; changed: number; requests: number; http: number; emulatorCpuSeconds: number }> => {
      const before = await emulator.call<RequestCounts>({ op: "requests" });
      const t0 = performance.now();
      const c0 = cpuSeconds();
      const r = await poller.runRound();
      const seconds = (performance.now() - t0) / 1000;
      const cpu = cpuSeconds() - c0;
      const after = await emulator.call<RequestCounts>({ op: "requests" });
      if (r.rooms.length !== rooms || r.failed > 0) throw new Error(`bench: cycle polled ${r.rooms.length} rooms, ${r.failed} failed`);
      clock.advance(60_000);
      return {
        seconds,
        cpuSeconds: cpu,
        changed: r.changed,
        requests: after.waited - before.waited,
        http: after.http - before.http,
        emulatorCpuSeconds: after.cpuSeconds - before.cpuSeconds,
      };
    };

    const mb = (n: number) => (n / 1_048_576).toFixed(0);
    const memoryLine = (when: string, m: NodeJS.MemoryUsage) =>
      `${name}: ${when}: rss ${mb(m.rss)} MB, V8 heap total ${mb(m.heapTotal)} MB (used ${mb(m.heapUsed)}), external ${mb(m.external)} MB (array buffers ${mb(m.arrayBuffers)})\n`;
    heapAfterGc();
    process.stderr.write(memoryLine("before the initial sync, after a full collection", process.memoryUsage()));
    const initial = await cycle();
    const heapInitialMb = heapAfterGc() / 1_048_576;
    const memoryInitial = process.memoryUsage();
    const rssInitialMb = memoryInitial.rss / 1_048_576;
    process.stderr.write(memoryLine("after the initial sync and a full collection", memoryInitial));
    // The engine idles until its next tick (poll.intervalSeconds 60; a 50,000-room round takes
    // about 30 s): V8's memory reducer hands back what the sync grew once allocation stops.
    const idleMs = Number(process.env["OTJ_BENCH_IDLE_MS"] ?? 20_000);
    const peakRssMb = process.resourceUsage().maxRSS / 1024;
    await new Promise((resolve) => setTimeout(resolve, idleMs));
    const memoryRested = process.memoryUsage();
    process.stderr.write(memoryLine(`after the initial sync and ${idleMs} ms idle`, memoryRested));
    // OTJ_BENCH_HEAP_SNAPSHOT=DIR: a heap snapshot after the initial sync, to see what holds memory.
    const snapshotDir = process.env["OTJ_BENCH_HEAP_SNAPSHOT"];
    if (snapshotDir) process.stderr.write(`${name}: heap snapshot ${writeHeapSnapshot(`${snapshotDir}/${name}-after-initial-sync.heapsnapshot`)}\n`);
    const stopProfile = await startCpuProfile();
    const quiet = await cycle();
    await stopProfile(`${name}-no-change.cpuprofile`);
    if (quiet.changed !== 0) throw new Error("bench: the no-change cycle changed rooms");
    await emulator.call({ op: "update", changes });
    const changed = await cycle();
    if (changed.changed !== changedRooms) throw new Error(`bench: ${changed.changed} rooms changed, expected ${changedRooms}`);
    // A change notification a third of the way into a round, for the room the round would poll
    // last: seconds until that room's calendar is read (the round leases notified rooms first).
    clock.advance(60_000);
    const last = await db.handle.db
      .selectFrom("sync_cursor")
      .select("room_id")
      .orderBy("due_at", "desc")
      .orderBy("room_id", "desc")
      .limit(1)
      .executeTakeFirstOrThrow();
    const lastMailbox = (await store.rooms.get(last.room_id))!.mailbox;
    const read = new Promise<void>((resolve) => {
      watched = { mailbox: lastMailbox, done: resolve };
    });
    poller.poke();
    await new Promise((resolve) => setTimeout(resolve, (quiet.seconds * 1000) / 3));
    const notifiedAt = performance.now();
    await store.syncCursors.markDue(last.room_id, clock.now());
    poller.poke();
    await read;
    const notifiedSeconds = (performance.now() - notifiedAt) / 1000;
    await poller.idle();

    const rssMb = process.memoryUsage().rss / 1_048_576;
    const heapMb = heapAfterGc() / 1_048_576;

    const line = (metric: string, c: { seconds: number; requests: number }) =>
      report({ bench: name, metric, value: c.seconds, unit: "s", baseline: bound(c.requests), ratio: c.seconds / bound(c.requests) });
    line("no-change-cycle", quiet);
    line("changed-5pct-cycle", changed);
    line("initial-sync", initial);
    report({ bench: name, metric: "notified-room-mid-round", value: notifiedSeconds, unit: "s", baseline: 2, ratio: notifiedSeconds / 2 });
    report({ bench: name, metric: "rss-after-initial-sync", value: rssInitialMb, unit: "MB", baseline: null, ratio: null });
    report({ bench: name, metric: "rss-after-initial-sync-idle", value: memoryRested.rss / 1_048_576, unit: "MB", baseline: null, ratio: null });
    report({ bench: name, metric: "peak-rss-initial-sync", value: peakRssMb, unit: "MB", baseline: null, ratio: null });
    report({ bench: name, metric: "heap-after-initial-sync", value: heapInitialMb, unit: "MB", baseline: null, ratio: null });
    report({ bench: name, metric: "no-change-cpu-per-room", value: (quiet.cpuSeconds * 1000) / rooms, unit: "ms", baseline: null, ratio: null });
    report({ bench: name, metric: "rss", value: rssMb, unit: "MB", baseline: null, ratio: null });
    report({ bench: name, metric: "heap-after-gc", value: heapMb, unit: "MB", baseline: null, ratio: null });
    process.stderr.write(
      `${name}: ${rooms} rooms on ${db.kind}, maxInFlight ${maxInFlight}, latency ${latencyMs} ms; Graph requests (HTTP requests) no-change ${quiet.requests} (${quiet.http}), changed ${changed.requests} (${changed.http}), initial ${initial.requests} (${initial.http}); engine CPU no-change ${quiet.cpuSeconds.toFixed(2)} s, changed ${changed.cpuSeconds.toFixed(2)} s; emulator CPU no-change ${quiet.emulatorCpuSeconds.toFixed(2)} s, changed ${changed.emulatorCpuSeconds.toFixed(2)} s\n`,
    );
  } finally {
    await emulator.close();
    await db.handle.close();
    await db.drop();
  }
}
