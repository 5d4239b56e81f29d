/**
 * Regression (iCalendar feed injection), end to end: a Graph event whose organizer name and
 * address carry CRLF + a fake VEVENT (an encoded display name from an outside sender) is mapped,
 * stored in PostgreSQL and served as calendar.ics over real HTTP; the feed holds exactly one event
 * and no line of the attacker's. A row stored before control characters were stripped is served
 * safely too.
 */
import ICAL from "ical.js";
import type { FastifyInstance } from "fastify";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildHttpServer } from "../../app/http/server.ts";
import { EngineMetrics } from "../../app/metrics.ts";
import { mapOccurrence } from "../../calendar/occurrence-mapper.ts";
import { createLogger } from "../../core/logger.ts";
import type { SourceOccurrence } from "../../core/ports/calendar-source.ts";
import { roomPlanner } from "../../join/room-planning.ts";
import { FakeClock } from "../support/fake-clock.ts";
import { openTestStore, type TestStore } from "../support/test-database.ts";

const FAKE =
  "\r\nEND:VEVENT\r\nBEGIN:VEVENT\r\nUID:fake@otj\r\nDTSTART:20250304T070000Z\r\nCONFERENCE;VALUE=URI:sip:attacker@evil.example\r\nSUMMARY:Join here";
const JOIN_URL =
  "https://teams.microsoft.com/l/meetup-join/19%3ameeting_Zm9vYmFy%40thread.v2/0?context=%7b%22Tid%22%3a%22c0ffee00-1111-4222-8333-444455556666%22%7d";

let db: TestStore;
let app: FastifyInstance;
let base: string;
const clock = new FakeClock("2025-03-04T08:00:00.000Z");

beforeAll(async () => {
  db = await openTestStore("postgres");
  app = await buildHttpServer({
    store: db.store,
    clock,
    logger: createLogger("silent"),
    metrics: new EngineMetrics(),
    adminToken: "admin-token-0123456789abcdef0123456789",
    settings: { startBufferMinutes: 5, endBufferMinutes: 0, windowFutureDays: 7, pollFailuresBeforeAlarm: 3, pushFailuresBeforeAlarm: 3 },
    readiness: async () => ({ database: true }),
  });
  await app.listen({ host: "127.0.0.1", port: 0 });
  base = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`;
  await db.store.providers.add({ name: "webex", partner: "cisco", tenantKey: "contoso@m.webex.com", sipDomain: "sgj.contoso.example" }, clock.now());
});
afterAll(async () => {
  await app?.close();
  await db?.close();
});

function occurrence(id: string, start: string): SourceOccurrence {
  const end = new Date(Date.parse(start) + 30 * 60_000).toISOString();
  const organizer = { name: `Mallory${FAKE}`, email: `mallory@fabrikam.example${FAKE}` };
  const event = {
    id,
    iCalUId: `uid-${id}`,
    type: "singleInstance",
    start: { dateTime: start.replace("Z", ""), timeZone: "UTC" },
    end: { dateTime: end.replace("Z", ""), timeZone: "UTC" },
    subject: `Supplier review${FAKE}`,
    organizer: { emailAddress: { name: organizer.name, address: organizer.email } },
    onlineMeeting: { joinUrl: JOIN_URL },
  };
  return {
    sourceId: id,
    uid: `uid-${id}`,
    seriesId: null,
    kind: "single",
    start,
    end,
    recurrenceId: null,
    allDay: false,
    subject: event.subject,
    organizer,
    sensitivity: "normal",
    cancelled: false,
    roomResponse: "accepted",
    onlineMeetingUrl: JOIN_URL,
    hasBody: false,
    changeKey: "ck1",
    lastModified: null,
    raw: { format: "graph", content: JSON.stringify(event) },
  };
}

async function feed(roomId: string, token: string): Promise<string> {
  const r = await fetch(`${base}/v1/rooms/${roomId}/calendar.ics`, { headers: { authorization: `Bearer ${token}` } });
  expect(r.status).toBe(200);
  return r.text();
}

describe("calendar.ics with a hostile organizer", () => {
  it("serves one event per occurrence, whose text round-trips through ical.js", async () => {
    const { room, deviceToken } = await db.store.rooms.add(
      { mailbox: "panel1@contoso.example", displayName: "Panel 1", provider: "webex", deviceFamily: "pull" },
      clock.now(),
    );
    const ctx = { room, providers: await db.store.providers.list(), planner: roomPlanner([]), now: clock.now() };
    const mapped = await mapOccurrence(occurrence("AAMk1", "2025-03-04T09:00:00.000Z"), ctx);
    expect(mapped.upsert.organizerName).not.toMatch(/[\r\n]/);
    // A row written before names were cleaned at ingest: the feed must still be safe.
    const legacy = {
      ...mapped.upsert,
      occurrenceKey: `${mapped.upsert.occurrenceKey}-old`,
      organizerName: `Old${FAKE}`,
      organizerEmail: `old@fabrikam.example${FAKE}`,
      subjectShown: `Old${FAKE}`,
    };
    await db.store.meetings.upsert(
      [mapped.upsert, { ...legacy, start: new Date("2025-03-04T10:00:00.000Z"), end: new Date("2025-03-04T10:30:00.000Z") }],
      clock.now(),
    );

    const text = await feed(room.id, deviceToken!);
    expect(text).not.toMatch(/\r(?!\n)|(?<!\r)\n/);
    const lines = text.split("\r\n");
    expect(lines.filter((l) => l === "BEGIN:VEVENT")).toHaveLength(2);
    expect(lines.some((l) => /^(UID:fake|CONFERENCE;VALUE=URI:sip:attacker|DTSTART:20250304T070000Z$)/.test(l))).toBe(false);
    const events = new ICAL.Component(ICAL.parse(text)).getAllSubcomponents("vevent");
    expect(events).toHaveLength(2);
    for (const event of events) {
      expect(event.getAllProperties("conference")).toHaveLength(1);
      expect(String(event.getFirstPropertyValue("conference"))).not.toContain("attacker");
      expect(event.getFirstProperty("organizer")?.getParameter("cn")).toMatch(/^(Mallory|Old) END:VEVENT BEGIN:VEVENT UID:fake@otj/);
    }
    expect(events[0]!.getFirstPropertyValue("summary")).toBe(mapped.upsert.subjectShown);
  });
});
