/**
 * CalendarPoller against the Graph emulator over real HTTP (through the real Graph SDK) and real
 * PostgreSQL. One FakeClock drives the emulator, the source's retry waits (a sleeper that moves
 * the clock) and the store's times, so nothing sleeps.
 */

import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { CalendarPoller, type PollSettings, type RoundReport, type TickScheduler } from "../../calendar/calendar-poller.ts";
import { GraphCalendarSource } from "../../calendar/graph/graph-calendar-source.ts";
import type { Sleeper } from "../../calendar/request-retry.ts";
import { GraphClient } from "../../calendar/graph/graph-client.ts";
import { ConcurrencyGate } from "../../calendar/graph/request-gate.ts";
import type { OccurrenceSink } from "../../core/ports/occurrence-sink.ts";
import type { CalendarSource } from "../../core/ports/calendar-source.ts";
import { OtjError } from "../../core/errors.ts";
import { occurrenceKey } from "../../core/identities.ts";
import type { Room, Store, SyncCursorStore } from "../../core/ports/store.ts";
import { GraphEmulator } from "../../emulators/graph/graph-emulator.ts";
import { roomPlanner } from "../../join/room-planning.ts";
import { withOverrides } from "../support/delegate.ts";
import { FakeClock } from "../support/fake-clock.ts";
import { teamsHtmlV4 } from "../../emulators/invite-factory.ts";
import { testStoreForFile } from "../support/file-test-store.ts";

const ROOM = "room101@contoso.example";
const ROOM2 = "room102@contoso.example";
const POLL: PollSettings = { intervalSeconds: 60, windowPastHours: 24, windowFutureDays: 7, maxInFlight: 4, roundBudgetSeconds: 120 };
const CVI = { tenantKey: "contoso@m.webex.com", videoId: "1182453796" };

const db = testStoreForFile();
let clock: FakeClock;
let emu: GraphEmulator;
let sinkCalls: string[];
const pollers: CalendarPoller[] = [];

beforeEach(async () => {
  await db.truncate();
  clock = new FakeClock("2025-03-04T08:00:00.000Z");
  emu = await GraphEmulator.start({ seed: "poller", clock });
  sinkCalls = [];
  await db.store.providers.add({ name: "webex", partner: "cisco", tenantKey: CVI.tenantKey, sipDomain: "sgj.contoso.example" }, clock.now());
});
afterEach(async () => {
  for (const p of pollers.splice(0)) await p.stop(0);
  await emu.stop();
});

async function addRoom(mailbox: string, extra: Record<string, string> = {}, store: Store = db.store): Promise<Room> {
  emu.addRoom({ address: mailbox });
  const { room } = await store.rooms.add({ mailbox, displayName: mailbox.split("@")[0]!, provider: "webex", deviceFamily: "pull", ...extra }, clock.now());
  return room;
}

function makePoller(
  options: {
    store?: Store;
    sink?: OccurrenceSink;
    poll?: Partial<PollSettings>;
    scheduleTick?: TickScheduler;
    leaseBatch?: number;
    completeBatch?: number;
    completeDelayMs?: number;
    wrapSource?: (source: CalendarSource) => CalendarSource;
    batchSize?: number;
  } = {},
): CalendarPoller {
  const sleep: Sleeper = async (ms, signal) => {
    signal.throwIfAborted();
    clock.advance(ms);
  };
  const client = new GraphClient(
    { tenantId: emu.tenantId, clientId: emu.clientId, clientSecret: emu.clientSecret, baseUrl: emu.url, authorityUrl: emu.url },
    { clock, gate: new ConcurrencyGate({ perMailbox: 4, global: 16 }) },
  );
  const source = new GraphCalendarSource(
    { maxRetries: 2, ...(options.batchSize ? { batchSize: options.batchSize } : {}) },
    { client, clock, sleep, random: () => 0.5 },
  );
  const sink: OccurrenceSink = options.sink ?? {
    roomUpdated: async (roomId) => {
      sinkCalls.push(roomId);
    },
  };
  const poller = new CalendarPoller(
    {
      poll: { ...POLL, ...options.poll },
      planner: roomPlanner([]),
      ...(options.leaseBatch ? { leaseBatch: options.leaseBatch } : {}),
      ...(options.completeBatch ? { completeBatch: options.completeBatch } : {}),
      ...(options.completeDelayMs ? { completeDelayMs: options.completeDelayMs } : {}),
    },
    {
      store: options.store ?? db.store,
      source: options.wrapSource ? options.wrapSource(source) : source,
      clock,
      sink,
      random: () => 0.5,
      ...(options.scheduleTick ? { scheduleTick: options.scheduleTick } : {}),
    },
  );
  pollers.push(poller);
  return poller;
}

function teamsEvent(n: number, start: string, minutes = 30, extra: Record<string, unknown> = {}) {
  return {
    subject: `Review ${n}`,
    start,
    end: new Date(Date.parse(start) + minutes * 60_000).toISOString(),
    organizer: { name: "Ana Ruiz", address: "ana.ruiz@contoso.example" },
    body: { contentType: "html" as const, content: teamsHtmlV4({ threadKey: `poll-${n}`, meetingId: "35715924681234", passcode: "Hk4mN8pQ", cvi: CVI }, 500) },
    ...extra,
  };
}

function roomOutcome(report: RoundReport, roomId: string) {
  const o = report.rooms.find((r) => r.roomId === roomId);
  if (!o) throw new Error(`room ${roomId} not in the report`);
  return o;
}

/** `store` with some sync cursor methods replaced (the others, and internal calls, go to the real one). */
function withCursors(store: Store, patch: (real: SyncCursorStore) => Partial<SyncCursorStore>): Store {
  return withOverrides(store, { syncCursors: withOverrides(store.syncCursors, patch(store.syncCursors)) });
}

async function addQuietRooms(n: number): Promise<Room[]> {
  const rooms: Room[] = [];
  for (let i = 0; i < n; i++) {
    const mailbox = `q${String(i).padStart(2, "0")}@contoso.example`;
    rooms.push(await addRoom(mailbox));
    emu.addEvent(mailbox, teamsEvent(i, "2025-03-04T09:00:00Z"));
  }
  return rooms;
}

async function nextRound(poller: CalendarPoller): Promise<RoundReport> {
  clock.advance(POLL.intervalSeconds * 1000);
  return poller.runRound();
}

describe("CalendarPoller", () => {
  it("first sync stores every occurrence, planned, and calls the sink once", async () => {
    const room = await addRoom(ROOM);
    const single = emu.addEvent(ROOM, teamsEvent(1, "2025-03-04T09:00:00Z"))!;
    emu.addSeries(ROOM, { ...teamsEvent(2, "2025-03-03T08:00:00Z", 15), recurrence: { type: "daily", count: 5 } });
    const poller = makePoller();
    const report = await poller.runRound();
    const o = roomOutcome(report, room.id);
    expect(o).toMatchObject({ outcome: "ok", full: true, reason: "initial", added: 6, removed: 0 });
    expect(sinkCalls).toEqual([room.id]);
    const meetings = await db.store.meetings.list(room.id);
    expect(meetings).toHaveLength(6);
    const m = meetings.find((x) => x.sourceEventId === single.id)!;
    expect(m.occurrenceKey).toBe(occurrenceKey(ROOM, single.iCalUId, null, "2025-03-04T09:00:00.000Z"));
    expect(m).toMatchObject({ route: "cvi", dialString: "1182453796.contoso@m.webex.com", rule: "teams-cvi", subject: "Review 1", source: "graph" });
    expect(m.join?.teams?.passcode).toBe("Hk4mN8pQ");
    const series = meetings.filter((x) => x.seriesMasterId !== null);
    expect(series).toHaveLength(5);
    for (const s of series) expect(s.occurrenceKey.endsWith(`|${s.start.toISOString()}`)).toBe(true);
    const cursor = (await db.store.syncCursors.get(room.id))!;
    expect(cursor.deltaLink).toContain("$deltatoken=");
    expect(cursor.windowStart?.toISOString()).toBe("2025-03-03T00:00:00.000Z");
    expect(cursor.windowEnd?.toISOString()).toBe("2025-03-12T00:00:00.000Z");
    // One interval after the round started, less the tick tolerance (so the next tick finds it due).
    expect(cursor.dueAt.toISOString()).toBe("2025-03-04T08:00:59.000Z");
    const log = await db.store.eventLog.list({ roomId: room.id, kind: "meeting.added" });
    expect(log).toHaveLength(6);
    expect(JSON.stringify(log)).not.toContain("Hk4mN8pQ");
  });

  it("an incremental round applies only the change; a quiet round changes nothing and wakes nobody", async () => {
    const room = await addRoom(ROOM);
    const a = emu.addEvent(ROOM, teamsEvent(1, "2025-03-04T09:00:00Z"))!;
    emu.addEvent(ROOM, teamsEvent(2, "2025-03-04T11:00:00Z"));
    const poller = makePoller();
    await poller.runRound();
    sinkCalls = [];

    let o = roomOutcome(await nextRound(poller), room.id);
    expect(o).toMatchObject({ outcome: "ok", full: false, added: 0, updated: 0, removed: 0 });
    expect(sinkCalls).toEqual([]);

    emu.updateEvent(ROOM, a.id, { subject: "Review 1 (moved agenda)" });
    o = roomOutcome(await nextRound(poller), room.id);
    expect(o).toMatchObject({ outcome: "ok", full: false, added: 0, updated: 1, removed: 0 });
    expect(sinkCalls).toEqual([room.id]);
    const key = occurrenceKey(ROOM, a.iCalUId, null, "2025-03-04T09:00:00.000Z");
    expect((await db.store.meetings.get(key))?.subject).toBe("Review 1 (moved agenda)");

    // A change Graph reports that alters nothing otj keeps (same hash) writes nothing.
    emu.updateEvent(ROOM, a.id, { subject: "Review 1 (moved agenda)" });
    sinkCalls = [];
    o = roomOutcome(await nextRound(poller), room.id);
    expect(o).toMatchObject({ outcome: "ok", updated: 0, unchanged: 1 });
    expect(sinkCalls).toEqual([]);
  });

  it("a cancelled meeting stays, cancelled and routed nowhere; a deleted one is removed", async () => {
    const room = await addRoom(ROOM);
    const a = emu.addEvent(ROOM, teamsEvent(1, "2025-03-04T09:00:00Z"))!;
    const b = emu.addEvent(ROOM, teamsEvent(2, "2025-03-04T11:00:00Z"))!;
    const poller = makePoller();
    await poller.runRound();

    emu.cancelEvent(ROOM, a.id);
    emu.deleteEvent(ROOM, b.id);
    const o = roomOutcome(await nextRound(poller), room.id);
    expect(o).toMatchObject({ outcome: "ok", updated: 1, removed: 1 });
    const all = await db.store.meetings.list(room.id, { includeCancelled: true });
    expect(all).toHaveLength(1);
    expect(all[0]).toMatchObject({ sourceEventId: a.id, cancelled: true, route: "none", rule: "cancelled" });
    expect(await db.store.meetings.list(room.id)).toHaveLength(0);
    const removed = await db.store.eventLog.list({ roomId: room.id, kind: "meeting.removed" });
    expect(removed.map((e) => e.data?.["reason"])).toEqual(["source-removed"]);
  });

  it("a moved occurrence of a series keeps its key; a moved single meeting gets a new key and the old one goes", async () => {
    const room = await addRoom(ROOM);
    const single = emu.addEvent(ROOM, teamsEvent(1, "2025-03-04T09:00:00Z"))!;
    const series = emu.addSeries(ROOM, { ...teamsEvent(2, "2025-03-04T08:00:00Z", 15), recurrence: { type: "daily", count: 3 } })!;
    const poller = makePoller();
    await poller.runRound();
    const before = await db.store.meetings.list(room.id);
    expect(before).toHaveLength(4);

    const occurrenceId = emu.occurrenceId(series.id, "2025-03-05T08:00:00.000Z");
    emu.updateEvent(ROOM, occurrenceId, { start: "2025-03-05T10:00:00Z", end: "2025-03-05T10:15:00Z" });
    emu.updateEvent(ROOM, single.id, { start: "2025-03-04T13:00:00Z", end: "2025-03-04T13:30:00Z" });
    const o = roomOutcome(await nextRound(poller), room.id);
    expect(o).toMatchObject({ outcome: "ok", added: 1, updated: 1, removed: 1 });

    const after = await db.store.meetings.list(room.id);
    expect(after).toHaveLength(4);
    const exception = after.find((m) => m.sourceEventId === occurrenceId)!;
    expect(exception.occurrenceKey).toBe(before.find((m) => m.sourceEventId === occurrenceId)!.occurrenceKey);
    expect(exception.start.toISOString()).toBe("2025-03-05T10:00:00.000Z");
    const moved = after.filter((m) => m.sourceEventId === single.id);
    expect(moved.map((m) => m.occurrenceKey)).toEqual([occurrenceKey(ROOM, single.iCalUId, null, "2025-03-04T13:00:00.000Z")]);
    expect(await db.store.meetings.get(occurrenceKey(ROOM, single.iCalUId, null, "2025-03-04T09:00:00.000Z"))).toBeNull();
    const removed = await db.store.eventLog.list({ roomId: room.id, kind: "meeting.removed" });
    expect(removed.map((e) => e.data?.["reason"])).toEqual(["moved"]);
  });

  it("a private meeting's subject is not stored, not logged, and the room shows its template", async () => {
    const room = await addRoom(ROOM);
    const open = await addRoom(ROOM2, { subjectReplace: "never" });
    emu.addEvent(ROOM, teamsEvent(1, "2025-03-04T09:00:00Z", 30, { subject: "Layoffs 2025", sensitivity: "private" }));
    emu.addEvent(ROOM2, teamsEvent(2, "2025-03-04T09:00:00Z", 30, { subject: "Layoffs 2025", sensitivity: "private" }));
    const poller = makePoller();
    await poller.runRound();
    const [m] = await db.store.meetings.list(room.id);
    expect(m).toMatchObject({ subject: null, subjectShown: "Private meeting", sensitivity: "private", route: "cvi" });
    const [shown] = await db.store.meetings.list(open.id);
    expect(shown).toMatchObject({ subject: "Layoffs 2025", subjectShown: "Layoffs 2025" });
    const log = await db.store.eventLog.list({ roomId: room.id });
    expect(log.length).toBeGreaterThan(0);
    expect(JSON.stringify(log)).not.toContain("Layoffs");
  });

  it("a declined meeting is stored as declined and withdrawn from the live list", async () => {
    const room = await addRoom(ROOM);
    emu.addEvent(ROOM, teamsEvent(1, "2025-03-04T09:00:00Z", 30, { responseStatus: { response: "declined" } }));
    const poller = makePoller();
    await poller.runRound();
    expect(await db.store.meetings.list(room.id)).toHaveLength(0);
    expect((await db.store.meetings.list(room.id, { includeCancelled: true }))[0]?.declined).toBe(true);
  });

  it("a body-stripped room falls back to onlineMeeting.joinUrl", async () => {
    const room = await addRoom(ROOM);
    emu.setProcessing(ROOM, { deleteComments: true });
    const joinUrl =
      "https://teams.microsoft.com/l/meetup-join/19%3ameeting_Zm9vYmFy%40thread.v2/0?context=%7b%22Tid%22%3a%22c0ffee00-1111-4222-8333-444455556666%22%7d";
    emu.addEvent(ROOM, teamsEvent(1, "2025-03-04T09:00:00Z", 30, { onlineMeeting: { joinUrl } }));
    const poller = makePoller();
    await poller.runRound();
    const [m] = await db.store.meetings.list(room.id);
    expect(m?.join?.teams?.joinUrl).toBe(joinUrl);
    expect(m).toMatchObject({ route: "sgj", rule: "teams-sgj" });
    expect(m?.dialString).toMatch(/^sgj_[0-9a-f]{12}@sgj\.contoso\.example$/);
  });

  it("a 429 storm on one room is backed off by its Retry-After while the others are polled", async () => {
    const stormy = await addRoom(ROOM);
    const calm = await addRoom(ROOM2);
    emu.addEvent(ROOM, teamsEvent(1, "2025-03-04T09:00:00Z"));
    emu.addEvent(ROOM2, teamsEvent(2, "2025-03-04T09:00:00Z"));
    emu.throttle(100, { mailbox: ROOM, retryAfter: "2.5" });
    const poller = makePoller();
    const report = await poller.runRound();
    const s = roomOutcome(report, stormy.id);
    expect(s).toMatchObject({ outcome: "error", code: "OTJ_GRAPH_THROTTLED" });
    expect(s.requests).toBe(0);
    const cursor = (await db.store.syncCursors.get(stormy.id))!;
    expect(cursor.dueAt.getTime() - clock.now().getTime()).toBe(2500);
    expect(cursor.deltaLink).toBeNull();
    expect(roomOutcome(report, calm.id)).toMatchObject({ outcome: "ok", added: 1 });
    expect(emu.stats().maxInFlightPerMailbox).toBeLessThanOrEqual(4);
    const errors = await db.store.eventLog.list({ roomId: stormy.id, kind: "poll.error" });
    expect(errors).toHaveLength(1);

    emu.clearFaults();
    clock.advance(2500);
    const again = await poller.runRound();
    expect(again.rooms.map((r) => r.roomId)).toEqual([stormy.id]);
    expect(roomOutcome(again, stormy.id)).toMatchObject({ outcome: "ok", added: 1 });
  });

  it("replayed items change nothing; 503s and short throttles are retried within the round, honouring Retry-After", async () => {
    const room = await addRoom(ROOM);
    for (let i = 0; i < 4; i++) emu.addEvent(ROOM, teamsEvent(i, `2025-03-04T1${i}:00:00Z`));
    const poller = makePoller();
    emu.setReplay(ROOM, 2);
    expect(roomOutcome(await poller.runRound(), room.id)).toMatchObject({ outcome: "ok", added: 4 });
    emu.addEvent(ROOM, teamsEvent(9, "2025-03-05T09:00:00Z"));
    emu.injectFault({ status: 503, times: 1, mailbox: ROOM, routes: ["delta"] });
    emu.throttle(1, { mailbox: ROOM, retryAfter: "0.75", routes: ["delta"] });
    const before = clock.now().getTime();
    clock.advance(60_000);
    const o = roomOutcome(await poller.runRound(), room.id);
    expect(o).toMatchObject({ outcome: "ok", added: 1, updated: 0 });
    expect(o.requests).toBe(3);
    // The 503 had no Retry-After (exponential backoff, 0.5-1 s at attempt 0); the 429 asked for 0.75 s.
    expect(clock.now().getTime() - before - 60_000).toBe(750 + 750);
    expect(await db.store.meetings.list(room.id)).toHaveLength(5);
    expect(emu.stats().maxInFlightPerMailbox).toBe(1);
  });

  it("a mailbox that answers 403 or 404 is reported and the rest continue", async () => {
    const denied = await addRoom(ROOM);
    const missing = await addRoom("room103@contoso.example");
    const fine = await addRoom(ROOM2);
    emu.setMailboxAccess(ROOM, "denied");
    emu.setMailboxAccess("room103@contoso.example", "notFound");
    const report = await makePoller().runRound();
    expect(roomOutcome(report, denied.id)).toMatchObject({ outcome: "error", code: "OTJ_GRAPH_ACCESS_DENIED" });
    expect(roomOutcome(report, missing.id)).toMatchObject({ outcome: "error", code: "OTJ_GRAPH_NOT_FOUND" });
    expect(roomOutcome(report, fine.id)).toMatchObject({ outcome: "ok" });
    const cursor = (await db.store.syncCursors.get(denied.id))!;
    // Permanent failures back off for minutes, not seconds (5 min base, jitter 0.5 → x0.75).
    expect(cursor.dueAt.getTime() - clock.now().getTime()).toBe(225_000);
    expect(cursor.lastErrorCode).toBe("OTJ_GRAPH_ACCESS_DENIED");
  });

  it("an expired delta token means a full resync without duplicates; what vanished meanwhile is removed", async () => {
    const room = await addRoom(ROOM);
    const a = emu.addEvent(ROOM, teamsEvent(1, "2025-03-04T09:00:00Z"))!;
    emu.addEvent(ROOM, teamsEvent(2, "2025-03-04T10:00:00Z"));
    emu.addSeries(ROOM, { ...teamsEvent(3, "2025-03-04T08:00:00Z", 15), recurrence: { type: "daily", count: 3 } });
    const poller = makePoller();
    await poller.runRound();
    expect(await db.store.meetings.list(room.id)).toHaveLength(5);

    emu.expireDeltaTokens(ROOM, "gone");
    emu.deleteEvent(ROOM, a.id);
    sinkCalls = [];
    const o = roomOutcome(await nextRound(poller), room.id);
    expect(o).toMatchObject({ outcome: "ok", full: true, reason: "cursor-expired", added: 0, updated: 0, removed: 1, unchanged: 4 });
    expect(await db.store.meetings.list(room.id)).toHaveLength(4);
    expect(sinkCalls).toEqual([room.id]);

    emu.expireDeltaTokens(ROOM, "syncStateNotFound");
    const again = roomOutcome(await nextRound(poller), room.id);
    expect(again).toMatchObject({ outcome: "ok", full: true, reason: "cursor-expired", removed: 0, unchanged: 4 });
  });

  it("looping nextLinks are stopped; after three such rounds the cursor is dropped", async () => {
    const room = await addRoom(ROOM);
    for (let i = 0; i < 3; i++) emu.addEvent(ROOM, teamsEvent(i, `2025-03-04T1${i}:00:00Z`));
    const poller = makePoller();
    await poller.runRound();
    emu.addEvent(ROOM, teamsEvent(9, "2025-03-05T09:00:00Z"));
    emu.setLoopingNextLink(ROOM, true);
    for (let i = 1; i <= 3; i++) {
      const o = roomOutcome(await nextRound(poller), room.id);
      expect(o).toMatchObject({ outcome: "error", code: "OTJ_CALENDAR_DELTA_LOOP", resetCursor: i === 3 });
      clock.advance(3_600_000);
    }
    expect((await db.store.syncCursors.get(room.id))?.deltaLink).toBeNull();
    emu.setLoopingNextLink(ROOM, false);
    const o = roomOutcome(await nextRound(poller), room.id);
    expect(o).toMatchObject({ outcome: "ok", full: true, reason: "initial", added: 1 });
  });

  it("the window is re-seeded the next day with a full round", async () => {
    const room = await addRoom(ROOM);
    emu.addEvent(ROOM, teamsEvent(1, "2025-03-04T09:00:00Z"));
    const poller = makePoller();
    await poller.runRound();
    clock.advanceTo(new Date("2025-03-05T00:00:30.000Z"));
    const o = roomOutcome(await poller.runRound(), room.id);
    expect(o).toMatchObject({ outcome: "ok", full: true, reason: "window-changed", unchanged: 1 });
    const cursor = (await db.store.syncCursors.get(room.id))!;
    expect(cursor.windowStart?.toISOString()).toBe("2025-03-04T00:00:00.000Z");
  });

  it("two poller instances on one database never poll the same room at once", async () => {
    const other = await db.openAnother({ owner: "instance-b" });
    try {
      const rooms: Room[] = [];
      for (let i = 0; i < 24; i++) {
        const mailbox = `r${String(i).padStart(2, "0")}@contoso.example`;
        rooms.push(await addRoom(mailbox));
        emu.addEvent(mailbox, teamsEvent(i, "2025-03-04T09:00:00Z"));
      }
      emu.setLatency(5);
      const a = makePoller({ poll: { maxInFlight: 3 }, leaseBatch: 3 });
      const b = makePoller({ store: other.store, poll: { maxInFlight: 3 }, leaseBatch: 3 });
      const [ra, rb] = await Promise.all([a.runRound(), b.runRound()]);
      const polled = [...ra.rooms, ...rb.rooms].map((r) => r.roomId);
      expect(polled.sort()).toEqual(rooms.map((r) => r.id).sort());
      expect(ra.rooms.length).toBeGreaterThan(0);
      expect(rb.rooms.length).toBeGreaterThan(0);
      for (const r of rooms) expect(emu.mailboxStats(r.mailbox).maxInFlight).toBe(1);
      const deltaRequests = emu.requestLog.filter((r) => r.route === "delta").length;
      expect(deltaRequests).toBe(24);
    } finally {
      await other.close();
    }
  });

  it("a failing sink is retried on the room's next round", async () => {
    const room = await addRoom(ROOM);
    emu.addEvent(ROOM, teamsEvent(1, "2025-03-04T09:00:00Z"));
    let fail = true;
    const calls: string[] = [];
    const poller = makePoller({
      sink: {
        roomUpdated: async (roomId) => {
          calls.push(roomId);
          if (fail) throw new Error("dispatcher down");
        },
      },
    });
    const first = roomOutcome(await poller.runRound(), room.id);
    expect(first).toMatchObject({ outcome: "ok", added: 1, sinkError: "dispatcher down" });
    fail = false;
    const second = roomOutcome(await nextRound(poller), room.id);
    expect(second).toMatchObject({ outcome: "ok", added: 0, sinkError: null });
    expect(calls).toEqual([room.id, room.id]);
    await nextRound(poller);
    expect(calls).toHaveLength(2);
  });

  it("ticks start rounds; a notification's markDue is picked up by the next tick; stop drains and releases leases", async () => {
    const room = await addRoom(ROOM);
    emu.addEvent(ROOM, teamsEvent(1, "2025-03-04T09:00:00Z"));
    let tick: (() => void) | null = null;
    let expression = "";
    let stopped = false;
    const poller = makePoller({
      scheduleTick: (expr, onTick) => {
        expression = expr;
        tick = onTick;
        return {
          stop: () => {
            stopped = true;
          },
        };
      },
    });
    poller.start();
    expect(expression).toBe("0 * * * * *");
    tick!();
    expect(poller.busy).toBe(true);
    tick!();
    await poller.idle();
    expect(sinkCalls).toEqual([room.id]);

    // Not due yet: a tick does nothing; markDue (a change notification) makes it due at once.
    emu.updateEvent(ROOM, [...emu.mailbox(ROOM).instances()][0]!.id, { subject: "Changed" });
    tick!();
    await poller.idle();
    expect(sinkCalls).toEqual([room.id]);
    await db.store.syncCursors.markDue(room.id, clock.now());
    tick!();
    await poller.idle();
    expect(sinkCalls).toEqual([room.id, room.id]);

    await poller.stop();
    expect(stopped).toBe(true);
    const cursor = (await db.store.syncCursors.get(room.id))!;
    expect(cursor.leaseOwner).toBeNull();
  });

  it("stop() lets a room in flight finish within the grace period, else aborts it; leases are released either way", async () => {
    const room = await addRoom(ROOM);
    emu.addEvent(ROOM, teamsEvent(1, "2025-03-04T09:00:00Z"));
    const poller = makePoller({ scheduleTick: () => ({ stop: () => {} }) });
    const waitInFlight = async () => {
      while (emu.mailboxStats(ROOM).inFlight === 0) await new Promise((r) => setImmediate(r));
    };

    // Finishes within the grace period: the round completes and is recorded.
    emu.setLatency(150, ROOM);
    poller.poke();
    await waitInFlight();
    await poller.stop(60_000);
    let cursor = (await db.store.syncCursors.get(room.id))!;
    expect(cursor.deltaLink).not.toBeNull();
    expect(cursor.leaseOwner).toBeNull();

    // Outlives the grace period: aborted, nothing recorded, lease released.
    poller.start();
    await db.store.syncCursors.markDue(room.id, clock.now());
    emu.setLatency(5_000, ROOM);
    const round = poller.runRound();
    await waitInFlight();
    const stopping = poller.stop(1_000);
    await new Promise((r) => setImmediate(r));
    clock.advance(1_000);
    await stopping;
    const report = await round;
    expect(roomOutcome(report, room.id)).toMatchObject({ outcome: "aborted", nextDueAt: null });
    cursor = (await db.store.syncCursors.get(room.id))!;
    expect(cursor.leaseOwner).toBeNull();
    expect(cursor.dueAt.getTime()).toBeLessThanOrEqual(clock.now().getTime());
  });

  it("finished rounds are recorded together, a few store calls for many rooms, changed or not", async () => {
    const rooms = await addQuietRooms(12);
    const batches: number[] = [];
    const store = withCursors(db.store, (real) => ({
      completeRounds: (rounds, now, options) => {
        batches.push(rounds.length);
        return real.completeRounds(rounds, now, options);
      },
    }));
    const poller = makePoller({ store, completeBatch: 5 });
    const first = await poller.runRound();
    expect(first.rooms.every((o) => o.outcome === "ok" && o.full && o.added === 1)).toBe(true);
    expect(batches).toEqual([5, 5, 2]);
    expect(await db.store.meetings.list(rooms[0]!.id)).toHaveLength(1);
    batches.length = 0;
    const before = new Map((await db.store.syncCursors.list()).map((c) => [c.roomId, c.deltaLink]));

    const quiet = await nextRound(poller);
    expect(quiet.rooms).toHaveLength(12);
    expect(quiet.rooms.every((o) => o.outcome === "ok" && !o.full && o.added + o.updated + o.removed === 0 && o.nextDueAt !== null)).toBe(true);
    expect(batches).toEqual([5, 5, 2]);
    const cursors = await db.store.syncCursors.list();
    for (const c of cursors) {
      expect(c).toMatchObject({ leaseOwner: null, lastSuccessAt: clock.now(), consecutiveFailures: 0 });
      expect(c.deltaLink).not.toBe(before.get(c.roomId));
      expect(c.dueAt.getTime()).toBe(clock.now().getTime() + 59_000);
    }
    expect(cursors.map((c) => c.roomId).sort()).toEqual(rooms.map((r) => r.id).sort());
  });

  it("a quiet room taken over while it waited for its batch is reported lease-lost; nothing is written for it", async () => {
    await addQuietRooms(3);
    const other = await db.openAnother({ owner: "instance-b" });
    try {
      let taken: string | null = null;
      let armed = false;
      const store = withCursors(db.store, (real) => ({
        completeRounds: async (rounds, now, options) => {
          if (armed) {
            // The lease runs out meanwhile (a stalled process) and the other instance takes one room.
            const [lease] = await other.store.syncCursors.leaseDue(new Date(now.getTime() + 200_000), 1);
            taken = lease?.roomId ?? null;
          }
          return real.completeRounds(rounds, now, options);
        },
      }));
      const poller = makePoller({ store });
      await poller.runRound();
      armed = true;
      const before = new Map((await db.store.syncCursors.list()).map((c) => [c.roomId, c.deltaLink]));
      const report = await nextRound(poller);
      expect(taken).not.toBeNull();
      expect(report.rooms.map((o) => [o.roomId, o.outcome]).sort()).toEqual([...before.keys()].map((id) => [id, id === taken ? "lease-lost" : "ok"]).sort());
      expect(roomOutcome(report, taken!).nextDueAt).toBeNull();
      expect(await db.store.syncCursors.get(taken!)).toMatchObject({ leaseOwner: "instance-b", deltaLink: before.get(taken!) });
    } finally {
      await other.close();
    }
  });

  it("a failed batch write is reported per room and recorded as each room's failure", async () => {
    const rooms = await addQuietRooms(3);
    let failures = 0;
    const store = withCursors(db.store, (real) => ({
      completeRounds: async (rounds, now, options) => {
        if (failures-- > 0) throw new OtjError("OTJ_STORE_UNREACHABLE", "the database connection failed: reset");
        return real.completeRounds(rounds, now, options);
      },
    }));
    const poller = makePoller({ store });
    await poller.runRound();
    failures = 1;
    const report = await nextRound(poller);
    for (const r of rooms) {
      expect(roomOutcome(report, r.id)).toMatchObject({ outcome: "error", code: "OTJ_STORE_UNREACHABLE" });
      expect(await db.store.syncCursors.get(r.id)).toMatchObject({ lastErrorCode: "OTJ_STORE_UNREACHABLE", consecutiveFailures: 1, leaseOwner: null });
    }
    const again = await nextRound(poller);
    expect(again.rooms.every((o) => o.outcome === "ok")).toBe(true);
  });

  it("a room a notification makes due while a round runs is polled next, ahead of the round's queue", async () => {
    const rooms = await addQuietRooms(12);
    // The lease order: due at the same moment, so by room id; the notified room is the last one.
    const notified = [...rooms].sort((x, y) => x.id.localeCompare(y.id)).at(-1)!;
    const polled: string[] = [];
    let poller: CalendarPoller | null = null;
    poller = makePoller({
      poll: { maxInFlight: 1 },
      leaseBatch: 1,
      wrapSource: (source) =>
        withOverrides(source, {
          syncRoom: async (mailbox, cursor, window, signal) => {
            polled.push(mailbox);
            if (polled.length === 2) {
              // A change notification for the last room (as the Graph and Google routes do it).
              await db.store.syncCursors.markDue(notified.id, clock.now());
              poller!.poke();
            }
            return source.syncRoom(mailbox, cursor, window, signal);
          },
        }),
    });
    poller.poke();
    await poller.idle();
    // Two rooms polled, at most two more leased ahead of it (one queued, one refilling): then it.
    expect(polled.indexOf(notified.mailbox)).toBeLessThanOrEqual(4);
    expect(polled.indexOf(notified.mailbox)).toBeGreaterThanOrEqual(2);
    // Every room polled once in the round (the notified one was not polled again at its place).
    expect(polled.slice(0, 12).sort()).toEqual(rooms.map((r) => r.mailbox).sort());
  });

  it("stop() records the quiet rooms that finished before it, aborts the room in flight, and leaves no lease", async () => {
    const [a, b, slow] = await addQuietRooms(3);
    const finished: string[] = [];
    const poller = makePoller({
      scheduleTick: () => ({ stop: () => {} }),
      completeDelayMs: 600_000,
      // Alone, so the slow room's batch does not hold the quiet ones back.
      batchSize: 1,
      wrapSource: (source) =>
        withOverrides(source, {
          syncRoom: async (mailbox, cursor, window, signal) => {
            const result = await source.syncRoom(mailbox, cursor, window, signal);
            finished.push(mailbox);
            return result;
          },
        }),
    });
    poller.start();
    await poller.runRound();
    const before = new Map((await db.store.syncCursors.list()).map((c) => [c.roomId, c]));
    finished.length = 0;

    clock.advance(60_000);
    emu.setLatency(5_000, slow!.mailbox);
    const round = poller.runRound();
    while (finished.length < 2 || emu.mailboxStats(slow!.mailbox).inFlight === 0) await new Promise((r) => setImmediate(r));
    await new Promise((r) => setImmediate(r));
    // Both quiet rooms wait for their batch (not due for 10 minutes); nothing is recorded yet.
    expect((await db.store.syncCursors.get(a!.id))?.leaseOwner).not.toBeNull();
    const stopping = poller.stop(1_000);
    await new Promise((r) => setImmediate(r));
    clock.advance(1_000);
    await stopping;
    const report = await round;
    expect(roomOutcome(report, a!.id)).toMatchObject({ outcome: "ok" });
    expect(roomOutcome(report, b!.id)).toMatchObject({ outcome: "ok" });
    expect(roomOutcome(report, slow!.id)).toMatchObject({ outcome: "aborted", nextDueAt: null });
    for (const r of [a!, b!]) {
      const c = (await db.store.syncCursors.get(r.id))!;
      expect(c.leaseOwner).toBeNull();
      expect(c.deltaLink).not.toBe(before.get(r.id)?.deltaLink);
      expect(c.lastSuccessAt!.getTime()).toBeGreaterThan(before.get(r.id)!.lastSuccessAt!.getTime());
    }
    const s = (await db.store.syncCursors.get(slow!.id))!;
    expect(s).toMatchObject({ leaseOwner: null, deltaLink: before.get(slow!.id)?.deltaLink });
  });
});
