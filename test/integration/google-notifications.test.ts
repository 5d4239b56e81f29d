/**
 * Google change notifications end to end: the real engine (app/main.ts) on real PostgreSQL,
 * listening on HTTP, with the Google emulator over HTTP. The engine opens an `events.watch`
 * channel per Google room; a change in the emulator makes the emulator call the engine's
 * notification route, and the room is polled at once (long before its poll interval). A forged
 * token is refused; the channel is re-created before it expires (injected clock), re-created
 * after a restart when it expired meanwhile, and stopped when the room is removed.
 */
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { Engine } from "../../app/main.ts";
import { resolveConfig } from "../../core/config.ts";
import { createLogger } from "../../core/logger.ts";
import { ManualClock } from "../../core/manual-clock.ts";
import { GoogleEmulator } from "../../emulators/google/google-emulator.ts";
import { createTestPostgres, type TestPostgres } from "../support/test-database.ts";

const ROOM = "c_oslo2@resource.calendar.google.com";
const DAY = 86_400_000;
const at = (hhmm: string) => `2026-12-08T${hhmm}:00.000Z`;

let pg: TestPostgres;
let clock: ManualClock;
let google: GoogleEmulator;
let engine: Engine;
let roomId = "";

function newEngine(): Engine {
  const config = resolveConfig(
    {
      database: { url: pg.url },
      google: {
        serviceAccountKey: JSON.stringify(google.serviceAccountKey()),
        subject: google.subjects[0]!,
        apiRoot: google.url,
        tokenUrl: google.tokenUrl,
        notifications: { enabled: true },
      },
      http: { host: "127.0.0.1", port: 0 },
      // Ten minutes between polls: a notification must not wait for them.
      poll: { intervalSeconds: 600, windowPastHours: 2, windowFutureDays: 2 },
      log: { level: "silent" },
      // One failed channel is enough for OTJ_NOTIFICATIONS_FAILING (the throttling case below).
      alarms: { pollFailuresBeforeAlarm: 1 },
    },
    { env: {}, cwd: process.cwd() },
  );
  return new Engine({ config, clock, logger: createLogger("silent"), cwd: process.cwd(), ticks: false });
}

const reconcile = () => engine.googleChannels!.reconcile(AbortSignal.timeout(30_000));
const notify = (headers: Record<string, string>) => fetch(`http://127.0.0.1:${engine.port}/v1/notifications/google`, { method: "POST", headers });

beforeAll(async () => {
  pg = await createTestPostgres("google_notify");
  clock = new ManualClock(at("07:30"));
  google = await GoogleEmulator.start({ clock });
  google.addRoom({ email: ROOM, name: "Oslo-2" });
  engine = newEngine();
  await engine.start(true);
  await engine.store.providers.add({ partner: "cisco", name: "webex", tenantKey: "acme@m.webex.com" }, clock.now());
  roomId = (await engine.store.rooms.add({ mailbox: ROOM, displayName: "Oslo-2", provider: "webex", deviceFamily: "pull", source: "google" }, clock.now())).room
    .id;
  await engine.workflows.step();
  await engine.poller!.idle();
}, 60_000);

afterAll(async () => {
  await engine?.stop().catch(() => undefined);
  await google?.stop();
  await pg?.drop();
});

describe("Google change notifications", () => {
  it("opens one channel per Google room at the engine's notification URL; Google's sync message is acknowledged", async () => {
    const report = await reconcile();
    expect(report.outcomes.map((o) => o.action)).toEqual(["created"]);
    const [channel] = google.channels();
    expect(channel).toMatchObject({ calendar: ROOM, expiration: clock.now().getTime() + 7 * DAY });
    await vi.waitFor(() => expect(google.notifications.find((n) => n.channelId === channel!.id)?.status).toBe(200));
    expect(google.notifications[0]!.state).toBe("sync");
    // A second run has nothing to do.
    expect((await reconcile()).outcomes).toEqual([]);
  });

  it("an event change in Google notifies the engine and the room is polled at once, before its interval", async () => {
    const cursor = await engine.store.syncCursors.get(roomId);
    expect(cursor!.dueAt.getTime()).toBeGreaterThan(clock.now().getTime());
    google.addEvent(ROOM, {
      id: "evtnotified",
      summary: "Board call",
      start: at("09:00"),
      end: at("09:30"),
      hangoutLink: "https://meet.google.com/abc-defg-hij",
    });
    // The clock stands still: only the notification can make the room due now.
    await vi.waitFor(async () => {
      await engine.poller!.idle();
      expect((await engine.store.meetings.list(roomId)).map((m) => m.sourceEventId)).toContain("evtnotified");
    });
    expect(google.notifications.at(-1)).toMatchObject({ state: "exists", status: 200 });
  });

  it("refuses a forged token, an unknown channel and a post without Google's headers, and changes nothing", async () => {
    await engine.poller!.idle();
    const [channel] = google.channels();
    const dueBefore = (await engine.store.syncCursors.get(roomId))!.dueAt.getTime();
    const forged = await notify({ "X-Goog-Channel-ID": channel!.id, "X-Goog-Resource-State": "exists", "X-Goog-Channel-Token": "forged" });
    expect(forged.status).toBe(403);
    const unknown = await notify({ "X-Goog-Channel-ID": "no-such-channel", "X-Goog-Resource-State": "exists", "X-Goog-Channel-Token": "x" });
    expect(unknown.status).toBe(403);
    const noToken = await notify({ "X-Goog-Channel-ID": channel!.id, "X-Goog-Resource-State": "exists" });
    expect(noToken.status).toBe(403);
    expect((await notify({})).status).toBe(400);
    // Google's sync message can arrive before otj has recorded the channel it just opened: it is
    // acknowledged and changes nothing. On a known channel a wrong token is refused all the same.
    const early = await notify({ "X-Goog-Channel-ID": "channel-not-recorded-yet", "X-Goog-Resource-State": "sync", "X-Goog-Channel-Token": "x" });
    expect(early.status).toBe(200);
    const forgedSync = await notify({ "X-Goog-Channel-ID": channel!.id, "X-Goog-Resource-State": "sync", "X-Goog-Channel-Token": "forged" });
    expect(forgedSync.status).toBe(403);
    expect((await engine.store.syncCursors.get(roomId))!.dueAt.getTime()).toBe(dueBefore);
  });

  it("re-creates the channel before it expires (a new channel, the old one stopped)", async () => {
    const [old] = google.channels();
    clock.advance(5 * DAY);
    expect((await reconcile()).outcomes).toEqual([]);
    clock.advance(DAY);
    const report = await reconcile();
    expect(report.outcomes.map((o) => o.action)).toEqual(["renewed"]);
    const channels = google.channels();
    expect(channels).toHaveLength(1);
    expect(channels[0]!.id).not.toBe(old!.id);
    expect(channels[0]!.expiration).toBe(clock.now().getTime() + 7 * DAY);
  });

  it("after a restart, a channel that expired meanwhile is opened again", async () => {
    await engine.stop();
    clock.advance(8 * DAY);
    engine = newEngine();
    await engine.start(true);
    const report = await reconcile();
    expect(report.outcomes.map((o) => o.action)).toEqual(["created"]);
    const live = google.channels().filter((c) => c.expiration > clock.now().getTime());
    expect(live).toHaveLength(1);
    const [channel] = live;
    await vi.waitFor(() => expect(google.notifications.find((n) => n.channelId === channel!.id)?.status).toBe(200));
  });

  it("a throttling answer ends the run (the other rooms wait for the next one); the throttled room is retried after a backoff", async () => {
    for (const mailbox of ["c_a@resource.calendar.google.com", "c_b@resource.calendar.google.com"]) {
      google.addRoom({ email: mailbox, name: mailbox });
      await engine.store.rooms.add({ mailbox, displayName: mailbox, provider: "webex", deviceFamily: "pull", source: "google" }, clock.now());
    }
    google.failNext("rateLimitExceeded");
    const throttled = await reconcile();
    expect(throttled.stoppedEarly).toBe("throttled");
    expect(throttled.outcomes.map((o) => [o.action, o.code])).toEqual([["failed", "OTJ_GOOGLE_THROTTLED"]]);
    // The engine's alarm evaluator sees the failing channel (alarms.pollFailuresBeforeAlarm: 1).
    const notificationAlarms = async () =>
      (await engine.store.alarms.listOpen()).filter((a) => a.code === "OTJ_NOTIFICATIONS_FAILING").map((a) => [a.subject, a.message.split(";")[0]]);
    await engine.workflows.step();
    expect(await notificationAlarms()).toEqual([
      ["google-channels", "1 room(s): Google events.watch channels failing (last: OTJ_GOOGLE_THROTTLED: events.watch: HTTP 403 rateLimitExceeded)"],
    ]);
    const next = await reconcile();
    expect(next.outcomes.map((o) => o.action)).toEqual(["created"]);
    expect(next.outcomes[0]!.mailbox).not.toBe(throttled.outcomes[0]!.mailbox);
    clock.advance(2 * 60_000);
    const retried = await reconcile();
    expect(retried.outcomes.map((o) => [o.mailbox, o.action])).toEqual([[throttled.outcomes[0]!.mailbox, "created"]]);
    await engine.workflows.step();
    expect(await notificationAlarms()).toEqual([]);
  });

  it("stops the channel when the room is removed, and when a room moves to another source", async () => {
    const [channel] = google.channels().filter((c) => c.calendar === ROOM && c.expiration > clock.now().getTime());
    const moved = google.channels().find((c) => c.calendar === "c_a@resource.calendar.google.com")!;
    await engine.store.rooms.remove(roomId);
    await engine.store.rooms.update("c_a@resource.calendar.google.com", { source: "graph" }, clock.now());
    const report = await reconcile();
    expect(report.outcomes.map((o) => [o.mailbox, o.action]).sort()).toEqual([
      ["c_a@resource.calendar.google.com", "stopped"],
      [ROOM, "stopped"],
    ]);
    const open = google.channels().map((c) => c.id);
    expect(open).not.toContain(channel!.id);
    expect(open).not.toContain(moved.id);
    expect(google.calls.filter((c) => c.path === "/calendar/v3/channels/stop").length).toBeGreaterThanOrEqual(2);
    expect((await reconcile()).outcomes).toEqual([]);
  });
});
