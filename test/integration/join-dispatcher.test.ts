/** JoinDispatcher against the Cisco device emulator over real HTTP and real PostgreSQL. */
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import type { MeetingUpsert, Room } from "../../core/ports/store.ts";
import { CiscoDeviceEmulator } from "../../emulators/cisco-device/cisco-device-emulator.ts";
import { bookingId, DEFAULT_BOOKING_SETTINGS } from "../../join/device-bookings.ts";
import { JoinDispatcher } from "../../join/join-dispatcher.ts";
import { DEFAULT_XAPI_CONFIG, XapiDevicePusher } from "../../join/pushers/xapi-device-pusher.ts";
import { FakeClock } from "../support/fake-clock.ts";
import { openTestStore, type TestStore } from "../support/test-database.ts";
import { plannedMeeting } from "../support/planned-meeting.ts";

let db: TestStore;
let clock: FakeClock;
const devices: CiscoDeviceEmulator[] = [];

beforeAll(async () => {
  db = await openTestStore("postgres");
});
afterAll(async () => {
  await db.close();
});
beforeEach(async () => {
  await db.truncate();
  clock = new FakeClock("2025-03-04T08:00:00.000Z");
  await db.store.providers.add({ name: "webex", partner: "cisco", tenantKey: "contoso@m.webex.com" }, clock.now());
});
afterEach(async () => {
  await Promise.all(devices.splice(0).map((d) => d.stop()));
});

async function roomWithDevice(mailbox: string, password = "secret"): Promise<{ room: Room; device: CiscoDeviceEmulator }> {
  const device = new CiscoDeviceEmulator();
  await device.start();
  devices.push(device);
  const { room } = await db.store.rooms.add(
    {
      mailbox,
      displayName: mailbox.split("@")[0]!,
      provider: "webex",
      deviceFamily: "xapi",
      deviceAddress: device.url,
      deviceUsername: "admin",
      devicePassword: password,
    },
    clock.now(),
  );
  return { room, device };
}

function meeting(room: Room, key: string, minutesFromNow: number, extra: Partial<MeetingUpsert> = {}): MeetingUpsert {
  return plannedMeeting(room, key, clock.now(), minutesFromNow, {
    sourceEventId: `evt-${key}`,
    subject: `Meeting ${key}`,
    ivr: { address: "contoso@m.webex.com", dtmf: "1198563286#" },
    subjectShown: `Meeting ${key}`,
    contentHash: `h-${key}-${minutesFromNow}-${extra.cancelled ?? false}-${extra.subjectShown ?? ""}`,
    ...extra,
  });
}

/** `random` draws the backoff's jitter: 1 (the default here) is none, so the retry times below are exact. */
function dispatcher(timeoutMs = 2000, random = () => 1) {
  return new JoinDispatcher({
    store: db.store,
    pusher: new XapiDevicePusher({ ...DEFAULT_XAPI_CONFIG, timeoutMs }),
    clock,
    settings: DEFAULT_BOOKING_SETTINGS,
    baseBackoffMs: 30_000,
    random,
  });
}

describe("JoinDispatcher", () => {
  it("pushes on first change, does nothing when unchanged, re-pushes on update and withdraws cancelled meetings", async () => {
    const { room, device } = await roomWithDevice("room101@contoso.example");
    const d = dispatcher();
    const a = meeting(room, "a", 60);
    const b = meeting(room, "b", 120);
    await db.store.meetings.upsert([a, b], clock.now());
    await d.refreshRoom(room.id);
    expect(await d.tick()).toMatchObject({ claimed: 1, pushed: 1 });
    expect(device.bookings.map((x) => x.Id)).toEqual([bookingId(a.occurrenceKey), bookingId(b.occurrenceKey)]);
    expect(device.bookings[0]).toMatchObject({ Number: "1198563286.contoso@m.webex.com", Protocol: "SIP", Time: { StartTimeBuffer: 300, Duration: 30 } });

    await d.refreshRoom(room.id);
    expect(await d.tick()).toMatchObject({ claimed: 0 });
    expect(device.putCount).toBe(1);

    await db.store.meetings.upsert([{ ...b, subjectShown: "Renamed", contentHash: "h-b-renamed" }], clock.now());
    await d.refreshRoom(room.id);
    await d.tick();
    expect(device.putCount).toBe(2);
    expect(device.bookings[1]!.Title).toBe("Renamed");

    await db.store.meetings.upsert([{ ...a, cancelled: true, route: "none", dialString: null, contentHash: "h-a-cancelled" }], clock.now());
    await d.refreshRoom(room.id);
    await d.tick();
    expect(device.bookings.map((x) => x.Id)).toEqual([bookingId(b.occurrenceKey)]);
  });

  it("a change in one room re-pushes only that room's device", async () => {
    const one = await roomWithDevice("room1@contoso.example");
    const two = await roomWithDevice("room2@contoso.example");
    const d = dispatcher();
    await db.store.meetings.upsert([meeting(one.room, "x", 30), meeting(two.room, "y", 30)], clock.now());
    await d.refreshRoom(one.room.id);
    await d.refreshRoom(two.room.id);
    await d.tick();
    expect([one.device.putCount, two.device.putCount]).toEqual([1, 1]);
    await db.store.meetings.upsert([meeting(two.room, "z", 90)], clock.now());
    await d.refreshRoom(one.room.id);
    await d.refreshRoom(two.room.id);
    await d.tick();
    expect([one.device.putCount, two.device.putCount]).toEqual([1, 2]);
  });

  it("retries a device that is offline with backoff and catches up when it is back", async () => {
    const { room, device } = await roomWithDevice("room101@contoso.example");
    const d = dispatcher(500);
    await db.store.meetings.upsert([meeting(room, "a", 60)], clock.now());
    await d.refreshRoom(room.id);
    device.knobs.failStatus = 503;
    expect(await d.tick()).toMatchObject({ failed: 1 });
    let state = await db.store.deviceStates.get(room.id);
    expect(state).toMatchObject({ attempts: 1, lastErrorCode: "OTJ_DEVICE_UNREACHABLE" });
    expect(state!.dueAt!.getTime() - clock.now().getTime()).toBe(30_000);
    expect(await d.tick()).toMatchObject({ claimed: 0 });
    clock.advance(30_000);
    expect(await d.tick()).toMatchObject({ failed: 1 });
    state = await db.store.deviceStates.get(room.id);
    expect(state!.attempts).toBe(2);
    expect(state!.dueAt!.getTime() - clock.now().getTime()).toBe(60_000);
    device.knobs.failStatus = null;
    clock.advance(60_000);
    expect(await d.tick()).toMatchObject({ pushed: 1 });
    state = await db.store.deviceStates.get(room.id);
    expect(state).toMatchObject({ attempts: 0, lastErrorCode: null, failingSince: null });
    expect(device.bookings).toHaveLength(1);
  });

  it("spreads the retries of devices failing together (jitter from the injected random)", async () => {
    const { room, device } = await roomWithDevice("room101@contoso.example");
    const d = dispatcher(500, () => 0);
    await db.store.meetings.upsert([meeting(room, "a", 60)], clock.now());
    await d.refreshRoom(room.id);
    device.knobs.failStatus = 503;
    expect(await d.tick()).toMatchObject({ failed: 1 });
    const state = await db.store.deviceStates.get(room.id);
    // The lowest draw waits half the 30 s step.
    expect(state!.dueAt!.getTime() - clock.now().getTime()).toBe(15_000);
    device.knobs.failStatus = null;
  });

  it("bad credentials raise an alarm and are retried slowly", async () => {
    const { room, device } = await roomWithDevice("room101@contoso.example", "wrong-password");
    const d = dispatcher();
    await db.store.meetings.upsert([meeting(room, "a", 60)], clock.now());
    await d.refreshRoom(room.id);
    await d.tick();
    const state = await db.store.deviceStates.get(room.id);
    expect(state).toMatchObject({ lastErrorCode: "OTJ_DEVICE_AUTH", attempts: 1 });
    expect(state!.failingSince).not.toBeNull();
    expect(state!.dueAt!.getTime() - clock.now().getTime()).toBe(15 * 60_000);
    expect(device.bookings).toEqual([]);
    const events = await db.store.eventLog.list({ roomId: room.id, kind: "device.push-failed" });
    expect(events[0]!.message).toMatch(/^OTJ_DEVICE_AUTH/);
    expect(JSON.stringify(events)).not.toContain("wrong-password");
  });

  it("two dispatchers never push the same device at once", async () => {
    const { room, device } = await roomWithDevice("room101@contoso.example");
    const other = await db.openAnother();
    try {
      const d1 = dispatcher();
      const d2 = new JoinDispatcher({ store: other.store, pusher: new XapiDevicePusher(), clock, settings: DEFAULT_BOOKING_SETTINGS });
      await db.store.meetings.upsert([meeting(room, "a", 60)], clock.now());
      await d1.refreshRoom(room.id);
      const [r1, r2] = await Promise.all([d1.tick(), d2.tick()]);
      expect(r1.claimed + r2.claimed).toBe(1);
      expect(device.putCount).toBe(1);
    } finally {
      await other.close();
    }
  });
});

describe("JoinDispatcher and a room's delivery", () => {
  const TEAMS_URL =
    "https://teams.microsoft.com/l/meetup-join/19%3ameeting_Zm9v%40thread.v2/0?context=%7b%22Tid%22%3a%22c0ffee00-1111-4222-8333-444455556666%22%7d";
  const webrtcMeeting = (room: Room) =>
    meeting(room, "w", 60, {
      route: "webrtc",
      dialString: TEAMS_URL,
      ivr: null,
      rule: "teams-webrtc",
      join: { provider: "teams", url: TEAMS_URL, sipUri: null, teams: null },
    });

  it("never pushes to a room whose delivery is the macro, and pushes to one with both", async () => {
    const macroOnly = await roomWithDevice("macro@contoso.example");
    const both = await roomWithDevice("both@contoso.example");
    await db.store.rooms.update(macroOnly.room.id, { delivery: "macro" }, clock.now());
    await db.store.rooms.update(both.room.id, { delivery: "both" }, clock.now());
    const d = dispatcher();
    await db.store.meetings.upsert([meeting(macroOnly.room, "m", 60), meeting(both.room, "b", 60)], clock.now());
    await d.refreshRoom(macroOnly.room.id);
    await d.refreshRoom(both.room.id);
    await d.tick();
    expect(macroOnly.device.putCount).toBe(0);
    expect(both.device.putCount).toBe(1);
    expect((await db.store.deviceStates.get(macroOnly.room.id))?.lastErrorCode ?? null).toBeNull();
  });

  it("pushes a webrtc meeting without a Join button by default, and as Protocol WebRTC with devices.webrtcBookings", async () => {
    const { room, device } = await roomWithDevice("board@contoso.example");
    await db.store.meetings.upsert([webrtcMeeting(room)], clock.now());
    const off = dispatcher();
    await off.refreshRoom(room.id);
    await off.tick();
    expect(device.bookings[0]).toMatchObject({ Protocol: "None", Number: "", MeetingPlatform: "MicrosoftTeams" });

    const on = new JoinDispatcher({
      store: db.store,
      pusher: new XapiDevicePusher({ ...DEFAULT_XAPI_CONFIG, timeoutMs: 2000 }),
      clock,
      settings: { ...DEFAULT_BOOKING_SETTINGS, webrtcBookings: true },
      baseBackoffMs: 30_000,
    });
    await on.refreshRoom(room.id);
    await on.tick();
    expect(device.bookings[0]).toMatchObject({ Protocol: "WebRTC", Number: TEAMS_URL, MeetingPlatform: "MicrosoftTeams" });
  });
});
