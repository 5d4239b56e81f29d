/** The poller's pure parts: tick cadence, sync window, stored subject, content hash, and the notification route. */

import { describe, expect, it } from "vitest";
import { tickExpression } from "../../calendar/calendar-poller.ts";
import { clientStateMatches, graphNotificationRoute, hashClientState } from "../../calendar/graph/subscriptions.ts";
import { liveWindow, mapParsedOccurrence, meetingHash, storedSubject, syncWindowFor } from "../../calendar/occurrence-mapper.ts";
import { occurrenceKey, sessionIdFor } from "../../core/identities.ts";
import type { SourceOccurrence } from "../../core/ports/calendar-source.ts";
import type { Provider, Room, RoomPrivacy } from "../../core/ports/store.ts";
import { roomPlanner } from "../../join/room-planning.ts";
import { parseGraphEvent } from "../../parser/index.ts";

const POLL = { windowPastHours: 24, windowFutureDays: 7 };
const PRIVACY: RoomPrivacy = { privateMeetings: "process", subjectReplace: "private", subjectTemplate: "Private meeting", privateJoin: "enabled" };

describe("tickExpression", () => {
  it.each([
    [1, "* * * * * *"],
    [5, "*/5 * * * * *"],
    [7, "* * * * * *"],
    [45, "*/15 * * * * *"],
    [60, "0 * * * * *"],
    [90, "*/30 * * * * *"],
    [300, "0 */5 * * * *"],
    [420, "0 * * * * *"],
    [3600, "0 0 * * * *"],
    [86_400, "0 0 * * * *"],
  ])("ticks at least every %i s with %s", (seconds, expression) => {
    expect(tickExpression(seconds)).toBe(expression);
  });
});

describe("syncWindowFor", () => {
  const now = new Date("2025-03-04T08:30:00.000Z");

  it("seeds on today's UTC midnight: [D - past, D + future + 1 day]", () => {
    expect(syncWindowFor(now, POLL, null)).toEqual({ start: "2025-03-03T00:00:00.000Z", end: "2025-03-12T00:00:00.000Z" });
  });

  it("keeps the stored window while it covers the live window, and moves it the next day", () => {
    const stored = { start: new Date("2025-03-03T00:00:00.000Z"), end: new Date("2025-03-12T00:00:00.000Z") };
    expect(syncWindowFor(new Date("2025-03-04T23:59:59.000Z"), POLL, stored)).toEqual({ start: "2025-03-03T00:00:00.000Z", end: "2025-03-12T00:00:00.000Z" });
    expect(syncWindowFor(new Date("2025-03-05T00:00:01.000Z"), POLL, stored)).toEqual({ start: "2025-03-04T00:00:00.000Z", end: "2025-03-13T00:00:00.000Z" });
    // A longer configured window no longer fits: re-seeded at once.
    expect(syncWindowFor(now, { windowPastHours: 48, windowFutureDays: 7 }, stored).start).toBe("2025-03-02T00:00:00.000Z");
  });

  it("the live window is now - past .. now + future", () => {
    expect(liveWindow(now, POLL)).toEqual({ from: new Date("2025-03-03T08:30:00.000Z"), to: new Date("2025-03-11T08:30:00.000Z") });
  });
});

describe("storedSubject", () => {
  it("keeps a normal meeting's subject", () => {
    expect(storedSubject({ subject: "Budget", sensitivity: "normal" }, PRIVACY)).toBe("Budget");
  });
  it("drops a private meeting's subject unless the room shows it", () => {
    for (const s of ["private", "personal", "confidential"] as const) expect(storedSubject({ subject: "Layoffs", sensitivity: s }, PRIVACY)).toBeNull();
    expect(storedSubject({ subject: "Layoffs", sensitivity: "private" }, { ...PRIVACY, subjectReplace: "never" })).toBe("Layoffs");
    expect(storedSubject({ subject: "Layoffs", sensitivity: "private" }, { ...PRIVACY, subjectTemplate: "Private: {subject}" })).toBe("Layoffs");
    expect(storedSubject({ subject: "Layoffs", sensitivity: "private" }, { ...PRIVACY, subjectReplace: "never", privateMeetings: "skip" })).toBeNull();
  });
});

const ROOM: Room = {
  id: "rm_0123456789",
  mailbox: "room101@contoso.example",
  displayName: "Room 101",
  providerId: null,
  providerName: null,
  device: { family: "pull", address: null, username: null, hasPassword: false, insecureTls: false, allowInsecureHttp: false, hasToken: true },
  sipUri: null,
  privacy: PRIVACY,
  timeZone: null,
  webrtc: [],
  delivery: "macro",
  source: "graph",
  enabled: true,
  createdAt: new Date(0),
  updatedAt: new Date(0),
};

const JOIN_URL =
  "https://teams.microsoft.com/l/meetup-join/19%3ameeting_Zm9vYmFy%40thread.v2/0?context=%7b%22Tid%22%3a%22c0ffee00-1111-4222-8333-444455556666%22%7d";

function occurrence(extra: Partial<SourceOccurrence> = {}): SourceOccurrence {
  const event = {
    id: "AAMk1",
    iCalUId: "uid-1",
    type: "occurrence",
    seriesMasterId: "AAMkMaster",
    start: { dateTime: "2025-03-05T10:00:00.0000000", timeZone: "UTC" },
    end: { dateTime: "2025-03-05T10:30:00.0000000", timeZone: "UTC" },
    subject: "Stand-up",
    onlineMeeting: { joinUrl: JOIN_URL },
  };
  return {
    sourceId: "AAMk1",
    uid: "uid-1",
    seriesId: "AAMkMaster",
    kind: "occurrence",
    start: "2025-03-05T10:00:00.000Z",
    end: "2025-03-05T10:30:00.000Z",
    recurrenceId: "2025-03-05T08:00:00.000Z",
    allDay: false,
    subject: "Stand-up",
    organizer: { name: "Bo", email: "bo@contoso.example" },
    sensitivity: "normal",
    cancelled: false,
    roomResponse: "accepted",
    onlineMeetingUrl: JOIN_URL,
    hasBody: false,
    changeKey: "ck1",
    lastModified: null,
    raw: { format: "graph", content: JSON.stringify(event) },
    ...extra,
  };
}

describe("mapParsedOccurrence", () => {
  const ctx = { room: ROOM, providers: [], planner: roomPlanner([]), now: new Date("2025-03-04T08:00:00.000Z") };
  const parsed = () => parseGraphEvent(JSON.parse(occurrence().raw.content) as Record<string, unknown>).details[0]!;

  it("strips control characters from the organizer and the subject (CR/LF from an encoded display name)", () => {
    const evil = occurrence({ subject: "Plan\r\nEND:VEVENT", organizer: { name: "Eve\r\nBEGIN:VEVENT\u0000", email: "eve@fabrikam.example\r\nX" } });
    const { upsert } = mapParsedOccurrence(evil, parsed(), ctx);
    expect(upsert.subject).toBe("Plan END:VEVENT");
    expect(upsert.organizerName).toBe("Eve BEGIN:VEVENT ");
    expect(upsert.organizerEmail).toBe("eve@fabrikam.exampleX");
    expect(upsert.subjectShown).toBe("Plan END:VEVENT");
  });
  const PROVIDER: Provider = {
    id: "pv_0123456789",
    name: "contoso",
    partner: "cisco",
    tenantKey: null,
    sipDomain: "sgj.contoso.example",
    ivrAddress: null,
    sgjEnabled: true,
    sgjTemplate: null,
    instructionUrl: null,
    createdAt: new Date(0),
    updatedAt: new Date(0),
  };

  it("keys by the original start and builds the SGJ dial string from that key", () => {
    const room = { ...ROOM, providerId: PROVIDER.id, providerName: PROVIDER.name };
    const { upsert } = mapParsedOccurrence(occurrence(), parsed(), { ...ctx, room, providers: [PROVIDER] });
    const key = occurrenceKey(ROOM.mailbox, "uid-1", "2025-03-05T08:00:00.000Z", "2025-03-05T10:00:00.000Z");
    expect(upsert.occurrenceKey).toBe(key);
    expect(upsert.route).toBe("sgj");
    expect(upsert.dialString).toBe(`${sessionIdFor(key)}@sgj.contoso.example`);
    expect(upsert).toMatchObject({ source: "graph", sourceEventId: "AAMk1", seriesMasterId: "AAMkMaster", declined: false });
  });

  it("never plans an .invalid SGJ address for a stored room: without a SIP domain the route is none, with a warning", () => {
    for (const [room, providers] of [
      [ROOM, []],
      [{ ...ROOM, providerId: PROVIDER.id, providerName: PROVIDER.name }, [{ ...PROVIDER, sipDomain: null }]],
    ] as const) {
      const { upsert } = mapParsedOccurrence(occurrence(), parsed(), { ...ctx, room, providers });
      expect(upsert.route).toBe("none");
      expect(upsert.dialString).toBeNull();
      expect(upsert.rule).toBe("teams-sgj-no-domain");
    }
  });

  it("hashes what otj keeps, not the change key", () => {
    const a = mapParsedOccurrence(occurrence(), parsed(), ctx).upsert;
    const b = mapParsedOccurrence(occurrence({ changeKey: "ck2" }), parsed(), ctx).upsert;
    const c = mapParsedOccurrence(occurrence({ end: "2025-03-05T10:45:00.000Z" }), parsed(), ctx).upsert;
    const d = mapParsedOccurrence(occurrence({ roomResponse: "declined" }), parsed(), ctx).upsert;
    expect(b.contentHash).toBe(a.contentHash);
    expect(c.contentHash).not.toBe(a.contentHash);
    expect(d.contentHash).not.toBe(a.contentHash);
    const { contentHash: _h, ...rest } = a;
    expect(meetingHash(rest)).toBe(a.contentHash);
  });

  it("an unreadable raw event is still stored, routed nowhere", () => {
    const { upsert } = mapParsedOccurrence(occurrence({ onlineMeetingUrl: null }), null, ctx);
    expect(upsert).toMatchObject({ route: "none", join: null, subject: "Stand-up" });
  });
});

describe("notification route", () => {
  const calls: unknown[] = [];
  const route = graphNotificationRoute({
    handleNotification: async (body) => {
      if (!Array.isArray((body as { value?: unknown })?.value)) throw new TypeError("not a notification collection");
      if ((body as { value: unknown[] }).value.length === 99) throw new Error("store down");
      calls.push(body);
      return { accepted: 1, rejected: 0, rooms: [] };
    },
  });

  it("echoes the validation token as text/plain", async () => {
    expect(await route({ validationToken: "a b&c" }, "")).toEqual({ status: 200, contentType: "text/plain; charset=utf-8", body: "a b&c" });
    expect((await route(new URLSearchParams("validationToken=x%2By"), "")).body).toBe("x+y");
  });

  it("accepts notifications with 202, rejects bodies that are not notifications with 400, store failures with 503", async () => {
    expect((await route({}, JSON.stringify({ value: [] }))).status).toBe(202);
    expect((await route({}, Buffer.from(JSON.stringify({ value: [] })))).status).toBe(202);
    expect(calls).toHaveLength(2);
    expect((await route({}, "{")).status).toBe(400);
    expect((await route({}, "{}")).status).toBe(400);
    expect((await route({}, JSON.stringify({ value: Array(99).fill({}) }))).status).toBe(503);
  });

  it("compares clientState by hash in constant time", () => {
    const hash = hashClientState("s3cret");
    expect(clientStateMatches(hash, "s3cret")).toBe(true);
    expect(clientStateMatches(hash, "s3cret ")).toBe(false);
    expect(clientStateMatches(hash, null)).toBe(false);
    expect(clientStateMatches(null, "s3cret")).toBe(false);
    expect(clientStateMatches("abc", "s3cret")).toBe(false);
  });
});
