/**
 * `sgj-burst-5k`: 5,000 SGJ sessions due at one instant, two BridgeScheduler instances (two
 * stores, two lease owners, two connection pools) on real PostgreSQL, starting them against the
 * bridge emulator over real HTTP on the wall clock. The emulator runs in a child process (this
 * same file, started with OTJ_BENCH_ROLE), as a partner bridge runs elsewhere: its CPU is not the
 * engine's.
 *
 * Two waves, as meetings start on the hour: 5,000 sessions at one instant (the first wave, in a
 * process that has not sent a start request yet), then 5,000 more at a later instant (the next
 * hour's wave, in an engine that has run before). The main metric is the second wave's: a
 * running engine meets the top of the hour with its code compiled and its connections open. The
 * first wave's p99 is reported too, so a cold start stays visible.
 *
 * A competing load of one busy core (a child process spinning, started by the bench and stopped at
 * its end) runs throughout, so the figure does not depend on an idle machine
 * (`OTJ_BENCH_BUSY_CORE=0` leaves it out, to compare with runs from before it existed).
 *
 * Metrics: lateness of each start request as the bridge receives it, relative to the moment it
 * was meant to leave (`notBefore` = start - lead, less `bridge.sendAheadSeconds`): p99 (target
 * <= 1000 ms), p50 and max of the second wave; the first wave's p99; the join lateness of both
 * waves (`p99-join-lateness*`: when the bridge begins to join, at `notBefore` or at the request
 * if that came later, after `notBefore`: what the room sees; target <= 1000 ms); `duplicates` (create requests beyond one per session, both waves: must be
 * 0) and `not-started` (must be 0); per wave, the CPU time of the engine process, the emulator
 * process and every PostgreSQL process on the machine (from /proc: other databases' work counts
 * too) from 3 s before the send instant (the start statements run 2 s before it) until the wave's bookkeeping is written.
 * OTJ_BENCH_CPU_PROFILE=DIR writes a CPU profile of the engine process per wave into DIR.
 * Without a reachable PostgreSQL (DATABASE_URL, default postgres://127.0.0.1:5432/test) it runs
 * on in-memory PGlite and says so on stderr.
 */
import { readdirSync, readFileSync } from "node:fs";
import { HttpMediaBridge } from "../bridge/adapters/http-media-bridge.ts";
import { BridgeScheduler } from "../bridge/bridge-scheduler.ts";
import { addMs, type CancelTimer, type Clock, systemClock } from "../core/clock.ts";
import type { Join } from "../core/domain.ts";
import { occurrenceKey, sessionIdFor } from "../core/identities.ts";
import type { MeetingUpsert, NewRoom, Room, Store } from "../core/ports/store.ts";
import { BridgeEmulator } from "../emulators/bridge/bridge-emulator.ts";
import { createDatabase, type DatabaseHandle } from "../store/create-database.ts";
import { migrateToLatest } from "../store/migrate.ts";
import { PostgresStore } from "../store/postgres-store.ts";
import { createTestPostgres, type TestPostgres } from "../test/support/test-database.ts";
import { BenchChild, isBenchChild, serveBenchChild } from "./bench-child.ts";
import { BusyCore } from "./busy-core.ts";
import { startCpuProfile } from "./cpu-profile.ts";
import { report } from "./report.ts";
import { configKeys } from "../core/config.ts";

const SESSIONS = 5_000;
/** The second wave's meetings start this long after the first's. */
const WAVE_GAP_MS = 3_600_000;
const ROOMS = 500;
const LEAD_SECONDS = 120;
/** Time the instances get to claim and read ahead before the instant (within the 60 s claim window). */
const DUE_IN_MS = 15_000;
const TARGET_P99_MS = 1_000;
/**
 * How long before `notBefore` the start requests leave: the product's default
 * (`bridge.sendAheadSeconds`), or OTJ_BENCH_SEND_AHEAD_MS (0: at `notBefore`, as before that setting).
 */
const SEND_AHEAD_MS = Number(
  process.env["OTJ_BENCH_SEND_AHEAD_MS"] ?? 1000 * Number(configKeys().find((k) => k.path === "bridge.sendAheadSeconds")?.defaultValue ?? 0),
);
const TOKEN = "bench-token";
const HMAC_SECRET = "bench-secret";
const EMULATOR_ROLE = "otj-bench-bridge-emulator";

function join(i: number): Join {
  return {
    provider: "teams",
    url: `https://teams.microsoft.com/meet/${2288590034793 + i}?p=tok`,
    sipUri: null,
    teams: {
      cloud: "commercial",
      joinUrl: null,
      shortUrl: `https://teams.microsoft.com/meet/${2288590034793 + i}?p=tok`,
      threadId: null,
      messageId: null,
      tenantId: null,
      organizerId: null,
      meetingId: String(2288590034793 + i),
      passcode: "Xy7pQ2",
      cvi: null,
    },
  };
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

async function openDatabases(): Promise<{ a: DatabaseHandle; b: DatabaseHandle; pg: TestPostgres | null }> {
  try {
    const pg = await createTestPostgres("bench");
    const a = await createDatabase(pg.url, { cwd: process.cwd(), poolSize: 10 });
    await migrateToLatest(a.db);
    const b = await createDatabase(pg.url, { cwd: process.cwd(), poolSize: 10 });
    return { a, b, pg };
  } catch (error) {
    process.stderr.write(`sgj-burst-5k: PostgreSQL unavailable (${(error as Error).message}); running on in-memory PGlite\n`);
    const a = await createDatabase("memory://", { cwd: process.cwd() });
    await migrateToLatest(a.db);
    return { a, b: a, pg: null };
  }
}

async function seed(store: Store, starts: readonly Date[], durationMs: number): Promise<Room[]> {
  const now = systemClock.now();
  await store.providers.add({ name: "bench", partner: "pexip", sipDomain: "video.contoso.example" }, now);
  const inputs: NewRoom[] = Array.from({ length: ROOMS }, (_, i) => ({
    mailbox: `room${i}@contoso.example`,
    displayName: `Room ${i}`,
    provider: "bench",
    deviceFamily: "pull",
    sipUri: `room${i}@video.contoso.example`,
  }));
  const added = await store.rooms.addMany(inputs, now);
  if (!added.applied) throw new Error(`sgj-burst-5k: seeding rooms failed: ${JSON.stringify(added.problems.slice(0, 3))}`);
  const rooms = added.rooms.map((r) => r.room);
  const meetings: MeetingUpsert[] = [];
  for (let i = 0; i < SESSIONS * starts.length; i++) {
    const room = rooms[i % ROOMS]!;
    const start = starts[Math.floor(i / SESSIONS)]!;
    const end = addMs(start, durationMs);
    const key = occurrenceKey(room.mailbox, `bench-${i}`, null, start.toISOString());
    meetings.push({
      occurrenceKey: key,
      roomId: room.id,
      source: "graph",
      sourceEventId: `evt-${i}`,
      seriesMasterId: null,
      icalUid: `bench-${i}`,
      changeKey: null,
      start,
      end,
      subject: `Meeting ${i}`,
      organizerName: "Organizer",
      organizerEmail: "organizer@fabrikam.example",
      sensitivity: "normal",
      cancelled: false,
      declined: false,
      join: join(i),
      contentHash: `h${i}`,
      route: "sgj",
      dialString: `${sessionIdFor(key)}@sgj.otj.invalid`,
      ivr: null,
      rule: "teams-sgj",
      subjectShown: `Meeting ${i}`,
    });
  }
  for (let i = 0; i < meetings.length; i += 1_000) await store.meetings.upsert(meetings.slice(i, i + 1_000), now);
  return rooms;
}

/** CPU time (user + system) this process has used, in ms. */
function cpuMs(): number {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1000;
}

/** CPU time (ms) used so far by each PostgreSQL process on this machine, by pid (from /proc); null where /proc is not readable. */
function postgresCpuMs(): Map<string, number> | null {
  try {
    const used = new Map<string, number>();
    for (const pid of readdirSync("/proc")) {
      if (!/^\d+$/.test(pid)) continue;
      let stat: string;
      try {
        stat = readFileSync(`/proc/${pid}/stat`, "utf8");
      } catch {
        continue;
      }
      if (!stat.includes("(postgres)")) continue;
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      used.set(pid, (Number(fields[11]) + Number(fields[12])) * 10);
    }
    return used;
  } catch {
    return null;
  }
}

/** PostgreSQL CPU between two readings: processes that exited meanwhile are not counted, new ones fully. */
function postgresCpuBetween(before: Map<string, number> | null, after: Map<string, number> | null): number | null {
  if (before === null || after === null) return null;
  let sum = 0;
  for (const [pid, ms] of after) sum += ms - (before.get(pid) ?? 0);
  return sum;
}

/** The wall clock moved by `offset` ms: the bench jumps to just before the instant once seeded. */
class ShiftedClock implements Clock {
  offset = 0;
  now(): Date {
    return new Date(Date.now() + this.offset);
  }
  setTimer(at: Date, callback: () => void): CancelTimer {
    return systemClock.setTimer(new Date(at.getTime() - this.offset), callback);
  }
}

type EmulatorOp = { op: "start" } | { op: "offset"; ms: number } | { op: "created" } | { op: "cpu" } | { op: "results" } | { op: "stop" };

interface EmulatorResults {
  /** Per session created: its `notBefore` (ms) and when the emulator received it, minus that, in ms. */
  lateness: Array<{ notBefore: number; ms: number }>;
  creates: number;
  distinct: number;
}

/**
 * A partner bridge has been serving for days when otj meets a wave: the emulator child first
 * answers 5,000 creates of its own (its HTTP server and handler compiled), then forgets them.
 * The engine stays cold, so the first wave measures an engine that has just started.
 */
async function warmUp(emulator: BridgeEmulator, url: string): Promise<void> {
  const client = new HttpMediaBridge({ baseUrl: url, token: TOKEN, hmacSecret: HMAC_SECRET, timeoutMs: 10_000 });
  const far = new Date(Date.now() + 86_400_000).toISOString();
  let next = 0;
  await Promise.all(
    Array.from({ length: 64 }, async () => {
      while (next < SESSIONS) {
        const i = next++;
        await client.start({
          sessionId: `sgj_${(0xffff00000000 + i).toString(16)}`,
          teams: { joinUrl: null, meetingId: String(i), passcode: null, tenantId: null, threadId: null, organizerId: null },
          guestDisplayName: "warm-up",
          dialString: "warm-up@sgj.otj.invalid",
          vtcDialString: null,
          notBefore: far,
          notAfter: far,
          callbackUrl: "http://127.0.0.1:9/",
        });
      }
    }),
  );
  client.close();
  await emulator.forget();
}

/** The child side: the bridge emulator on the same shifted wall clock as the engine. */
function serveEmulator(): void {
  const clock = new ShiftedClock();
  const emulator = new BridgeEmulator({ clock, token: TOKEN, hmacSecret: HMAC_SECRET, plan: () => ({ kind: "never" }) });
  emulator.knobs.loseCallbacks = true;
  serveBenchChild<EmulatorOp>(
    async (r) => {
      switch (r.op) {
        case "start": {
          const url = await emulator.start();
          await warmUp(emulator, url);
          return url;
        }
        case "offset":
          clock.offset = r.ms;
          return null;
        case "created":
          return emulator.sessions.size;
        case "cpu":
          return cpuMs();
        case "results": {
          const sessions = [...emulator.sessions.values()];
          return {
            lateness: sessions.map((s) => ({ notBefore: Date.parse(s.request.notBefore), ms: s.createdAt - Date.parse(s.request.notBefore) })),
            creates: emulator.creates,
            distinct: new Set(sessions.map((s) => s.request.sessionId)).size,
          } satisfies EmulatorResults;
        }
        case "stop":
          await emulator.stop();
          return null;
      }
    },
    (r) => r.op === "stop",
  );
}

if (isBenchChild(EMULATOR_ROLE)) serveEmulator();

export async function benchSgjBurst(): Promise<void> {
  const { a, b, pg } = await openDatabases();
  const storeA = new PostgresStore(a.db);
  const storeB = new PostgresStore(b.db);
  const clock = new ShiftedClock();
  const emulator = new BenchChild<EmulatorOp>(import.meta.url, EMULATOR_ROLE);
  const schedulers: BridgeScheduler[] = [];
  // OTJ_BENCH_BUSY_CORE=0: without the competing core, to compare with runs from before it existed.
  const busy = process.env["OTJ_BENCH_BUSY_CORE"] === "0" ? null : await BusyCore.start();
  const cpu: Array<{ engine: number; emulator: number; postgres: number | null }> = [];
  try {
    const emulatorUrl = await emulator.call<string>({ op: "start" });
    const start = addMs(clock.now(), 3_600_000);
    start.setMilliseconds(0);
    const waves = [start, addMs(start, WAVE_GAP_MS)];
    const dues = waves.map((w) => addMs(w, -LEAD_SECONDS * 1000));
    const rooms = await seed(storeA, waves, 30 * 60_000);
    for (const store of [storeA, storeB]) {
      schedulers.push(
        new BridgeScheduler({
          store,
          clock,
          bridge: new HttpMediaBridge({ baseUrl: emulatorUrl, token: TOKEN, hmacSecret: HMAC_SECRET, timeoutMs: 10_000 }),
          adapter: "http",
          settings: {
            leadSeconds: LEAD_SECONDS,
            lobbyTimeoutSeconds: 900,
            lateStartSeconds: 300,
            endGraceSeconds: 0,
            endBufferMinutes: 0,
            callbackUrl: "http://127.0.0.1:9/v1/callbacks/bridge",
          },
          sendAheadMs: SEND_AHEAD_MS,
        }),
      );
    }
    // The calendar side: both instances sync every room (the second changes nothing).
    for (let i = 0; i < rooms.length; i += 50) {
      await Promise.all(rooms.slice(i, i + 50).flatMap((r) => schedulers.map((s) => s.syncRoom(r.id))));
    }
    for (const [wave, due] of dues.entries()) {
      // Jump to just before the instant, then one engine tick on each instance at the same moment.
      clock.offset = due.getTime() - DUE_IN_MS - Date.now();
      await emulator.call({ op: "offset", ms: clock.offset });
      await Promise.all(schedulers.map((s) => s.tick()));
      // CPU of the three parties from 3 s before the instant until the wave's bookkeeping is done.
      await new Promise((r) => setTimeout(r, Math.max(0, due.getTime() - clock.now().getTime() - 3_000 - SEND_AHEAD_MS)));
      // OTJ_BENCH_CPU_PROFILE=DIR: the engine's profile over the wave, DIR/sgj-burst-wave-N.cpuprofile.
      const stopProfile = await startCpuProfile();
      const before = { engine: cpuMs(), emulator: await emulator.call<number>({ op: "cpu" }), postgres: postgresCpuMs() };
      const deadline = Date.now() + DUE_IN_MS + 60_000;
      while ((await emulator.call<number>({ op: "created" })) < SESSIONS * (wave + 1) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
      await Promise.all(schedulers.map((s) => s.idle()));
      const pgAfter = postgresCpuMs();
      await stopProfile(`sgj-burst-wave-${wave + 1}.cpuprofile`);
      cpu.push({
        engine: cpuMs() - before.engine,
        emulator: (await emulator.call<number>({ op: "cpu" })) - before.emulator,
        postgres: postgresCpuBetween(before.postgres, pgAfter),
      });
    }

    const results = await emulator.call<EmulatorResults>({ op: "results" });
    // Send lateness: the request's arrival after the moment it was meant to leave (notBefore less
    // the send-ahead). Join lateness: when the bridge begins to join (at notBefore, or at the
    // request if that came later) after notBefore: what the room sees.
    const wave = (due: Date, lateness: (ms: number) => number) =>
      results.lateness
        .filter((l) => l.notBefore === due.getTime())
        .map((l) => lateness(l.ms))
        .sort((x, y) => x - y);
    const [first, second] = dues.map((due) => wave(due, (ms) => Math.max(0, ms + SEND_AHEAD_MS))) as [number[], number[]];
    const [firstJoin, secondJoin] = dues.map((due) => wave(due, (ms) => Math.max(0, ms))) as [number[], number[]];
    const distinct = results.distinct;
    for (const [metric, values] of [
      ["p99-join-lateness", secondJoin],
      ["p99-join-lateness-first-wave", firstJoin],
    ] as const) {
      const p = percentile(values, 99);
      report({ bench: "sgj-burst-5k", metric, value: p, unit: "ms", baseline: TARGET_P99_MS, ratio: p / TARGET_P99_MS });
    }
    report({ bench: "sgj-burst-5k", metric: "send-ahead", value: SEND_AHEAD_MS, unit: "ms", baseline: null, ratio: null });
    const p99 = percentile(second, 99);
    report({ bench: "sgj-burst-5k", metric: "p99-lateness", value: p99, unit: "ms", baseline: TARGET_P99_MS, ratio: p99 / TARGET_P99_MS });
    report({ bench: "sgj-burst-5k", metric: "p50-lateness", value: percentile(second, 50), unit: "ms", baseline: null, ratio: null });
    report({ bench: "sgj-burst-5k", metric: "max-lateness", value: second.at(-1) ?? Number.NaN, unit: "ms", baseline: null, ratio: null });
    const firstP99 = percentile(first, 99);
    report({ bench: "sgj-burst-5k", metric: "p99-lateness-first-wave", value: firstP99, unit: "ms", baseline: TARGET_P99_MS, ratio: firstP99 / TARGET_P99_MS });
    for (const [i, name] of ["first-wave", "second-wave"].entries()) {
      const c = cpu[i]!;
      report({ bench: "sgj-burst-5k", metric: `engine-cpu-${name}`, value: Math.round(c.engine), unit: "ms", baseline: null, ratio: null });
      report({ bench: "sgj-burst-5k", metric: `emulator-cpu-${name}`, value: Math.round(c.emulator), unit: "ms", baseline: null, ratio: null });
      if (c.postgres !== null) report({ bench: "sgj-burst-5k", metric: `postgres-cpu-${name}`, value: c.postgres, unit: "ms", baseline: null, ratio: null });
    }
    report({ bench: "sgj-burst-5k", metric: "duplicates", value: results.creates - distinct, unit: "requests", baseline: 0, ratio: null });
    report({ bench: "sgj-burst-5k", metric: "not-started", value: SESSIONS * dues.length - distinct, unit: "sessions", baseline: 0, ratio: null });
  } finally {
    await busy?.stop();
    for (const s of schedulers) s.abandon();
    await Promise.all(schedulers.map((s) => s.idle()));
    await emulator.close({ op: "stop" });
    if (b !== a) await b.close();
    await a.close();
    await pg?.drop();
  }
}
