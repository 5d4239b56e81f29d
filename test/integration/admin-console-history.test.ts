/**
 * What the console reads from recorded history, on real PostgreSQL: lobby waits (p50/p95) and
 * device pushes per day from the event log, on the reports page and in its CSV; engine-wide
 * alarms in the status (GET /v1/status's `engineAlarms`); cleared alarms pruned after
 * `retention.alarmsDays` while open ones stay.
 */
import type { FastifyInstance } from "fastify";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildStatus } from "../../app/status.ts";
import type { NewLoggedEvent } from "../../core/ports/store.ts";
import { FakeClock } from "../support/fake-clock.ts";
import { startTestHttpServer } from "../support/http-server.ts";
import { openTestStore, type TestStore } from "../support/test-database.ts";

const ADMIN = "history-admin-token-0123456789abcdef";
const SETTINGS = { endBufferMinutes: 0, windowFutureDays: 7, pollFailuresBeforeAlarm: 3, pushFailuresBeforeAlarm: 3 };
let db: TestStore;
let clock: FakeClock;
let app: FastifyInstance;
let base = "";

beforeAll(async () => {
  db = await openTestStore("postgres");
  clock = new FakeClock("2026-03-10T12:00:00.000Z");
  ({ app, base } = await startTestHttpServer(db.store, clock, ADMIN));
});
afterAll(async () => {
  await app?.close();
  await db?.close();
});

/** A session entering the lobby at `at` and leaving it `waitS` seconds later as `to`. */
function lobby(sessionId: string, at: string, waitS: number, to = "admitted"): NewLoggedEvent[] {
  const entered = new Date(at);
  return [
    { at: entered, kind: "bridge.lobby", roomId: null, message: "in the lobby", data: { sessionId, from: "starting", to: "lobby" } },
    { at: new Date(entered.getTime() + waitS * 1000), kind: `bridge.${to}`, roomId: null, message: to, data: { sessionId, from: "lobby", to } },
  ];
}

async function signIn(): Promise<string> {
  const r = await fetch(`${base}/admin/login`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({ token: ADMIN, next: "/admin/reports" }).toString(),
    redirect: "manual",
  });
  return (r.headers.get("set-cookie") ?? "").split(";")[0] ?? "";
}

describe("reports from the event log", () => {
  it("draws lobby waits p50/p95 and pushes per day, and exports them", async () => {
    await db.store.eventLog.append([
      ...lobby("s1", "2026-03-08T09:00:00Z", 10),
      ...lobby("s2", "2026-03-08T10:00:00Z", 20),
      ...lobby("s3", "2026-03-08T11:00:00Z", 30, "denied"),
      ...lobby("s4", "2026-03-09T09:00:00Z", 900, "timeout"),
      // Still in the lobby: no wait yet.
      { at: new Date("2026-03-09T10:00:00Z"), kind: "bridge.lobby", roomId: null, message: "in the lobby", data: { sessionId: "s5" } },
      { at: new Date("2026-03-08T08:00:00Z"), kind: "device.pushed", roomId: null, message: "2 booking(s)" },
      { at: new Date("2026-03-08T08:05:00Z"), kind: "device.pushed", roomId: null, message: "2 booking(s)" },
      { at: new Date("2026-03-09T08:00:00Z"), kind: "device.push-failed", roomId: null, message: "OTJ_DEVICE_AUTH: refused" },
    ]);
    const range = { from: new Date("2026-03-08T00:00:00Z"), to: new Date("2026-03-10T00:00:00Z"), timeZone: "UTC" };
    expect(await db.store.reports.lobbyWaitsPerDay(range)).toEqual([
      { day: "2026-03-08", sessions: 3, p50Seconds: 20, p95Seconds: 29 },
      { day: "2026-03-09", sessions: 1, p50Seconds: 900, p95Seconds: 900 },
    ]);
    expect(await db.store.reports.pushesPerDay(range)).toEqual([
      { day: "2026-03-08", outcome: "ok", count: 2 },
      { day: "2026-03-09", outcome: "failed", count: 1 },
    ]);
    const cookie = await signIn();
    const page = await (await fetch(`${base}/admin/reports?from=2026-03-08&to=2026-03-09`, { headers: { cookie } })).text();
    expect(page).toContain('<svg id="lobby-chart"');
    expect(page).toContain("2026-03-08 p95: 29 s");
    expect(page).toContain('<svg id="pushes-chart"');
    expect(page).toContain("2026-03-09 failed: 1");
    const csv = await (await fetch(`${base}/admin/reports.csv?from=2026-03-08&to=2026-03-09`, { headers: { cookie } })).text();
    expect(csv).toContain("lobby-wait-p50-seconds,2026-03-08,,20\r\n");
    expect(csv).toContain("pushes,2026-03-08,ok,2\r\n");
  });
});

describe("engine-wide alarms and their retention", () => {
  it("lists open engine-wide alarms in the status; the prune removes old cleared alarms only", async () => {
    const t0 = new Date("2026-01-01T00:00:00Z");
    const consent = {
      key: "engine:consent:calendar polling",
      code: "OTJ_GRAPH_CONSENT_MISSING",
      roomId: null,
      subject: "graph",
      message: "needs Calendars.Read",
    };
    const bridge = { key: "engine:bridge", code: "OTJ_BRIDGE_NOT_CONFIGURED", roomId: null, subject: "engine", message: "no bridge" };
    await db.store.alarms.reconcile([consent, bridge], t0);
    // The bridge alarm clears on day 1; the consent one stays open.
    await db.store.alarms.reconcile([consent], new Date("2026-01-02T00:00:00Z"));
    const status = await buildStatus(db.store, clock.now(), SETTINGS);
    expect(status.engineAlarms).toEqual([{ code: "OTJ_GRAPH_CONSENT_MISSING", subject: "graph", since: t0.toISOString(), message: "needs Calendars.Read" }]);
    const api = await fetch(`${base}/v1/status`, { headers: { authorization: `Bearer ${ADMIN}` } });
    expect(((await api.json()) as { engineAlarms: unknown[] }).engineAlarms).toHaveLength(1);

    const far = new Date("2025-01-01T00:00:00Z");
    const cutoffs = { bridgeSessionsBefore: far, eventLogBefore: far, meetingsEndedBefore: far };
    // Cleared on Jan 2: kept with a cutoff before it, pruned with one after it.
    expect((await db.store.retention.prune({ ...cutoffs, alarmsClearedBefore: new Date("2026-01-01T12:00:00Z") })).alarms).toBe(0);
    expect((await db.store.retention.prune({ ...cutoffs, alarmsClearedBefore: new Date("2026-02-01T00:00:00Z") })).alarms).toBe(1);
    expect((await db.store.alarms.history({ limit: 10 })).map((a) => a.code)).toEqual(["OTJ_GRAPH_CONSENT_MISSING"]);
    expect((await db.store.alarms.listOpen()).map((a) => a.code)).toEqual(["OTJ_GRAPH_CONSENT_MISSING"]);
  });
});
