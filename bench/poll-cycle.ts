/**
 * poll-cycle-10k: one poll cycle over 10,000 rooms through the real stack (CalendarPoller →
 * GraphCalendarSource → Graph SDK → HTTP → Graph emulator with 25 ms latency per request, and
 * PostgreSQL, or in-memory PGlite when no server answers).
 *
 * Metrics (CONTRACT.md benchmark lines):
 * - `no-change-cycle` (main): a cycle in which no room changed: one delta request per room.
 *   Baseline: the latency bound, ceil(requests / poll.maxInFlight) × 25 ms.
 * - `changed-5pct-cycle`: the same with 5 % of the rooms changed (parse, plan, upsert, event log).
 * - `initial-sync`: the first, full cycle (every room's window listed); same kind of baseline.
 * - `rss`: resident memory of the engine side after the cycles.
 *
 * The emulator runs in a child process (this same file, started with OTJ_BENCH_ROLE), as Graph
 * runs elsewhere: its CPU and memory are not the engine's.
 */

import { type ChildProcess, fork } from "node:child_process";
import { fileURLToPath } from "node:url";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { GraphCalendarSource, realSleeper } from "../calendar/graph/graph-calendar-source.ts";
import { GraphClient } from "../calendar/graph/graph-client.ts";
import { ConcurrencyGate } from "../calendar/graph/request-gate.ts";
import { CalendarPoller, type RoundReport } from "../calendar/calendar-poller.ts";
import { ManualClock } from "../core/manual-clock.ts";
import type { NewRoom } from "../core/ports/store.ts";
import { GraphEmulator } from "../emulators/graph/graph-emulator.ts";
import { teamsHtmlV4 } from "../emulators/invite-factory.ts";
import { createDatabase, type DatabaseHandle } from "../store/create-database.ts";
import { migrateToLatest } from "../store/migrate.ts";
import { PostgresStore } from "../store/postgres-store.ts";
import { createTestPostgres, type TestPostgres } from "../test/support/test-database.ts";
import { cpuSeconds, report } from "./report.ts";

export interface PollCycleOptions {
  rooms?: number;
  latencyMs?: number;
  maxInFlight?: number;
  /** Fraction of rooms changed in the second measured cycle. */
  changedFraction?: number;
}

async function openDatabase(): Promise<{ handle: DatabaseHandle; kind: string; drop: () => Promise<void> }> {
  let pg: TestPostgres | null = null;
  try {
    pg = await createTestPostgres("bench_poll");
  } catch {
    pg = null;
  }
  const handle = await createDatabase(pg?.url ?? "memory://", { cwd: process.cwd(), poolSize: 20 });
  await migrateToLatest(handle.db);
  return { handle, kind: pg ? "postgres" : "pglite", drop: async () => pg?.drop() };
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
  | { op: "update"; changes: Array<{ mailbox: string; id: string; subject: string }> }
  | { op: "requests" }
  | { op: "stop" };

interface Started {
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
  const send = (message: unknown) => process.send!(message);
  process.on("message", (message: { id: number; request: EmulatorOp }) => {
    const answer = async (): Promise<unknown> => {
      const r = message.request;
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
        case "requests":
          return emu!.stats().requests;
        case "stop":
          await emu?.stop();
          return null;
      }
    };
    answer().then(
      (result) => {
        send({ id: message.id, result });
        if (message.request.op === "stop") process.disconnect();
      },
      (error: unknown) => send({ id: message.id, error: String(error) }),
    );
  });
}

/** The main side: a Graph emulator in a child process. */
class EmulatorProcess {
  readonly #child: ChildProcess;
  readonly #pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  #next = 0;

  constructor() {
    this.#child = fork(fileURLToPath(import.meta.url), [], {
      execArgv: ["--import", import.meta.resolve("tsx")],
      env: { ...process.env, OTJ_BENCH_ROLE: WORKER_ROLE },
      stdio: ["ignore", "ignore", "inherit", "ipc"],
    });
    this.#child.on("message", (m: { id: number; result?: unknown; error?: string }) => {
      const p = this.#pending.get(m.id);
      this.#pending.delete(m.id);
      if (m.error !== undefined) p?.reject(new Error(m.error));
      else p?.resolve(m.result);
    });
    this.#child.on("exit", (code) => {
      for (const p of this.#pending.values()) p.reject(new Error(`the emulator process exited (${code})`));
      this.#pending.clear();
    });
  }

  call<T>(request: EmulatorOp): Promise<T> {
    const id = this.#next++;
    return new Promise<T>((resolve, reject) => {
      this.#pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      this.#child.send({ id, request });
    });
  }

  async close(): Promise<void> {
    await this.call({ op: "stop" }).catch(() => null);
    if (this.#child.exitCode === null) this.#child.kill();
  }
}

if (process.env["OTJ_BENCH_ROLE"] === WORKER_ROLE && process.send !== undefined) serveEmulator();

export async function benchPollCycle(options: PollCycleOptions = {}): Promise<void> {
  const rooms = options.rooms ?? 10_000;
  const latencyMs = options.latencyMs ?? 25;
  const maxInFlight = options.maxInFlight ?? 50;
  const changedFraction = options.changedFraction ?? 0.05;
  const clock = new ManualClock(new Date());
  const emulator = new EmulatorProcess();
  const db = await openDatabase();
  try {
    const store = new PostgresStore(db.handle.db);
    await store.providers.add({ name: "webex", partner: "cisco", tenantKey: "contoso@m.webex.com" }, clock.now());
    const body = teamsHtmlV4({ threadKey: "bench", meetingId: "35715924681234", passcode: "Hk4mN8pQ", cvi: { tenantKey: "contoso@m.webex.com", videoId: "1182453796" } }, 2000);
    const dayMs = Math.floor(clock.now().getTime() / 86_400_000) * 86_400_000;
    const emu = await emulator.call<Started>({ op: "start", rooms, eventsPerRoom: 2, body, dayMs });
    const inputs: NewRoom[] = [];
    for (let i = 0; i < rooms; i++) inputs.push({ mailbox: mailboxOf(i), displayName: `Room ${i}`, provider: "webex", deviceFamily: "pull" });
    const added = await store.rooms.addMany(inputs, clock.now());
    if (!added.applied) throw new Error("bench setup: rooms not added");

    const client = new GraphClient(
      { tenantId: emu.tenantId, clientId: emu.clientId, clientSecret: emu.clientSecret, baseUrl: emu.url, authorityUrl: emu.url },
      { clock, gate: new ConcurrencyGate({ perMailbox: 4, global: maxInFlight }) },
    );
    const source = new GraphCalendarSource({}, { client, clock, sleep: realSleeper });
    const poller = new CalendarPoller(
      { poll: { intervalSeconds: 60, windowPastHours: 24, windowFutureDays: 7, maxInFlight, roundBudgetSeconds: 120 }, rules: [] },
      { store, source, clock },
    );
    await emulator.call({ op: "latency", ms: latencyMs });
    const bound = (requests: number) => (Math.ceil(requests / maxInFlight) * latencyMs) / 1000;

    const cycle = async (): Promise<{ seconds: number; cpuSeconds: number; report: RoundReport; requests: number }> => {
      const before = await emulator.call<number>({ op: "requests" });
      const t0 = performance.now();
      const c0 = cpuSeconds();
      const r = await poller.runRound();
      const seconds = (performance.now() - t0) / 1000;
      const cpu = cpuSeconds() - c0;
      const requests = (await emulator.call<number>({ op: "requests" })) - before;
      if (r.rooms.length !== rooms || r.failed > 0) throw new Error(`bench: cycle polled ${r.rooms.length} rooms, ${r.failed} failed`);
      clock.advance(60_000);
      return { seconds, cpuSeconds: cpu, report: r, requests };
    };

    const initial = await cycle();
    const quiet = await cycle();
    if (quiet.report.changed !== 0) throw new Error("bench: the no-change cycle changed rooms");
    const changedRooms = Math.round(rooms * changedFraction);
    const changes: Array<{ mailbox: string; id: string; subject: string }> = [];
    for (let i = 0; i < changedRooms; i++) {
      const n = Math.floor((i * rooms) / changedRooms);
      changes.push({ mailbox: mailboxOf(n), id: emu.firstEvent[n]!, subject: `Review ${n} (moved agenda)` });
    }
    await emulator.call({ op: "update", changes });
    const changed = await cycle();
    if (changed.report.changed !== changedRooms) throw new Error(`bench: ${changed.report.changed} rooms changed, expected ${changedRooms}`);
    const rssMb = process.memoryUsage().rss / 1_048_576;
    const heapMb = heapAfterGc() / 1_048_576;

    const line = (metric: string, c: { seconds: number; requests: number }) =>
      report({ bench: "poll-cycle-10k", metric, value: c.seconds, unit: "s", baseline: bound(c.requests), ratio: c.seconds / bound(c.requests) });
    line("no-change-cycle", quiet);
    line("changed-5pct-cycle", changed);
    line("initial-sync", initial);
    report({ bench: "poll-cycle-10k", metric: "no-change-cpu-per-room", value: (quiet.cpuSeconds * 1000) / rooms, unit: "ms", baseline: null, ratio: null });
    report({ bench: "poll-cycle-10k", metric: "rss", value: rssMb, unit: "MB", baseline: null, ratio: null });
    report({ bench: "poll-cycle-10k", metric: "heap-after-gc", value: heapMb, unit: "MB", baseline: null, ratio: null });
    process.stderr.write(
      `poll-cycle-10k: ${rooms} rooms on ${db.kind}, maxInFlight ${maxInFlight}, latency ${latencyMs} ms; requests no-change ${quiet.requests}, changed ${changed.requests}, initial ${initial.requests}\n`,
    );
  } finally {
    await emulator.close();
    await db.handle.close();
    await db.drop();
  }
}
