/**
 * fault-injection: the real engine (`otj run` in a child process) against the Graph emulator on
 * real PostgreSQL, through two faults, each mid-round:
 * - `kill -9` of the engine, then a second engine on the same database;
 * - a PostgreSQL restart (pg_ctlcluster) while the engine polls;
 * - `kill -9` while a room waits in the lobby of an external meeting (SIP Guest Join through the
 *   bridge emulator, real clock), then a second engine on the same database and port;
 * - `kill -9` while the start requests of several sessions due at one instant are in flight (the
 *   bridge has them, the engine never gets the replies): the engine that reclaims them sends them
 *   again and the bridge answers with the sessions it has.
 * After each: every meeting stored once (no loss, no duplicate), no second bridge session, and
 * the time to recover.
 * Needs root and a local cluster (as on the development and CI machines); not part of npm test.
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { readdirSync } from "node:fs";
import { randomBytes } from "node:crypto";
import { createServer } from "node:net";
import { systemClock } from "../core/clock.ts";
import { BridgeEmulator } from "../emulators/bridge/bridge-emulator.ts";
import { GraphEmulator } from "../emulators/graph/graph-emulator.ts";
import { teamsHtmlV5 } from "../emulators/invite-factory.ts";
import { createDatabase } from "../store/create-database.ts";
import { migrateToLatest } from "../store/migrate.ts";
import { PostgresStore } from "../store/postgres-store.ts";
import { createTestPostgres } from "../test/support/test-database.ts";
import { report } from "./report.ts";

const ROOMS = 60;
const EVENTS = 3;

function startEngine(env: Record<string, string>): ChildProcess {
  return spawn(process.execPath, ["bin/otj.js", "run"], { env: { ...process.env, ...env }, stdio: ["ignore", "ignore", "inherit"] });
}

async function waitFor(what: string, check: () => Promise<boolean>, timeoutMs: number): Promise<number> {
  const t0 = Date.now();
  for (;;) {
    if (await check().catch(() => false)) return (Date.now() - t0) / 1000;
    if (Date.now() - t0 > timeoutMs) throw new Error(`fault-injection: ${what} not reached in ${timeoutMs / 1000} s`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() => resolve(typeof address === "object" && address ? address.port : 0));
    });
  });
}

export async function benchFaultInjection(): Promise<void> {
  const pg = await createTestPostgres("faults");
  const graph = new GraphEmulator({ seed: "faults" });
  await graph.listen();
  const handle = await createDatabase(pg.url, { cwd: process.cwd(), poolSize: 2 });
  const engines: ChildProcess[] = [];
  let bridge: BridgeEmulator | null = null;
  let bridge2: BridgeEmulator | null = null;
  try {
    await migrateToLatest(handle.db);
    const store = new PostgresStore(handle.db, {});
    const now = new Date();
    await store.providers.add({ name: "p", partner: "generic" }, now);
    const ids: Array<{ mailbox: string; events: string[] }> = [];
    for (let i = 0; i < ROOMS; i++) {
      const mailbox = `room${i}@contoso.example`;
      graph.addRoom({ address: mailbox });
      await store.rooms.add({ mailbox, displayName: `Room ${i}`, provider: "p", deviceFamily: "pull" }, now);
      const events: string[] = [];
      for (let e = 0; e < EVENTS; e++) {
        const start = new Date(now.getTime() + (2 + e) * 3_600_000).toISOString();
        events.push(
          graph.addEvent(mailbox, {
            subject: `Review ${i}.${e}`,
            start,
            end: new Date(Date.parse(start) + 1_800_000).toISOString(),
            organizer: { name: "Ana", address: "ana@contoso.example" },
          })!.id,
        );
      }
      ids.push({ mailbox, events });
    }
    const count = async () =>
      Number(
        (
          await handle.db
            .selectFrom("meeting")
            .select((eb) => eb.fn.countAll().as("n"))
            .executeTakeFirstOrThrow()
        ).n,
      );
    const env = {
      OTJ_DATABASE__URL: pg.url,
      OTJ_GRAPH__TENANT_ID: graph.tenantId,
      OTJ_GRAPH__CLIENT_ID: graph.clientId,
      OTJ_GRAPH__CLIENT_SECRET: graph.clientSecret,
      OTJ_GRAPH__BASE_URL: graph.url,
      OTJ_GRAPH__AUTHORITY_URL: graph.url,
      OTJ_HTTP__PORT: "0",
      OTJ_HTTP__HOST: "127.0.0.1",
      OTJ_HTTP__ADMIN_TOKEN: randomBytes(16).toString("hex"),
      OTJ_POLL__INTERVAL_SECONDS: "1",
      OTJ_POLL__ROUND_BUDGET_SECONDS: "1",
      OTJ_POLL__MAX_IN_FLIGHT: "4",
      OTJ_LOG__LEVEL: "warn",
    };

    // 1. kill -9 mid-round: slow Graph so the first round is still running when the engine dies.
    graph.setLatency(150);
    const first = startEngine(env);
    engines.push(first);
    await waitFor("first meetings stored", async () => (await count()) > 0, 60_000);
    first.kill("SIGKILL");
    const storedAtKill = await count();
    graph.setLatency(0);
    const second = startEngine(env);
    engines.push(second);
    // The dead engine's leases expire (round budget + 60 s) and the second engine takes the rooms.
    const kill9Seconds = await waitFor("all meetings after kill -9", async () => (await count()) === ROOMS * EVENTS, 180_000);
    report({ bench: "fault-injection", metric: "kill9-recovery", value: kill9Seconds, unit: "s", baseline: null, ratio: null });
    report({ bench: "fault-injection", metric: "kill9-meetings-at-kill", value: storedAtKill, unit: "meetings", baseline: ROOMS * EVENTS, ratio: null });
    report({
      bench: "fault-injection",
      metric: "kill9-lost-or-duplicate",
      value: Math.abs((await count()) - ROOMS * EVENTS),
      unit: "meetings",
      baseline: 0,
      ratio: null,
    });

    // 2. PostgreSQL restart while the engine polls changes.
    for (const r of ids) graph.updateEvent(r.mailbox, r.events[0]!, { subject: `Changed ${r.mailbox}` });
    graph.setLatency(100);
    const cluster = readdirSync("/etc/postgresql")[0]!;
    await new Promise((r) => setTimeout(r, 1500));
    execFileSync("pg_ctlcluster", ["--skip-systemctl-redirect", cluster, "main", "restart"], { stdio: "ignore" });
    graph.setLatency(0);
    const changed = async () =>
      Number(
        (
          await handle.db
            .selectFrom("meeting")
            .select((eb) => eb.fn.countAll().as("n"))
            .where("subject", "like", "Changed %")
            .executeTakeFirstOrThrow()
        ).n,
      );
    const restartSeconds = await waitFor("every change after the PostgreSQL restart", async () => (await changed()) === ROOMS, 180_000);
    report({ bench: "fault-injection", metric: "pg-restart-recovery", value: restartSeconds, unit: "s", baseline: null, ratio: null });
    report({
      bench: "fault-injection",
      metric: "pg-restart-lost-or-duplicate",
      value: Math.abs((await count()) - ROOMS * EVENTS),
      unit: "meetings",
      baseline: 0,
      ratio: null,
    });

    // 3. kill -9 while the room waits in the lobby: the next engine resumes the session (the
    // bridge keeps it), follows it to admitted and ended, and never starts a second one.
    for (const e of engines) if (e.exitCode === null) e.kill("SIGKILL");
    const hmacSecret = randomBytes(16).toString("hex");
    bridge = new BridgeEmulator({ clock: systemClock, token: "fault-bridge", hmacSecret, plan: () => ({ kind: "admit", afterMs: 25_000 }) });
    await bridge.start();
    await store.providers.add({ name: "webex", partner: "cisco", tenantKey: "contoso@m.webex.com", sipDomain: "sgj.contoso.example" }, new Date());
    const sgjRoom = "lobby-room@contoso.example";
    graph.addRoom({ address: sgjRoom });
    await store.rooms.add({ mailbox: sgjRoom, displayName: "Lobby Room", provider: "webex", deviceFamily: "pull" }, new Date());
    const start = new Date(Date.now() + 75_000);
    graph.addEvent(sgjRoom, {
      subject: "Supplier review (Fabrikam)",
      start: start.toISOString(),
      end: new Date(start.getTime() + 60_000).toISOString(),
      organizer: { name: "Ben Okafor", address: "ben@fabrikam.example" },
      body: {
        contentType: "html",
        content: teamsHtmlV5(
          { threadKey: "fault-lobby", tenantId: "0f0f0f0f-aaaa-4bbb-8ccc-dddddddddddd", meetingId: "357159246802468", passcode: "Hk4mN8pQ" },
          500,
        ),
      },
    });
    const lobbyEnv = {
      ...env,
      OTJ_HTTP__PORT: String(await freePort()),
      OTJ_BRIDGE__ADAPTER: "http",
      OTJ_BRIDGE__LEAD_SECONDS: "60",
      OTJ_BRIDGE__HTTP__BASE_URL: bridge.url,
      OTJ_BRIDGE__HTTP__TOKEN: "fault-bridge",
      OTJ_BRIDGE__HTTP__HMAC_SECRET: hmacSecret,
    };
    const emulated = () => [...(bridge?.sessions.values() ?? [])];
    const sessionState = async () => (await store.bridgeSessions.list()).find((b) => b.state !== "cancelled")?.state ?? null;
    const third = startEngine(lobbyEnv);
    engines.push(third);
    await waitFor("the room in the lobby", async () => emulated().some((x) => x.state === "lobby") && (await sessionState()) === "lobby", 120_000);
    third.kill("SIGKILL");
    const killedAt = Date.now();
    const fourth = startEngine(lobbyEnv);
    engines.push(fourth);
    await waitFor("admitted after kill -9 in the lobby", async () => (await sessionState()) === "admitted", 120_000);
    const admittedAfter = (Date.now() - killedAt) / 1000;
    await waitFor("the session ended with the meeting", async () => (await sessionState()) === "ended", 180_000);
    const sessions = await store.bridgeSessions.list();
    report({ bench: "fault-injection", metric: "kill9-lobby-admitted-after", value: admittedAfter, unit: "s", baseline: 25, ratio: null });
    report({
      bench: "fault-injection",
      metric: "kill9-lobby-second-sessions",
      value: bridge.creates - 1 + (sessions.length - 1),
      unit: "sessions",
      baseline: 0,
      ratio: null,
    });
    report({
      bench: "fault-injection",
      metric: "kill9-lobby-final-state-ended",
      value: (await sessionState()) === "ended" ? 1 : 0,
      unit: "bool",
      baseline: 1,
      ratio: null,
    });

    // 4. kill -9 mid-start: the bridge holds its replies, so the engine dies with every start
    // request sent and none answered. The next engine reclaims the sessions once their claims'
    // leases end (3 minutes) and sends the same requests again (idempotent on sessionId).
    for (const e of engines) if (e.exitCode === null) e.kill("SIGKILL");
    const midSecret = randomBytes(16).toString("hex");
    const midBridge = new BridgeEmulator({
      clock: systemClock,
      token: "fault-bridge-2",
      hmacSecret: midSecret,
      plan: () => ({ kind: "admit", afterMs: 20_000 }),
    });
    await midBridge.start();
    bridge2 = midBridge;
    const MID = 8;
    const midStart = new Date(Date.now() + 80_000);
    const midRooms: string[] = [];
    for (let i = 0; i < MID; i++) {
      const mailbox = `burst-room-${i}@contoso.example`;
      graph.addRoom({ address: mailbox });
      const { room } = await store.rooms.add({ mailbox, displayName: `Burst Room ${i}`, provider: "webex", deviceFamily: "pull" }, new Date());
      midRooms.push(room.id);
      graph.addEvent(mailbox, {
        subject: `Partner sync ${i} (Fabrikam)`,
        start: midStart.toISOString(),
        end: new Date(midStart.getTime() + 10 * 60_000).toISOString(),
        organizer: { name: "Ben Okafor", address: "ben@fabrikam.example" },
        body: {
          contentType: "html",
          content: teamsHtmlV5(
            { threadKey: `fault-burst-${i}`, tenantId: "0f0f0f0f-aaaa-4bbb-8ccc-dddddddddddd", meetingId: String(357159246802500 + i), passcode: "Hk4mN8pQ" },
            500,
          ),
        },
      });
    }
    const midEnv = {
      ...lobbyEnv,
      OTJ_HTTP__PORT: String(await freePort()),
      OTJ_BRIDGE__HTTP__BASE_URL: midBridge.url,
      OTJ_BRIDGE__HTTP__TOKEN: "fault-bridge-2",
      OTJ_BRIDGE__HTTP__HMAC_SECRET: midSecret,
    };
    const midSessions = async () => (await store.bridgeSessions.list()).filter((x) => midRooms.includes(x.roomId) && x.state !== "cancelled");
    midBridge.knobs.createDelayMs = 5_000;
    const fifth = startEngine(midEnv);
    engines.push(fifth);
    await waitFor("every start request at the bridge", async () => midBridge.bodies.length >= MID, 150_000);
    fifth.kill("SIGKILL");
    const midKilledAt = Date.now();
    const unanswered = (await midSessions()).filter((x) => x.state === "starting" && x.externalId === null).length;
    midBridge.knobs.createDelayMs = 0;
    const sixth = startEngine(midEnv);
    engines.push(sixth);
    await waitFor(
      "every session resumed after kill -9 mid-start",
      async () => {
        const rows = await midSessions();
        return rows.length === MID && rows.every((x) => x.externalId !== null && (x.state === "lobby" || x.state === "admitted"));
      },
      420_000,
    );
    const resumedAfter = (Date.now() - midKilledAt) / 1000;
    await waitFor("every session admitted after kill -9 mid-start", async () => (await midSessions()).every((x) => x.state === "admitted"), 120_000);
    const externalIds = new Set((await midSessions()).map((x) => x.externalId));
    report({ bench: "fault-injection", metric: "kill9-mid-start-unanswered-at-kill", value: unanswered, unit: "sessions", baseline: MID, ratio: null });
    report({ bench: "fault-injection", metric: "kill9-mid-start-resumed-after", value: resumedAfter, unit: "s", baseline: 180, ratio: null });
    report({
      bench: "fault-injection",
      metric: "kill9-mid-start-second-sessions",
      value: midBridge.sessions.size - MID + (MID - externalIds.size),
      unit: "sessions",
      baseline: 0,
      ratio: null,
    });
  } finally {
    for (const e of engines) if (e.exitCode === null) e.kill("SIGKILL");
    await bridge?.stop();
    await bridge2?.stop();
    await handle.close().catch(() => undefined);
    await graph.stop();
    await pg.drop().catch(() => undefined);
  }
}
