/**
 * Scale-out and crash safety of the BridgeScheduler on real PostgreSQL: two instances (two
 * stores, two lease owners, two connection pools) racing for the same sessions, and an engine
 * killed while its room waits in the lobby, resumed by a new instance. The bridge emulator counts
 * every create: each occurrence is started exactly once.
 */
import { sql } from "kysely";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { HttpMediaBridge } from "../../bridge/adapters/http-media-bridge.ts";
import { BridgeScheduler, type BridgeSchedulerOptions } from "../../bridge/bridge-scheduler.ts";
import { BridgeCallbacks } from "../../bridge/callbacks.ts";
import type { BridgeSession, BridgeSessionStore, Room, Store } from "../../core/ports/store.ts";
import { OtjError } from "../../core/errors.ts";
import { BridgeEmulator } from "../../emulators/bridge/bridge-emulator.ts";
import { withOverrides } from "../support/delegate.ts";
import { FakeClock } from "../support/fake-clock.ts";
import { testStoreForFile } from "../support/file-test-store.ts";
import { CallbackReceiver, meetingRow, runUntil, seedRoom, settle, schedulerSettings } from "./bridge-harness.ts";

const SECRET = "race-secret";
const TOKEN = "race-token";

const db = testStoreForFile();
let other: { store: Store; close(): Promise<void> };
let clock: FakeClock;
let bridgeEmu: BridgeEmulator;
let receiver: CallbackReceiver;
let room: Room;
const schedulers: BridgeScheduler[] = [];

beforeAll(async () => {
  other = await db.openAnother();
});
afterAll(async () => {
  await other?.close();
});

function makeScheduler(store: Store, overrides: Partial<BridgeSchedulerOptions> = {}): BridgeScheduler {
  const s = new BridgeScheduler({
    store,
    clock,
    bridge: new HttpMediaBridge({ baseUrl: bridgeEmu.url, token: TOKEN, hmacSecret: SECRET, timeoutMs: 10_000 }),
    adapter: "http",
    settings: schedulerSettings(receiver.url),
    ...overrides,
  });
  schedulers.push(s);
  return s;
}

/** Points the callback route at an instance (the live engine behind the load balancer). */
function routeCallbacksTo(s: BridgeScheduler): BridgeCallbacks {
  const callbacks = new BridgeCallbacks({ actions: s.actions, hmacSecret: SECRET, graphJwt: null });
  receiver.callbacks = callbacks;
  return callbacks;
}

const activity = () => bridgeEmu.bodies.length + bridgeEmu.callbacksSent.length + receiver.statuses.length;
const settleAll = () => settle(clock, [...schedulers, bridgeEmu, ...(receiver.callbacks ? [receiver.callbacks] : [])], activity);

async function seedMeetings(count: number, start: string, end: string, prefix: string): Promise<string[]> {
  const rows = Array.from({ length: count }, (_, i) => meetingRow(room, { uid: `${prefix}-${i}`, start, end }));
  await db.store.meetings.upsert(rows, clock.now());
  return rows.map((r) => r.occurrenceKey);
}

/**
 * An instance that died between the compare-and-set to `starting` and its start request's reply:
 * the session is `starting`, without an external id, claimed by the dead instance until 08:59.
 */
async function leftStarting(prefix: string, overrides: Partial<BridgeSchedulerOptions> = {}): Promise<{ key: string; session: BridgeSession }> {
  const [key] = await seedMeetings(1, "2025-03-04T09:00:00.000Z", "2025-03-04T09:30:00.000Z", prefix);
  const a = makeScheduler(db.store, overrides);
  await a.syncRoom(room.id, clock.now());
  a.abandon();
  clock.advanceTo(new Date("2025-03-04T08:58:00.000Z"));
  await db.store.bridgeSessions.claimDue(clock.now(), 10, { leaseMs: 60_000 });
  const started = await a.actions.apply(key!, { type: "start" });
  await a.actions.flush();
  return { key: key!, session: started.session! };
}

/** The start request the dead instance sent for `session` (same sessionId), straight to the bridge. */
function sendStartOf(session: BridgeSession): Promise<{ externalId: string }> {
  return new HttpMediaBridge({ baseUrl: bridgeEmu.url, token: TOKEN, hmacSecret: SECRET, timeoutMs: 10_000 }).start({
    sessionId: session.sessionId,
    teams: { joinUrl: null, meetingId: "228859003479315", passcode: null, tenantId: null, threadId: null, organizerId: null },
    guestDisplayName: room.displayName,
    dialString: session.dialString ?? "x@sgj.otj.invalid",
    vtcDialString: null,
    notBefore: "2025-03-04T08:58:00.000Z",
    notAfter: session.notAfter.toISOString(),
    callbackUrl: `${receiver.url}/v1/callbacks/bridge`,
  });
}

const HELD = { start: "2025-03-04T09:00:00.000Z", end: "2025-03-04T09:30:00.000Z" };

/**
 * Two meetings due at 08:58:00, moved to `starting` by `holder` ahead of the instant, their
 * requests held: `cancelled` is the one the tests cancel, `kept` the one that still starts.
 */
async function heldForInstant(holder: BridgeScheduler): Promise<{ cancelled: string; kept: string }> {
  const [cancelled, kept] = await seedMeetings(2, HELD.start, HELD.end, "held");
  await holder.syncRoom(room.id, clock.now());
  clock.advanceTo(new Date("2025-03-04T08:56:50.000Z"));
  await runUntil(clock, "2025-03-04T08:57:59.000Z", [holder], settleAll, { stepMs: 1_000 });
  for (const key of [cancelled!, kept!]) expect(await db.store.bridgeSessions.get(key)).toMatchObject({ state: "starting", externalId: null });
  expect(bridgeEmu.creates).toBe(0);
  return { cancelled: cancelled!, kept: kept! };
}

/** Cancels the first meeting of heldForInstant in the calendar and lets `s` sync the room. */
async function cancelHeld(s: BridgeScheduler): Promise<void> {
  await db.store.meetings.upsert([meetingRow(room, { uid: "held-0", ...HELD, cancelled: true })], clock.now());
  expect((await s.syncRoom(room.id, clock.now())).cancelled).toBe(1);
}

/** `store`, whose read of the held starts at the instant is `read` (given the real one). */
function withRead(store: Store, read: (real: BridgeSessionStore["unansweredStarts"], keys: readonly string[]) => Promise<string[]>): Store {
  const inner = store.bridgeSessions;
  const bridgeSessions = withOverrides<BridgeSessionStore>(inner, { unansweredStarts: (keys) => read(inner.unansweredStarts.bind(inner), keys) });
  return withOverrides<Store>(store, { bridgeSessions });
}

/** `store`, whose read of the held starts at the instant runs `meanwhile` after reading (a cancel landing just then). */
function readingThen(store: Store, meanwhile: () => Promise<void>): Store {
  return withRead(store, async (real, keys) => {
    const unanswered = await real(keys);
    await meanwhile();
    return unanswered;
  });
}

/** The held session the tests cancelled: cancelled, its claim released, one event log entry. */
async function expectCancelled(key: string, externalId: string | null): Promise<void> {
  for (const s of schedulers) await s.idle();
  expect(await db.store.bridgeSessions.get(key)).toMatchObject({ state: "cancelled", endedReason: "meeting cancelled", externalId, leaseOwner: null });
  expect(await db.store.eventLog.list({ occurrenceKey: key, kind: "bridge.cancelled" })).toHaveLength(1);
}

beforeEach(async () => {
  await db.truncate();
  clock = new FakeClock("2025-03-04T08:00:00.000Z");
  bridgeEmu = new BridgeEmulator({ clock, token: TOKEN, hmacSecret: SECRET });
  await bridgeEmu.start();
  receiver = new CallbackReceiver();
  await receiver.start();
  room = await seedRoom(db.store, clock.now(), { deviceUrl: null });
});

afterEach(async () => {
  for (const s of schedulers.splice(0)) {
    s.abandon();
    await s.idle();
  }
  receiver.callbacks = null;
  await bridgeEmu.stop();
  await receiver.stop();
});

describe("two scheduler instances", () => {
  it("race for 200 sessions due at the same second: disjoint claims, each started exactly once", async () => {
    bridgeEmu.knobs.loseCallbacks = true;
    const a = makeScheduler(db.store, { batchSize: 20 });
    const b = makeScheduler(other.store, { batchSize: 20 });
    const keys = await seedMeetings(200, "2025-03-04T09:00:00.000Z", "2025-03-04T09:30:00.000Z", "race");
    await Promise.all([a.syncRoom(room.id, clock.now()), b.syncRoom(room.id, clock.now())]);
    clock.advanceTo(new Date("2025-03-04T08:57:30.000Z"));
    await Promise.all([db.store, other.store].flatMap((s) => [s.ping(), s.ping()]));
    const [ra, rb] = await Promise.all([a.tick(), b.tick()]);
    expect(ra.claimed + rb.claimed).toBe(200);
    expect(a.armedCount + b.armedCount).toBe(200);
    const owners = (await db.store.bridgeSessions.list()).map((s) => s.leaseOwner);
    expect(owners.filter((o) => o === db.store.owner)).toHaveLength(ra.claimed);
    expect(owners.filter((o) => o === other.store.owner)).toHaveLength(rb.claimed);

    // A stalls past its lease (a long GC pause): B reclaims A's sessions while A's timers are still armed.
    await sql`update bridge_session set lease_expires_at = ${new Date("2025-03-04T08:57:30.000Z")} where lease_owner = ${db.store.owner}`.execute(db.handle.db);
    const again = await b.tick();
    expect(again.claimed).toBe(ra.claimed);
    expect(b.armedCount).toBe(200);
    expect(a.armedCount).toBe(ra.claimed);

    clock.advanceTo(new Date("2025-03-04T08:58:00.000Z"));
    await settleAll();
    const created = [...bridgeEmu.sessions.values()].map((s) => s.request.sessionId);
    expect(bridgeEmu.creates).toBe(200);
    expect(new Set(created).size).toBe(200);
    const sessions = await db.store.bridgeSessions.list();
    expect(sessions.every((s) => s.state === "starting" && s.attempts === 1 && s.externalId !== null)).toBe(true);
    expect(sessions.map((s) => s.occurrenceKey).sort()).toEqual([...keys].sort());
    const starts = await db.store.eventLog.list({ kind: "bridge.starting", limit: 1000 });
    expect(starts).toHaveLength(200);
  });

  it("even two instances that both believe they hold every claim start each session once (compare-and-set)", async () => {
    bridgeEmu.knobs.loseCallbacks = true;
    const twin = await db.openAnother({ owner: db.store.owner });
    try {
      const a = makeScheduler(db.store);
      const b = makeScheduler(twin.store);
      await seedMeetings(200, "2025-03-04T09:00:00.000Z", "2025-03-04T09:30:00.000Z", "twin");
      await a.syncRoom(room.id, clock.now());
      clock.advanceTo(new Date("2025-03-04T08:57:30.000Z"));
      expect((await a.tick()).claimed).toBe(200);
      await sql`update bridge_session set lease_expires_at = ${clock.now()}`.execute(db.handle.db);
      expect((await b.tick()).claimed).toBe(200);
      clock.advanceTo(new Date("2025-03-04T08:58:00.000Z"));
      await settleAll();
      expect(bridgeEmu.creates).toBe(200);
      expect(new Set([...bridgeEmu.sessions.values()].map((s) => s.request.sessionId)).size).toBe(200);
      expect(await db.store.eventLog.list({ kind: "bridge.starting", limit: 1000 })).toHaveLength(200);
    } finally {
      await twin.close();
    }
  });

  it("a meeting another instance moved after the claim is not started at the old instant", async () => {
    bridgeEmu.knobs.loseCallbacks = true;
    const a = makeScheduler(db.store);
    const b = makeScheduler(other.store);
    const spec = { uid: "moved", recurrenceId: "2025-03-04T09:00:00.000Z", start: "2025-03-04T09:00:00.000Z", end: "2025-03-04T09:30:00.000Z" };
    const key = meetingRow(room, spec).occurrenceKey;
    await db.store.meetings.upsert([meetingRow(room, spec)], clock.now());
    await a.syncRoom(room.id, clock.now());
    clock.advanceTo(new Date("2025-03-04T08:57:30.000Z"));
    expect((await a.tick()).claimed).toBe(1);
    // The occurrence moves to 10:00 (same key); instance B syncs the room first, A's timer stays armed.
    await db.store.meetings.upsert([meetingRow(room, { ...spec, start: "2025-03-04T10:00:00.000Z", end: "2025-03-04T10:30:00.000Z" })], clock.now());
    expect((await b.syncRoom(room.id, clock.now())).rescheduled).toBe(1);
    clock.advanceTo(new Date("2025-03-04T08:58:00.000Z"));
    await settleAll();
    expect(bridgeEmu.creates).toBe(0);
    expect(await db.store.bridgeSessions.get(key)).toMatchObject({
      state: "scheduled",
      attempts: 0,
      dueAt: new Date("2025-03-04T09:58:00.000Z"),
      leaseOwner: null,
    });
    await runUntil(clock, "2025-03-04T09:58:00.000Z", [a, b], settleAll, { stepMs: 60_000, tickEveryMs: 60_000 });
    expect(bridgeEmu.creates).toBe(1);
    expect(await db.store.bridgeSessions.get(key)).toMatchObject({ state: "starting", attempts: 1 });
    expect(await db.store.eventLog.list({ kind: "bridge.starting", occurrenceKey: key })).toHaveLength(1);
  });

  it("an engine killed while the room waits in the lobby is resumed by a new instance: no second start", async () => {
    bridgeEmu.plan = () => ({ kind: "admit", afterMs: 5 * 60_000 });
    const a = makeScheduler(db.store);
    routeCallbacksTo(a);
    const [key] = await seedMeetings(1, "2025-03-04T09:00:00.000Z", "2025-03-04T09:30:00.000Z", "crash");
    await a.syncRoom(room.id, clock.now());
    await runUntil(clock, "2025-03-04T08:59:00.000Z", [a], settleAll);
    expect((await db.store.bridgeSessions.get(key!))?.state).toBe("lobby");

    a.abandon(); // killed: no shutdown, nothing released
    const b = makeScheduler(other.store);
    routeCallbacksTo(b);
    await b.syncRoom(room.id, clock.now());
    await runUntil(clock, "2025-03-04T09:04:00.000Z", [b], settleAll);
    expect((await db.store.bridgeSessions.get(key!))?.state).toBe("admitted");
    await runUntil(clock, "2025-03-04T09:30:00.000Z", [b], settleAll);
    const s = await db.store.bridgeSessions.get(key!);
    expect(s).toMatchObject({ state: "ended", attempts: 1 });
    expect(bridgeEmu.creates).toBe(1);
    // Both sides end it at notAfter: the bridge by itself, or otj's stop request, whichever comes first.
    expect([...bridgeEmu.sessions.values()][0]!.state).toBe("ended");
  });

  it("a claim held by a crashed instance is reclaimed after its lease and started once", async () => {
    bridgeEmu.knobs.loseCallbacks = true;
    const a = makeScheduler(db.store);
    const [key] = await seedMeetings(1, "2025-03-04T09:00:00.000Z", "2025-03-04T09:30:00.000Z", "lease");
    await a.syncRoom(room.id, clock.now());
    clock.advanceTo(new Date("2025-03-04T08:57:30.000Z"));
    expect((await a.tick()).claimed).toBe(1);
    a.abandon();
    const b = makeScheduler(other.store);
    await runUntil(clock, "2025-03-04T09:00:20.000Z", [b], settleAll);
    expect(bridgeEmu.creates).toBe(0);
    await runUntil(clock, "2025-03-04T09:00:40.000Z", [b], settleAll);
    expect(bridgeEmu.creates).toBe(1);
    expect(await db.store.bridgeSessions.get(key!)).toMatchObject({ state: "starting", attempts: 1 });
  });

  it("sessions moved to starting ahead of their instant send at the instant; an instance killed in between leaves them to the reclaim, which starts each once", async () => {
    bridgeEmu.knobs.loseCallbacks = true;
    const keys = await seedMeetings(3, "2025-03-04T09:00:00.000Z", "2025-03-04T09:30:00.000Z", "ahead");
    const a = makeScheduler(db.store);
    await a.syncRoom(room.id, clock.now());
    clock.advanceTo(new Date("2025-03-04T08:56:50.000Z"));
    // The start statement runs 2 s before the instant (08:58:00); the requests wait for it.
    await runUntil(clock, "2025-03-04T08:57:59.000Z", [a], settleAll, { stepMs: 1_000 });
    for (const key of keys) expect(await db.store.bridgeSessions.get(key)).toMatchObject({ state: "starting", attempts: 1, externalId: null });
    expect(bridgeEmu.creates).toBe(0);
    a.abandon(); // killed before the instant: no request leaves
    await runUntil(clock, "2025-03-04T08:58:30.000Z", [a], settleAll);
    expect(bridgeEmu.creates).toBe(0);
    const b = makeScheduler(other.store);
    // The dead instance's claims run out (claimed at 08:57:00 for 3 min); then b sends each request once.
    await runUntil(clock, "2025-03-04T09:00:40.000Z", [b], settleAll);
    expect(bridgeEmu.creates).toBe(3);
    expect(bridgeEmu.sessions.size).toBe(3);
    for (const key of keys) expect(await db.store.bridgeSessions.get(key)).toMatchObject({ state: "starting", attempts: 1, externalId: expect.any(String) });
    await b.idle();
    expect(await db.store.eventLog.list({ kind: "bridge.start-again" })).toHaveLength(3);
  });

  it("without a lead (preStartMs 0) the sessions are moved at the instant itself", async () => {
    bridgeEmu.knobs.loseCallbacks = true;
    const [key] = await seedMeetings(1, "2025-03-04T09:00:00.000Z", "2025-03-04T09:30:00.000Z", "nolead");
    const a = makeScheduler(db.store, { preStartMs: 0 });
    await a.syncRoom(room.id, clock.now());
    clock.advanceTo(new Date("2025-03-04T08:56:50.000Z"));
    await runUntil(clock, "2025-03-04T08:57:59.000Z", [a], settleAll, { stepMs: 1_000 });
    expect((await db.store.bridgeSessions.get(key!))?.state).toBe("scheduled");
    await runUntil(clock, "2025-03-04T08:58:00.000Z", [a], settleAll, { stepMs: 1_000 });
    expect(bridgeEmu.creates).toBe(1);
    expect([...bridgeEmu.sessions.values()][0]!.createdAt).toBe(Date.parse("2025-03-04T08:58:00.000Z"));
  });

  it("a session a crashed instance left in starting is started again with its session id, once, and goes on to admitted", async () => {
    bridgeEmu.plan = () => ({ kind: "admit", afterMs: 60_000 });
    // The crash came between the compare-and-set to starting and the start request.
    const { key } = await leftStarting("mid");
    const b = makeScheduler(other.store);
    routeCallbacksTo(b);
    await runUntil(clock, "2025-03-04T08:58:50.000Z", [b], settleAll, { stepMs: 10_000 });
    // Not before the claim's lease ran out (08:59).
    expect(bridgeEmu.creates).toBe(0);
    await runUntil(clock, "2025-03-04T09:01:30.000Z", [b], settleAll, { stepMs: 10_000 });
    expect(bridgeEmu.creates).toBe(1);
    expect(bridgeEmu.sessions.size).toBe(1);
    const s = await db.store.bridgeSessions.get(key);
    expect(s).toMatchObject({ state: "admitted", externalId: [...bridgeEmu.sessions.values()][0]!.id });
    await b.idle();
    expect(await db.store.eventLog.list({ occurrenceKey: key, kind: "bridge.start-again" })).toHaveLength(1);
  });

  it("a start whose reply a crashed instance never recorded is sent again and finds the same bridge session", async () => {
    bridgeEmu.plan = () => ({ kind: "never" });
    bridgeEmu.knobs.loseCallbacks = true;
    // The request reached the bridge; the instance died before it wrote the reply down.
    const { key, session } = await leftStarting("lost");
    const first = await sendStartOf(session);
    expect((await db.store.bridgeSessions.get(key))?.externalId).toBeNull();
    const b = makeScheduler(other.store);
    await runUntil(clock, "2025-03-04T09:02:00.000Z", [b], settleAll, { stepMs: 10_000 });
    expect(bridgeEmu.creates).toBe(2);
    expect(bridgeEmu.sessions.size).toBe(1);
    expect(await db.store.bridgeSessions.get(key)).toMatchObject({ state: "starting", externalId: first.externalId });
    // Once the reply is in, the next look is the lobby deadline: nothing more is sent.
    await runUntil(clock, "2025-03-04T09:10:00.000Z", [b], settleAll, { stepMs: 30_000 });
    expect(bridgeEmu.creates).toBe(2);
  });

  it("a session the bridge reports on but whose id was never recorded gets its id asked again, so otj can hang up at the lobby deadline", async () => {
    bridgeEmu.plan = () => ({ kind: "never" });
    const { key, session } = await leftStarting("cb");
    const b = makeScheduler(other.store);
    routeCallbacksTo(b);
    // The dead instance's request reached the bridge, which reports to whichever instance serves the callbacks.
    const first = await sendStartOf(session);
    await settleAll();
    expect(await db.store.bridgeSessions.get(key)).toMatchObject({ state: "lobby", externalId: null });
    // The first time otj asks, the bridge is busy: the session stays in the lobby and otj asks again later.
    bridgeEmu.knobs.createFailures = 1;
    await runUntil(clock, "2025-03-04T09:00:00.000Z", [b], settleAll, { stepMs: 10_000 });
    expect(await db.store.bridgeSessions.get(key)).toMatchObject({ state: "lobby", externalId: first.externalId });
    await b.idle();
    expect(await db.store.eventLog.list({ occurrenceKey: key, kind: "bridge.start-again" })).toHaveLength(2);
    expect(bridgeEmu.sessions.size).toBe(1);
    const creates = bridgeEmu.creates;
    // Nobody admits the room: at the lobby deadline otj hangs up, with the id it asked for.
    await runUntil(clock, "2025-03-04T09:14:00.000Z", [b], settleAll, { stepMs: 60_000 });
    expect(bridgeEmu.creates).toBe(creates);
    expect(await db.store.bridgeSessions.get(key)).toMatchObject({ state: "timeout" });
    expect([...bridgeEmu.sessions.values()][0]!.stoppedAt).not.toBeNull();
  });

  it("with a bridge whose start is not idempotent, a session left in starting is never started again", async () => {
    // The same bridge without the idempotency promise (as the Graph calls API).
    const plain = () => {
      const inner = new HttpMediaBridge({ baseUrl: bridgeEmu.url, token: TOKEN, hmacSecret: SECRET, timeoutMs: 10_000 });
      return { start: inner.start.bind(inner), stop: inner.stop.bind(inner) };
    };
    // The crash came between the compare-and-set to starting and the start request.
    const { key } = await leftStarting("mid", { bridge: plain() });
    const b = makeScheduler(other.store, { bridge: plain() });
    await runUntil(clock, "2025-03-04T09:13:00.000Z", [b], settleAll, { stepMs: 10_000 });
    expect(bridgeEmu.creates).toBe(0);
    expect((await db.store.bridgeSessions.get(key))?.state).toBe("timeout");
  });

  it("a meeting cancelled inside the lead on the instance that holds its start request gets no request and no stop", async () => {
    bridgeEmu.knobs.loseCallbacks = true;
    const a = makeScheduler(db.store);
    const { cancelled, kept } = await heldForInstant(a);
    await cancelHeld(a);
    await runUntil(clock, "2025-03-04T08:58:30.000Z", [a], settleAll, { stepMs: 1_000 });
    // Only the other session's create reached the bridge: no create and no DELETE for the cancelled one.
    expect(bridgeEmu.creates).toBe(1);
    expect(bridgeEmu.bodies).toHaveLength(1);
    expect([...bridgeEmu.sessions.values()].map((s) => s.request.sessionId)).toEqual([(await db.store.bridgeSessions.get(kept))!.sessionId]);
    await expectCancelled(cancelled, null);
  });

  it("a meeting another instance cancels inside the lead is read as ended at the instant: no request leaves", async () => {
    bridgeEmu.knobs.loseCallbacks = true;
    const a = makeScheduler(db.store);
    const b = makeScheduler(other.store);
    const { cancelled } = await heldForInstant(a);
    await cancelHeld(b);
    await runUntil(clock, "2025-03-04T08:58:30.000Z", [a, b], settleAll, { stepMs: 1_000 });
    expect(bridgeEmu.creates).toBe(1);
    expect(bridgeEmu.bodies).toHaveLength(1);
    await expectCancelled(cancelled, null);
  });

  it("a cancel on the holding instance that lands while the instant's read runs still keeps the request back", async () => {
    bridgeEmu.knobs.loseCallbacks = true;
    let cancelNow = false;
    const a: BridgeScheduler = makeScheduler(
      readingThen(db.store, async () => {
        if (cancelNow) await cancelHeld(a);
        cancelNow = false;
      }),
    );
    const { cancelled } = await heldForInstant(a);
    cancelNow = true;
    await runUntil(clock, "2025-03-04T08:58:30.000Z", [a], settleAll, { stepMs: 1_000 });
    expect(bridgeEmu.creates).toBe(1);
    expect(bridgeEmu.bodies).toHaveLength(1);
    await expectCancelled(cancelled, null);
  });

  it("a cancel by another instance just after the instant's read: the request leaves, then the bridge is told to leave at once", async () => {
    bridgeEmu.knobs.loseCallbacks = true;
    const b = makeScheduler(other.store);
    let cancelNow = false;
    const a = makeScheduler(
      readingThen(db.store, async () => {
        if (cancelNow) await cancelHeld(b);
        cancelNow = false;
      }),
    );
    const { cancelled } = await heldForInstant(a);
    cancelNow = true;
    await runUntil(clock, "2025-03-04T08:58:30.000Z", [a, b], settleAll, { stepMs: 1_000 });
    expect(bridgeEmu.creates).toBe(2);
    const sessionId = (await db.store.bridgeSessions.get(cancelled))!.sessionId;
    const created = bridgeEmu.bySessionId(sessionId)!;
    expect(created.stoppedAt).toBe(Date.parse("2025-03-04T08:58:00.000Z"));
    await expectCancelled(cancelled, created.id);
  });

  it("a meeting cancelled after its request left is stopped, as before", async () => {
    bridgeEmu.knobs.loseCallbacks = true;
    const a = makeScheduler(db.store);
    const b = makeScheduler(other.store);
    const { cancelled } = await heldForInstant(a);
    await runUntil(clock, "2025-03-04T08:58:05.000Z", [a, b], settleAll, { stepMs: 1_000 });
    expect(bridgeEmu.creates).toBe(2);
    await cancelHeld(b);
    await settleAll();
    const created = bridgeEmu.bySessionId((await db.store.bridgeSessions.get(cancelled))!.sessionId)!;
    expect(created.stoppedAt).toBe(Date.parse("2025-03-04T08:58:05.000Z"));
    await expectCancelled(cancelled, created.id);
  });

  it("when the instant's read fails, the held requests leave as without it", async () => {
    bridgeEmu.knobs.loseCallbacks = true;
    const a = makeScheduler(withRead(db.store, () => Promise.reject(new OtjError("OTJ_STORE_UNREACHABLE", "database down"))));
    const { cancelled, kept } = await heldForInstant(a);
    await runUntil(clock, "2025-03-04T08:58:05.000Z", [a], settleAll, { stepMs: 1_000 });
    expect(bridgeEmu.creates).toBe(2);
    for (const key of [cancelled, kept]) expect(await db.store.bridgeSessions.get(key)).toMatchObject({ state: "starting", externalId: expect.any(String) });
  });
});
