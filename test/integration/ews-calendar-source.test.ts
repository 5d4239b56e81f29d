/**
 * EwsCalendarSource and EwsClient against the EWS emulator over real HTTP (SOAP 1.1). Time is a
 * manual clock; retry waits go to a recording sleeper that advances it, so nothing here sleeps.
 */

import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { EwsCalendarSource, type EwsCalendarSourceOptions } from "../../calendar/ews/ews-calendar-source.ts";
import { EwsClient, type EwsClientConfig } from "../../calendar/ews/ews-client.ts";
import type { RoomSyncResult, SourceOccurrence, TimeWindow } from "../../core/ports/calendar-source.ts";
import { EwsEmulator, type EwsEmulatorOptions } from "../../emulators/ews/ews-emulator.ts";
import { parseGraphEvent } from "../../parser/index.ts";
import { ManualClock, recordingSleeper, rejection, type SourceHarness, stoppedAfterEach, TEAMS_URL } from "./calendar-source-harness.ts";

const ROOM = "room101@contoso.example";
const OTHER = "room202@contoso.example";
const WINDOW: TimeWindow = { start: "2025-03-03T00:00:00.000Z", end: "2025-03-12T00:00:00.000Z" };
const BODY = `<html><body><p>Join the meeting</p><a href="${TEAMS_URL.replace(/&/g, "&amp;")}">Join the meeting now</a></body></html>`;

type Harness = SourceHarness<EwsEmulator, EwsClient, EwsCalendarSource>;

const running = stoppedAfterEach<EwsEmulator>();

async function harness(
  options: {
    emulator?: EwsEmulatorOptions;
    source?: EwsCalendarSourceOptions;
    client?: Partial<EwsClientConfig>;
    fetch?: typeof fetch;
    emu?: EwsEmulator;
  } = {},
): Promise<Harness> {
  const clock = new ManualClock(Date.parse("2025-03-04T08:00:00Z"));
  let emu = options.emu;
  if (!emu) {
    emu = await EwsEmulator.start({ clock, ...options.emulator });
    running.push(emu);
    emu.addRoom({ address: ROOM, displayName: "Room 101", roomList: { address: "building-a@contoso.example", name: "Building A" } });
  }
  const { sleeps, sleep } = recordingSleeper(clock);
  const client = new EwsClient(
    { url: emu.url, username: emu.username, password: emu.password, auth: "basic", impersonation: true, ...options.client },
    { clock, ...(options.fetch ? { fetch: options.fetch } : {}) },
  );
  const source = new EwsCalendarSource(options.source ?? {}, { client, clock, sleep, random: () => 0.5 });
  return { emu, clock, sleeps, client, source };
}

function signal(): AbortSignal {
  return new AbortController().signal;
}

function byStart(r: RoomSyncResult): SourceOccurrence[] {
  return [...r.changed].sort((a, b) => a.start.localeCompare(b.start));
}

function seed(emu: EwsEmulator) {
  const single = emu.createEvent(ROOM, {
    subject: "Quarterly review",
    start: "2025-03-04T09:00:00Z",
    end: "2025-03-04T10:00:00Z",
    body: BODY,
    organizer: { name: "Adele Vance", email: "adele@contoso.example" },
    attendees: ["megan@contoso.example"],
    location: "Room 101",
    joinUrl: TEAMS_URL,
  });
  const series = emu.createEvent(ROOM, {
    subject: "Daily stand-up",
    start: "2025-03-05T08:30:00Z",
    end: "2025-03-05T08:45:00Z",
    body: "<p>No link</p>",
    organizer: { name: "Megan Bowen", email: "megan@contoso.example" },
    sensitivity: "Private",
    recurrence: { count: 3, intervalDays: 1 },
  });
  return { single, series };
}

describe("rounds", () => {
  it("first round lists every occurrence of the window, series expanded, with the item kept as a Graph-shaped raw event", async () => {
    const h = await harness();
    seed(h.emu);
    h.emu.createEvent(ROOM, { subject: "Outside", start: "2025-04-01T09:00:00Z", end: "2025-04-01T10:00:00Z" });
    const r = await h.source.syncRoom(ROOM.toUpperCase(), null, WINDOW, signal());
    expect(r).toMatchObject({ mailbox: ROOM, full: true, reason: "initial", removedIds: [], warnings: [] });
    const items = byStart(r);
    expect(items.map((o) => [o.kind, o.start, o.subject])).toEqual([
      ["single", "2025-03-04T09:00:00.000Z", "Quarterly review"],
      ["occurrence", "2025-03-05T08:30:00.000Z", "Daily stand-up"],
      ["occurrence", "2025-03-06T08:30:00.000Z", "Daily stand-up"],
      ["occurrence", "2025-03-07T08:30:00.000Z", "Daily stand-up"],
    ]);
    const [single, first] = items as [SourceOccurrence, SourceOccurrence];
    expect(single).toMatchObject({
      seriesId: null,
      recurrenceId: null,
      organizer: { name: "Adele Vance", email: "adele@contoso.example" },
      sensitivity: "normal",
      cancelled: false,
      roomResponse: "accepted",
      onlineMeetingUrl: TEAMS_URL,
      hasBody: true,
      raw: { format: "graph" },
    });
    expect(single.uid).toMatch(/^040000008200E000/);
    expect(first).toMatchObject({ sensitivity: "private", recurrenceId: "2025-03-05T08:30:00.000Z", seriesId: first.uid });
    expect(new Set(items.slice(1).map((o) => o.uid)).size).toBe(1);
    // The parser reads the raw event as it reads a Graph event: the Teams link of the HTML body.
    const parsed = parseGraphEvent(JSON.parse(single.raw.content) as Record<string, unknown>);
    expect(parsed.details[0]?.invite.join?.provider).toBe("teams");
    expect(r.stats).toMatchObject({ pages: 1, requests: 2, retries: 0 });
    expect(h.emu.requests.map((q) => [q.operation, q.impersonated])).toEqual([
      ["FindItem", ROOM],
      ["GetItem", ROOM],
    ]);
  });

  it("later rounds GetItem only what changed: update, exception, cancellation, deletions, a move out of the window", async () => {
    const h = await harness();
    const { single, series } = seed(h.emu);
    const gone = h.emu.createEvent(ROOM, { subject: "Gone", start: "2025-03-08T09:00:00Z", end: "2025-03-08T10:00:00Z" });
    const moved = h.emu.createEvent(ROOM, { subject: "Moved", start: "2025-03-09T09:00:00Z", end: "2025-03-09T10:00:00Z" });
    const first = await h.source.syncRoom(ROOM, null, WINDOW, signal());
    const idOf = (subject: string, start: string) => first.changed.find((o) => o.subject === subject && o.start === start)!.sourceId;

    const quiet = await h.source.syncRoom(ROOM, first.cursor, WINDOW, signal());
    expect(quiet).toMatchObject({ full: false, reason: null, changed: [], removedIds: [] });
    expect(h.emu.requests.slice(-1).map((q) => q.operation)).toEqual(["FindItem"]);

    const room = h.emu.mailbox(ROOM);
    room.update(single, { subject: "Quarterly review (moved)", start: "2025-03-04T11:00:00Z", end: "2025-03-04T12:00:00Z" });
    room.modifyOccurrence(series, 1, { start: "2025-03-06T15:00:00Z", end: "2025-03-06T15:15:00Z" });
    room.deleteOccurrence(series, 2);
    room.delete(gone);
    room.update(moved, { start: "2025-05-01T09:00:00Z", end: "2025-05-01T10:00:00Z" });
    const second = await h.source.syncRoom(ROOM, first.cursor, WINDOW, signal());
    expect(second.full).toBe(false);
    expect(byStart(second).map((o) => [o.kind, o.start, o.subject])).toEqual([
      ["single", "2025-03-04T11:00:00.000Z", "Quarterly review (moved)"],
      ["exception", "2025-03-06T15:00:00.000Z", "Daily stand-up"],
    ]);
    expect(second.changed.find((o) => o.kind === "exception")?.recurrenceId).toBe("2025-03-06T08:30:00.000Z");
    expect(new Set(second.removedIds)).toEqual(
      new Set([idOf("Gone", "2025-03-08T09:00:00.000Z"), idOf("Moved", "2025-03-09T09:00:00.000Z"), idOf("Daily stand-up", "2025-03-07T08:30:00.000Z")]),
    );
    expect(h.emu.requests.filter((q) => q.operation === "GetItem")).toHaveLength(2);

    room.cancel(single);
    const third = await h.source.syncRoom(ROOM, second.cursor, WINDOW, signal());
    expect(third.changed).toHaveLength(1);
    expect(third.changed[0]).toMatchObject({ sourceId: single.id, cancelled: true });
    expect(third.removedIds).toEqual([]);
  });

  it("a change to a series reaches every unmodified occurrence, and an exception keeps its own ChangeKey", async () => {
    const h = await harness();
    const { series } = seed(h.emu);
    const first = await h.source.syncRoom(ROOM, null, WINDOW, signal());
    h.emu.mailbox(ROOM).modifyOccurrence(series, 0, { subject: "Stand-up (special)" });
    const second = await h.source.syncRoom(ROOM, first.cursor, WINDOW, signal());
    h.emu.mailbox(ROOM).update(series, { body: `<p>now with a link</p>${BODY}` });
    const third = await h.source.syncRoom(ROOM, second.cursor, WINDOW, signal());
    expect(third.changed.map((o) => o.start).sort()).toEqual(["2025-03-06T08:30:00.000Z", "2025-03-07T08:30:00.000Z"]);
  });

  it("pages the CalendarView by MaxEntriesReturned and lists each item once", async () => {
    const h = await harness({ source: { pageSize: 2, getItemBatchSize: 2 } });
    for (let d = 3; d <= 9; d++) {
      h.emu.createEvent(ROOM, { subject: `Day ${d}`, start: `2025-03-0${d}T09:00:00Z`, end: `2025-03-0${d}T10:00:00Z` });
    }
    // A long meeting overlapping the window's start appears on the first page only.
    h.emu.createEvent(ROOM, { subject: "Offsite", start: "2025-03-02T09:00:00Z", end: "2025-03-05T17:00:00Z" });
    const r = await h.source.syncRoom(ROOM, null, WINDOW, signal());
    expect(r.changed.map((o) => o.subject).sort()).toEqual(["Day 3", "Day 4", "Day 5", "Day 6", "Day 7", "Day 8", "Day 9", "Offsite"]);
    expect(new Set(r.changed.map((o) => o.sourceId)).size).toBe(8);
    expect(r.stats.pages).toBeGreaterThanOrEqual(4);
    expect(h.emu.requests.filter((q) => q.operation === "GetItem")).toHaveLength(4);
    const again = await h.source.syncRoom(ROOM, r.cursor, WINDOW, signal());
    expect(again).toMatchObject({ changed: [], removedIds: [] });
  });

  it("a new window or an unreadable cursor means a full round", async () => {
    const h = await harness();
    seed(h.emu);
    const first = await h.source.syncRoom(ROOM, null, WINDOW, signal());
    const moved = await h.source.syncRoom(ROOM, first.cursor, { start: "2025-03-04T00:00:00.000Z", end: "2025-03-13T00:00:00.000Z" }, signal());
    expect(moved).toMatchObject({ full: true, reason: "window-changed", removedIds: [] });
    expect(moved.changed).toHaveLength(4);
    const broken = await h.source.syncRoom(ROOM, { token: "ews1.not-deflate", window: WINDOW }, WINDOW, signal());
    expect(broken).toMatchObject({ full: true, reason: "cursor-expired" });
    expect(broken.changed).toHaveLength(4);
    const foreign = await h.source.syncRoom(ROOM, { token: "https://graph.microsoft.com/v1.0/delta?x", window: WINDOW }, WINDOW, signal());
    expect(foreign.reason).toBe("cursor-expired");
  });

  it("restart mid-round: a round that died after FindItem leaves the old cursor valid, and a fresh process gets every change", async () => {
    const h = await harness({ source: { maxRetries: 0 } });
    const { single } = seed(h.emu);
    const first = await h.source.syncRoom(ROOM, null, WINDOW, signal());
    h.emu.mailbox(ROOM).update(single, { subject: "Renamed" });
    const extra = h.emu.createEvent(ROOM, { subject: "New", start: "2025-03-10T09:00:00Z", end: "2025-03-10T10:00:00Z" });
    const fault = h.emu.addFault({ operation: "GetItem", drop: true, times: 1 });
    const died = await rejection(h.source.syncRoom(ROOM, first.cursor, WINDOW, signal()));
    expect(died.code).toBe("OTJ_EWS_UNAVAILABLE");
    expect(fault.hits).toBe(1);
    const restarted = await harness({ emu: h.emu });
    const a = await restarted.source.syncRoom(ROOM, first.cursor, WINDOW, signal());
    const b = await restarted.source.syncRoom(ROOM, first.cursor, WINDOW, signal());
    expect(a.changed.map((o) => o.sourceId).sort()).toEqual([single.id, extra.id].sort());
    expect(b.changed.map((o) => [o.sourceId, o.changeKey])).toEqual(a.changed.map((o) => [o.sourceId, o.changeKey]));
    expect(a.changed.find((o) => o.sourceId === single.id)?.subject).toBe("Renamed");
  });

  it("an item deleted between FindItem and GetItem is removed, not an error", async () => {
    let emu: EwsEmulator | null = null;
    let target: ReturnType<EwsEmulator["createEvent"]> | null = null;
    const deleting: typeof fetch = async (input, init) => {
      const response = await fetch(input, init);
      if (String(init?.body ?? "").includes("FindItem") && target && emu) emu.mailbox(ROOM).delete(target);
      return response;
    };
    const h = await harness({ fetch: deleting });
    emu = h.emu;
    const { single } = seed(h.emu);
    const first = await h.source.syncRoom(ROOM, null, WINDOW, signal());
    h.emu.mailbox(ROOM).update(single, { subject: "Changed, then deleted" });
    target = single;
    const r = await h.source.syncRoom(ROOM, first.cursor, WINDOW, signal());
    expect(r).toMatchObject({ changed: [], removedIds: [single.id], warnings: [] });
  });

  it("keeps hostile content intact: XML specials in bodies and subjects round-trip, nothing is fetched", async () => {
    const h = await harness();
    const body = `<p>a &amp; b &lt;c&gt; ]]&gt; &#x1F600; <script>alert(1)</script></p>`;
    h.emu.createEvent(ROOM, { subject: `R&D <"review"> ]]>`, start: "2025-03-04T09:00:00Z", end: "2025-03-04T10:00:00Z", body });
    const r = await h.source.syncRoom(ROOM, null, WINDOW, signal());
    expect(r.changed[0]?.subject).toBe(`R&D <"review"> ]]>`);
    const raw = JSON.parse(r.changed[0]!.raw.content) as { body: { content: string } };
    expect(raw.body.content).toBe(body);
  });
});

describe("throttling and failures", () => {
  it("honours ErrorServerBusy's BackOffMilliseconds, then succeeds", async () => {
    const h = await harness();
    seed(h.emu);
    h.emu.addFault({ operation: "FindItem", responseCode: "ErrorServerBusy", backOffMs: 1500, times: 2 });
    h.emu.addFault({ operation: "GetItem", responseCode: "ErrorServerBusy", backOffMs: 700, times: 1 });
    const r = await h.source.syncRoom(ROOM, null, WINDOW, signal());
    expect(h.sleeps).toEqual([1500, 1500, 700]);
    expect(r.stats).toMatchObject({ retries: 3, waitedMs: 3700, requests: 5 });
    expect(r.changed).toHaveLength(4);
  });

  it("does not wait out a back-off longer than maxWaitMs or the round budget; hands the wait to the caller", async () => {
    const h = await harness({ source: { maxWaitMs: 10_000, roundBudgetSeconds: 20 } });
    h.emu.addFault({ operation: "FindItem", responseCode: "ErrorServerBusy", backOffMs: 30_000 });
    const long = await rejection(h.source.syncRoom(ROOM, null, WINDOW, signal()));
    expect(long).toMatchObject({ code: "OTJ_EWS_THROTTLED", retryable: true });
    expect(long.details).toMatchObject({ ewsCode: "ErrorServerBusy", retryAfterMs: 30_000 });
    expect(h.sleeps).toEqual([]);
    const h2 = await harness({ source: { roundBudgetSeconds: 5 } });
    h2.emu.addFault({ operation: "FindItem", responseCode: "ErrorServerBusy", backOffMs: 3000 });
    await expect(h2.source.syncRoom(ROOM, null, WINDOW, signal())).rejects.toMatchObject({ code: "OTJ_EWS_THROTTLED" });
    expect(h2.sleeps).toEqual([3000]);
  });

  it("gives up after the retry bound", async () => {
    const h = await harness({ source: { maxRetries: 2 } });
    const fault = h.emu.addFault({ operation: "FindItem", responseCode: "ErrorServerBusy", backOffMs: 100 });
    await expect(h.source.syncRoom(ROOM, null, WINDOW, signal())).rejects.toMatchObject({ code: "OTJ_EWS_THROTTLED" });
    expect(fault.hits).toBe(3);
  });

  it("retries bare 503s, 5xx faults, transient EWS errors and dropped connections with exponential backoff", async () => {
    const h = await harness();
    seed(h.emu);
    h.emu.addFault({ operation: "FindItem", status: 503, times: 1 });
    h.emu.addFault({ operation: "FindItem", drop: true, times: 1 });
    h.emu.addFault({ operation: "FindItem", responseCode: "ErrorMailboxStoreUnavailable", times: 1 });
    const r = await h.source.syncRoom(ROOM, null, WINDOW, signal());
    expect(h.sleeps).toEqual([750, 1500, 3000]);
    expect(r.changed).toHaveLength(4);
  });

  it("maps every error class: missing mailbox and denied impersonation are final, after one request", async () => {
    const h = await harness();
    h.emu.addRoom({ address: OTHER });
    h.emu.denyImpersonation(OTHER);
    const missing = await rejection(h.source.syncRoom("nobody@contoso.example", null, WINDOW, signal()));
    expect(missing).toMatchObject({ code: "OTJ_EWS_NOT_FOUND", retryable: false, details: { ewsCode: "ErrorNonExistentMailbox" } });
    const denied = await rejection(h.source.syncRoom(OTHER, null, WINDOW, signal()));
    expect(denied).toMatchObject({ code: "OTJ_EWS_ACCESS_DENIED", retryable: false, details: { ewsCode: "ErrorImpersonateUserDenied" } });
    expect(h.emu.requests).toHaveLength(2);
    h.emu.addFault({ operation: "FindItem", responseCode: "ErrorInvalidRequest", times: 1 });
    await expect(h.source.syncRoom(ROOM, null, WINDOW, signal())).rejects.toMatchObject({ code: "OTJ_EWS_REQUEST_INVALID", retryable: false });
    expect(h.sleeps).toEqual([]);
  });

  it("a wrong password is OTJ_EWS_AUTH and the password is nowhere in the error", async () => {
    const h = await harness({ client: { password: "wrong-Secret-42" } });
    const error = await rejection(h.source.syncRoom(ROOM, null, WINDOW, signal()));
    expect(error).toMatchObject({ code: "OTJ_EWS_AUTH", retryable: false });
    expect(JSON.stringify({ m: error.message, d: error.details, s: error.stack })).not.toContain("wrong-Secret-42");
    await expect(h.source.connect(signal())).rejects.toMatchObject({ code: "OTJ_EWS_AUTH" });
    const ok = await harness({ emu: h.emu });
    await expect(ok.source.connect(signal())).resolves.toBeUndefined();
  });

  it("an answer that is not SOAP is OTJ_EWS_BAD_RESPONSE", async () => {
    const html: typeof fetch = async () =>
      new Response("<html><body>Outlook Web App sign-in</body></html>", { status: 200, headers: { "Content-Type": "text/html" } });
    const h = await harness({ fetch: html });
    await expect(h.source.syncRoom(ROOM, null, WINDOW, signal())).rejects.toMatchObject({ code: "OTJ_EWS_BAD_RESPONSE", retryable: true });
    expect(h.sleeps).toEqual([]);
  });

  it("stops a CalendarView that cannot page on (more items at one start than a page) with the repeated-page guard", async () => {
    const h = await harness({ source: { pageSize: 2 } });
    for (let i = 0; i < 3; i++) h.emu.createEvent(ROOM, { subject: `Same ${i}`, start: "2025-03-03T00:00:00Z", end: "2025-03-03T01:00:00Z" });
    await expect(h.source.syncRoom(ROOM, null, WINDOW, signal())).rejects.toMatchObject({
      code: "OTJ_CALENDAR_DELTA_LOOP",
      details: { guard: "repeated-page" },
    });
  });

  it("rejects with the signal's reason when aborted", async () => {
    const h = await harness();
    const controller = new AbortController();
    controller.abort(new Error("shutdown"));
    await expect(h.source.syncRoom(ROOM, null, WINDOW, controller.signal)).rejects.toThrow("shutdown");
  });
});

describe("delegate access", () => {
  it("reads without the impersonation header; a room without delegate rights is ACCESS_DENIED, a missing one NOT_FOUND", async () => {
    const h = await harness({ emulator: { access: "delegate" }, client: { impersonation: false } });
    h.emu.addRoom({ address: OTHER });
    h.emu.denyDelegate(OTHER);
    seed(h.emu);
    const r = await h.source.syncRoom(ROOM, null, WINDOW, signal());
    expect(r.changed).toHaveLength(4);
    expect(h.emu.requests.every((q) => q.impersonated === null)).toBe(true);
    await expect(h.source.syncRoom(OTHER, null, WINDOW, signal())).rejects.toMatchObject({
      code: "OTJ_EWS_ACCESS_DENIED",
      details: { ewsCode: "ErrorAccessDenied" },
    });
    await expect(h.source.syncRoom("nobody@contoso.example", null, WINDOW, signal())).rejects.toMatchObject({ code: "OTJ_EWS_NOT_FOUND" });
  });

  it("impersonation configured for an account without the ApplicationImpersonation role is ACCESS_DENIED", async () => {
    const h = await harness({ emulator: { access: "delegate" } });
    await expect(h.source.syncRoom(ROOM, null, WINDOW, signal())).rejects.toMatchObject({
      code: "OTJ_EWS_ACCESS_DENIED",
      details: { ewsCode: "ErrorImpersonateUserDenied" },
    });
  });
});

describe("OAuth (hybrid)", () => {
  it("sends a client-credentials bearer token, fetched once; a wrong secret is OTJ_EWS_AUTH", async () => {
    const base = await harness();
    seed(base.emu);
    const h = await harness({ emu: base.emu, client: { auth: "oauth", tokenUrl: base.emu.tokenUrl } });
    const r = await h.source.syncRoom(ROOM, null, WINDOW, signal());
    expect(r.changed).toHaveLength(4);
    expect(h.emu.requests.map((q) => q.authorization)).toEqual(["bearer", "bearer"]);
    const wrong = await harness({ emu: base.emu, client: { auth: "oauth", tokenUrl: base.emu.tokenUrl, password: "nope" } });
    await expect(wrong.source.connect(signal())).rejects.toMatchObject({ code: "OTJ_EWS_AUTH", retryable: false });
  });
});

describe("rooms", () => {
  it("lists rooms of every room list (GetRoomLists, GetRooms)", async () => {
    const h = await harness();
    h.emu.addRoom({ address: OTHER, displayName: "Room 202", roomList: { address: "building-b@contoso.example", name: "Building B" } });
    h.emu.addRoom({ address: "Unlisted@contoso.example" });
    const rooms = await h.source.listRooms(signal());
    expect(rooms.sort((a, b) => a.mailbox.localeCompare(b.mailbox))).toEqual([
      {
        mailbox: ROOM,
        displayName: "Room 101",
        capacity: null,
        building: null,
        floor: null,
        roomLists: [{ mailbox: "building-a@contoso.example", displayName: "Building A" }],
      },
      {
        mailbox: OTHER,
        displayName: "Room 202",
        capacity: null,
        building: null,
        floor: null,
        roomLists: [{ mailbox: "building-b@contoso.example", displayName: "Building B" }],
      },
    ]);
    expect(h.emu.requests.map((q) => q.impersonated)).toEqual([null, null, null]);
  });

  it("checks mailboxes one result each, in order, retrying a busy server", async () => {
    const h = await harness();
    h.emu.addRoom({ address: OTHER });
    h.emu.denyImpersonation(OTHER);
    h.emu.addFault({ mailbox: ROOM, responseCode: "ErrorServerBusy", backOffMs: 200, times: 1 });
    const checks = await h.source.checkRooms([ROOM, "nobody@contoso.example", OTHER, "not an address", ROOM.toUpperCase()], signal());
    expect(checks.map((c) => (c.ok ? "ok" : c.error.code))).toEqual(["ok", "OTJ_EWS_NOT_FOUND", "OTJ_EWS_ACCESS_DENIED", "OTJ_ROOM_INVALID", "ok"]);
    expect(h.sleeps).toEqual([200]);
  });

  it("rejects the check when the credentials fail for every mailbox", async () => {
    const h = await harness({ client: { password: "wrong" } });
    await expect(h.source.checkRooms([ROOM, OTHER], signal())).rejects.toMatchObject({ code: "OTJ_EWS_AUTH" });
  });
});

describe("TLS", () => {
  const tls = new URL("../fixtures/tls/", import.meta.url);
  const pem = (name: string) => readFileSync(new URL(name, tls), "utf8");

  it("trusts the server through ews.caFile's CA; without it the certificate is refused, not retried", async () => {
    const emu = await EwsEmulator.start({ tls: { key: pem("device-key.pem"), cert: pem("device-cert.pem") } });
    running.push(emu);
    emu.addRoom({ address: ROOM });
    expect(emu.url.startsWith("https://127.0.0.1:")).toBe(true);
    const refused = await harness({ emu });
    const error = await rejection(refused.source.syncRoom(ROOM, null, WINDOW, signal()));
    expect(error).toMatchObject({ code: "OTJ_EWS_TLS", retryable: false });
    expect(refused.sleeps).toEqual([]);
    const other = await harness({ emu, client: { ca: pem("other-cert.pem") } });
    await expect(other.source.syncRoom(ROOM, null, WINDOW, signal())).rejects.toMatchObject({ code: "OTJ_EWS_TLS" });
    const trusted = await harness({ emu, client: { ca: pem("device-cert.pem") } });
    await expect(trusted.source.syncRoom(ROOM, null, WINDOW, signal())).resolves.toMatchObject({ full: true, changed: [] });
  });
});
