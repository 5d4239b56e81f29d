/**
 * The EWS feed over real HTTP on real PostgreSQL: ews-javascript-api (a real EWS client library)
 * plays the Poly device against the engine's HTTP server. The room and its credentials come from
 * `otj rooms add --device-family ews --json`; Autodiscover is POX over fetch (what the devices
 * send), and the client then uses the EWS URL it names.
 */
import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  Appointment,
  BasePropertySet,
  BodyType,
  CalendarFolder,
  CalendarView,
  DateTime,
  ExchangeService,
  ExchangeVersion,
  ItemId,
  PropertySet,
  Uri,
  WebCredentials,
  WellKnownFolderName,
} from "ews-javascript-api";
import { beforeEach, describe, expect, it } from "vitest";
import { buildStatus } from "../../app/status.ts";
import type { MeetingUpsert, Room } from "../../core/ports/store.ts";
import { runCli } from "../support/cli.ts";
import { servedTestStoreForFile } from "../support/file-test-store.ts";
import { plannedMeeting } from "../support/planned-meeting.ts";

const MAILBOX = "poly-room@contoso.example";
const { db, clock, metrics, server } = servedTestStoreForFile("2025-03-04T08:00:00.000Z");
let room: Room;
let password: string;

beforeEach(async () => {
  await db.truncate();
  await db.store.providers.add(
    { name: "contoso-pexip", partner: "pexip", tenantKey: "contoso@video.contoso.example", sipDomain: "video.contoso.example" },
    clock.now(),
  );
  const added = await runCli([
    "rooms",
    "add",
    "--mailbox",
    MAILBOX,
    "--name",
    "Poly Room",
    "--provider",
    "contoso-pexip",
    "--device-family",
    "ews",
    "--json",
    "--database-url",
    db.url,
  ]);
  expect(added.code, added.stderr).toBe(0);
  const printed = JSON.parse(added.stdout) as Record<string, string>;
  expect(Object.keys(printed).sort()).toEqual(["devicePassword", "deviceUsername", "id", "mailbox"]);
  expect(printed.deviceUsername).toBe(MAILBOX);
  password = printed.devicePassword!;
  room = (await db.store.rooms.get(MAILBOX))!;
});

function meeting(key: string, minutes: number, extra: Partial<MeetingUpsert> = {}): MeetingUpsert {
  return plannedMeeting(room, key, clock.now(), minutes, {
    subject: `Subject ${key}`,
    dialString: "contoso.1234567890@video.contoso.example",
    subjectShown: `Subject ${key}`,
    ...extra,
  });
}

const four = () => [
  meeting("cvi", 60, { subjectShown: "Teams with CVI" }),
  meeting("sgj", 120, { route: "sgj", rule: "teams-sgj", dialString: "teams.meeting.123@sgj.contoso.example", subjectShown: "Teams as guest" }),
  meeting("zoom", 180, { route: "direct", rule: "zoom-sip", dialString: "88812345678.4321@zoomcrc.com", subjectShown: "Zoom call" }),
  meeting("private", 240, { sensitivity: "private", subject: null, subjectShown: "Private meeting" }),
];

function device(user = MAILBOX, secret = password, url = `${server.base}/EWS/Exchange.asmx`): ExchangeService {
  const service = new ExchangeService(ExchangeVersion.Exchange2013);
  service.Credentials = new WebCredentials(user, secret);
  service.Url = new Uri(url);
  return service;
}

async function autodiscover(user = MAILBOX, secret = password): Promise<Response> {
  return fetch(`${server.base}/autodiscover/autodiscover.xml`, {
    method: "POST",
    headers: { "content-type": "text/xml", authorization: `Basic ${Buffer.from(`${user}:${secret}`).toString("base64")}` },
    body: `<?xml version="1.0" encoding="utf-8"?><Autodiscover xmlns="http://schemas.microsoft.com/exchange/autodiscover/outlook/requestschema/2006"><Request><EMailAddress>${user}</EMailAddress><AcceptableResponseSchema>http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a</AcceptableResponseSchema></Request></Autodiscover>`,
  });
}

async function listWindow(service: ExchangeService) {
  const now = clock.now();
  const view = new CalendarView(new DateTime(now.getTime()), new DateTime(now.getTime() + 86_400_000));
  return service.FindAppointments(WellKnownFolderName.Calendar, view);
}

async function read(service: ExchangeService, id: string): Promise<Appointment> {
  const set = new PropertySet(BasePropertySet.FirstClassProperties);
  set.RequestedBodyType = BodyType.Text;
  return Appointment.Bind(service, new ItemId(id), set);
}

describe("EWS feed with a real EWS client", () => {
  it("autodiscover names the EWS URL; the client finds the calendar, lists the window and reads each kind of meeting", async () => {
    const FOUR = four();
    await db.store.meetings.upsert(FOUR, clock.now());
    expect((await db.store.alarms.lastFetches()).get(room.id)).toBeUndefined();
    const answer = await autodiscover();
    expect(answer.status).toBe(200);
    const ewsUrl = /<EwsUrl>([^<]+)<\/EwsUrl>/.exec(await answer.text())?.[1];
    expect(ewsUrl).toBe(`${server.base}/EWS/Exchange.asmx`);

    const service = device(MAILBOX, password, ewsUrl);
    const folder = await CalendarFolder.Bind(service, WellKnownFolderName.Calendar);
    expect(folder.DisplayName).toBe("Calendar");
    expect(folder.TotalCount).toBe(4);

    const found = await listWindow(service);
    expect(found.Items.map((a) => a.Subject)).toEqual(["Teams with CVI", "Teams as guest", "Zoom call", "Private meeting"]);
    expect(found.Items.map((a) => a.Location)).toEqual([
      "contoso.1234567890@video.contoso.example",
      "teams.meeting.123@sgj.contoso.example",
      "88812345678.4321@zoomcrc.com",
      "contoso.1234567890@video.contoso.example",
    ]);
    expect(found.Items[0]!.Start.TotalMilliSeconds).toBe(FOUR[0]!.start.getTime());
    expect(found.Items[0]!.End.TotalMilliSeconds).toBe(FOUR[0]!.end.getTime());

    const [cvi, sgj, zoom, secret] = await Promise.all(found.Items.map((a) => read(service, a.Id.UniqueId)));
    expect(cvi!.Body.Text).toContain("SIP: sip:contoso.1234567890@video.contoso.example");
    expect(cvi!.Body.Text).not.toContain("lobby");
    expect(cvi!.Organizer.Address).toBe("ana@fabrikam.example");
    expect(sgj!.Body.Text).toContain("sip:teams.meeting.123@sgj.contoso.example");
    expect(sgj!.Body.Text).toContain("lobby");
    expect(zoom!.Body.Text).toContain("sip:88812345678.4321@zoomcrc.com");
    expect(secret!.Subject).toBe("Private meeting");
    expect(JSON.stringify(secret!.Body.Text)).not.toContain("Subject private");

    // The one record of last fetch per device (written at most once a minute: here the first read).
    expect((await db.store.alarms.lastFetches()).get(room.id)).toEqual({ at: clock.now(), via: "ews:Autodiscover" });
    const status = await runCli(["status", "--json", "--database-url", db.url]);
    const entry = (JSON.parse(status.stdout) as { rooms: Array<{ mailbox: string; device: { lastFetchAt?: string | null } }> }).rooms.find(
      (r) => r.mailbox === MAILBOX,
    );
    expect(entry?.device.lastFetchAt).toBe(clock.now().toISOString());
    // Silent for over alarms.ewsFetchStaleMinutes (60 by default): the room's alarm.
    const settings = { endBufferMinutes: 0, windowFutureDays: 7, pollFailuresBeforeAlarm: 3, pushFailuresBeforeAlarm: 3, ewsFetchStaleMinutes: 60 };
    const alarmsAt = async () => (await buildStatus(db.store, clock.now(), settings)).rooms.find((r) => r.mailbox === MAILBOX)?.alarms.map((a) => a.code);
    clock.advance(59 * 60_000);
    expect(await alarmsAt()).not.toContain("OTJ_DEVICE_NOT_FETCHING");
    clock.advance(2 * 60_000);
    expect(await alarmsAt()).toContain("OTJ_DEVICE_NOT_FETCHING");
    const scraped = await metrics.registry.getSingleMetricAsString("otj_ews_requests_total");
    expect(scraped).toMatch(/otj_ews_requests_total\{operation="FindItem",result="ok"\} 1/);
    expect(scraped).toMatch(/otj_ews_requests_total\{operation="Autodiscover",result="ok"\} 1/);
  });

  it("an update gets a new change key under the same id; a cancelled meeting leaves the list and cannot be read", async () => {
    const FOUR = four();
    await db.store.meetings.upsert(FOUR, clock.now());
    const service = device();
    const before = await listWindow(service);
    const cviBefore = before.Items[0]!;

    await db.store.meetings.upsert(
      [
        meeting("cvi", 60, { subjectShown: "Teams with CVI (moved room)", contentHash: "cvi-changed" }),
        meeting("zoom", 180, { route: "direct", rule: "zoom-sip", dialString: "88812345678.4321@zoomcrc.com", cancelled: true, contentHash: "zoom-cancelled" }),
      ],
      clock.now(),
    );
    const after = await listWindow(service);
    expect(after.Items.map((a) => a.Subject)).toEqual(["Teams with CVI (moved room)", "Teams as guest", "Private meeting"]);
    expect(after.Items[0]!.Id.UniqueId).toBe(cviBefore.Id.UniqueId);
    expect(after.Items[0]!.Id.ChangeKey).not.toBe(cviBefore.Id.ChangeKey);
    // The unchanged SGJ meeting keeps its change key.
    expect(after.Items[1]!.Id.ChangeKey).toBe(before.Items[1]!.Id.ChangeKey);
    const zoomId = before.Items[2]!.Id.UniqueId;
    await expect(read(service, zoomId)).rejects.toMatchObject({ ErrorCode: expect.anything() });
  });

  it("a wrong password, an unknown user and no credentials get 401 with WWW-Authenticate: Basic", async () => {
    await expect(listWindow(device(MAILBOX, "wrong-password"))).rejects.toBeTruthy();
    for (const auth of [
      `Basic ${Buffer.from(`${MAILBOX}:nope`).toString("base64")}`,
      `Basic ${Buffer.from(`other@contoso.example:${password}`).toString("base64")}`,
      null,
    ]) {
      const r = await fetch(`${server.base}/EWS/Exchange.asmx`, {
        method: "POST",
        headers: { "content-type": "text/xml", ...(auth ? { authorization: auth } : {}) },
        body: "<x/>",
      });
      expect(r.status).toBe(401);
      expect(r.headers.get("www-authenticate")).toMatch(/^Basic/);
    }
    expect((await autodiscover(MAILBOX, "nope")).status).toBe(401);
    const scraped = await metrics.registry.getSingleMetricAsString("otj_ews_requests_total");
    expect(scraped).toMatch(/result="unauthorized"/);
  });

  it("a rotated password replaces the old one", async () => {
    const rotated = await runCli(["rooms", "token", MAILBOX, "--rotate", "--json", "--database-url", db.url]);
    expect(rotated.code, rotated.stderr).toBe(0);
    const fresh = (JSON.parse(rotated.stdout) as { devicePassword: string }).devicePassword;
    expect(fresh).not.toBe(password);
    expect((await autodiscover(MAILBOX, password)).status).toBe(401);
    expect((await autodiscover(MAILBOX, fresh)).status).toBe(200);
  });

  it("rooms moved to ews with `rooms set` or imported from CSV get a password once, through the one shared function", async () => {
    await db.store.rooms.add({ mailbox: "poly-moved@contoso.example", displayName: "Moved", provider: "contoso-pexip", deviceFamily: "pull" }, clock.now());
    const moved = await runCli(["rooms", "set", "poly-moved@contoso.example", "--device-family", "ews", "--json", "--database-url", db.url]);
    expect(moved.code, moved.stderr).toBe(0);
    const printed = JSON.parse(moved.stdout) as { deviceUsername: string; devicePassword: string };
    expect(printed.deviceUsername).toBe("poly-moved@contoso.example");
    expect((await autodiscover("poly-moved@contoso.example", printed.devicePassword)).status).toBe(200);
    // A second change keeps the password and shows none.
    const again = await runCli(["rooms", "set", "poly-moved@contoso.example", "--name", "Moved again", "--json", "--database-url", db.url]);
    expect(again.stdout).not.toContain("devicePassword");
    expect((await autodiscover("poly-moved@contoso.example", printed.devicePassword)).status).toBe(200);

    const file = join(await mkdtemp(join(tmpdir(), "ews-import-")), "rooms.csv");
    await writeFile(file, "mailbox,displayName,provider,deviceFamily\npoly-csv@contoso.example,From CSV,contoso-pexip,ews\n");
    const imported = await runCli(["rooms", "import", file, "--json", "--database-url", db.url]);
    expect(imported.code, imported.stderr).toBe(0);
    const report = JSON.parse(imported.stdout) as { credentials: Array<{ deviceUsername: string; devicePassword: string }> };
    expect(report.credentials.map((c) => c.deviceUsername)).toEqual(["poly-csv@contoso.example"]);
    expect((await autodiscover("poly-csv@contoso.example", report.credentials[0]!.devicePassword)).status).toBe(200);
  });
});
