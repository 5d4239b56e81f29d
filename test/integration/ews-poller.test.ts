/**
 * CalendarPoller with the EWS source against the EWS emulator (real HTTP, SOAP) and real
 * PostgreSQL: an Exchange Server room is stored, planned and updated like a Graph room. One fake
 * clock drives everything, so nothing sleeps.
 */

import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { CalendarPoller, type PollSettings, type RoundReport } from "../../calendar/calendar-poller.ts";
import { EwsCalendarSource } from "../../calendar/ews/ews-calendar-source.ts";
import { EwsClient } from "../../calendar/ews/ews-client.ts";
import type { Sleeper } from "../../calendar/request-retry.ts";
import type { Room } from "../../core/ports/store.ts";
import { EwsEmulator } from "../../emulators/ews/ews-emulator.ts";
import { teamsHtmlV4 } from "../../emulators/invite-factory.ts";
import { roomPlanner } from "../../join/room-planning.ts";
import { FakeClock } from "../support/fake-clock.ts";
import { testStoreForFile } from "../support/file-test-store.ts";

const ROOM = "room101@contoso.example";
const POLL: PollSettings = { intervalSeconds: 60, windowPastHours: 24, windowFutureDays: 7, maxInFlight: 4, roundBudgetSeconds: 120 };
const CVI = { tenantKey: "contoso@m.webex.com", videoId: "1182453796" };

const db = testStoreForFile();
let clock: FakeClock;
let emu: EwsEmulator;
const pollers: CalendarPoller[] = [];

beforeEach(async () => {
  await db.truncate();
  clock = new FakeClock("2025-03-04T08:00:00.000Z");
  emu = await EwsEmulator.start({ clock });
  await db.store.providers.add({ name: "webex", partner: "cisco", tenantKey: CVI.tenantKey }, clock.now());
});
afterEach(async () => {
  for (const p of pollers.splice(0)) await p.stop(0);
  await emu.stop();
});

async function addRoom(mailbox: string): Promise<Room> {
  emu.addRoom({ address: mailbox });
  const { room } = await db.store.rooms.add({ mailbox, displayName: "Room 101", provider: "webex", deviceFamily: "pull" }, clock.now());
  return room;
}

function makePoller(): CalendarPoller {
  const sleep: Sleeper = async (ms, signal) => {
    signal.throwIfAborted();
    clock.advance(ms);
  };
  const client = new EwsClient({ url: emu.url, username: emu.username, password: emu.password, auth: "basic", impersonation: true }, { clock });
  const source = new EwsCalendarSource({ maxRetries: 1 }, { client, clock, sleep, random: () => 0.5 });
  const poller = new CalendarPoller(
    { poll: POLL, planner: roomPlanner([]) },
    { store: db.store, source, clock, sink: { roomUpdated: async () => {} }, random: () => 0.5 },
  );
  pollers.push(poller);
  return poller;
}

function teams(n: number, start: string) {
  return {
    subject: `Review ${n}`,
    start,
    end: new Date(Date.parse(start) + 30 * 60_000).toISOString(),
    organizer: { name: "Ana Ruiz", email: "ana.ruiz@contoso.example" },
    body: teamsHtmlV4({ threadKey: `ews-${n}`, meetingId: "35715924681234", passcode: "Hk4mN8pQ", cvi: CVI }, 500),
  };
}

function outcome(report: RoundReport, roomId: string) {
  return report.rooms.find((r) => r.roomId === roomId);
}

async function nextRound(poller: CalendarPoller): Promise<RoundReport> {
  clock.advance(POLL.intervalSeconds * 1000);
  return poller.runRound();
}

describe("CalendarPoller with an Exchange Server room", () => {
  it("stores planned occurrences, applies changes and removals, and survives a round that died mid-way", async () => {
    const room = await addRoom(ROOM);
    const single = emu.createEvent(ROOM, teams(1, "2025-03-04T09:00:00Z"));
    const series = emu.createEvent(ROOM, { ...teams(2, "2025-03-05T08:00:00Z"), recurrence: { count: 3, intervalDays: 1 } });
    const poller = makePoller();

    expect(outcome(await poller.runRound(), room.id)).toMatchObject({ outcome: "ok", full: true, added: 4, removed: 0 });
    let meetings = await db.store.meetings.list(room.id);
    expect(meetings).toHaveLength(4);
    const m = meetings.find((x) => x.sourceEventId === single.id)!;
    expect(m).toMatchObject({
      source: "graph",
      route: "cvi",
      dialString: "1182453796.contoso@m.webex.com",
      rule: "teams-cvi",
      subject: "Review 1",
      seriesMasterId: null,
    });
    expect(m.join?.teams?.passcode).toBe("Hk4mN8pQ");
    expect(meetings.filter((x) => x.seriesMasterId === series.uid)).toHaveLength(3);

    expect(outcome(await nextRound(poller), room.id)).toMatchObject({ outcome: "ok", full: false, added: 0, updated: 0, removed: 0 });

    // A round that dies after FindItem keeps the old cursor; the next one applies everything.
    emu.mailbox(ROOM).update(single, { subject: "Review 1 (moved)" });
    emu.mailbox(ROOM).deleteOccurrence(series, 2);
    const fault = emu.addFault({ operation: "GetItem", drop: true, times: 2 });
    expect(outcome(await nextRound(poller), room.id)).toMatchObject({ outcome: "error", code: "OTJ_EWS_UNAVAILABLE" });
    expect(fault.hits).toBe(2);
    expect(outcome(await nextRound(poller), room.id)).toMatchObject({ outcome: "ok", full: false, updated: 1, removed: 1 });
    meetings = await db.store.meetings.list(room.id);
    expect(meetings.filter((x) => !x.cancelled)).toHaveLength(3);
    expect(meetings.find((x) => x.sourceEventId === single.id)).toMatchObject({ subject: "Review 1 (moved)" });
  });
});
