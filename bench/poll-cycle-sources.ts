/**
 * `poll-cycle-10k-google` and `poll-cycle-10k-ews`: poll-cycle-10k's method for the other two
 * calendar sources. 10,000 rooms through CalendarPoller → GoogleCalendarSource (official Google
 * client libraries) or EwsCalendarSource (SOAP over undici) → HTTP → the Google or EWS emulator,
 * which waits 25 ms before answering each API request, and PostgreSQL.
 *
 * Metrics: `no-change-cycle` (main; target <= 1.5x its latency bound, ceil(requests / in flight)
 * × 25 ms, where requests are the API requests the emulator answered, token requests excluded,
 * and in flight is the poller's maxInFlight, or EWS's 27 concurrent requests per account where
 * the client's gate holds it lower), `initial-sync` with the same kind of bound, `rss` and
 * `heap-after-gc` of the engine side after the cycles.
 *
 * The emulator runs in a child process (this same file, started with OTJ_BENCH_ROLE).
 */
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { CalendarPoller } from "../calendar/calendar-poller.ts";
import { EwsCalendarSource } from "../calendar/ews/ews-calendar-source.ts";
import { EwsClient } from "../calendar/ews/ews-client.ts";
import { GoogleCalendarSource } from "../calendar/google/google-calendar-source.ts";
import { GoogleClient } from "../calendar/google/google-client.ts";
import { realSleeper } from "../calendar/request-retry.ts";
import { ConcurrencyGate } from "../calendar/graph/request-gate.ts";
import { ManualClock } from "../core/manual-clock.ts";
import type { CalendarSource } from "../core/ports/calendar-source.ts";
import type { NewRoom } from "../core/ports/store.ts";
import { EwsEmulator } from "../emulators/ews/ews-emulator.ts";
import { GoogleEmulator } from "../emulators/google/google-emulator.ts";
import { teamsHtmlV4 } from "../emulators/invite-factory.ts";
import { roomPlanner } from "../join/room-planning.ts";
import { createDatabase } from "../store/create-database.ts";
import { migrateToLatest } from "../store/migrate.ts";
import { PostgresStore } from "../store/postgres-store.ts";
import { createTestPostgres } from "../test/support/test-database.ts";
import { BenchChild, isBenchChild, serveBenchChild } from "./bench-child.ts";
import { cpuSeconds, report } from "./report.ts";

type Kind = "google" | "ews";
const ROLE = "otj-bench-source-emulator";
const LATENCY_MS = 25;
const MAX_IN_FLIGHT = 50;
/** EWS's default throttling policy (EWSMaxConcurrency), as ews-from-config.ts gates the client. */
const EWS_MAX_CONCURRENCY = 27;
const TARGET_RATIO = 1.5;

type EmulatorOp = { op: "start"; kind: Kind; rooms: number; dayMs: number } | { op: "requests" } | { op: "stop" };

interface GoogleStarted {
  kind: "google";
  url: string;
  tokenUrl: string;
  clientEmail: string;
  privateKey: string;
  subject: string;
}
interface EwsStarted {
  kind: "ews";
  url: string;
  username: string;
  password: string;
}

function mailboxOf(i: number, kind: Kind): string {
  return `room${String(i).padStart(5, "0")}@${kind === "google" ? "acme.example" : "contoso.example"}`;
}

function body(): string {
  return teamsHtmlV4(
    { threadKey: "bench", meetingId: "35715924681234", passcode: "Hk4mN8pQ", cvi: { tenantKey: "contoso@m.webex.com", videoId: "1182453796" } },
    2000,
  );
}

/** The child side: one Google or EWS emulator, seeded with two meetings a room tomorrow. */
function serveEmulator(): void {
  let google: GoogleEmulator | null = null;
  let ews: EwsEmulator | null = null;
  serveBenchChild<EmulatorOp>(
    async (r) => {
      switch (r.op) {
        case "start": {
          const at = (i: number, e: number) => r.dayMs + 86_400_000 + (9 + e * 2) * 3_600_000 + (i % 4) * 900_000;
          if (r.kind === "google") {
            google = await GoogleEmulator.start();
            for (let i = 0; i < r.rooms; i++) {
              const email = mailboxOf(i, "google");
              google.addRoom({ email, name: `Room ${i}` });
              for (let e = 0; e < 2; e++) {
                google.addEvent(email, {
                  summary: `Review ${i}.${e}`,
                  description: body(),
                  start: new Date(at(i, e)).toISOString(),
                  end: new Date(at(i, e) + 1_800_000).toISOString(),
                  organizer: { email: "ana@acme.example", displayName: "Ana Ruiz" },
                });
              }
            }
            google.latencyMs = LATENCY_MS;
            const key = google.serviceAccountKey();
            return {
              kind: "google",
              url: google.url,
              tokenUrl: google.tokenUrl,
              clientEmail: key["client_email"]!,
              privateKey: key["private_key"]!,
              subject: google.subjects[0]!,
            } satisfies GoogleStarted;
          }
          ews = await EwsEmulator.start();
          for (let i = 0; i < r.rooms; i++) {
            const address = mailboxOf(i, "ews");
            ews.addRoom({ address });
            for (let e = 0; e < 2; e++) {
              ews.createEvent(address, {
                subject: `Review ${i}.${e}`,
                body: body(),
                bodyType: "HTML",
                start: new Date(at(i, e)).toISOString(),
                end: new Date(at(i, e) + 1_800_000).toISOString(),
                organizer: { name: "Ana Ruiz", email: "ana@contoso.example" },
              });
            }
          }
          ews.latencyMs = LATENCY_MS;
          return { kind: "ews", url: ews.url, username: ews.username, password: ews.password } satisfies EwsStarted;
        }
        case "requests": {
          const requests = google ? google.calls.filter((c) => c.path !== "/token").length : (ews?.requests.length ?? 0);
          return { requests, cpuSeconds: cpuSeconds() };
        }
        case "stop":
          await google?.stop();
          await ews?.stop();
          return null;
      }
    },
    (r) => r.op === "stop",
  );
}

if (isBenchChild(ROLE)) serveEmulator();

function heapAfterGc(): number {
  setFlagsFromString("--expose-gc");
  (runInNewContext("gc") as () => void)();
  return process.memoryUsage().heapUsed;
}

export async function benchPollCycleSource(kind: Kind, rooms = 10_000): Promise<void> {
  const name = `poll-cycle-${rooms / 1000}k-${kind}`;
  const clock = new ManualClock(new Date());
  const emulator = new BenchChild<EmulatorOp>(import.meta.url, ROLE);
  const pg = await createTestPostgres("bench_poll_src");
  const handle = await createDatabase(pg.url, { cwd: process.cwd(), poolSize: 20 });
  try {
    await migrateToLatest(handle.db);
    const store = new PostgresStore(handle.db);
    const now = clock.now();
    await store.providers.add({ name: "webex", partner: "cisco", tenantKey: "contoso@m.webex.com" }, now);
    const dayMs = Math.floor(now.getTime() / 86_400_000) * 86_400_000;
    const started = await emulator.call<GoogleStarted | EwsStarted>({ op: "start", kind, rooms, dayMs });
    const inputs: NewRoom[] = [];
    for (let i = 0; i < rooms; i++) {
      inputs.push({ mailbox: mailboxOf(i, kind), displayName: `Room ${i}`, provider: "webex", deviceFamily: "pull", source: kind });
    }
    if (!(await store.rooms.addMany(inputs, now)).applied) throw new Error("bench setup: rooms not added");

    let source: CalendarSource;
    let inFlight = MAX_IN_FLIGHT;
    if (started.kind === "google") {
      const client = new GoogleClient(
        {
          key: { client_email: started.clientEmail, private_key: started.privateKey },
          subject: started.subject,
          apiRoot: started.url,
          tokenUrl: started.tokenUrl,
        },
        { clock },
      );
      source = new GoogleCalendarSource({}, { api: client, clock, sleep: realSleeper });
    } else {
      inFlight = Math.min(MAX_IN_FLIGHT, EWS_MAX_CONCURRENCY);
      const client = new EwsClient(
        { url: started.url, username: started.username, password: started.password, auth: "basic", impersonation: true },
        { clock, gate: new ConcurrencyGate({ perMailbox: 4, global: inFlight }) },
      );
      source = new EwsCalendarSource({}, { client, clock, sleep: realSleeper });
    }
    const poller = new CalendarPoller(
      {
        poll: { intervalSeconds: 60, windowPastHours: 24, windowFutureDays: 7, maxInFlight: MAX_IN_FLIGHT, roundBudgetSeconds: 120 },
        planner: roomPlanner([]),
      },
      { store, source, clock },
    );
    const bound = (requests: number) => (Math.ceil(requests / inFlight) * LATENCY_MS) / 1000;
    const cycle = async () => {
      const before = await emulator.call<{ requests: number; cpuSeconds: number }>({ op: "requests" });
      const t0 = performance.now();
      const c0 = cpuSeconds();
      const r = await poller.runRound();
      const seconds = (performance.now() - t0) / 1000;
      const cpu = cpuSeconds() - c0;
      const after = await emulator.call<{ requests: number; cpuSeconds: number }>({ op: "requests" });
      if (r.rooms.length !== rooms || r.failed > 0) throw new Error(`${name}: cycle polled ${r.rooms.length} rooms, ${r.failed} failed`);
      clock.advance(60_000);
      return { seconds, cpu, changed: r.changed, requests: after.requests - before.requests, emulatorCpu: after.cpuSeconds - before.cpuSeconds };
    };
    const initial = await cycle();
    const quiet = await cycle();
    if (quiet.changed !== 0) throw new Error(`${name}: the no-change cycle changed rooms`);
    const rssMb = process.memoryUsage().rss / 1_048_576;
    const heapMb = heapAfterGc() / 1_048_576;
    for (const [metric, c] of [
      ["no-change-cycle", quiet],
      ["initial-sync", initial],
    ] as const) {
      const b = bound(c.requests);
      report({ bench: name, metric, value: c.seconds, unit: "s", baseline: b, ratio: c.seconds / b });
    }
    report({ bench: name, metric: "no-change-target-ratio", value: quiet.seconds / bound(quiet.requests), unit: "x", baseline: TARGET_RATIO, ratio: null });
    report({ bench: name, metric: "rss", value: rssMb, unit: "MB", baseline: null, ratio: null });
    report({ bench: name, metric: "heap-after-gc", value: heapMb, unit: "MB", baseline: null, ratio: null });
    process.stderr.write(
      `${name}: ${rooms} rooms, ${inFlight} in flight, latency ${LATENCY_MS} ms; API requests no-change ${quiet.requests}, initial ${initial.requests}; engine CPU no-change ${quiet.cpu.toFixed(2)} s, initial ${initial.cpu.toFixed(2)} s; emulator CPU no-change ${quiet.emulatorCpu.toFixed(2)} s\n`,
    );
  } finally {
    await emulator.close({ op: "stop" });
    await handle.close();
    await pg.drop();
  }
}
