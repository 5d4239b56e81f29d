/**
 * `otj demo`: the whole flow on the embedded default with built-in emulators. Starts the Graph,
 * Google, Exchange, Cisco device and bridge emulators on loopback, seeds rooms and a realistic
 * morning of invites, runs the real engine on a fast clock from 07:30 to 12:30, has a Poly room
 * read its calendar through the EWS feed (app/demo-poly.ts), and prints what each room's device
 * received and how each bridge session went.
 */
import { randomBytes } from "node:crypto";
import { resolveConfig } from "../core/config.ts";
import { createLogger } from "../core/logger.ts";
import { ManualClock } from "../core/manual-clock.ts";
import { BridgeEmulator } from "../emulators/bridge/bridge-emulator.ts";
import { CiscoDeviceEmulator } from "../emulators/cisco-device/cisco-device-emulator.ts";
import { EwsEmulator } from "../emulators/ews/ews-emulator.ts";
import { GoogleEmulator } from "../emulators/google/google-emulator.ts";
import { type EventInput, GraphEmulator } from "../emulators/graph/graph-emulator.ts";
import { bookingId } from "../join/device-bookings.ts";
import { classicUrl, teamsHtmlV4, teamsHtmlV5 } from "../emulators/invite-factory.ts";
import { type DeviceCalendar, deviceCalendarLines, readDeviceCalendar } from "./demo-poly.ts";
import { issueMissingEwsPasswords } from "./ews-credentials.ts";
import { itemIdOf } from "./http/ews-feed/render.ts";
import { Engine } from "./main.ts";

const DAY = "2026-03-02";
const at = (hhmm: string) => `${DAY}T${hhmm}:00.000Z`;
const FABRIKAM = { name: "Ben Okafor", address: "ben.okafor@fabrikam.example" };
const CONTOSO = { name: "Ana Ruiz", address: "ana.ruiz@contoso.example" };
const POLY_ROOM = "poly301@contoso.example";
/** When the Poly device reads its calendar (the feed serves what is still to come). */
const POLY_READS_AT = at("08:00");

export interface DemoResult {
  output: string;
  ok: boolean;
}

/** An internal Teams meeting organised by Ana Ruiz, with Contoso's CVI coordinates in its body. */
function internalTeams(subject: string, from: string, to: string, meeting: { threadKey: string; meetingId: string; passcode: string }): EventInput {
  const body = teamsHtmlV4({ ...meeting, cvi: { tenantKey: "contoso@m.webex.com", videoId: "1198563286" } }, 2000);
  const online = {
    isOnlineMeeting: true,
    onlineMeetingProvider: "teamsForBusiness" as const,
    onlineMeeting: { joinUrl: classicUrl({ threadKey: meeting.threadKey }) },
  };
  return { subject, start: at(from), end: at(to), organizer: CONTOSO, ...online, body: { contentType: "html", content: body } };
}

/** A Zoom invitation from Fabrikam with its SIP line. */
function zoomInvite(id: string, pwd: string, passcode: string): EventInput["body"] {
  const url = `https://fabrikam.zoom.us/j/${id}?pwd=${pwd}`;
  const spaced = `${id.slice(0, 3)} ${id.slice(3, 7)} ${id.slice(7)}`;
  return {
    contentType: "html",
    content: `<p>Join Zoom Meeting<br><a href="${url}">${url}</a></p><p>Meeting ID: ${spaced}<br>Passcode: ${passcode}</p><p>Join by SIP<br>${id}@zoomcrc.com</p>`,
  };
}

function seed(graph: GraphEmulator): void {
  graph.addRoom({ address: "room101@contoso.example", displayName: "Room 101", capacity: 8 });
  graph.addRoom({ address: "room102@contoso.example", displayName: "Room 102", capacity: 12 });
  graph.addRoom({ address: "boardroom@contoso.example", displayName: "Board Room", capacity: 20 });
  const cvi = { tenantKey: "contoso@m.webex.com", videoId: "1198563286" };
  const pexip = {
    tenantKey: "teams@vc.contoso.example",
    videoId: "1127180739",
    moreInfoUrl: "https://vc.contoso.example/teams/?conf=1127180739&amp;ivr=teams&amp;d=vc.contoso.example&amp;prefix=teams.",
  };
  // Room 101: internal CVI (Cisco), external SGJ (admitted), a private one.
  graph.addEvent(
    "room101@contoso.example",
    internalTeams("Weekly sales sync", "08:00", "08:30", { threadKey: "sales-sync", meetingId: "246813579024", passcode: "aB3dE5fG" }),
  );
  graph.addEvent("room101@contoso.example", {
    subject: "Supplier review (Fabrikam)",
    start: at("09:00"),
    end: at("09:45"),
    organizer: FABRIKAM,
    body: {
      contentType: "html",
      content: teamsHtmlV5(
        { threadKey: "fabrikam-review", tenantId: "0f0f0f0f-aaaa-4bbb-8ccc-dddddddddddd", meetingId: "357159246802468", passcode: "Hk4mN8pQ" },
        1500,
      ),
    },
  });
  graph.addEvent("room101@contoso.example", {
    subject: "Salary review",
    start: at("10:30"),
    end: at("11:00"),
    organizer: CONTOSO,
    sensitivity: "private",
    body: { contentType: "html", content: teamsHtmlV4({ threadKey: "salary", cvi }, 500) },
  });
  // Room 301 (Poly, EWS feed): internal CVI, an external Zoom meeting.
  graph.addRoom({ address: POLY_ROOM, displayName: "Room 301 (Poly)", capacity: 10 });
  graph.addEvent(POLY_ROOM, internalTeams("Product roadmap review", "10:00", "10:45", { threadKey: "roadmap", meetingId: "418529637041", passcode: "Rm4pQ8" }));
  graph.addEvent(POLY_ROOM, {
    subject: "Customer demo (Zoom)",
    start: at("11:30"),
    end: at("12:00"),
    organizer: { name: "Chen Wei", address: "chen.wei@fabrikam.example" },
    body: zoomInvite("84512367890", "RmFicmlr", "135790"),
  });
  // Room 102: a recurring series (Pexip CVI) with a moved occurrence, a cancelled one, a SafeLinks-wrapped external one.
  const series = graph.addSeries("room102@contoso.example", {
    subject: "Engineering stand-up",
    start: at("08:30"),
    end: at("08:45"),
    organizer: CONTOSO,
    body: { contentType: "html", content: teamsHtmlV4({ threadKey: "standup", cvi: pexip }, 500) },
    recurrence: { type: "daily", occurrences: 3 } as never,
  });
  if (series?.occurrenceIds[1]) {
    graph.updateEvent("room102@contoso.example", series.occurrenceIds[1], { start: `2026-03-03T09:15:00.000Z`, end: `2026-03-03T09:30:00.000Z` });
  }
  const cancelled = graph.addEvent("room102@contoso.example", {
    subject: "Budget planning",
    start: at("09:30"),
    end: at("10:00"),
    organizer: CONTOSO,
    body: { contentType: "html", content: teamsHtmlV4({ threadKey: "budget", cvi }, 500) },
  });
  if (cancelled) graph.cancelEvent("room102@contoso.example", cancelled.id);
  const wrappedUrl = classicUrl({ threadKey: "partner-call", tenantId: "0f0f0f0f-aaaa-4bbb-8ccc-dddddddddddd" });
  const safe = `https://eur01.safelinks.protection.outlook.com/?url=${encodeURIComponent(wrappedUrl)}&amp;data=05%7C02%7C&amp;reserved=0`;
  graph.addEvent("room102@contoso.example", {
    subject: "Partner call (Fabrikam)",
    start: at("10:30"),
    end: at("11:00"),
    organizer: FABRIKAM,
    body: {
      contentType: "html",
      content: `<html><body><p>Agenda to follow.</p><div>${"_".repeat(80)}</div><div>Microsoft Teams meeting</div><div><a href="${safe}">Click here to join the meeting</a></div><div>Meeting ID: 391 802 564 137<br>Passcode: Xy7Qp2</div><div>${"_".repeat(80)}</div></body></html>`,
    },
  });
  // Board Room (pull panel): Zoom, SIP, an external Teams meeting nobody admits.
  graph.addEvent("boardroom@contoso.example", {
    subject: "Investor update",
    start: at("09:00"),
    end: at("09:30"),
    organizer: { name: "Chen Wei", address: "chen.wei@fabrikam.example" },
    body: zoomInvite("81234567890", "Q2xhYmNk", "246810"),
  });
  graph.addEvent("boardroom@contoso.example", {
    subject: "Board pre-read (Fabrikam)",
    start: at("10:00"),
    end: at("10:30"),
    organizer: FABRIKAM,
    body: { contentType: "html", content: teamsHtmlV5({ threadKey: "board-pre", meetingId: "228859003479315", passcode: "Xy7pQ2" }, 500) },
  });
  graph.addEvent("boardroom@contoso.example", {
    subject: "Architecture review",
    start: at("11:00"),
    end: at("12:00"),
    organizer: CONTOSO,
    location: { displayName: "sip:arch-bridge@video.contoso.example" },
    body: { contentType: "text", content: "Dial the architecture bridge from the room system." },
  });
}

const GOOGLE_ROOM = "c_huddle@resource.calendar.contoso.example";
const EWS_ROOM = "room201@contoso.example";

/** A Google Workspace room (its Teams add-on meeting carries CVI coordinates) and an Exchange Server room. */
function seedOtherCalendars(google: GoogleEmulator, ews: EwsEmulator): void {
  google.addRoom({ email: GOOGLE_ROOM, name: "Huddle (Google)" });
  google.addEvent(GOOGLE_ROOM, {
    id: "demoaddon",
    summary: "Design sync (Teams add-on)",
    start: at("09:00"),
    end: at("09:30"),
    organizer: { email: CONTOSO.address, displayName: CONTOSO.name },
    conferenceData: {
      entryPoints: [{ entryPointType: "video", uri: classicUrl({ threadKey: "google-addon" }) }],
      conferenceSolution: { key: { type: "addOn" }, name: "Microsoft Teams Meeting" },
      notes: "<p>Join with a video conferencing device<br>contoso@m.webex.com<br>Video Conference ID: 119 856 328 6</p>",
    },
  });
  ews.addRoom({ address: EWS_ROOM, displayName: "Room 201 (Exchange Server)" });
  ews.createEvent(EWS_ROOM, {
    subject: "Plant review",
    start: at("10:00"),
    end: at("10:45"),
    organizer: { name: CONTOSO.name, email: CONTOSO.address },
    bodyType: "HTML",
    body: teamsHtmlV4(
      { threadKey: "plant-review", meetingId: "512367894012", passcode: "Pq7rS9", cvi: { tenantKey: "contoso@m.webex.com", videoId: "1198563286" } },
      500,
    ),
  });
}

export interface DemoOptions {
  /**
   * Keep serving after the run (`otj demo --serve`): the API and the admin console on this port,
   * with the engine stepping every second, until `until` settles (default: SIGINT or SIGTERM).
   */
  serve?: { port: number; until?: Promise<void> };
}

function untilSignal(): Promise<void> {
  return new Promise((resolve) => {
    process.once("SIGINT", () => resolve());
    process.once("SIGTERM", () => resolve());
  });
}

export async function runDemo(write: (text: string) => void = () => {}, options: DemoOptions = {}): Promise<DemoResult> {
  const clock = new ManualClock(at("07:30"));
  const adminToken = randomBytes(16).toString("hex");
  const hmacSecret = randomBytes(16).toString("hex");
  const graph = new GraphEmulator({ clock, seed: "otj-demo" });
  await graph.listen();
  const devices = { room101: new CiscoDeviceEmulator(), room102: new CiscoDeviceEmulator() };
  await devices.room101.start();
  await devices.room102.start();
  const bridge = new BridgeEmulator({
    clock,
    token: "demo-bridge-token",
    hmacSecret,
    plan: (r) =>
      r.guestDisplayName === "Room 101"
        ? { kind: "admit", afterMs: 90_000 }
        : r.guestDisplayName === "Room 102"
          ? { kind: "deny", afterMs: 60_000 }
          : { kind: "never" },
  });
  await bridge.start();
  seed(graph);
  const google = await GoogleEmulator.start({ clock });
  const ews = await EwsEmulator.start({ clock });
  seedOtherCalendars(google, ews);

  const config = resolveConfig(
    {
      database: { url: "memory://" },
      graph: {
        tenantId: "c0ffee00-1111-2222-3333-444455556666",
        clientId: graph.clientId,
        clientSecret: graph.clientSecret,
        baseUrl: graph.url,
        authorityUrl: graph.url,
      },
      http: { host: "127.0.0.1", port: options.serve?.port ?? 0, adminToken },
      google: { serviceAccountKey: JSON.stringify(google.serviceAccountKey()), subject: google.subjects[0]!, apiRoot: google.url, tokenUrl: google.tokenUrl },
      ews: { url: ews.url, username: ews.username, password: ews.password, auth: "basic" },
      poll: { intervalSeconds: 60, windowPastHours: 2, windowFutureDays: 1 },
      bridge: { adapter: "emulator", leadSeconds: 120, lobbyTimeoutSeconds: 600, http: { baseUrl: bridge.url, token: "demo-bridge-token", hmacSecret } },
      log: { level: "silent" },
    },
    { env: {}, cwd: process.cwd() },
  );
  const engine = new Engine({ config, clock, logger: createLogger("silent"), cwd: process.cwd(), ticks: false });
  const lines: string[] = [];
  try {
    await engine.start(true);
    const store = engine.store;
    const now = () => clock.now();
    await store.providers.add({ name: "contoso-webex", partner: "cisco", tenantKey: "contoso@m.webex.com", sipDomain: "sgj.contoso.example" }, now());
    // SGJ through the same bridge: a template with the bridge's own domain (no .invalid address).
    await store.providers.add(
      { name: "contoso-pexip", partner: "pexip", tenantKey: "teams@vc.contoso.example", sgjEnabled: true, sgjTemplate: "{sessionId}@sgj.contoso.example" },
      now(),
    );
    await store.rooms.add(
      {
        mailbox: "room101@contoso.example",
        displayName: "Room 101",
        provider: "contoso-webex",
        deviceFamily: "xapi",
        deviceAddress: devices.room101.url,
        deviceUsername: "admin",
        devicePassword: "secret",
      },
      now(),
    );
    await store.rooms.add(
      {
        mailbox: "room102@contoso.example",
        displayName: "Room 102",
        provider: "contoso-pexip",
        deviceFamily: "xapi",
        deviceAddress: devices.room102.url,
        deviceUsername: "admin",
        devicePassword: "secret",
      },
      now(),
    );
    const board = await store.rooms.add(
      { mailbox: "boardroom@contoso.example", displayName: "Board Room", provider: "contoso-webex", deviceFamily: "pull" },
      now(),
    );
    const huddle = await store.rooms.add(
      { mailbox: GOOGLE_ROOM, displayName: "Huddle (Google)", provider: "contoso-webex", deviceFamily: "pull", source: "google" },
      now(),
    );
    const room201 = await store.rooms.add(
      { mailbox: EWS_ROOM, displayName: "Room 201 (Exchange Server)", provider: "contoso-webex", deviceFamily: "pull", source: "ews" },
      now(),
    );
    const poly = await store.rooms.add({ mailbox: POLY_ROOM, displayName: "Room 301 (Poly)", provider: "contoso-webex", deviceFamily: "ews" }, now());
    const [polyLogin] = await issueMissingEwsPasswords(store, [poly.room], now());
    if (polyLogin === undefined) throw new Error("the demo's Poly room got no device password");
    let polyShows: DeviceCalendar | null = null;

    write("otj demo: six rooms on three calendar systems (Microsoft 365, Google Workspace, Exchange Server), one morning (07:30-12:30 UTC) on a fast clock\n");
    const end = Date.parse(at("12:30"));
    while (clock.now().getTime() < end) {
      await engine.workflows.step();
      await bridge.idle();
      if (clock.now().getTime() === Date.parse(POLY_READS_AT)) {
        const login = { origin: `http://127.0.0.1:${engine.port}`, username: polyLogin.deviceUsername, password: polyLogin.devicePassword };
        polyShows = await readDeviceCalendar(login, { from: clock.now(), to: new Date(at("23:59")) }, clock, AbortSignal.timeout(60_000));
      }
      clock.advance(60_000);
    }
    await engine.workflows.step();
    await bridge.idle();

    // What each device received, and how each bridge session went.
    const pulledIds = new Set<string>();
    for (const panel of [board, huddle, room201]) {
      const pulled = (await (
        await fetch(`http://127.0.0.1:${engine.port}/v1/rooms/${panel.room.id}/meetings?limit=20&startTime=${at("07:00")}&endTime=${at("23:00")}`, {
          headers: { authorization: `Bearer ${panel.deviceToken}` },
        })
      ).json()) as { meetings: Array<{ id: string }> };
      for (const m of pulled.meetings) pulledIds.add(m.id);
    }
    const events = await store.eventLog.list({ limit: 2000 });
    const sessions = await store.bridgeSessions.list();
    for (const room of await store.rooms.list()) {
      lines.push("", `${room.displayName} <${room.mailbox}>  calendar: ${room.source}  device: ${room.device.family}`);
      const device = room.mailbox.startsWith("room101") ? devices.room101 : room.mailbox.startsWith("room102") ? devices.room102 : null;
      const meetings = await store.meetings.list(room.id, { includeCancelled: true });
      for (const m of meetings) {
        const read = room.device.family === "ews" ? polyShows?.meetings.some((s) => s.itemId === itemIdOf(room.id, m.occurrenceKey)) : undefined;
        const held = device ? device.everHeld.has(bookingId(m.occurrenceKey)) : (read ?? pulledIds.has(bookingId(m.occurrenceKey)));
        const onDevice = m.cancelled ? "withdrawn" : device ? (held ? "pushed" : "-") : held ? (read === undefined ? "pull API" : "EWS feed") : "-";
        const session = sessions.find((s) => s.occurrenceKey === m.occurrenceKey);
        const path = session
          ? events
              .filter((e) => e.occurrenceKey === m.occurrenceKey && e.kind.startsWith("bridge."))
              .reverse()
              .map((e) => e.kind.slice("bridge.".length))
              .filter((k, i, all) => all.indexOf(k) === i)
              .join(" -> ") || session.state
          : "";
        lines.push(
          `  ${m.start.toISOString().slice(5, 16).replace("T", " ")}  ${(m.cancelled ? "none" : m.route).padEnd(6)} ${(m.cancelled ? "-" : (m.dialString ?? "-")).padEnd(46)} ${onDevice.padEnd(10)} ${(m.subjectShown ?? "").slice(0, 28).padEnd(28)} ${session ? `bridge: ${path}` : ""}`,
        );
      }
    }
    if (polyShows !== null) {
      const title = `Room 301 (Poly) device at ${POLY_READS_AT.slice(11, 16)}, signed in as ${polyLogin.deviceUsername} (autodiscover -> ${polyShows.ewsUrl}, FindItem with a CalendarView, GetItem), shows:`;
      lines.push("", ...deviceCalendarLines(title, polyShows));
    }
    lines.push(
      "",
      `Cisco devices hold ${devices.room101.bookings.length} and ${devices.room102.bookings.length} bookings; lobby notices shown: ${devices.room101.ui.length + devices.room102.ui.length}.`,
    );
    lines.push(`Bridge sessions: ${sessions.map((s) => `${s.sessionId}=${s.state}`).join(", ") || "none"}`);
    const output = `${lines.join("\n")}\n`;
    write(output);
    if (options.serve) {
      write(`\nAdmin console: http://127.0.0.1:${engine.port}/admin  (admin token: ${adminToken})\nThe demo clock stays at 12:30; press Ctrl-C to stop.\n`);
      let stepping = false;
      const timer = setInterval(() => {
        if (stepping) return;
        stepping = true;
        void engine.workflows
          .step()
          .then(() => bridge.idle())
          .catch(() => {})
          .finally(() => {
            stepping = false;
          });
      }, 1000);
      try {
        await (options.serve.until ?? untilSignal());
      } finally {
        clearInterval(timer);
      }
    }
    return { output, ok: true };
  } finally {
    await engine.stop();
    await bridge.stop();
    await devices.room101.stop();
    await devices.room102.stop();
    await graph.stop();
    await google.stop();
    await ews.stop();
  }
}
