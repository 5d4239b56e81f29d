/**
 * The Graph guest-join adapter end to end: GraphMediaBridge through the real Graph SDK client to
 * the Graph emulator's calls API, JWT-signed call notifications into BridgeCallbacks over real
 * HTTP (keys from the emulator's OpenID document), the scheduler on real PostgreSQL, and the
 * room's notices at the Cisco device emulator. Fake clock, no sleeps.
 */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { GraphMediaBridge, guestIdFor, parseCallView } from "../../bridge/adapters/graph-media-bridge.ts";
import { BridgeScheduler } from "../../bridge/bridge-scheduler.ts";
import { BridgeCallbacks } from "../../bridge/callbacks.ts";
import { DeviceNotifier } from "../../bridge/device-notice.ts";
import { GraphCallJwtVerifier } from "../../bridge/graph-call-jwt.ts";
import { GraphClient } from "../../calendar/graph/graph-client.ts";
import type { Room } from "../../core/ports/store.ts";
import { CiscoDeviceEmulator } from "../../emulators/cisco-device/cisco-device-emulator.ts";
import { GraphEmulator } from "../../emulators/graph/graph-emulator.ts";
import { XapiDevicePusher } from "../../join/pushers/xapi-device-pusher.ts";
import { FakeClock } from "../support/fake-clock.ts";
import { testStoreForFile } from "../support/file-test-store.ts";
import { CallbackReceiver, meetingRow, type MeetingSpec, runUntil, seedRoom, settle, teamsJoin, schedulerSettings } from "./bridge-harness.ts";

const MEETING: MeetingSpec = { uid: "graph-1", start: "2025-03-04T09:00:00.000Z", end: "2025-03-04T09:30:00.000Z" };

const db = testStoreForFile();
let clock: FakeClock;
let graph: GraphEmulator;
let device: CiscoDeviceEmulator;
let receiver: CallbackReceiver;
let scheduler: BridgeScheduler;
let callbacks: BridgeCallbacks;
let room: Room;

beforeEach(async () => {
  await db.truncate();
  clock = new FakeClock("2025-03-04T08:00:00.000Z");
  graph = await GraphEmulator.start({ seed: "calls", clock });
  device = new CiscoDeviceEmulator();
  await device.start();
  receiver = new CallbackReceiver();
  await receiver.start();
  room = await seedRoom(db.store, clock.now(), { deviceUrl: device.url });
  const client = new GraphClient(
    { tenantId: graph.tenantId, clientId: graph.clientId, clientSecret: graph.clientSecret, baseUrl: graph.url, authorityUrl: graph.url },
    { clock },
  );
  scheduler = new BridgeScheduler({
    store: db.store,
    clock,
    bridge: new GraphMediaBridge(client, { tenantId: graph.tenantId, callbackUri: `${receiver.url}/v1/callbacks/graph-calls` }),
    adapter: "graph",
    assumeLobbyAfterMs: 15_000,
    settings: schedulerSettings(receiver.url),
    notifier: new DeviceNotifier({ store: db.store, pusher: new XapiDevicePusher(), clock }),
  });
  const jwt = new GraphCallJwtVerifier({ issuer: graph.calls.issuer, audience: graph.clientId, openIdConfigUrl: `${graph.url}/_emulator/openid` }, { clock });
  callbacks = new BridgeCallbacks({ actions: scheduler.actions, hmacSecret: null, graphJwt: jwt });
  receiver.callbacks = callbacks;
});

afterEach(async () => {
  scheduler.abandon();
  await scheduler.idle();
  await graph.stop();
  await receiver.stop();
  await device.stop();
});

const activity = () => graph.calls.bodies.length + graph.calls.notifications.length + receiver.statuses.length + device.ui.length + graph.calls.deletes;
const settleAll = () => settle(clock, [scheduler, graph.calls, callbacks], activity);
const run = (to: string) => runUntil(clock, to, [scheduler], settleAll);
const graphStatuses = () => receiver.statuses.filter((s) => s.path === "/v1/callbacks/graph-calls").map((s) => s.status);

async function start(spec: MeetingSpec = MEETING): Promise<string> {
  const row = meetingRow(room, spec);
  await db.store.meetings.upsert([row], clock.now());
  await scheduler.syncRoom(room.id, clock.now());
  return row.occurrenceKey;
}

const session = (key: string) => db.store.bridgeSessions.get(key);

describe("GraphMediaBridge with the Graph emulator", () => {
  it("joins as a guest, waits in the lobby, is admitted, and hangs up at the end", async () => {
    graph.calls.plan = () => ({ kind: "admit", afterMs: 60_000 });
    const key = await start();
    await run("2025-03-04T08:58:00.000Z");
    expect(graph.calls.creates).toBe(1);
    const body = JSON.parse(graph.calls.bodies[0]!);
    const s = await session(key);
    expect(body).toMatchObject({
      "@odata.type": "#microsoft.graph.call",
      callbackUri: `${receiver.url}/v1/callbacks/graph-calls`,
      mediaConfig: { "@odata.type": "#microsoft.graph.serviceHostedMediaConfig" },
      source: { identity: { guest: { displayName: "Room 101", id: guestIdFor(s!.sessionId) } } },
      meetingInfo: { "@odata.type": "#microsoft.graph.joinMeetingIdMeetingInfo", joinMeetingId: "228859003479315", passcode: "Xy7pQ2" },
      tenantId: "c0ffee00-1111-2222-3333-444455556666",
    });
    expect(graph.calls.bodies.join("\n")).not.toMatch(/bypass/i);
    expect(s).toMatchObject({ state: "lobby", adapter: "graph", externalId: [...graph.calls.calls.keys()][0] });
    expect(device.ui.at(-1)).toMatchObject({ text: "Waiting to be admitted to Quarterly review…" });
    await run("2025-03-04T08:59:00.000Z");
    expect((await session(key))?.state).toBe("admitted");
    expect(device.ui.at(-1)).toMatchObject({ text: "Admitted" });
    await run("2025-03-04T09:30:00.000Z");
    expect((await session(key))?.state).toBe("ended");
    expect(graph.calls.deletes).toBe(1);
    expect([...graph.calls.calls.values()][0]!.state).toBe("terminated");
    expect(graphStatuses().every((status) => status === 202)).toBe(true);
  });

  it("a meeting extended while the room is in it: the call leaves at the new end", async () => {
    graph.calls.plan = () => ({ kind: "admit", afterMs: 30_000 });
    const key = await start();
    await run("2025-03-04T09:10:00.000Z");
    await start({ ...MEETING, end: "2025-03-04T09:45:00.000Z" });
    await run("2025-03-04T09:30:00.000Z");
    expect(await session(key)).toMatchObject({ state: "admitted", notAfter: new Date("2025-03-04T09:45:00.000Z") });
    await run("2025-03-04T09:45:00.000Z");
    expect((await session(key))?.state).toBe("ended");
    expect(graph.calls.deletes).toBe(1);
  });

  it("a denial terminates the call: denied, and the room is told", async () => {
    graph.calls.plan = () => ({ kind: "deny", afterMs: 60_000 });
    const key = await start();
    await run("2025-03-04T08:59:30.000Z");
    const s = await session(key);
    expect(s?.state).toBe("denied");
    expect(s?.endedReason).toMatch(/resultInfo 403\/5855/);
    expect(device.ui.at(-1)).toMatchObject({ text: "Not admitted" });
    expect(graph.calls.deletes).toBe(0);
  });

  it("nobody admits: otj hangs up at the lobby timeout; stale roster replays are dropped", async () => {
    graph.calls.plan = () => ({ kind: "never" });
    graph.calls.knobs.replayStaleRoster = true;
    const key = await start({ ...MEETING, end: "2025-03-04T10:00:00.000Z" });
    await run("2025-03-04T09:12:59.000Z");
    expect((await session(key))?.state).toBe("lobby");
    await run("2025-03-04T09:13:00.000Z");
    expect((await session(key))?.state).toBe("timeout");
    expect(graph.calls.deletes).toBe(1);
    expect(device.ui.at(-1)).toMatchObject({ text: "Nobody admitted the room" });
  });

  it("reads rosters by sequence number: a stale 'in lobby' after admission changes nothing", async () => {
    graph.calls.plan = () => ({ kind: "admit", afterMs: 30_000 });
    graph.calls.knobs.replayStaleRoster = true;
    const key = await start();
    await run("2025-03-04T08:59:00.000Z");
    expect(graph.calls.notifications.filter((n) => n.state === "stale")).toHaveLength(1);
    const s = await session(key);
    expect(s?.state).toBe("admitted");
    expect(parseCallView(s!.lastCallbackState)).toEqual({ call: "established", rosterSeq: 2, inLobby: false });
  });

  it("rejects notifications with a bad JWT (401); a call still establishing after 15 s counts as the lobby", async () => {
    graph.calls.plan = () => ({ kind: "never" });
    graph.calls.knobs.badJwt = true;
    const key = await start();
    await run("2025-03-04T08:58:00.000Z");
    expect(graphStatuses()).toEqual([401, 401]);
    expect((await session(key))?.state).toBe("starting");
    await run("2025-03-04T08:58:15.000Z");
    const s = await session(key);
    expect(s?.state).toBe("lobby");
    expect((await db.store.eventLog.list({ occurrenceKey: key, kind: "bridge.lobby" }))[0]?.message).toBe(
      "bridge reported lobby: still establishing after 15 s",
    );
    const forged = graph.calls.signJwt({ aud: "someone-else" });
    expect((await callbacks.handleGraphCallsCallback({ authorization: `Bearer ${forged}` }, { value: [] })).status).toBe(401);
    const expired = graph.calls.signJwt({ exp: Math.floor(clock.now().getTime() / 1000) - 3600 });
    expect((await callbacks.handleGraphCallsCallback({ Authorization: `Bearer ${expired}` }, { value: [] })).status).toBe(401);
    expect((await callbacks.handleGraphCallsCallback({}, { value: [] })).status).toBe(401);
    expect((await callbacks.handleGraphCallsCallback({ authorization: `Bearer ${graph.calls.signJwt()}` }, { value: [] })).status).toBe(202);
  });

  it("fetches the keys again when the signing key rotates (unknown kid)", async () => {
    graph.calls.plan = () => ({ kind: "admit", afterMs: 60_000 });
    const key = await start();
    await run("2025-03-04T08:58:30.000Z");
    expect((await session(key))?.state).toBe("lobby");
    graph.calls.rotateSigningKey();
    await run("2025-03-04T08:59:00.000Z");
    expect((await session(key))?.state).toBe("admitted");
    expect(graphStatuses().every((status) => status === 202)).toBe(true);
  });

  it("uses organizerMeetingInfo + chatInfo from the classic URL when no meeting ID is printed; retries a 503", async () => {
    graph.calls.knobs.createFailures = 1;
    await start({ ...MEETING, join: teamsJoin({ meetingId: null, passcode: null }) });
    await run("2025-03-04T08:58:05.000Z");
    expect(graph.calls.creates).toBe(2);
    expect(graph.calls.calls.size).toBe(1);
    const body = JSON.parse(graph.calls.bodies[1]!);
    expect(body.chatInfo).toEqual({ "@odata.type": "#microsoft.graph.chatInfo", threadId: "19:meeting_Zm9vYmFy@thread.v2", messageId: "0" });
    expect(body.meetingInfo).toEqual({
      "@odata.type": "#microsoft.graph.organizerMeetingInfo",
      organizer: {
        "@odata.type": "#microsoft.graph.identitySet",
        user: { "@odata.type": "#microsoft.graph.identity", id: "abcd0000-1111-2222-3333-444455556666", tenantId: "c0ffee00-1111-2222-3333-444455556666" },
      },
    });
    expect(body.tenantId).toBe("c0ffee00-1111-2222-3333-444455556666");
  });

  it("notifications that overtake the create reply are kept and replayed once the call id is recorded", async () => {
    const key = await start();
    const s = (await session(key))!;
    const early = {
      value: [
        {
          changeType: "updated",
          resourceUrl: "/communications/calls/early-call/participants",
          resourceData: [
            { id: "p1", isInLobby: true, rosterSequenceNumber: 1, info: { identity: { guest: { id: guestIdFor(s.sessionId), displayName: "Room 101" } } } },
          ],
        },
      ],
    };
    expect((await callbacks.handleGraphCallsCallback({ authorization: `Bearer ${graph.calls.signJwt()}` }, early)).status).toBe(202);
    await callbacks.idle();
    expect((await session(key))?.state).toBe("scheduled");
    await scheduler.actions.apply(key, { type: "start" });
    const recorded = (await scheduler.actions.patchLive(key, { externalId: "early-call" }))!;
    scheduler.actions.externalIdRecorded(recorded, "early-call");
    await callbacks.idle();
    expect((await session(key))?.state).toBe("lobby");
  });

  it("a tenant that refuses the app (403) fails the session", async () => {
    graph.calls.knobs.rejectStatus = 403;
    const key = await start();
    await run("2025-03-04T08:58:00.000Z");
    expect(await session(key)).toMatchObject({ state: "failed", lastErrorCode: "OTJ_BRIDGE_REJECTED" });
  });
});
