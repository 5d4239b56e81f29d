/**
 * GoogleCalendarSource and GoogleClient against the Google emulator over real HTTP, through the
 * official client libraries (@googleapis/calendar, @googleapis/admin, google-auth-library).
 * Calendar time is a manual clock shared by both sides; retry waits go to a recording sleeper
 * that advances it, so nothing here sleeps.
 */
import { generateKeyPairSync } from "node:crypto";
import { describe, expect, it } from "vitest";
import { type GoogleClientConfig, GoogleClient } from "../../calendar/google/google-client.ts";
import { GoogleCalendarSource, type GoogleCalendarSourceOptions } from "../../calendar/google/google-calendar-source.ts";
import type { RoomSyncResult, TimeWindow } from "../../core/ports/calendar-source.ts";
import { type GoogleEmulatorOptions, GoogleEmulator } from "../../emulators/google/google-emulator.ts";
import { ManualClock, recordingSleeper, rejection, type SourceHarness, stoppedAfterEach, TEAMS_URL } from "./calendar-source-harness.ts";

const ROOM = "c_1889abc@resource.calendar.google.com";
const WINDOW: TimeWindow = { start: "2026-12-07T00:00:00.000Z", end: "2026-12-16T00:00:00.000Z" };

type Harness = SourceHarness<GoogleEmulator, GoogleClient, GoogleCalendarSource>;

const running = stoppedAfterEach<GoogleEmulator>();

async function harness(
  options: { emulator?: GoogleEmulatorOptions; source?: GoogleCalendarSourceOptions; client?: Partial<GoogleClientConfig> } = {},
): Promise<Harness> {
  const clock = new ManualClock(Date.parse("2026-12-08T08:00:00Z"));
  const emu = await GoogleEmulator.start({ clock, ...options.emulator });
  running.push(emu);
  emu.addRoom({ email: ROOM, name: "Berlin-4-Elbe", capacity: 8, building: "BER", floor: "4" });
  const { sleeps, sleep } = recordingSleeper(clock);
  const key = emu.serviceAccountKey();
  const client = new GoogleClient(
    {
      key: { client_email: key["client_email"]!, private_key: key["private_key"]! },
      subject: emu.subjects[0]!,
      apiRoot: emu.url,
      tokenUrl: emu.tokenUrl,
      ...options.client,
    },
    { clock },
  );
  const source = new GoogleCalendarSource(options.source ?? {}, { api: client, clock, sleep, random: () => 0.5 });
  return { emu, clock, sleeps, client, source };
}

function signal(): AbortSignal {
  return AbortSignal.timeout(15_000);
}

function seed(emu: GoogleEmulator) {
  const review = emu.addEvent(ROOM, {
    summary: "Supplier review",
    start: "2026-12-08T09:00:00.000Z",
    end: "2026-12-08T09:30:00.000Z",
    organizer: { email: "ana@acme.example", displayName: "Ana Ruiz" },
    description: `<a href="${TEAMS_URL}">Join the meeting now</a>`,
    conferenceData: {
      entryPoints: [{ entryPointType: "video", uri: TEAMS_URL }],
      conferenceSolution: { key: { type: "addOn" }, name: "Microsoft Teams Meeting" },
    },
  });
  const standup = emu.addSeries(ROOM, { summary: "Stand-up", start: "2026-12-07T08:00:00.000Z", end: "2026-12-07T08:15:00.000Z", count: 5 });
  const secret = emu.addEvent(ROOM, {
    summary: "Board",
    visibility: "private",
    start: "2026-12-09T12:00:00.000Z",
    end: "2026-12-09T13:00:00.000Z",
    hangoutLink: "https://meet.google.com/abc-mnop-xyz",
  });
  const outside = emu.addEvent(ROOM, { summary: "Next year", start: "2027-01-20T12:00:00.000Z", end: "2027-01-20T13:00:00.000Z" });
  return { review, standup, secret, outside };
}

const ids = (r: RoomSyncResult) => r.changed.map((o) => o.sourceId).sort();

describe("authentication", () => {
  it("gets a token through google.tokenUrl with a verified JWT assertion, once for many requests", async () => {
    const h = await harness();
    await h.source.connect(signal());
    seed(h.emu);
    await h.source.syncRoom(ROOM, null, WINDOW, signal());
    await h.source.syncRoom(ROOM, null, WINDOW, signal());
    expect(h.emu.tokenRequests).toBe(1);
    expect(h.emu.calls.filter((c) => c.path.startsWith("/calendar/")).every((c) => c.status === 200)).toBe(true);
  });

  it("a key the emulator does not know is OTJ_GOOGLE_AUTH, and the error names no key material", async () => {
    const other = generateKeyPairSync("rsa", {
      modulusLength: 2048,
      privateKeyEncoding: { type: "pkcs8", format: "pem" },
      publicKeyEncoding: { type: "spki", format: "pem" },
    });
    const h = await harness({ client: { key: { client_email: "otj-sync@acme-project.iam.gserviceaccount.com", private_key: other.privateKey } } });
    const error = await rejection(h.source.connect(signal()));
    expect(error.code).toBe("OTJ_GOOGLE_AUTH");
    expect(error.retryable).toBe(false);
    const text = `${error.message} ${JSON.stringify(error.details)}`;
    expect(text).not.toContain("PRIVATE KEY");
    expect(text).not.toContain(other.privateKey.slice(40, 80));
  });

  it("a subject without domain-wide delegation is OTJ_GOOGLE_AUTH in a round too", async () => {
    const h = await harness({ client: { subject: "intern@acme.example" } });
    const error = await rejection(h.source.syncRoom(ROOM, null, WINDOW, signal()));
    expect(error.code).toBe("OTJ_GOOGLE_AUTH");
  });

  it("a revoked token is replaced by a fresh one", async () => {
    const h = await harness();
    const first = await h.source.syncRoom(ROOM, null, WINDOW, signal());
    h.emu.revokeTokens();
    // google-auth-library refreshes on 401 and repeats the request once.
    const again = await h.source.syncRoom(ROOM, first.cursor, WINDOW, signal());
    expect(again.full).toBe(false);
    expect(h.emu.tokenRequests).toBe(2);
  });
});

describe("sync rounds", () => {
  it("a first round lists every occurrence of the window, keeping the raw event for the parser", async () => {
    const h = await harness();
    const s = seed(h.emu);
    const r = await h.source.syncRoom(ROOM, null, WINDOW, signal());
    expect(r).toMatchObject({ mailbox: ROOM, full: true, reason: "initial", removedIds: [] });
    expect(ids(r)).toEqual([s.review, s.secret, ...s.standup.instanceIds].sort());
    const review = r.changed.find((o) => o.sourceId === s.review)!;
    expect(review).toMatchObject({
      kind: "single",
      subject: "Supplier review",
      roomResponse: "accepted",
      onlineMeetingUrl: TEAMS_URL,
      hasBody: true,
      sensitivity: "normal",
    });
    expect(review.raw.format).toBe("google");
    expect(JSON.parse(review.raw.content)).toMatchObject({ id: s.review, kind: "calendar#event" });
    const instance = r.changed.find((o) => o.sourceId === s.standup.instanceIds[1])!;
    expect(instance).toMatchObject({
      kind: "occurrence",
      seriesId: s.standup.seriesId,
      recurrenceId: "2026-12-08T08:00:00.000Z",
      uid: `${s.standup.seriesId}@google.com`,
    });
    expect(r.changed.find((o) => o.sourceId === s.secret)!.sensitivity).toBe("private");
    expect(h.emu.calls.find((c) => c.path.endsWith("/events"))!.query).toMatchObject({ singleEvents: "true", timeMin: WINDOW.start, timeMax: WINDOW.end });
  });

  it("pages by pageToken and ends on nextSyncToken", async () => {
    const h = await harness({ emulator: { maxPageSize: 2 } });
    seed(h.emu);
    const r = await h.source.syncRoom(ROOM, null, WINDOW, signal());
    expect(r.changed).toHaveLength(7);
    expect(r.stats.pages).toBe(4);
    expect(h.emu.calls.filter((c) => c.query["pageToken"] !== undefined)).toHaveLength(3);
  });

  it("later rounds return only changes: new, moved instance (exception), declined, cancelled, moved out of the window", async () => {
    const h = await harness();
    const s = seed(h.emu);
    const first = await h.source.syncRoom(ROOM, null, WINDOW, signal());
    const quiet = await h.source.syncRoom(ROOM, first.cursor, WINDOW, signal());
    expect(quiet).toMatchObject({ full: false, reason: null, changed: [], removedIds: [] });
    expect(quiet.stats.requests).toBe(1);

    const added = h.emu.addEvent(ROOM, { summary: "Late add", start: "2026-12-10T10:00:00.000Z", end: "2026-12-10T11:00:00.000Z" });
    h.emu.updateEvent(ROOM, s.standup.instanceIds[2]!, { start: "2026-12-09T09:00:00.000Z", end: "2026-12-09T09:15:00.000Z" });
    h.emu.updateEvent(ROOM, s.secret, { roomResponse: "declined" });
    h.emu.cancelEvent(ROOM, s.standup.instanceIds[3]!);
    h.emu.updateEvent(ROOM, s.review, { start: "2027-02-01T09:00:00.000Z", end: "2027-02-01T09:30:00.000Z" });
    h.emu.updateEvent(ROOM, s.outside, { summary: "Next year (renamed)" });
    const r = await h.source.syncRoom(ROOM, quiet.cursor, WINDOW, signal());
    expect(r.full).toBe(false);
    expect(ids(r)).toEqual([added, s.secret, s.standup.instanceIds[2]!].sort());
    expect(r.changed.find((o) => o.sourceId === s.standup.instanceIds[2])).toMatchObject({
      kind: "exception",
      recurrenceId: "2026-12-09T08:00:00.000Z",
      start: "2026-12-09T09:00:00.000Z",
    });
    expect(r.changed.find((o) => o.sourceId === s.secret)!.roomResponse).toBe("declined");
    expect([...r.removedIds].sort()).toEqual([s.outside, s.review, s.standup.instanceIds[3]!].sort());
    expect(h.emu.calls.at(-1)!.query["timeMin"]).toBeUndefined();
  });

  it("replaying a cursor returns the same changes (idempotent)", async () => {
    const h = await harness();
    const s = seed(h.emu);
    const first = await h.source.syncRoom(ROOM, null, WINDOW, signal());
    h.emu.updateEvent(ROOM, s.review, { summary: "Supplier review (moved)" });
    const a = await h.source.syncRoom(ROOM, first.cursor, WINDOW, signal());
    const b = await h.source.syncRoom(ROOM, first.cursor, WINDOW, signal());
    expect(b.changed).toEqual(a.changed);
    expect(a.changed.map((o) => o.subject)).toEqual(["Supplier review (moved)"]);
  });

  it("a new window means a full round", async () => {
    const h = await harness();
    seed(h.emu);
    const first = await h.source.syncRoom(ROOM, null, WINDOW, signal());
    const moved = { start: "2026-12-08T00:00:00.000Z", end: "2026-12-17T00:00:00.000Z" };
    const r = await h.source.syncRoom(ROOM, first.cursor, moved, signal());
    expect(r).toMatchObject({ full: true, reason: "window-changed" });
    expect(r.cursor.window).toEqual(moved);
  });

  it("410 Gone on the sync token restarts as a full round (cursor-expired)", async () => {
    const h = await harness();
    seed(h.emu);
    const first = await h.source.syncRoom(ROOM, null, WINDOW, signal());
    h.emu.expireSyncTokens(ROOM);
    const r = await h.source.syncRoom(ROOM, first.cursor, WINDOW, signal());
    expect(r).toMatchObject({ full: true, reason: "cursor-expired" });
    expect(r.changed).toHaveLength(first.changed.length);
    expect(h.emu.calls.map((c) => c.status)).toContain(410);
    const next = await h.source.syncRoom(ROOM, r.cursor, WINDOW, signal());
    expect(next).toMatchObject({ full: false, changed: [] });
  });

  it("restart mid-round: a round that fails on page 2 leaves the old cursor valid, and a new instance continues from it", async () => {
    const h = await harness({ emulator: { maxPageSize: 2 }, source: { maxRetries: 0 } });
    const s = seed(h.emu);
    const first = await h.source.syncRoom(ROOM, null, WINDOW, signal());
    for (const id of s.standup.instanceIds) h.emu.updateEvent(ROOM, id, { summary: "Daily" });
    const pages: string[] = [];
    const failing = new GoogleCalendarSource(
      { maxRetries: 0 },
      {
        api: {
          connect: (sig) => h.client.connect(sig),
          listResources: (t, sig) => h.client.listResources(t, sig),
          listEvents: async (params, sig) => {
            pages.push(params.pageToken ?? "first");
            if (params.pageToken !== undefined) throw Object.assign(new Error("socket hang up"), { code: "ECONNRESET" });
            return h.client.listEvents(params, sig);
          },
        },
        clock: h.clock,
      },
    );
    const error = await rejection(failing.syncRoom(ROOM, first.cursor, WINDOW, signal()));
    expect(error.code).toBe("OTJ_GOOGLE_UNAVAILABLE");
    expect(pages).toEqual(["first", expect.any(String)]);
    // The process "restarts": a fresh source (fresh client) from the stored cursor.
    const key = h.emu.serviceAccountKey();
    const client = new GoogleClient(
      {
        key: { client_email: key["client_email"]!, private_key: key["private_key"]! },
        subject: h.emu.subjects[0]!,
        apiRoot: h.emu.url,
        tokenUrl: h.emu.tokenUrl,
      },
      { clock: h.clock },
    );
    const fresh = new GoogleCalendarSource({}, { api: client, clock: h.clock });
    const r = await fresh.syncRoom(ROOM, first.cursor, WINDOW, signal());
    expect(ids(r)).toEqual([...s.standup.instanceIds].sort());
    expect(r.changed.every((o) => o.subject === "Daily")).toBe(true);
  });
});

describe("quotas and failures", () => {
  it.each(["rateLimitExceeded", "userRateLimitExceeded", "429", "500", "503", "drop"] as const)(
    "rides out %s with exponential backoff and jitter",
    async (fault) => {
      const h = await harness();
      seed(h.emu);
      h.emu.failNext(fault, fault, fault);
      const r = await h.source.syncRoom(ROOM, null, WINDOW, signal());
      expect(r.changed).toHaveLength(7);
      expect(r.stats).toMatchObject({ retries: 3, requests: 4 });
      // random() = 0.5 puts each wait at 75% of its step: 1 s, 2 s, 4 s.
      expect(h.sleeps).toEqual([750, 1500, 3000]);
    },
  );

  it("gives up after the retry bound with a retryable OTJ_GOOGLE_THROTTLED", async () => {
    const h = await harness({ source: { maxRetries: 2 } });
    h.emu.failNext("rateLimitExceeded", "rateLimitExceeded", "rateLimitExceeded", "rateLimitExceeded");
    const error = await rejection(h.source.syncRoom(ROOM, null, WINDOW, signal()));
    expect(error).toMatchObject({ code: "OTJ_GOOGLE_THROTTLED", retryable: true });
    expect(h.sleeps).toHaveLength(2);
  });

  it("never waits past the round budget", async () => {
    const h = await harness({ source: { roundBudgetSeconds: 2 } });
    h.emu.failNext("429", "429", "429");
    const error = await rejection(h.source.syncRoom(ROOM, null, WINDOW, signal()));
    expect(error.code).toBe("OTJ_GOOGLE_THROTTLED");
    expect(h.sleeps.reduce((a, b) => a + b, 0)).toBeLessThanOrEqual(2000);
  });

  it.each([
    ["quotaExceeded", "OTJ_GOOGLE_THROTTLED", true],
    ["forbidden", "OTJ_GOOGLE_ACCESS_DENIED", false],
  ] as const)("%s is not retried in the round: %s", async (fault, code, retryable) => {
    const h = await harness();
    h.emu.failNext(fault);
    const error = await rejection(h.source.syncRoom(ROOM, null, WINDOW, signal()));
    expect(error).toMatchObject({ code, retryable });
    expect(h.sleeps).toEqual([]);
  });

  it("an unknown calendar is OTJ_GOOGLE_NOT_FOUND; a bad sync token is OTJ_GOOGLE_REQUEST_INVALID", async () => {
    const h = await harness();
    expect((await rejection(h.source.syncRoom("nobody@resource.calendar.google.com", null, WINDOW, signal()))).code).toBe("OTJ_GOOGLE_NOT_FOUND");
    const error = await rejection(h.source.syncRoom(ROOM, { token: "garbage", window: WINDOW }, WINDOW, signal()));
    expect(error.code).toBe("OTJ_GOOGLE_REQUEST_INVALID");
  });

  it("the daily request budget stops requests until the next UTC day", async () => {
    const h = await harness({ client: { dailyRequestBudget: 2 } });
    const first = await h.source.syncRoom(ROOM, null, WINDOW, signal());
    await h.source.syncRoom(ROOM, first.cursor, WINDOW, signal());
    const error = await rejection(h.source.syncRoom(ROOM, first.cursor, WINDOW, signal()));
    expect(error).toMatchObject({ code: "OTJ_GOOGLE_BUDGET_EXHAUSTED", retryable: true });
    expect(error.details?.["retryAfterMs"]).toBe(Date.parse("2026-12-09T00:00:00Z") - h.clock.ms);
    h.clock.ms = Date.parse("2026-12-09T00:00:01Z");
    await expect(h.source.syncRoom(ROOM, first.cursor, WINDOW, signal())).resolves.toMatchObject({ full: false });
  });

  it("stops a round at the page cap", async () => {
    const h = await harness({ emulator: { maxPageSize: 1 }, source: { maxPagesPerRound: 3 } });
    seed(h.emu);
    const error = await rejection(h.source.syncRoom(ROOM, null, WINDOW, signal()));
    expect(error).toMatchObject({ code: "OTJ_CALENDAR_DELTA_LOOP", details: { guard: "page-cap" } });
  });

  it("rejects with the signal's reason when aborted", async () => {
    const h = await harness();
    const controller = new AbortController();
    controller.abort(new Error("shutting down"));
    await expect(h.source.syncRoom(ROOM, null, WINDOW, controller.signal)).rejects.toThrow("shutting down");
  });
});

describe("rooms", () => {
  it("lists resource calendars from the Directory API, paging", async () => {
    const h = await harness();
    for (let i = 0; i < 600; i++) h.emu.addRoom({ email: `c_${i}@resource.calendar.google.com`, name: `Room ${i}` });
    const rooms = await h.source.listRooms(signal());
    expect(rooms).toHaveLength(601);
    expect(rooms[0]).toEqual({ mailbox: ROOM, displayName: "Berlin-4-Elbe", capacity: 8, building: "BER", floor: "4", roomLists: [] });
    expect(h.emu.calls.filter((c) => c.path.includes("/resources/calendars"))).toHaveLength(2);
  });

  it("checks calendars one result each, in order", async () => {
    const h = await harness();
    const checks = await h.source.checkRooms([ROOM, "missing@resource.calendar.google.com", "not an address"], signal());
    expect(checks.map((c) => c.ok)).toEqual([true, false, false]);
    expect(checks[1]!.ok === false && checks[1]!.error.code).toBe("OTJ_GOOGLE_NOT_FOUND");
  });
});
