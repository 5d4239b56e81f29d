/**
 * GraphCalendarSource and GraphClient against the Graph emulator over real HTTP, through the real
 * @microsoft/microsoft-graph-client. Time is a manual clock shared by both sides; retry waits go
 * to a recording sleeper that advances that clock, so nothing here sleeps.
 */

import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { describe, expect, it } from "vitest";
import { type GraphClientConfig, GraphClient } from "../../calendar/graph/graph-client.ts";
import { GraphCalendarSource, type GraphCalendarSourceOptions } from "../../calendar/graph/graph-calendar-source.ts";
import { ConcurrencyGate, type RequestGate } from "../../calendar/graph/request-gate.ts";
import type { RoomSyncResult, TimeWindow } from "../../core/ports/calendar-source.ts";
import { GraphEmulator, type GraphEmulatorOptions } from "../../emulators/graph/graph-emulator.ts";
import { ManualClock, recordingSleeper, rejection, type SourceHarness, stoppedAfterEach, TEAMS_URL } from "./calendar-source-harness.ts";

const ROOM = "room101@contoso.example";
const WINDOW: TimeWindow = { start: "2025-03-03T00:00:00.000Z", end: "2025-03-12T00:00:00.000Z" };

type Harness = SourceHarness<GraphEmulator, GraphClient, GraphCalendarSource>;

const running = stoppedAfterEach<GraphEmulator>();

async function harness(
  options: {
    emulator?: GraphEmulatorOptions;
    source?: GraphCalendarSourceOptions;
    client?: Partial<GraphClientConfig>;
    gate?: RequestGate;
    fetch?: typeof fetch;
    random?: () => number;
  } = {},
): Promise<Harness> {
  const clock = new ManualClock(Date.parse("2025-03-04T08:00:00Z"));
  const emu = await GraphEmulator.start({ seed: "test", clock, ...options.emulator });
  running.push(emu);
  emu.addRoom({ address: ROOM, displayName: "Room 101" });
  const { sleeps, sleep } = recordingSleeper(clock);
  const client = new GraphClient(
    {
      tenantId: emu.tenantId,
      clientId: emu.clientId,
      clientSecret: emu.clientSecret,
      baseUrl: `${emu.url}/`,
      authorityUrl: emu.url,
      ...options.client,
    },
    { clock, ...(options.gate ? { gate: options.gate } : {}), ...(options.fetch ? { fetch: options.fetch } : {}) },
  );
  const source = new GraphCalendarSource(options.source ?? {}, { client, clock, sleep, random: options.random ?? (() => 0.5) });
  return { emu, clock, sleeps, client, source };
}

function signal(): AbortSignal {
  return AbortSignal.timeout(10_000);
}

function seedMorning(emu: GraphEmulator) {
  const single = emu.addEvent(ROOM, {
    subject: "Supplier review",
    start: "2025-03-04T09:00:00Z",
    end: "2025-03-04T09:30:00Z",
    organizer: { name: "Ana Ruiz", address: "ana.ruiz@fabrikam.example" },
    body: { contentType: "html", content: `<html><body><a href="${TEAMS_URL}">Join the meeting now</a></body></html>` },
    onlineMeeting: { joinUrl: TEAMS_URL, conferenceId: "918273645" },
  })!;
  const series = emu.addSeries(ROOM, {
    subject: "Stand-up",
    start: "2025-03-03T08:00:00Z",
    end: "2025-03-03T08:15:00Z",
    organizer: { name: "Bo Chen", address: "bo@contoso.example" },
    recurrence: { type: "daily", count: 5 },
  })!;
  const secret = emu.addEvent(ROOM, {
    subject: "Board",
    start: "2025-03-05T13:00:00Z",
    end: "2025-03-05T14:00:00Z",
    sensitivity: "private",
  })!;
  return { single, series, secret };
}

function ids(result: RoomSyncResult): string[] {
  return result.changed.map((c) => c.sourceId).sort();
}

describe("authentication", () => {
  it("fetches one token for concurrent first requests and sends it over http:// loopback", async () => {
    const { emu, source } = await harness();
    const rooms = ["a", "b", "c", "d", "e"].map((n) => `room-${n}@contoso.example`);
    for (const r of rooms) emu.addRoom({ address: r });
    await Promise.all(rooms.map((r) => source.syncRoom(r, null, WINDOW, signal())));
    expect(emu.stats().tokensIssued).toBe(1);
    const graphCalls = emu.requestLog.filter((r) => r.route === "delta");
    expect(graphCalls).toHaveLength(5);
    expect(graphCalls.every((r) => r.authorized && r.status === 200)).toBe(true);
  });

  it("renews the token about 5 minutes before expiry, not earlier", async () => {
    const { emu, source, clock } = await harness({ emulator: { tokenLifetimeSeconds: 3600 } });
    const first = await source.syncRoom(ROOM, null, WINDOW, signal());
    clock.advance(54 * 60_000);
    await source.syncRoom(ROOM, first.cursor, WINDOW, signal());
    expect(emu.stats().tokensIssued).toBe(1);
    clock.advance(2 * 60_000); // 56 min: inside the 5-minute margin
    await source.syncRoom(ROOM, first.cursor, WINDOW, signal());
    expect(emu.stats().tokensIssued).toBe(2);
  });

  it("recovers from a revoked token with one fresh token", async () => {
    const { emu, source } = await harness();
    const first = await source.syncRoom(ROOM, null, WINDOW, signal());
    emu.revokeTokens();
    const second = await source.syncRoom(ROOM, first.cursor, WINDOW, signal());
    expect(second.full).toBe(false);
    expect(emu.stats().tokensIssued).toBe(2);
    expect(emu.stats().byStatus["401"]).toBe(1);
  });

  it("maps a wrong client secret to OTJ_GRAPH_AUTH without echoing the secret", async () => {
    const { source } = await harness({ client: { clientSecret: "not-the-secret" } });
    const error = await rejection(source.syncRoom(ROOM, null, WINDOW, signal()));
    expect(error.code).toBe("OTJ_GRAPH_AUTH");
    expect(error.retryable).toBe(false);
    expect(error.message).toContain("invalid_client");
    expect(error.message).toContain("AADSTS7000215");
    expect(error.message).not.toContain("not-the-secret");
  });

  it("asks for the scope of graph.cloud, whatever graph.baseUrl is", async () => {
    const gcch = await harness({ emulator: { publicRoot: "https://graph.microsoft.us" }, client: { cloud: "gcch" } });
    await expect(gcch.source.syncRoom(ROOM, null, WINDOW, signal())).resolves.toMatchObject({ full: true });
    const wrong = await harness({ emulator: { publicRoot: "https://graph.microsoft.us" }, client: { cloud: "global" } });
    const error = await rejection(wrong.source.syncRoom(ROOM, null, WINDOW, signal()));
    expect(error.code).toBe("OTJ_GRAPH_AUTH");
    expect(error.message).toContain("invalid_scope");
  });

  it("connect() obtains a token and reports a broken token endpoint as retryable", async () => {
    const { emu, source } = await harness();
    emu.injectFault({ routes: ["token"], status: 503, times: 1 });
    const error = await rejection(source.connect(signal()));
    expect(error.code).toBe("OTJ_GRAPH_UNAVAILABLE");
    expect(error.retryable).toBe(true);
    await expect(source.connect(signal())).resolves.toBeUndefined();
  });
});

describe("delta rounds", () => {
  it("first round lists every occurrence of the window with the raw Graph event kept", async () => {
    const { emu, source } = await harness();
    const { single, series, secret } = seedMorning(emu);
    emu.addEvent(ROOM, { subject: "Next month", start: "2025-04-04T09:00:00Z", end: "2025-04-04T10:00:00Z" });
    const result = await source.syncRoom(ROOM.toUpperCase(), null, WINDOW, signal());
    expect(result).toMatchObject({ mailbox: ROOM, full: true, reason: "initial", removedIds: [] });
    expect(ids(result)).toEqual([single.id, secret.id, ...series.occurrenceIds].sort());
    const review = result.changed.find((c) => c.sourceId === single.id)!;
    expect(review).toMatchObject({
      kind: "single",
      uid: single.iCalUId,
      start: "2025-03-04T09:00:00.000Z",
      end: "2025-03-04T09:30:00.000Z",
      recurrenceId: null,
      subject: "Supplier review",
      organizer: { name: "Ana Ruiz", email: "ana.ruiz@fabrikam.example" },
      onlineMeetingUrl: TEAMS_URL,
      hasBody: true,
      cancelled: false,
      roomResponse: "accepted",
    });
    expect(review.raw.format).toBe("graph");
    const raw = JSON.parse(review.raw.content) as Record<string, unknown>;
    expect(raw["body"]).toEqual({ contentType: "html", content: `<html><body><a href="${TEAMS_URL}">Join the meeting now</a></body></html>` });
    expect(raw["start"]).toEqual({ dateTime: "2025-03-04T09:00:00.0000000", timeZone: "UTC" });
    const occurrences = result.changed.filter((c) => c.seriesId === series.id);
    expect(occurrences.map((o) => o.recurrenceId)).toEqual(occurrences.map((o) => o.start));
    expect(new Set(occurrences.map((o) => o.uid)).size).toBe(5); // one iCalUId per occurrence
    expect(result.changed.find((c) => c.sourceId === secret.id)?.sensitivity).toBe("private");
    // Prefer headers went on every page.
    expect(emu.requestLog.filter((r) => r.route === "delta").every((r) => r.prefer?.includes('IdType="ImmutableId"'))).toBe(true);
  });

  it("later rounds return only changes: update, exception, cancel, delete, out-of-window move", async () => {
    const { emu, source } = await harness();
    const { single, series, secret } = seedMorning(emu);
    const first = await source.syncRoom(ROOM, null, WINDOW, signal());
    const quiet = await source.syncRoom(ROOM, first.cursor, WINDOW, signal());
    expect(quiet).toMatchObject({ full: false, reason: null, changed: [], removedIds: [] });

    const [, second, third] = series.occurrenceIds;
    emu.updateEvent(ROOM, second!, { start: "2025-03-04T10:00:00Z", end: "2025-03-04T10:15:00Z", subject: "Stand-up (late)" });
    emu.cancelEvent(ROOM, single.id);
    emu.deleteEvent(ROOM, secret.id);
    emu.updateEvent(ROOM, third!, { start: "2025-04-01T08:00:00Z", end: "2025-04-01T08:15:00Z" });
    const added = emu.addEvent(ROOM, { subject: "New", start: "2025-03-06T09:00:00Z", end: "2025-03-06T10:00:00Z" })!;

    const next = await source.syncRoom(ROOM, quiet.cursor, WINDOW, signal());
    expect(next.full).toBe(false);
    expect(ids(next)).toEqual([second!, single.id, added.id].sort());
    expect(next.removedIds.slice().sort()).toEqual([secret.id, third!].sort());
    const moved = next.changed.find((c) => c.sourceId === second)!;
    expect(moved).toMatchObject({ kind: "exception", start: "2025-03-04T10:00:00.000Z", recurrenceId: "2025-03-04T08:00:00.000Z" });
    expect(next.changed.find((c) => c.sourceId === single.id)?.cancelled).toBe(true);
  });

  it("replayed items change nothing: one entry per id, same changeKey, same result twice", async () => {
    const { emu, source } = await harness({ source: { pageSize: 2 } });
    seedMorning(emu);
    emu.setReplay(ROOM, 2);
    const first = await source.syncRoom(ROOM, null, WINDOW, signal());
    expect(new Set(ids(first)).size).toBe(first.changed.length);
    expect(first.changed).toHaveLength(7);
    const replayed = await source.syncRoom(ROOM, first.cursor, WINDOW, signal());
    expect(replayed.changed.length).toBeGreaterThan(0);
    for (const item of replayed.changed) {
      expect(item.changeKey).toBe(first.changed.find((c) => c.sourceId === item.sourceId)?.changeKey);
    }
    const again = await source.syncRoom(ROOM, first.cursor, WINDOW, signal());
    expect(ids(again)).toEqual(ids(replayed));
  });

  it("follows nextLinks page by page, also when a series overflows odata.maxpagesize", async () => {
    const { emu, source } = await harness({ source: { pageSize: 2 } });
    for (let i = 0; i < 9; i++) {
      emu.addEvent(ROOM, { subject: `m${i}`, start: `2025-03-0${4 + (i % 5)}T1${i}:00:00Z`, end: `2025-03-0${4 + (i % 5)}T1${i}:30:00Z` });
    }
    const paged = await source.syncRoom(ROOM, null, WINDOW, signal());
    expect(paged.changed).toHaveLength(9);
    expect(paged.stats.pages).toBe(5);

    emu.addSeries(ROOM, { subject: "Series", start: "2025-03-03T07:00:00Z", end: "2025-03-03T07:30:00Z", recurrence: { type: "daily", count: 6 } });
    emu.setSeriesOverflow(ROOM, true);
    const overflow = await source.syncRoom(ROOM, paged.cursor, WINDOW, signal());
    expect(overflow.changed).toHaveLength(6);
    expect(overflow.stats.pages).toBe(1);
  });

  it("a new window means a full round", async () => {
    const { emu, source } = await harness();
    seedMorning(emu);
    const first = await source.syncRoom(ROOM, null, WINDOW, signal());
    const shifted = { start: "2025-03-04T00:00:00.000Z", end: "2025-03-13T00:00:00.000Z" };
    const next = await source.syncRoom(ROOM, first.cursor, shifted, signal());
    expect(next).toMatchObject({ full: true, reason: "window-changed", cursor: { window: shifted } });
    expect(next.changed).toHaveLength(6); // the Monday stand-up left the window
  });
});

describe("cursor expiry", () => {
  for (const mode of ["gone", "syncStateNotFound"] as const) {
    it(`restarts a full round without duplicates when the delta token expired (${mode})`, async () => {
      const { emu, source } = await harness({ source: { pageSize: 3 } });
      seedMorning(emu);
      const first = await source.syncRoom(ROOM, null, WINDOW, signal());
      emu.addEvent(ROOM, { subject: "Later", start: "2025-03-07T09:00:00Z", end: "2025-03-07T10:00:00Z" });
      emu.expireDeltaTokens(ROOM, mode);
      const next = await source.syncRoom(ROOM, first.cursor, WINDOW, signal());
      expect(next).toMatchObject({ full: true, reason: "cursor-expired", removedIds: [] });
      expect(next.changed).toHaveLength(8);
      expect(new Set(ids(next)).size).toBe(8);
      const after = await source.syncRoom(ROOM, next.cursor, WINDOW, signal());
      expect(after).toMatchObject({ full: false, changed: [], removedIds: [] });
    });
  }
});

describe("throttling and transient failures", () => {
  it("rides out a 429 storm honouring fractional Retry-After", async () => {
    const { emu, source, sleeps } = await harness();
    seedMorning(emu);
    const storm = emu.throttle(4, { mailbox: ROOM, retryAfter: "2.128" });
    const result = await source.syncRoom(ROOM, null, WINDOW, signal());
    expect(storm.hits).toBe(4);
    expect(sleeps).toEqual([2128, 2128, 2128, 2128]);
    expect(result.stats).toMatchObject({ retries: 4, requests: 5, waitedMs: 4 * 2128 });
    expect(result.changed).toHaveLength(7);
  });

  it("gives up after the retry bound and hands the wait to the caller", async () => {
    const { emu, source, sleeps } = await harness({ source: { maxRetries: 2 } });
    emu.throttle(10, { mailbox: ROOM, retryAfter: "0.25" });
    const error = await rejection(source.syncRoom(ROOM, null, WINDOW, signal()));
    expect(error.code).toBe("OTJ_GRAPH_THROTTLED");
    expect(error.retryable).toBe(true);
    expect(error.details).toMatchObject({ status: 429, graphCode: "ApplicationThrottled", retryAfterMs: 250 });
    expect(sleeps).toEqual([250, 250]);
  });

  it("does not wait out a Retry-After longer than maxWaitMs or the round budget", async () => {
    const { emu, source, sleeps } = await harness({ source: { maxWaitMs: 10_000 } });
    emu.throttle(1, { mailbox: ROOM, retryAfter: "30" });
    const error = await rejection(source.syncRoom(ROOM, null, WINDOW, signal()));
    expect(error.details).toMatchObject({ retryAfterMs: 30_000 });
    expect(sleeps).toEqual([]);
  });

  it("backs off exponentially with jitter when 429 has no Retry-After", async () => {
    const { emu, source, sleeps } = await harness({ random: () => 0 });
    emu.throttle(3, { mailbox: ROOM, retryAfter: null, code: "TooManyRequests" });
    await source.syncRoom(ROOM, null, WINDOW, signal());
    expect(sleeps).toEqual([500, 1000, 2000]);
  });

  it("retries 503 and 504 bursts and dropped connections", async () => {
    const { emu, source, sleeps } = await harness();
    seedMorning(emu);
    emu.injectFault({ mailbox: ROOM, status: 503, times: 2 });
    emu.injectFault({ mailbox: ROOM, status: 504, times: 1 });
    const first = await source.syncRoom(ROOM, null, WINDOW, signal());
    expect(first.changed).toHaveLength(7);
    expect(sleeps).toHaveLength(3);
    emu.injectFault({ mailbox: ROOM, drop: true, times: 1 });
    const second = await source.syncRoom(ROOM, first.cursor, WINDOW, signal());
    expect(second.stats.retries).toBe(1);
    expect(emu.stats().dropped).toBe(1);
  });

  it("503 with Retry-After is throttling; honoured like 429", async () => {
    const { emu, source, sleeps } = await harness({ source: { maxRetries: 0 } });
    emu.injectFault({ mailbox: ROOM, status: 503, retryAfter: "0.5", times: 1 });
    const error = await rejection(source.syncRoom(ROOM, null, WINDOW, signal()));
    expect(error.code).toBe("OTJ_GRAPH_THROTTLED");
    expect(error.details).toMatchObject({ retryAfterMs: 500 });
    expect(sleeps).toEqual([]);
  });

  it("never has more than 4 requests in flight per mailbox when a gate is shared", async () => {
    const gate = new ConcurrencyGate({ perMailbox: 4, global: 50 });
    const { emu, source } = await harness({ gate });
    seedMorning(emu);
    emu.setLatency(15, ROOM);
    await Promise.all(Array.from({ length: 12 }, () => source.syncRoom(ROOM, null, WINDOW, signal())));
    expect(emu.stats().concurrencyRejections).toBe(0);
    expect(emu.mailboxStats(ROOM).maxInFlight).toBe(4);
  });

  it("without a gate the emulator enforces MailboxConcurrency and the retries still succeed", async () => {
    const { emu, source, sleeps } = await harness({ source: { maxRetries: 10 } });
    emu.setLatency(15, ROOM);
    const results = await Promise.all(Array.from({ length: 8 }, () => source.syncRoom(ROOM, null, WINDOW, signal())));
    expect(results.every((r) => r.full)).toBe(true);
    expect(emu.stats().concurrencyRejections).toBeGreaterThan(0);
    expect(sleeps.every((ms) => ms === 1387)).toBe(true);
  });
});

describe("first pages in $batch", () => {
  const ROOMS = ["b1@contoso.example", "b2@contoso.example", "b3@contoso.example", "b4@contoso.example", "b5@contoso.example"];

  function seedRooms(emu: GraphEmulator, events = 1): void {
    for (const [n, r] of ROOMS.entries()) {
      emu.addRoom({ address: r });
      for (let e = 0; e < events; e++)
        emu.addEvent(r, { subject: `m${n}.${e}`, start: `2025-03-0${4 + e}T1${n}:00:00Z`, end: `2025-03-0${4 + e}T1${n}:30:00Z` });
    }
  }

  const items = (emu: GraphEmulator) => emu.requestLog.filter((r) => r.route === "delta");

  it("concurrent rounds share $batch requests of at most batchSize items, one result per room", async () => {
    const { emu, source } = await harness({ source: { batchSize: 3 } });
    seedRooms(emu);
    const first = await Promise.all(ROOMS.map((r) => source.syncRoom(r, null, WINDOW, signal())));
    expect(first.map((r) => [r.mailbox, r.full, r.changed.map((c) => c.subject)])).toEqual(ROOMS.map((r, n) => [r, true, [`m${n}.0`]]));
    expect(emu.stats().byRoute["batch"]).toBe(2); // 3 + 2
    expect(items(emu).every((r) => r.batchItem && r.prefer?.includes('IdType="ImmutableId"'))).toBe(true);

    // The deltaLinks go into the next batch as relative URLs.
    emu.updateEvent(ROOMS[1]!, [...emu.mailbox(ROOMS[1]!).instances()][0]!.id, { subject: "moved" });
    const again = await Promise.all(ROOMS.map((r, n) => source.syncRoom(r, first[n]!.cursor, WINDOW, signal())));
    expect(again.map((r) => r.changed.map((c) => c.subject))).toEqual([[], ["moved"], [], [], []]);
    expect(again.every((r) => !r.full && r.stats.requests === 1)).toBe(true);
    expect(emu.stats().byRoute["batch"]).toBe(4);
    expect(emu.stats().concurrencyRejections).toBe(0);
  });

  it("a 429 on one item delays only that room, by its own Retry-After", async () => {
    const { emu, source, sleeps } = await harness({ source: { batchSize: 5 } });
    seedRooms(emu);
    const first = await Promise.all(ROOMS.map((r) => source.syncRoom(r, null, WINDOW, signal())));
    const storm = emu.throttle(2, { mailbox: ROOMS[2]!, retryAfter: "1.25", routes: ["delta"] });
    const before = emu.stats().byRoute["batch"];
    const again = await Promise.all(ROOMS.map((r, n) => source.syncRoom(r, first[n]!.cursor, WINDOW, signal())));
    expect(storm.hits).toBe(2);
    expect(sleeps).toEqual([1250, 1250]);
    expect(again.map((r) => r.stats)).toEqual(
      ROOMS.map((_, n) => (n === 2 ? { pages: 1, requests: 3, retries: 2, waitedMs: 2500 } : { pages: 1, requests: 1, retries: 0, waitedMs: 0 })),
    );
    // One batch for all five; the throttled room's retries went out on their own.
    expect(emu.stats().byRoute["batch"]).toBe((before ?? 0) + 1);
    const retried = items(emu).filter((r) => r.mailbox === ROOMS[2]);
    expect(retried.slice(-3).map((r) => [r.batchItem, r.status])).toEqual([
      [true, 429],
      [false, 429],
      [false, 200],
    ]);
  });

  for (const mode of ["gone", "syncStateNotFound"] as const) {
    it(`an expired cursor answered inside a batch restarts only that room with a full round (${mode})`, async () => {
      const { emu, source } = await harness({ source: { batchSize: 5 } });
      seedRooms(emu);
      const first = await Promise.all(ROOMS.map((r) => source.syncRoom(r, null, WINDOW, signal())));
      emu.expireDeltaTokens(ROOMS[3]!, mode);
      const again = await Promise.all(ROOMS.map((r, n) => source.syncRoom(r, first[n]!.cursor, WINDOW, signal())));
      expect(again.map((r) => [r.full, r.reason, r.changed.length])).toEqual(ROOMS.map((_, n) => (n === 3 ? [true, "cursor-expired", 1] : [false, null, 0])));
    });
  }

  it("a failed batch is retried room by room; nextLink pages are single requests", async () => {
    const { emu, source, sleeps } = await harness({ source: { batchSize: 20, pageSize: 2 } });
    seedRooms(emu, 3);
    emu.injectFault({ routes: ["batch"], status: 503, times: 1 });
    const results = await Promise.all(ROOMS.map((r) => source.syncRoom(r, null, WINDOW, signal())));
    expect(results.every((r) => r.changed.length === 3 && r.stats.pages === 2 && r.stats.retries === 1)).toBe(true);
    expect(sleeps).toHaveLength(5);
    // The failed batch ran no item; then each room's first page again, and its nextLink page alone.
    const log = items(emu);
    expect(log).toHaveLength(10);
    expect(log.filter((r) => !r.batchItem).length).toBeGreaterThanOrEqual(5);
    expect(emu.stats().byRoute["batch"]).toBeGreaterThanOrEqual(1);
  });

  it("batchSize 1 sends every request on its own; a lone room never goes through $batch", async () => {
    const single = await harness({ source: { batchSize: 1 } });
    seedRooms(single.emu);
    await Promise.all(ROOMS.map((r) => single.source.syncRoom(r, null, WINDOW, signal())));
    expect(single.emu.stats().byRoute["batch"]).toBeUndefined();
    const lone = await harness();
    seedRooms(lone.emu);
    await lone.source.syncRoom(ROOMS[0]!, null, WINDOW, signal());
    expect(lone.emu.stats().byRoute["batch"]).toBeUndefined();
    expect(items(lone.emu)).toHaveLength(1);
  });

  it("a round aborted while its item waits in a batch rejects at once; the others complete", async () => {
    const { emu, source } = await harness({ source: { batchSize: 5 } });
    seedRooms(emu);
    emu.setLatency(50);
    const controller = new AbortController();
    const rounds = ROOMS.map((r, n) => source.syncRoom(r, null, WINDOW, n === 0 ? controller.signal : signal()));
    await new Promise((r) => setImmediate(r));
    controller.abort(new Error("stopped"));
    await expect(rounds[0]).rejects.toThrow("stopped");
    const rest = await Promise.all(rounds.slice(1));
    expect(rest.every((r) => r.changed.length === 1)).toBe(true);
  });
});

describe("guards and failures", () => {
  it("stops a looping nextLink by the repeated-page hash and keeps the old cursor usable", async () => {
    const { emu, source } = await harness();
    seedMorning(emu);
    const first = await source.syncRoom(ROOM, null, WINDOW, signal());
    emu.updateEvent(ROOM, first.changed[0]!.sourceId, { subject: "changed" });
    emu.setLoopingNextLink(ROOM, true);
    const error = await rejection(source.syncRoom(ROOM, first.cursor, WINDOW, signal()));
    expect(error.code).toBe("OTJ_CALENDAR_DELTA_LOOP");
    expect(error.details).toMatchObject({ guard: "repeated-page", pages: 2 });
    emu.setLoopingNextLink(ROOM, false);
    const recovered = await source.syncRoom(ROOM, first.cursor, WINDOW, signal());
    expect(recovered.changed.map((c) => c.subject)).toEqual(["changed"]);
  });

  it("stops an empty looping nextLink at the page cap", async () => {
    const { emu, source } = await harness({ source: { maxPagesPerRound: 6 } });
    emu.setLoopingNextLink(ROOM, true);
    const error = await rejection(source.syncRoom(ROOM, null, WINDOW, signal()));
    expect(error.details).toMatchObject({ guard: "page-cap", pages: 6 });
    expect(emu.stats().byRoute["delta"]).toBe(6);
  });

  it("stops a slow round at the time budget", async () => {
    const clockRef: { clock?: ManualClock } = {};
    const slowFetch: typeof fetch = async (input, init) => {
      clockRef.clock?.advance(1_000);
      return fetch(input, init);
    };
    const h = await harness({ source: { pageSize: 1, roundBudgetSeconds: 3.5 }, fetch: slowFetch });
    clockRef.clock = h.clock;
    seedMorning(h.emu);
    const error = await rejection(h.source.syncRoom(ROOM, null, WINDOW, signal()));
    expect(error.code).toBe("OTJ_CALENDAR_DELTA_LOOP");
    expect(error.details).toMatchObject({ guard: "time-budget" });
  });

  it("reports mailboxes the app may not read", async () => {
    const { emu, source } = await harness();
    emu.addRoom({ address: "denied@contoso.example" });
    emu.addRoom({ address: "onprem@contoso.example" });
    emu.setMailboxAccess("denied@contoso.example", "denied");
    emu.setMailboxAccess("onprem@contoso.example", "notEnabled");
    const denied = await rejection(source.syncRoom("denied@contoso.example", null, WINDOW, signal()));
    expect(denied).toMatchObject({ code: "OTJ_GRAPH_ACCESS_DENIED", retryable: false });
    expect(denied.details).toMatchObject({ status: 403, graphCode: "ErrorAccessDenied" });
    const onprem = await rejection(source.syncRoom("onprem@contoso.example", null, WINDOW, signal()));
    expect(onprem).toMatchObject({ code: "OTJ_GRAPH_NOT_FOUND" });
    const unknown = await rejection(source.syncRoom("nobody@contoso.example", null, WINDOW, signal()));
    expect(unknown.details).toMatchObject({ status: 404, graphCode: "ErrorInvalidUser" });
    const invalid = await rejection(source.syncRoom("not a mailbox", null, WINDOW, signal()));
    expect(invalid.code).toBe("OTJ_ROOM_INVALID");
  });

  it("rejects with the signal's reason when aborted", async () => {
    const { emu, source } = await harness();
    emu.setLatency(200, ROOM);
    const controller = new AbortController();
    const pending = source.syncRoom(ROOM, null, WINDOW, controller.signal);
    setImmediate(() => controller.abort(new Error("shutting down")));
    await expect(pending).rejects.toThrow("shutting down");
  });

  it("reads the body-stripped copy of a room: subject replaced, body gone, join URL kept", async () => {
    const { emu, source } = await harness();
    emu.setProcessing(ROOM, { deleteComments: true, deleteSubject: true, addOrganizerToSubject: true, removePrivateProperty: true });
    seedMorning(emu);
    const result = await source.syncRoom(ROOM, null, WINDOW, signal());
    const review = result.changed.find((c) => c.onlineMeetingUrl !== null)!;
    expect(review).toMatchObject({ subject: "Ana Ruiz", hasBody: false, onlineMeetingUrl: TEAMS_URL });
    expect(result.changed.every((c) => c.sensitivity === "normal")).toBe(true);
  });
});

describe("rooms", () => {
  it("lists Places rooms with their room lists, paging without nextLink and leaving hidden rooms out", async () => {
    const { emu, source } = await harness();
    const floor = Array.from({ length: 149 }, (_, i) => `r${String(i).padStart(3, "0")}@contoso.example`);
    for (const [i, address] of floor.entries()) emu.addRoom({ address, displayName: `Room ${i}`, capacity: 4 + (i % 3), building: "HQ", floorNumber: 1 });
    emu.addRoom({ address: "secret@contoso.example", hidden: true });
    emu.addRoomList({ address: "hq@contoso.example", displayName: "HQ rooms", rooms: [ROOM, floor[0]!, "secret@contoso.example"] });
    const rooms = await source.listRooms(signal());
    expect(rooms).toHaveLength(150);
    expect(rooms.some((r) => r.mailbox === "secret@contoso.example")).toBe(false);
    expect(rooms.find((r) => r.mailbox === floor[0])).toEqual({
      mailbox: floor[0],
      displayName: "Room 0",
      capacity: 4,
      building: "HQ",
      floor: "1",
      roomLists: [{ mailbox: "hq@contoso.example", displayName: "HQ rooms" }],
    });
    const placeCalls = emu.requestLog.filter((r) => r.route === "places");
    expect(placeCalls).toHaveLength(4); // rooms (2 pages), lists, one list's rooms
  });

  it("checks mailboxes with $batch, one result each, retrying items throttled inside the batch", async () => {
    const { emu, source, sleeps } = await harness();
    const rooms = Array.from({ length: 24 }, (_, i) => `c${i}@contoso.example`);
    for (const r of rooms) emu.addRoom({ address: r });
    emu.setMailboxAccess(rooms[3]!, "denied");
    emu.throttle(2, { mailbox: rooms[5]!, retryAfter: "0.75", routes: ["calendarView"] });
    const checks = await source.checkRooms([...rooms, "ghost@contoso.example", rooms[0]!.toUpperCase()], signal());
    expect(checks).toHaveLength(26);
    expect(checks.filter((c) => c.ok)).toHaveLength(24);
    expect(checks[3]).toMatchObject({ mailbox: rooms[3], ok: false, error: { code: "OTJ_GRAPH_ACCESS_DENIED" } });
    expect(checks[24]).toMatchObject({ ok: false, error: { code: "OTJ_GRAPH_NOT_FOUND" } });
    expect(checks[5]).toEqual({ mailbox: rooms[5], ok: true });
    expect(sleeps).toEqual([750, 750]);
    const stats = emu.stats();
    expect(stats.byRoute["batch"]).toBe(4); // 20 + 5, then the throttled item twice
    expect(stats.batchItems).toBe(27);
  });
});

describe("GraphClient", () => {
  it("sends $batch items relative and without the version, answers in request order", async () => {
    const { emu, client } = await harness({ emulator: { shuffleBatch: true } });
    seedMorning(emu);
    const items = Array.from({ length: 6 }, (_, i) => ({
      id: `q${i}`,
      method: "GET" as const,
      url: `/users/${ROOM}/calendarView?startDateTime=2025-03-0${3 + i}T00:00:00Z&endDateTime=2025-03-0${4 + i}T00:00:00Z`,
      headers: { Prefer: 'outlook.timezone="UTC"' },
      mailbox: ROOM,
    }));
    const answers = await client.batch(items, signal());
    expect(answers.map((a) => a.id)).toEqual(items.map((i) => i.id));
    expect(answers.every((a) => a.status === 200 && a.error === null)).toBe(true);
    expect((answers[1]!.body as { value: unknown[] }).value).toHaveLength(2); // Tuesday: stand-up and review
    await expect(client.batch([{ id: "1", method: "GET", url: "/v1.0/users/x/events" }], signal())).rejects.toThrow(RangeError);
    await expect(
      client.batch(
        Array.from({ length: 21 }, (_, i) => ({ id: String(i), method: "GET" as const, url: "/places/microsoft.graph.room" })),
        signal(),
      ),
    ).rejects.toThrow(RangeError);
  });

  it("creates, renews and deletes a subscription and reads MIME as text through the SDK", async () => {
    const { emu, client } = await harness();
    const hook = createServer((req, res) => {
      const token = new URL(req.url ?? "/", "http://x").searchParams.get("validationToken");
      req.resume();
      req.on("end", () => res.writeHead(token === null ? 202 : 200, { "Content-Type": "text/plain" }).end(token ?? ""));
    });
    await new Promise<void>((resolve) => hook.listen(0, "127.0.0.1", () => resolve()));
    try {
      const created = await client.post(
        "/subscriptions",
        {
          changeType: "created,updated,deleted",
          notificationUrl: `http://127.0.0.1:${(hook.address() as AddressInfo).port}/hook`,
          resource: `/users/${ROOM}/events`,
          expirationDateTime: "2025-03-07T08:00:00Z",
          clientState: "state",
        },
        { signal: signal() },
      );
      const id = (created.body as { id: string }).id;
      expect(created.status).toBe(201);
      const renewed = await client.patch(`/subscriptions/${id}`, { expirationDateTime: "2025-03-08T08:00:00Z" }, { signal: signal() });
      expect((renewed.body as { expirationDateTime: string }).expirationDateTime).toMatch(/^2025-03-08T08:00:00/);
      expect((await client.delete(`/subscriptions/${id}`, { signal: signal() })).status).toBe(204);
      expect(emu.subscriptions()).toHaveLength(0);
    } finally {
      hook.close();
      hook.closeAllConnections();
    }
    const mime = "Subject: Review\r\nContent-Type: text/calendar; method=REQUEST\r\n\r\nBEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n";
    const message = emu.addMessage(ROOM, { mime, meetingMessageType: "meetingRequest" })!;
    const raw = await client.getText(`/users/${ROOM}/messages/${message.id}/$value`, { signal: signal() });
    expect(raw.body).toBe(mime);
    const missing = await rejection(client.getText(`/users/${ROOM}/messages/nope/$value`, { signal: signal() }));
    expect(missing.code).toBe("OTJ_GRAPH_NOT_FOUND");
  });

  it("turns paths and v1.0 links on either root into $batch item URLs, and nothing else", async () => {
    const { emu, client } = await harness();
    const path = "/users/r%40contoso.example/calendarView/delta?$deltatoken=abc";
    expect(client.batchPath(path)).toBe(path);
    expect(client.batchPath(`https://graph.microsoft.com/v1.0${path}`)).toBe(path);
    expect(client.batchPath(`${emu.url}/v1.0${path}`)).toBe(path);
    expect(client.batchPath(`/v1.0${path}`)).toBeNull();
    expect(client.batchPath(`https://graph.microsoft.com/beta${path}`)).toBeNull();
    expect(client.batchPath(`https://evil.example/v1.0${path}`)).toBeNull();
  });

  it("refuses to follow a link to a foreign host (the token would leak)", async () => {
    const { client } = await harness();
    const error = await rejection(client.get("https://evil.example/v1.0/users/x/calendarView/delta?$deltatoken=abc", { signal: signal() }));
    expect(error.code).toBe("OTJ_GRAPH_BAD_RESPONSE");
  });

  it("follows links written on graph.baseUrl as well as on the cloud root", async () => {
    const { emu, client } = await harness({ emulator: { publicRoot: "https://graph.microsoft.com" } });
    seedMorning(emu);
    const direct = await client.get(`${emu.url}/v1.0/users/${ROOM}/calendarView?startDateTime=2025-03-03T00:00:00Z&endDateTime=2025-03-12T00:00:00Z&$top=2`, {
      signal: signal(),
    });
    const next = (direct.body as Record<string, string>)["@odata.nextLink"]!;
    expect(next.startsWith("https://graph.microsoft.com/v1.0/")).toBe(true);
    const page2 = await client.get(next, { signal: signal() });
    expect((page2.body as { value: unknown[] }).value).toHaveLength(2);
  });
});
