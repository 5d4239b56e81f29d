/**
 * MIME ingest: `otj ingest FILE.eml --room MAILBOX` in-process on real PostgreSQL, the merge with
 * Graph's copy by iCalUId (with the poller against the Graph emulator for a body-stripping room),
 * and the mailbox-message path (Graph messages with `$value`).
 */

import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { CalendarPoller } from "../../calendar/calendar-poller.ts";
import { GraphCalendarSource } from "../../calendar/graph/graph-calendar-source.ts";
import { GraphClient } from "../../calendar/graph/graph-client.ts";
import { ingestMailbox } from "../../calendar/mime/mailbox-ingest.ts";
import { ingestMail } from "../../calendar/mime/mime-ingest.ts";
import { occurrenceKey } from "../../core/identities.ts";
import type { Room } from "../../core/ports/store.ts";
import { GraphEmulator } from "../../emulators/graph/graph-emulator.ts";
import { teamsEml } from "../../emulators/invite-factory.ts";
import { roomPlanner } from "../../join/room-planning.ts";
import { runCli } from "../support/cli.ts";
import { FakeClock } from "../support/fake-clock.ts";
import { openTestStore, type TestStore } from "../support/test-database.ts";

const ROOM = "room101@contoso.example";
const CVI = { tenantKey: "contoso@m.webex.com", videoId: "1182453796" };
const UID = "040000008200E00074C5B7101A82E00800000000ABCDEF0123456789000000000000000010000000DEADBEEF";

let db: TestStore;
let dir: string;
let room: Room;
let clock: FakeClock;

beforeAll(async () => {
  db = await openTestStore("postgres");
  dir = await mkdtemp(join(tmpdir(), "otj-ingest-"));
});
afterAll(async () => {
  await db?.close();
  await rm(dir, { recursive: true, force: true });
});
beforeEach(async () => {
  await db.truncate();
  clock = new FakeClock("2025-03-04T08:00:00.000Z");
  await db.store.providers.add({ name: "webex", partner: "cisco", tenantKey: CVI.tenantKey }, clock.now());
  room = (await db.store.rooms.add({ mailbox: ROOM, displayName: "Room 101", provider: "webex", deviceFamily: "pull" }, clock.now())).room;
});

function mail(start = "2025-03-05T09:00:00.000Z", extra: { method?: "REQUEST" | "CANCEL"; sequence?: number; private?: boolean } = {}): string {
  return teamsEml(
    { uid: UID, subject: "Quarterly review", start, end: new Date(Date.parse(start) + 3_600_000).toISOString(), ...extra },
    { threadKey: "ingest-1", meetingId: "35715924681234", passcode: "Hk4mN8pQ", cvi: CVI },
    1000,
  );
}

/** A meeting request for a weekly series (plain text/calendar part with an RRULE). */
function seriesMail(): string {
  const ics = [
    "BEGIN:VCALENDAR",
    "METHOD:REQUEST",
    "VERSION:2.0",
    "BEGIN:VEVENT",
    "UID:series-uid-1",
    "SUMMARY:Weekly sync",
    "DTSTART:20250305T090000Z",
    "DTEND:20250305T093000Z",
    "RRULE:FREQ=WEEKLY;COUNT=4",
    "ORGANIZER;CN=Bo Chen:mailto:bo@contoso.example",
    "DESCRIPTION:Join: sip:4711@video.contoso.example",
    "END:VEVENT",
    "END:VCALENDAR",
    "",
  ].join("\r\n");
  return [
    "From: Bo Chen <bo@contoso.example>",
    "To: Room 101 <room101@contoso.example>",
    "Subject: Weekly sync",
    "MIME-Version: 1.0",
    'Content-Type: text/calendar; charset="utf-8"; method=REQUEST',
    "",
    ics,
  ].join("\r\n");
}

async function cli(args: string[]) {
  return runCli(args, { env: { DATABASE_URL: db.url }, cwd: dir });
}

async function file(name: string, content: string): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, content);
  return path;
}

describe("otj ingest", () => {
  it("stores a single meeting from the mail, prints its plan entry, and is idempotent", async () => {
    const path = await file("invite.eml", mail());
    const run = await cli(["ingest", path, "--room", ROOM, "--json"]);
    expect(run.stderr).toContain("meetings changed");
    expect(run.code).toBe(0);
    const out = JSON.parse(run.stdout) as { invites: Array<Record<string, unknown>> };
    const key = occurrenceKey(ROOM, UID, null, "2025-03-05T09:00:00.000Z");
    expect(out.invites).toEqual([
      {
        uid: UID,
        route: "cvi",
        dialString: "1182453796.contoso@m.webex.com",
        ivr: expect.anything(),
        rule: "teams-cvi",
        // The CLI plans on the wall clock: a 2025 meeting gets the CVI-expiry warning.
        warnings: expect.any(Array),
        subjectShown: "Quarterly review",
        occurrenceKey: key,
        change: "added",
        note: null,
      },
    ]);
    const stored = await db.store.meetings.get(key);
    expect(stored).toMatchObject({ source: "mime", sourceEventId: null, icalUid: UID, route: "cvi", subject: "Quarterly review" });
    expect(stored?.join?.teams?.passcode).toBe("Hk4mN8pQ");

    const again = await cli(["ingest", path, "--room", room.id, "--json"]);
    expect(JSON.parse(again.stdout).invites[0].change).toBe("unchanged");
    expect(again.stderr).toContain("nothing changed");

    const human = await cli(["ingest", path, "--room", ROOM]);
    expect(human.stdout).toMatch(/^unchanged\s+cvi\s+1182453796\.contoso@m\.webex\.com\s+teams-cvi\s+"Quarterly review"/);
  });

  it("a newer mail that moves the meeting replaces the older copy; a cancellation withdraws it", async () => {
    await cli(["ingest", await file("a.eml", mail()), "--room", ROOM]);
    const moved = await cli(["ingest", await file("b.eml", mail("2025-03-06T14:00:00.000Z", { sequence: 1 })), "--room", ROOM, "--json"]);
    expect(JSON.parse(moved.stdout).invites[0]).toMatchObject({ change: "added", occurrenceKey: occurrenceKey(ROOM, UID, null, "2025-03-06T14:00:00.000Z") });
    const all = await db.store.meetings.list(room.id, { includeCancelled: true });
    expect(all.map((m) => m.start.toISOString())).toEqual(["2025-03-06T14:00:00.000Z"]);
    const removed = await db.store.eventLog.list({ roomId: room.id, kind: "meeting.removed" });
    expect(removed).toHaveLength(1);

    const cancel = await cli(["ingest", await file("c.eml", mail("2025-03-06T14:00:00.000Z", { method: "CANCEL", sequence: 2 })), "--room", ROOM, "--json"]);
    expect(JSON.parse(cancel.stdout).invites[0]).toMatchObject({ change: "updated", route: "none", rule: "cancelled" });
    expect(await db.store.meetings.list(room.id)).toHaveLength(0);
  });

  it("plans but does not store a series (its occurrences come from Graph)", async () => {
    const run = await cli(["ingest", await file("series.eml", seriesMail()), "--room", ROOM, "--json"]);
    expect(run.code).toBe(0);
    const [entry] = JSON.parse(run.stdout).invites;
    expect(entry).toMatchObject({ uid: "series-uid-1", route: "direct", dialString: "4711@video.contoso.example", change: "skipped", occurrenceKey: null });
    expect(await db.store.meetings.list(room.id, { includeCancelled: true })).toHaveLength(0);
  });

  it("keeps a private meeting's subject out of the store", async () => {
    const run = await cli(["ingest", await file("private.eml", mail(undefined, { private: true })), "--room", ROOM, "--json"]);
    expect(JSON.parse(run.stdout).invites[0]).toMatchObject({ subjectShown: "Private meeting", change: "added" });
    const [m] = await db.store.meetings.list(room.id);
    expect(m).toMatchObject({ subject: null, sensitivity: "private" });
    expect(JSON.stringify(await db.store.eventLog.list({ roomId: room.id }))).not.toContain("Quarterly");
  });

  it("fails with exit 1 for an unknown room and 2 without --room", async () => {
    const path = await file("x.eml", mail());
    const unknown = await cli(["ingest", path, "--room", "nobody@contoso.example"]);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain("OTJ_STORE_NOT_FOUND");
    expect((await cli(["ingest", path])).code).toBe(2);
    expect((await cli(["ingest", join(dir, "missing.eml"), "--room", ROOM])).code).toBe(1);
  });
});

describe("merging with Graph's copy", () => {
  let emu: GraphEmulator;
  afterEach(async () => {
    await emu?.stop();
  });

  async function pollerOn(): Promise<CalendarPoller> {
    emu = await GraphEmulator.start({ seed: "ingest", clock });
    emu.addRoom({ address: ROOM, processing: { deleteComments: true, stripOnlineMeeting: true } });
    const client = new GraphClient(
      { tenantId: emu.tenantId, clientId: emu.clientId, clientSecret: emu.clientSecret, baseUrl: emu.url, authorityUrl: emu.url },
      { clock },
    );
    const source = new GraphCalendarSource({}, { client, clock, sleep: async () => {} });
    return new CalendarPoller(
      { poll: { intervalSeconds: 60, windowPastHours: 24, windowFutureDays: 7, maxInFlight: 2, roundBudgetSeconds: 60 }, planner: roomPlanner([]) },
      { store: db.store, source, clock },
    );
  }

  it("fills a body-stripped Graph copy with the mail's join, keeps it across Graph updates, and replaces an earlier mail copy", async () => {
    const poller = await pollerOn();
    // The mail arrived before Graph's copy was seen: stored from the mail first.
    const first = await ingestMail(mail(), room, { store: db.store, clock, planner: roomPlanner([]) });
    expect(first.invites[0]?.change).toBe("added");

    const event = emu.addEvent(ROOM, {
      iCalUId: UID,
      subject: "Quarterly review",
      start: "2025-03-05T09:00:00Z",
      end: "2025-03-05T10:00:00Z",
      organizer: { name: "Alice Example", address: "alice@contoso.example" },
      body: { contentType: "html", content: "<p>stripped by the room</p>" },
    })!;
    const report = await poller.runRound();
    expect(report.rooms[0]).toMatchObject({ outcome: "ok", added: 0, updated: 1, removed: 0 });
    let [m] = await db.store.meetings.list(room.id);
    // Graph's row took over the key (same UID and start) and kept the mail's join.
    expect(m).toMatchObject({ source: "graph", sourceEventId: event.id, route: "cvi", dialString: "1182453796.contoso@m.webex.com" });

    emu.updateEvent(ROOM, event.id, { subject: "Quarterly review (room 101)" });
    clock.advance(60_000);
    await poller.runRound();
    [m] = await db.store.meetings.list(room.id);
    expect(m).toMatchObject({ source: "graph", route: "cvi", subject: "Quarterly review (room 101)" });

    // A mail for a Graph copy that already has a join changes nothing.
    const again = await ingestMail(mail(), room, { store: db.store, clock, planner: roomPlanner([]) });
    expect(again.invites[0]).toMatchObject({ change: "merged", route: "cvi" });
  });

  it("a mail arriving after Graph's stripped copy fills its join in place", async () => {
    const poller = await pollerOn();
    emu.addEvent(ROOM, { iCalUId: UID, subject: "Quarterly review", start: "2025-03-05T09:00:00Z", end: "2025-03-05T10:00:00Z" });
    await poller.runRound();
    let [m] = await db.store.meetings.list(room.id);
    expect(m).toMatchObject({ source: "graph", join: null, route: "none" });
    const sinkCalls: string[] = [];
    const merged = await ingestMail(mail(), room, {
      store: db.store,
      clock,
      planner: roomPlanner([]),
      sink: {
        roomUpdated: async (id) => {
          sinkCalls.push(id);
        },
      },
    });
    expect(merged.invites[0]).toMatchObject({ change: "updated", route: "cvi", occurrenceKey: m!.occurrenceKey });
    expect(sinkCalls).toEqual([room.id]);
    [m] = await db.store.meetings.list(room.id);
    expect(m).toMatchObject({ source: "graph", route: "cvi" });
  });

  it("reads meeting requests from a mailbox through Graph messages and $value", async () => {
    emu = await GraphEmulator.start({ seed: "mail", clock });
    emu.addRoom({ address: ROOM });
    emu.addMessage(ROOM, { subject: "Quarterly review", mime: mail(), meetingMessageType: "meetingRequest", receivedDateTime: "2025-03-04T07:00:00Z" });
    emu.addMessage(ROOM, { subject: "Lunch?", mime: "From: a@b.example\r\n\r\nhello", receivedDateTime: "2025-03-04T07:10:00Z" });
    emu.addMessage(ROOM, {
      subject: "Canceled: Quarterly review",
      mime: mail("2025-03-05T09:00:00.000Z", { method: "CANCEL", sequence: 1 }),
      meetingMessageType: "meetingCancelled",
      receivedDateTime: "2025-03-04T07:20:00Z",
    });
    const client = new GraphClient(
      { tenantId: emu.tenantId, clientId: emu.clientId, clientSecret: emu.clientSecret, baseUrl: emu.url, authorityUrl: emu.url },
      { clock },
    );
    const report = await ingestMailbox(client, ROOM, room, null, { store: db.store, clock, planner: roomPlanner([]) }, AbortSignal.timeout(10_000));
    expect(report.messages).toBe(2);
    expect(report.failed).toEqual([]);
    expect(report.watermark?.toISOString()).toBe("2025-03-04T07:20:00.000Z");
    const [m] = await db.store.meetings.list(room.id, { includeCancelled: true });
    expect(m).toMatchObject({ source: "mime", cancelled: true, route: "none" });
    const valueReads = emu.requestLog.filter((r) => r.path.endsWith("/$value"));
    expect(valueReads).toHaveLength(2);

    const none = await ingestMailbox(client, ROOM, room, report.watermark, { store: db.store, clock, planner: roomPlanner([]) }, AbortSignal.timeout(10_000));
    expect(none.messages).toBe(0);
  });
});
