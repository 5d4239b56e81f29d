/**
 * Any calendar x any delivery path, through one running engine (app/main.ts) on real PostgreSQL:
 * nine rooms, one per pair of calendar (Microsoft Graph, Google Workspace, Exchange Server over
 * EWS) and delivery path (Cisco xAPI push, the pull API, the EWS feed a Poly room reads), each with
 * one internal Teams meeting carrying CVI coordinates; every path shows it with its CVI address and
 * start, then one change per calendar (moved an hour, or cancelled) reaches every path. Last, on a
 * Graph room read over the pull API, one meeting per platform with its route and dial string.
 * The emulators answer over real HTTP; the clock is a manual one, stepped a minute at a time.
 */
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { isDeepStrictEqual } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type DeviceCredentials, readDeviceCalendar } from "../../app/demo-poly.ts";
import { issueMissingEwsPasswords } from "../../app/ews-credentials.ts";
import { CiscoDeviceEmulator } from "../../emulators/cisco-device/cisco-device-emulator.ts";
import type { StoredEvent } from "../../emulators/ews/ews-emulator.ts";
import { classicUrl, teamsHtmlV4, teamsHtmlV5 } from "../../emulators/invite-factory.ts";
import { type EngineHarness, HARNESS_ROOM, startEngineHarness } from "../support/engine-harness.ts";

const at = (hhmm: string) => `2026-03-02T${hhmm}:00.000Z`;
const TENANT_KEY = "contoso@m.webex.com";
const PROVIDER = { name: "contoso", tenantKey: TENANT_KEY, sipDomain: "sgj.contoso.example" };
const CONTOSO = { name: "Ana Ruiz", address: "ana.ruiz@contoso.example" };
/** docs/rules.md's Google Meet gateway, so a Meet meeting has something to dial. */
const MEET_GATEWAY = {
  id: "meet-gateway",
  priority: 150,
  match: { provider: "google-meet", field: "url", regex: "^https://meet\\.google\\.com/(?<code>[a-z]{3}-[a-z]{4}-[a-z]{3})$" },
  route: "direct",
  template: "{code}@meet-gw.contoso.example",
};

type Calendar = "graph" | "google" | "ews";
type Path = "cisco" | "pull" | "ews-feed";
const CALENDARS: readonly Calendar[] = ["graph", "google", "ews"];
const PATHS: readonly Path[] = ["cisco", "pull", "ews-feed"];
/** The change each calendar makes to its meetings in the second phase. */
const CHANGE: Record<Calendar, "moved" | "cancelled"> = { graph: "moved", google: "cancelled", ews: "moved" };

interface Cell {
  calendar: Calendar;
  path: Path;
  mailbox: string;
  subject: string;
  /** The meeting's own Video ID, so each room's dial string names its own meeting. */
  videoId: string;
  roomId: string;
  device: CiscoDeviceEmulator | null;
  token: string | null;
  login: DeviceCredentials | null;
  /** How the test changes the meeting in its calendar. */
  change: () => void;
}

/** What a device path shows of a meeting: its title, what it dials, and when it starts. */
interface Shown {
  subject: string | null;
  dial: string | null;
  start: string;
}

interface PulledMeeting {
  subject: string | null;
  startTime: string;
  dialString: string | null;
  alias: string | null;
  route: string;
  platform: string | null;
  bridgeState: string | null;
  id: string;
}

let h: EngineHarness;
const cells: Cell[] = [];
const extraDevices: CiscoDeviceEmulator[] = [];
const origin = () => `http://127.0.0.1:${h.engine.port}`;
const groups = (digits: string) => digits.replace(/(\d{3})(?=\d)/g, "$1 ");

function mailboxOf(calendar: Calendar, path: Path): string {
  if (calendar === "graph" && path === "cisco") return HARNESS_ROOM;
  return calendar === "google" ? `c_${path}@resource.calendar.contoso.example` : `${calendar}-${path}@contoso.example`;
}

/** The room's calendar gets its Teams meeting with CVI coordinates (09:00-09:30), each calendar in its own form. */
function seedMeeting(calendar: Calendar, mailbox: string, subject: string, videoId: string): () => void {
  const threadKey = `matrix-${videoId}`;
  const cvi = { tenantKey: TENANT_KEY, videoId };
  if (calendar === "graph") {
    if (mailbox !== HARNESS_ROOM) h.graph.addRoom({ address: mailbox, displayName: subject });
    const event = h.graph.addEvent(mailbox, {
      subject,
      start: at("09:00"),
      end: at("09:30"),
      organizer: CONTOSO,
      isOnlineMeeting: true,
      onlineMeetingProvider: "teamsForBusiness",
      onlineMeeting: { joinUrl: classicUrl({ threadKey }) },
      body: { contentType: "html", content: teamsHtmlV4({ threadKey, cvi }, 300) },
    });
    return () => h.graph.updateEvent(mailbox, event!.id, { start: at("10:00"), end: at("10:30") });
  }
  if (calendar === "google") {
    const google = h.google!;
    google.addRoom({ email: mailbox, name: subject });
    const id = google.addEvent(mailbox, {
      summary: subject,
      start: at("09:00"),
      end: at("09:30"),
      organizer: { email: CONTOSO.address, displayName: CONTOSO.name },
      conferenceData: {
        entryPoints: [{ entryPointType: "video", uri: classicUrl({ threadKey }) }],
        conferenceSolution: { key: { type: "addOn" }, name: "Microsoft Teams Meeting" },
        notes: `<p>Join with a video conferencing device<br>${TENANT_KEY}<br>Video Conference ID: ${groups(videoId)}</p>`,
      },
    });
    return () => google.cancelEvent(mailbox, id);
  }
  const ews = h.ews!;
  ews.addRoom({ address: mailbox, displayName: subject });
  const event: StoredEvent = ews.createEvent(mailbox, {
    subject,
    start: at("09:00"),
    end: at("09:30"),
    organizer: { name: CONTOSO.name, email: CONTOSO.address },
    bodyType: "HTML",
    body: teamsHtmlV4({ threadKey, cvi }, 300),
  });
  return () => ews.mailbox(mailbox).update(event, { start: at("10:00"), end: at("10:30") });
}

/** The room in otj: its calendar source and its device family, with what its device signs in with. */
async function addRoom(calendar: Calendar, path: Path, mailbox: string, displayName: string): Promise<Pick<Cell, "roomId" | "device" | "token" | "login">> {
  const store = h.engine.store;
  const now = h.clock.now();
  if (mailbox === HARNESS_ROOM) return { roomId: h.roomId, device: h.device, token: null, login: null };
  const base = { mailbox, displayName, provider: PROVIDER.name, source: calendar };
  if (path === "cisco") {
    const device = new CiscoDeviceEmulator();
    await device.start();
    extraDevices.push(device);
    const added = await store.rooms.add({ ...base, deviceFamily: "xapi", deviceAddress: device.url, deviceUsername: "admin", devicePassword: "secret" }, now);
    return { roomId: added.room.id, device, token: null, login: null };
  }
  if (path === "pull") {
    const added = await store.rooms.add({ ...base, deviceFamily: "pull" }, now);
    return { roomId: added.room.id, device: null, token: added.deviceToken, login: null };
  }
  const added = await store.rooms.add({ ...base, deviceFamily: "ews" }, now);
  const [credential] = await issueMissingEwsPasswords(store, [added.room], now);
  if (credential === undefined) throw new Error(`${mailbox} got no EWS feed password`);
  return {
    roomId: added.room.id,
    device: null,
    token: null,
    login: { origin: origin(), username: credential.deviceUsername, password: credential.devicePassword },
  };
}

async function pull(cell: Pick<Cell, "roomId" | "token">): Promise<PulledMeeting[]> {
  const url = `${origin()}/v1/rooms/${cell.roomId}/meetings?limit=50&startTime=${at("07:00")}&endTime=${at("23:00")}`;
  const reply = await fetch(url, { headers: { authorization: `Bearer ${cell.token}` } });
  if (reply.status !== 200) throw new Error(`pull API answered ${reply.status}: ${await reply.text()}`);
  return ((await reply.json()) as { meetings: PulledMeeting[] }).meetings;
}

/** What the cell's device shows, read the way that device reads it. */
async function shownBy(cell: Cell): Promise<Shown[]> {
  if (cell.path === "cisco") {
    return cell.device!.bookings.map((b) => ({ subject: b.Title, dial: b.Number, start: new Date(b.Time.StartTime).toISOString() }));
  }
  if (cell.path === "pull") {
    return (await pull(cell)).map((m) => ({ subject: m.subject, dial: m.dialString, start: new Date(m.startTime).toISOString() }));
  }
  const read = await readDeviceCalendar(cell.login!, { from: h.clock.now(), to: new Date(at("23:59")) }, h.clock, new AbortController().signal);
  return read.meetings.map((m) => ({ subject: m.subject, dial: m.dial, start: m.start.toISOString() }));
}

async function everyPath(): Promise<Record<string, Shown[]>> {
  const out: Record<string, Shown[]> = {};
  for (const cell of cells) out[`${cell.calendar} x ${cell.path}`] = await shownBy(cell);
  return out;
}

/**
 * Steps the engine a minute at a time until every path shows `expected` (at most `minutes`
 * simulated minutes), then asserts it: the wait is on state, and a path that never gets there fails.
 */
async function untilEveryPathShows(expected: Record<string, Shown[]>, minutes = 8): Promise<void> {
  let shown = await everyPath();
  for (let i = 0; i < minutes && !isDeepStrictEqual(shown, expected); i++) {
    await h.step(1);
    shown = await everyPath();
  }
  expect(shown).toEqual(expected);
}

beforeAll(async () => {
  h = await startEngineHarness({
    label: "matrix",
    adminToken: randomBytes(16).toString("hex"),
    startAt: at("07:30"),
    provider: PROVIDER,
    calendars: { google: true, ews: true },
    joinRules: [MEET_GATEWAY],
  });
  let n = 0;
  for (const calendar of CALENDARS) {
    for (const path of PATHS) {
      const mailbox = mailboxOf(calendar, path);
      const subject = `Teams sync (${calendar} to ${path})`;
      const videoId = `11985632${n}${n}`;
      n++;
      const change = seedMeeting(calendar, mailbox, subject, videoId);
      cells.push({ calendar, path, mailbox, subject, videoId, change, ...(await addRoom(calendar, path, mailbox, subject)) });
    }
  }
  // Every room reads its own calendar source.
  const sources = new Map((await h.engine.store.rooms.list()).map((r) => [r.mailbox, `${r.source} ${r.device.family}`]));
  const family: Record<Path, string> = { cisco: "xapi", pull: "pull", "ews-feed": "ews" };
  expect(cells.map((c) => sources.get(c.mailbox))).toEqual(cells.map((c) => `${c.calendar} ${family[c.path]}`));
});

afterAll(async () => {
  await h?.close();
  for (const device of extraDevices) await device.stop();
});

describe("any calendar x any delivery path, in one engine", () => {
  it("every path shows its room's Teams meeting with the CVI address and start", async () => {
    const expected: Record<string, Shown[]> = {};
    for (const c of cells) expected[`${c.calendar} x ${c.path}`] = [{ subject: c.subject, dial: `${c.videoId}.${TENANT_KEY}`, start: at("09:00") }];
    await untilEveryPathShows(expected);
    // Read from the three calendar systems themselves, over HTTP.
    expect(h.google!.calls.some((call) => call.path.includes(encodeURIComponent(mailboxOf("google", "pull"))))).toBe(true);
    expect(h.ews!.requests.some((r) => r.impersonated === mailboxOf("ews", "ews-feed"))).toBe(true);
  });

  it("a meeting moved by an hour or cancelled in each calendar reaches every path", async () => {
    for (const c of cells) c.change();
    const expected: Record<string, Shown[]> = {};
    for (const c of cells) {
      const key = `${c.calendar} x ${c.path}`;
      expected[key] = CHANGE[c.calendar] === "cancelled" ? [] : [{ subject: c.subject, dial: `${c.videoId}.${TENANT_KEY}`, start: at("10:00") }];
    }
    await untilEveryPathShows(expected);
  });

  it("on a Graph room read over the pull API, each platform gets its route and dial string", async () => {
    const cell = cells.find((c) => c.calendar === "graph" && c.path === "pull")!;
    const invite = (name: string) => readFileSync(new URL(`../fixtures/invites/${name}`, import.meta.url), "utf8");
    const add = (subject: string, start: string, body: { contentType: "html" | "text"; content: string }, extra = {}) =>
      h.graph.addEvent(cell.mailbox, { subject, start: at(start), end: at(`${start.slice(0, 3)}45`), organizer: CONTOSO, body, ...extra });
    add("Zoom", "11:00", { contentType: "text", content: invite("63-text-zoom-zoomcrc-passcode.txt") });
    add("Webex", "12:00", { contentType: "html", content: invite("65-html-webex-personal-room.html") });
    add("Google Meet", "13:00", { contentType: "html", content: invite("52-html-wrap-google-redirect-meet.html") });
    add(
      "Plain SIP",
      "14:00",
      { contentType: "text", content: "Dial the lab bridge from the room system." },
      { location: { displayName: "sip:lab.bridge@video.fabrikam.example" } },
    );
    add(
      "External Teams",
      "15:00",
      { contentType: "html", content: teamsHtmlV5({ threadKey: "matrix-external", meetingId: "357159246802468", passcode: "Hk4mN8pQ" }, 300) },
      { organizer: { name: "Ben Okafor", address: "ben.okafor@fabrikam.example" } },
    );
    const expected = [
      { subject: "Zoom", route: "direct", platform: "zoom", dialString: "83749216508.583920@zoomcrc.com" },
      { subject: "Webex", route: "direct", platform: "webex", dialString: "ana.ruiz@northwind.webex.com" },
      { subject: "Google Meet", route: "direct", platform: "google-meet", dialString: "kfd-wqzt-hbn@meet-gw.contoso.example" },
      { subject: "Plain SIP", route: "direct", platform: "sip", dialString: "lab.bridge@video.fabrikam.example" },
      { subject: "External Teams", route: "sgj", platform: "teams", dialString: expect.stringMatching(/^sgj_[0-9a-f]{12}@sgj\.contoso\.example$/) },
    ];
    const platforms = async () =>
      (await pull(cell))
        .filter((m) => m.subject !== cell.subject)
        .map((m) => ({ subject: m.subject, route: m.route, platform: m.platform, dialString: m.dialString }));
    let shown = await platforms();
    for (let i = 0; i < 8 && shown.length < expected.length; i++) {
      await h.step(1);
      shown = await platforms();
    }
    expect(shown).toEqual(expected);
    const meetings = await pull(cell);
    for (const m of meetings) expect(m.alias, m.subject ?? "").toBe(m.dialString);
    // The external meeting's dial string is its SIP Guest Join session's alias; the bridge session waits for the start.
    const external = meetings.find((m) => m.subject === "External Teams")!;
    expect(external.bridgeState).toBe("scheduled");
    const stored = (await h.engine.store.meetings.list(cell.roomId)).find((m) => m.subject === "External Teams")!;
    const session = await h.engine.store.bridgeSessions.get(stored.occurrenceKey);
    expect(external.dialString).toBe(`${session!.sessionId}@${PROVIDER.sipDomain}`);
  });
});
