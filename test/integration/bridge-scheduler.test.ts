/**
 * BridgeScheduler + callbacks + device notices end to end, over real HTTP (bridge emulator, Cisco
 * device emulator, a callback receiver) and real PostgreSQL, on a fake clock: nothing sleeps.
 */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { HttpMediaBridge } from "../../bridge/adapters/http-media-bridge.ts";
import { BridgeScheduler, type BridgeSchedulerOptions } from "../../bridge/bridge-scheduler.ts";
import { signBody } from "../../bridge/bridge-signature.ts";
import { BridgeCallbacks } from "../../bridge/callbacks.ts";
import { DeviceNotifier } from "../../bridge/device-notice.ts";
import type { Room } from "../../core/ports/store.ts";
import { BridgeEmulator } from "../../emulators/bridge/bridge-emulator.ts";
import { CiscoDeviceEmulator } from "../../emulators/cisco-device/cisco-device-emulator.ts";
import { XapiDevicePusher } from "../../join/pushers/xapi-device-pusher.ts";
import { FakeClock } from "../support/fake-clock.ts";
import { testStoreForFile } from "../support/file-test-store.ts";
import { CallbackReceiver, meetingRow, type MeetingSpec, runUntil, seedRoom, settle, schedulerSettings } from "./bridge-harness.ts";

const SECRET = "bridge-hmac-secret";
const TOKEN = "bridge-token";
const MEETING: MeetingSpec = { uid: "uid-1", start: "2025-03-04T09:00:00.000Z", end: "2025-03-04T09:30:00.000Z" };

const db = testStoreForFile();
let clock: FakeClock;
let bridgeEmu: BridgeEmulator;
let device: CiscoDeviceEmulator;
let receiver: CallbackReceiver;
let scheduler: BridgeScheduler;
let callbacks: BridgeCallbacks;
let room: Room;

function makeScheduler(overrides: Partial<BridgeSchedulerOptions> = {}): BridgeScheduler {
  const store = overrides.store ?? db.store;
  return new BridgeScheduler({
    store,
    clock,
    bridge: new HttpMediaBridge({ baseUrl: bridgeEmu.url, token: TOKEN, hmacSecret: SECRET, timeoutMs: 5_000 }),
    adapter: "http",
    settings: schedulerSettings(receiver.url),
    notifier: new DeviceNotifier({ store, pusher: new XapiDevicePusher(), clock }),
    // No jitter: the retry times asserted below are exact.
    random: () => 1,
    ...overrides,
  });
}

function wire(s: BridgeScheduler): void {
  scheduler = s;
  callbacks = new BridgeCallbacks({ actions: s.actions, hmacSecret: SECRET, graphJwt: null });
  receiver.callbacks = callbacks;
}

const activity = () => bridgeEmu.bodies.length + bridgeEmu.callbacksSent.length + receiver.statuses.length + device.ui.length;
const settleAll = () => settle(clock, [scheduler, bridgeEmu, callbacks], activity);
const run = (to: string) => runUntil(clock, to, [scheduler], settleAll);

async function upsert(spec: MeetingSpec) {
  const row = meetingRow(room, spec);
  await db.store.meetings.upsert([row], clock.now());
  return row.occurrenceKey;
}

async function sync(): Promise<void> {
  await scheduler.syncRoom(room.id, clock.now());
  await settleAll();
}

const session = (key: string) => db.store.bridgeSessions.get(key);
const events = async (key: string) => (await db.store.eventLog.list({ occurrenceKey: key, limit: 100 })).reverse().map((e) => `${e.kind}: ${e.message}`);

beforeEach(async () => {
  await db.truncate();
  clock = new FakeClock("2025-03-04T08:00:00.000Z");
  bridgeEmu = new BridgeEmulator({ clock, token: TOKEN, hmacSecret: SECRET });
  await bridgeEmu.start();
  device = new CiscoDeviceEmulator();
  await device.start();
  receiver = new CallbackReceiver();
  await receiver.start();
  room = await seedRoom(db.store, clock.now(), { deviceUrl: device.url });
  wire(makeScheduler());
});

afterEach(async () => {
  scheduler.abandon();
  await scheduler.idle();
  await bridgeEmu.stop();
  await receiver.stop();
  await device.stop();
});

describe("BridgeScheduler over the HTTP bridge protocol", () => {
  it("starts at start - lead as a guest, follows the lobby to admitted, and leaves at the end", async () => {
    bridgeEmu.plan = () => ({ kind: "admit", afterMs: 90_000 });
    const key = await upsert(MEETING);
    await sync();
    expect((await session(key))?.state).toBe("scheduled");
    await run("2025-03-04T08:57:59.000Z");
    // Moved to starting ahead of the instant (preStartMs, 2 s); the request leaves at the instant.
    expect((await session(key))?.state).toBe("starting");
    expect(bridgeEmu.creates).toBe(0);
    await run("2025-03-04T08:58:00.000Z");
    expect(bridgeEmu.creates).toBe(1);
    const [created] = [...bridgeEmu.sessions.values()];
    expect(created!.createdAt).toBe(Date.parse("2025-03-04T08:58:00.000Z"));
    expect(created!.request).toMatchObject({
      guestDisplayName: "Room 101",
      lobbyBypass: false,
      vtcDialString: "room101@video.contoso.example",
      notBefore: "2025-03-04T08:58:00.000Z",
      notAfter: "2025-03-04T09:30:00.000Z",
      teams: { meetingId: "228859003479315", passcode: "Xy7pQ2" },
    });
    expect((await session(key))?.state).toBe("lobby");
    expect(device.ui.at(-1)).toMatchObject({ kind: "alert-display", title: "Quarterly review", text: "Waiting to be admitted to Quarterly review…" });
    await run("2025-03-04T08:59:30.000Z");
    const admitted = await session(key);
    expect(admitted).toMatchObject({ state: "admitted", externalId: created!.id, attempts: 1 });
    expect(device.ui.at(-1)).toMatchObject({ kind: "alert-display", text: "Admitted" });
    await run("2025-03-04T09:30:00.000Z");
    expect((await session(key))?.state).toBe("ended");
    // Both sides end it at notAfter: the bridge by itself, or otj's stop request, whichever comes first.
    expect(created!.state).toBe("ended");
    expect(device.ui.at(-1)?.kind).toBe("alert-clear");
    const log = await events(key);
    expect(log.slice(0, 4)).toEqual([
      "bridge.scheduled: session scheduled for 2025-03-04T08:58:00.000Z",
      "bridge.starting: start requested",
      "bridge.lobby: bridge reported lobby",
      "bridge.admitted: bridge reported admitted",
    ]);
    expect(log.slice(4)).toEqual([expect.stringMatching(/^bridge\.ended: (meeting over|bridge reported ended: notAfter reached)$/)]);
  });

  it("sendAheadMs: the request leaves that long before notBefore, the bridge joins at notBefore", async () => {
    wire(makeScheduler({ sendAheadMs: 2_000 }));
    bridgeEmu.plan = () => ({ kind: "admit", afterMs: 60_000 });
    const key = await upsert(MEETING);
    await sync();
    await run("2025-03-04T08:57:55.000Z");
    expect((await session(key))?.state).toBe("scheduled");
    // The statement runs preStartMs (2 s) before the request, the request 2 s before notBefore.
    await run("2025-03-04T08:57:56.000Z");
    expect((await session(key))?.state).toBe("starting");
    expect(bridgeEmu.creates).toBe(0);
    await run("2025-03-04T08:57:58.000Z");
    expect(bridgeEmu.creates).toBe(1);
    const [created] = [...bridgeEmu.sessions.values()];
    expect(created!.createdAt).toBe(Date.parse("2025-03-04T08:57:58.000Z"));
    expect(created!.request.notBefore).toBe("2025-03-04T08:58:00.000Z");
    await run("2025-03-04T08:57:59.999Z");
    expect(bridgeEmu.callbacksSent.map((c) => c.state)).toEqual([]);
    expect((await session(key))?.state).toBe("starting");
    await run("2025-03-04T08:58:00.000Z");
    expect(bridgeEmu.callbacksSent.map((c) => c.state)).toEqual(["joining", "lobby"]);
    expect((await session(key))?.state).toBe("lobby");
  });

  it("sendAheadMs: a meeting cancelled after its request left is stopped before the bridge joins", async () => {
    wire(makeScheduler({ sendAheadMs: 2_000 }));
    bridgeEmu.plan = () => ({ kind: "admit", afterMs: 60_000 });
    const key = await upsert(MEETING);
    await sync();
    await run("2025-03-04T08:57:58.000Z");
    expect(bridgeEmu.creates).toBe(1);
    await run("2025-03-04T08:57:59.000Z");
    await upsert({ ...MEETING, cancelled: true });
    await sync();
    expect(await session(key)).toMatchObject({ state: "cancelled", endedReason: "meeting cancelled" });
    expect([...bridgeEmu.sessions.values()][0]!.stoppedAt).toBe(Date.parse("2025-03-04T08:57:59.000Z"));
    await run("2025-03-04T09:31:00.000Z");
    // Never joined: no joining, lobby or admitted; the one callback is the end.
    expect(bridgeEmu.callbacksSent.map((c) => c.state)).toEqual(["ended"]);
    expect(bridgeEmu.creates).toBe(1);
  });

  it("sendAheadMs: a meeting cancelled before its request left gets no request at all", async () => {
    wire(makeScheduler({ sendAheadMs: 2_000 }));
    const key = await upsert(MEETING);
    await sync();
    await run("2025-03-04T08:57:57.000Z");
    expect((await session(key))?.state).toBe("starting");
    await upsert({ ...MEETING, cancelled: true });
    await sync();
    await run("2025-03-04T09:31:00.000Z");
    expect((await session(key))?.state).toBe("cancelled");
    expect(bridgeEmu.creates).toBe(0);
    expect(bridgeEmu.bodies).toEqual([]);
  });

  it("records a denial and tells the room", async () => {
    bridgeEmu.plan = () => ({ kind: "deny", afterMs: 120_000 });
    const key = await upsert(MEETING);
    await sync();
    await run("2025-03-04T09:01:00.000Z");
    expect(await session(key)).toMatchObject({ state: "denied", endedReason: "bridge reported denied: the organizer denied entry" });
    expect(device.ui.map((u) => u.text ?? u.kind)).toEqual(["Waiting to be admitted to Quarterly review…", "Not admitted"]);
    expect(bridgeEmu.creates).toBe(1);
  });

  it("times out in the lobby: hangs up and tells the room", async () => {
    bridgeEmu.plan = () => ({ kind: "never" });
    const key = await upsert({ ...MEETING, end: "2025-03-04T10:00:00.000Z" });
    await sync();
    await run("2025-03-04T09:12:59.000Z");
    expect((await session(key))?.state).toBe("lobby");
    await run("2025-03-04T09:13:00.000Z");
    const s = await session(key);
    expect(s).toMatchObject({ state: "timeout", endedReason: "nobody admitted the room before the lobby timeout" });
    expect([...bridgeEmu.sessions.values()][0]!.stoppedAt).toBe(Date.parse("2025-03-04T09:13:00.000Z"));
    expect(device.ui.at(-1)).toMatchObject({ text: "Nobody admitted the room" });
  });

  it("still in the lobby when the meeting ends: hangs up at notAfter", async () => {
    bridgeEmu.plan = () => ({ kind: "never" });
    const key = await upsert({ ...MEETING, end: "2025-03-04T09:05:00.000Z" });
    await sync();
    await run("2025-03-04T09:05:00.000Z");
    expect(await session(key)).toMatchObject({ state: "timeout", endedReason: "meeting over while waiting in the lobby" });
    expect([...bridgeEmu.sessions.values()][0]!.stoppedAt).toBe(Date.parse("2025-03-04T09:05:00.000Z"));
  });

  it("a meeting cancelled while the room waits in the lobby stops the bridge", async () => {
    bridgeEmu.plan = () => ({ kind: "never" });
    const key = await upsert(MEETING);
    await sync();
    await run("2025-03-04T08:59:00.000Z");
    expect((await session(key))?.state).toBe("lobby");
    await upsert({ ...MEETING, cancelled: true });
    await sync();
    expect(await session(key)).toMatchObject({ state: "cancelled", endedReason: "meeting cancelled" });
    expect([...bridgeEmu.sessions.values()][0]!.stoppedAt).toBe(Date.parse("2025-03-04T08:59:00.000Z"));
    expect(device.ui.at(-1)?.kind).toBe("alert-clear");
    await run("2025-03-04T09:31:00.000Z");
    expect(bridgeEmu.creates).toBe(1);
  });

  it("a moved occurrence reschedules; a moved single meeting withdraws the old session", async () => {
    const series = { uid: "series-1", recurrenceId: "2025-03-04T09:00:00.000Z", start: "2025-03-04T09:00:00.000Z", end: "2025-03-04T09:30:00.000Z" };
    const seriesKey = await upsert(series);
    const singleKey = await upsert({ uid: "single-1", start: "2025-03-04T11:00:00.000Z", end: "2025-03-04T11:30:00.000Z" });
    await sync();
    await run("2025-03-04T08:57:00.000Z");
    // The occurrence moves to 10:00 (same key), the single meeting to 12:00 (a new key).
    await upsert({ ...series, start: "2025-03-04T10:00:00.000Z", end: "2025-03-04T10:30:00.000Z" });
    await db.store.meetings.remove([singleKey]);
    const movedKey = await upsert({ uid: "single-1", start: "2025-03-04T12:00:00.000Z", end: "2025-03-04T12:30:00.000Z" });
    await sync();
    expect(await session(seriesKey)).toMatchObject({ state: "scheduled", dueAt: new Date("2025-03-04T09:58:00.000Z") });
    expect(await session(singleKey)).toMatchObject({ state: "cancelled", endedReason: "meeting removed from the calendar" });
    expect((await session(movedKey))?.dueAt).toEqual(new Date("2025-03-04T11:58:00.000Z"));
    await run("2025-03-04T09:30:00.000Z");
    expect(bridgeEmu.creates).toBe(0);
    await run("2025-03-04T09:58:00.000Z");
    expect(bridgeEmu.creates).toBe(1);
    expect(await events(seriesKey)).toContain("bridge.rescheduled: meeting moved: session now due 2025-03-04T09:58:00.000Z");
  });

  it("retries a 5xx with backoff, then starts exactly once", async () => {
    bridgeEmu.knobs.createFailures = 2;
    const key = await upsert(MEETING);
    await sync();
    await run("2025-03-04T08:58:00.000Z");
    expect(await session(key)).toMatchObject({ state: "scheduled", lastErrorCode: "OTJ_BRIDGE_UNAVAILABLE", dueAt: new Date("2025-03-04T08:58:05.000Z") });
    await run("2025-03-04T08:58:05.000Z");
    expect((await session(key))?.dueAt).toEqual(new Date("2025-03-04T08:58:15.000Z"));
    await run("2025-03-04T08:58:15.000Z");
    expect(await session(key)).toMatchObject({ state: "lobby", attempts: 3, lastErrorCode: null });
    expect(bridgeEmu.creates).toBe(3);
    expect(bridgeEmu.sessions.size).toBe(1);
    expect((await events(key)).filter((e) => e.includes("will retry"))).toHaveLength(2);
  });

  it("a final refusal fails the session", async () => {
    bridgeEmu.knobs.rejectCreateStatus = 422;
    const key = await upsert(MEETING);
    await sync();
    await run("2025-03-04T08:59:00.000Z");
    expect(await session(key)).toMatchObject({ state: "failed", lastErrorCode: "OTJ_BRIDGE_REJECTED" });
    expect(bridgeEmu.creates).toBe(1);
  });

  it("without a bridge adapter the session fails with OTJ_BRIDGE_NOT_CONFIGURED", async () => {
    wire(makeScheduler({ bridge: null, adapter: null }));
    const key = await upsert(MEETING);
    await sync();
    await run("2025-03-04T08:58:00.000Z");
    expect(await session(key)).toMatchObject({ state: "failed", lastErrorCode: "OTJ_BRIDGE_NOT_CONFIGURED" });
    const failed = await db.store.eventLog.list({ occurrenceKey: key, kind: "bridge.failed" });
    expect(failed[0]?.data).toMatchObject({ code: "OTJ_BRIDGE_NOT_CONFIGURED" });
  });

  it("late start: first seen after the start starts at once within lateStartSeconds, else is cancelled", async () => {
    clock.advanceTo(new Date("2025-03-04T09:02:00.000Z"));
    const soon = await upsert(MEETING);
    const late = await upsert({ uid: "uid-late", start: "2025-03-04T08:55:00.000Z", end: "2025-03-04T09:30:00.000Z" });
    await sync();
    expect((await session(soon))?.state).toBe("lobby");
    expect(bridgeEmu.creates).toBe(1);
    const cancelled = await session(late);
    expect(cancelled?.state).toBe("cancelled");
    expect(cancelled?.endedReason).toMatch(/first seen 420 s after the meeting started, later than bridge.lateStartSeconds \(300 s\)/);
  });

  it("a meeting no longer routed sgj, or declined, loses its session", async () => {
    const a = await upsert(MEETING);
    const b = await upsert({ uid: "uid-2", start: "2025-03-04T10:00:00.000Z", end: "2025-03-04T10:30:00.000Z" });
    await sync();
    await upsert({ ...MEETING, route: "cvi" });
    await upsert({ uid: "uid-2", start: "2025-03-04T10:00:00.000Z", end: "2025-03-04T10:30:00.000Z", declined: true });
    await sync();
    expect((await session(a))?.endedReason).toBe("meeting no longer routed sgj (now cvi)");
    expect((await session(b))?.endedReason).toBe("the room declined the meeting");
  });

  it("shutdown releases claims and leaves live sessions running (no DELETE)", async () => {
    bridgeEmu.plan = () => ({ kind: "never" });
    const key = await upsert(MEETING);
    await upsert({ uid: "uid-2", start: "2025-03-04T09:01:00.000Z", end: "2025-03-04T09:30:00.000Z" });
    await sync();
    await run("2025-03-04T08:58:30.000Z");
    expect(scheduler.armedCount).toBe(1);
    await scheduler.shutdown();
    expect((await session(key))?.state).toBe("lobby");
    expect([...bridgeEmu.sessions.values()][0]!.stoppedAt).toBeNull();
    expect(bridgeEmu.bodies.filter((b) => b === "")).toEqual([]);
    expect((await db.store.bridgeSessions.list()).every((s) => s.leaseOwner === null)).toBe(true);
  });
});

describe("bridge callbacks", () => {
  it("rejects bad signatures (401), unknown sessions (404), skewed clocks (400); ignores duplicates", async () => {
    bridgeEmu.plan = () => ({ kind: "never" });
    bridgeEmu.knobs.badSignatures = true;
    const key = await upsert(MEETING);
    await sync();
    await run("2025-03-04T08:58:00.000Z");
    expect(receiver.statuses.map((s) => s.status)).toEqual([401, 401]);
    expect((await session(key))?.state).toBe("starting");

    const s = (await session(key))!;
    const send = (body: object, secret = SECRET) => {
      const raw = JSON.stringify(body);
      return callbacks.handleBridgeCallback(raw, signBody(secret, raw));
    };
    const at = clock.now().toISOString();
    expect((await send({ sessionId: s.sessionId, state: "lobby", at }, "wrong")).status).toBe(401);
    expect((await callbacks.handleBridgeCallback(JSON.stringify({ sessionId: s.sessionId, state: "lobby", at }), undefined)).status).toBe(401);
    expect((await send({ sessionId: "sgj_000000000000", state: "lobby", at })).status).toBe(404);
    expect((await send({ sessionId: s.sessionId, state: "lobby", at: "2025-03-04T08:52:59.000Z" })).status).toBe(400);
    expect((await send({ sessionId: s.sessionId, state: "nonsense", at })).status).toBe(400);
    expect((await send({ sessionId: s.sessionId, state: "lobby", at })).status).toBe(204);
    expect((await send({ sessionId: s.sessionId, state: "lobby", at })).status).toBe(204);
    expect((await send({ sessionId: s.sessionId, state: "joining", at })).status).toBe(204);
    await callbacks.idle();
    expect((await session(key))?.state).toBe("lobby");
    expect((await events(key)).filter((e) => e.startsWith("bridge.lobby"))).toHaveLength(1);
    expect(device.ui.filter((u) => u.kind === "alert-display")).toHaveLength(1);
  });

  it("duplicate and out-of-order deliveries change nothing", async () => {
    bridgeEmu.plan = () => ({ kind: "admit", afterMs: 30_000 });
    bridgeEmu.knobs.duplicateCallbacks = true;
    const key = await upsert(MEETING);
    await sync();
    await run("2025-03-04T08:59:00.000Z");
    expect((await session(key))?.state).toBe("admitted");
    expect(receiver.statuses.every((s) => s.status === 204)).toBe(true);
    expect(receiver.statuses.length).toBe(6);
    expect((await events(key)).filter((e) => /bridge\.(lobby|admitted)/.test(e))).toHaveLength(2);
  });
});
