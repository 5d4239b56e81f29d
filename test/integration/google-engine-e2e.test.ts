/**
 * End to end with Google Workspace: the real engine (app/main.ts) on real PostgreSQL, configured
 * for both Graph and Google (emulators over real HTTP), serves a Graph room and a Google room in
 * one instance: each room is read from its own source and its meetings are planned.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Engine } from "../../app/main.ts";
import { resolveConfig } from "../../core/config.ts";
import { createLogger } from "../../core/logger.ts";
import { ManualClock } from "../../core/manual-clock.ts";
import { GoogleEmulator } from "../../emulators/google/google-emulator.ts";
import { GraphEmulator } from "../../emulators/graph/graph-emulator.ts";
import { googleSettings, graphSettings } from "../support/engine-harness.ts";
import { createTestPostgres, type TestPostgres } from "../support/test-database.ts";

const GOOGLE_ROOM = "c_berlin4@resource.calendar.google.com";
const GRAPH_ROOM = "room101@contoso.example";
const at = (hhmm: string) => `2026-12-08T${hhmm}:00.000Z`;
const TEAMS_URL =
  "https://teams.microsoft.com/l/meetup-join/19%3ameeting_Z29vZ2xlLWUyZQ%40thread.v2/0?context=%7b%22Tid%22%3a%22c0ffee00-1111-2222-3333-444455556666%22%7d";

let pg: TestPostgres;
let clock: ManualClock;
let google: GoogleEmulator;
let graph: GraphEmulator;
let engine: Engine;
let googleRoomId = "";
let graphRoomId = "";
const logLines: string[] = [];

async function step(minutes = 1): Promise<void> {
  for (let i = 0; i < minutes; i++) {
    await engine.workflows.step();
    clock.advance(60_000);
  }
}

beforeAll(async () => {
  pg = await createTestPostgres("google_e2e");
  clock = new ManualClock(at("07:30"));
  google = await GoogleEmulator.start({ clock });
  google.addRoom({ email: GOOGLE_ROOM, name: "Berlin-4-Elbe" });
  graph = new GraphEmulator({ clock, seed: "google-e2e" });
  await graph.listen();
  graph.addRoom({ address: GRAPH_ROOM, displayName: "Room 101" });
  const config = resolveConfig(
    {
      database: { url: pg.url },
      graph: graphSettings(graph),
      google: googleSettings(google),
      http: { host: "127.0.0.1", port: 0 },
      poll: { intervalSeconds: 60, windowPastHours: 2, windowFutureDays: 2 },
      log: { level: "debug" },
    },
    { env: {}, cwd: process.cwd() },
  );
  const { Writable } = await import("node:stream");
  const sink = new Writable({
    write(chunk, _enc, done) {
      logLines.push(String(chunk));
      done();
    },
  });
  engine = new Engine({ config, clock, logger: createLogger("debug", sink), cwd: process.cwd(), ticks: false });
  await engine.start(false);
  await engine.store.providers.add({ partner: "cisco", name: "webex", tenantKey: "acme@m.webex.com" }, clock.now());
  googleRoomId = (
    await engine.store.rooms.add({ mailbox: GOOGLE_ROOM, displayName: "Berlin-4-Elbe", provider: "webex", deviceFamily: "pull", source: "google" }, clock.now())
  ).room.id;
  graphRoomId = (await engine.store.rooms.add({ mailbox: GRAPH_ROOM, displayName: "Room 101", provider: "webex", deviceFamily: "pull" }, clock.now())).room.id;
}, 60_000);

afterAll(async () => {
  await engine?.stop().catch(() => undefined);
  await google?.stop();
  await graph?.stop();
  await pg?.drop();
});

describe("a Google room and a Graph room in one engine", () => {
  it("polls the Google room from Google and plans its Teams meeting with CVI coordinates", async () => {
    google.addEvent(GOOGLE_ROOM, {
      id: "evtcvi",
      summary: "Partner sync",
      start: at("09:00"),
      end: at("09:30"),
      organizer: { email: "ana@acme.example", displayName: "Ana Ruiz" },
      conferenceData: {
        entryPoints: [{ entryPointType: "video", uri: TEAMS_URL }],
        conferenceSolution: { key: { type: "addOn" }, name: "Microsoft Teams Meeting" },
        notes: "<p>Join with a video conferencing device<br>acme@m.webex.com<br>Video Conference ID: 118 345 678 9</p>",
      },
    });
    graph.addEvent(GRAPH_ROOM, { subject: "Graph only", start: at("10:00"), end: at("10:30"), organizer: { name: "Bo", address: "bo@contoso.example" } });
    await step(2);
    const meetings = await engine.store.meetings.list(googleRoomId);
    expect(meetings).toHaveLength(1);
    expect(meetings[0]).toMatchObject({
      subject: "Partner sync",
      route: "cvi",
      dialString: "1183456789.acme@m.webex.com",
      sourceEventId: "evtcvi",
      organizerEmail: "ana@acme.example",
    });
    expect((await engine.store.meetings.list(graphRoomId)).map((m) => m.subject)).toEqual(["Graph only"]);
    expect(google.calls.some((c) => c.path === `/calendar/v3/calendars/${encodeURIComponent(GOOGLE_ROOM)}/events`)).toBe(true);
    expect(google.calls.every((c) => !c.path.includes(GRAPH_ROOM))).toBe(true);
  });

  it("a private Google meeting follows the room's privacy rules; a declined one is withdrawn", async () => {
    google.addEvent(GOOGLE_ROOM, {
      id: "evtprivate",
      summary: "HR talk",
      visibility: "private",
      start: at("11:00"),
      end: at("11:30"),
      hangoutLink: "https://meet.google.com/abc-mnop-xyz",
    });
    await step(2);
    const priv = (await engine.store.meetings.list(googleRoomId)).find((m) => m.sourceEventId === "evtprivate")!;
    expect(priv.sensitivity).toBe("private");
    expect(priv.subjectShown).not.toContain("HR talk");
    google.updateEvent(GOOGLE_ROOM, "evtcvi", { roomResponse: "declined" });
    await step(2);
    const all = await engine.store.meetings.list(googleRoomId, { includeCancelled: true });
    expect(all.find((m) => m.sourceEventId === "evtcvi")!.declined).toBe(true);
  });

  it("a meeting deleted in Google leaves the room", async () => {
    google.cancelEvent(GOOGLE_ROOM, "evtprivate");
    await step(2);
    expect((await engine.store.meetings.list(googleRoomId, { includeCancelled: true })).map((m) => m.sourceEventId)).not.toContain("evtprivate");
  });

  it("never logs the service account's private key or a token", () => {
    const key = google.serviceAccountKey()["private_key"]!;
    const all = logLines.join("");
    expect(all).not.toContain(key.split("\n")[1]!);
    expect(all).not.toMatch(/ya29\./);
  });
});
