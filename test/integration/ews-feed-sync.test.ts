/**
 * The EWS feed's SyncFolderItems, SOAP Autodiscover and time zones over real HTTP on real
 * PostgreSQL, with ews-javascript-api (a real EWS client library) as the device.
 */
import {
  AutodiscoverService,
  BasePropertySet,
  CalendarView,
  ChangeType,
  DateTime,
  ExchangeService,
  ExchangeVersion,
  FolderId,
  PropertySet,
  SyncFolderItemsScope,
  TimeZoneInfo,
  Uri,
  UserSettingName,
  WebCredentials,
  WellKnownFolderName,
} from "ews-javascript-api";
import { beforeEach, describe, expect, it } from "vitest";
import type { MeetingUpsert, Room } from "../../core/ports/store.ts";
import { servedTestStoreForFile } from "../support/file-test-store.ts";
import { plannedMeeting } from "../support/planned-meeting.ts";

const MAILBOX = "poly-sync@contoso.example";
const { db, clock, metrics, server } = servedTestStoreForFile("2025-03-28T08:00:00.000Z");
let room: Room;
let password: string;

beforeEach(async () => {
  await db.truncate();
  await db.store.providers.add({ name: "p", partner: "pexip", tenantKey: "contoso@video.contoso.example", sipDomain: "video.contoso.example" }, clock.now());
  await db.store.rooms.add({ mailbox: MAILBOX, displayName: "Poly Sync", provider: "p", deviceFamily: "ews" }, clock.now());
  ({ room, password } = await db.store.ewsDevices.issuePassword(MAILBOX, clock.now()));
});

function meeting(key: string, startIso: string, extra: Partial<MeetingUpsert> = {}): MeetingUpsert {
  return plannedMeeting(room, key, new Date(startIso), 0, {
    occurrenceKey: `${MAILBOX}|${key}`,
    subject: `Subject ${key}`,
    dialString: "contoso.1234567890@video.contoso.example",
    subjectShown: `Shown ${key}`,
    contentHash: key,
    ...extra,
  });
}

function device(version = ExchangeVersion.Exchange2013, zone?: TimeZoneInfo): ExchangeService {
  const service = zone ? new ExchangeService(version, zone) : new ExchangeService(version);
  service.Credentials = new WebCredentials(MAILBOX, password);
  service.Url = new Uri(`${server.base}/EWS/Exchange.asmx`);
  return service;
}

const sync = async (service: ExchangeService, state: string | null, max = 100) => {
  const changes = await service.SyncFolderItems(
    new FolderId(WellKnownFolderName.Calendar),
    new PropertySet(BasePropertySet.FirstClassProperties),
    [],
    max,
    SyncFolderItemsScope.NormalItems,
    state as string,
  );
  return { Items: changes.GetEnumerator(), Count: changes.Count, SyncState: changes.SyncState, MoreChangesAvailable: changes.MoreChangesAvailable };
};

const post = (path: string, body: string, auth = `Basic ${Buffer.from(`${MAILBOX}:${password}`).toString("base64")}`) =>
  fetch(`${server.base}${path}`, { method: "POST", headers: { "content-type": "text/xml; charset=utf-8", authorization: auth }, body });
const soap = (inner: string, header = "") =>
  `<?xml version="1.0"?><s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/" xmlns:m="http://schemas.microsoft.com/exchange/services/2006/messages" xmlns:t="http://schemas.microsoft.com/exchange/services/2006/types"><s:Header>${header}</s:Header><s:Body>${inner}</s:Body></s:Envelope>`;
const syncBody = (state: string, max = "10") =>
  soap(
    `<m:SyncFolderItems><m:ItemShape><t:BaseShape>IdOnly</t:BaseShape></m:ItemShape><m:SyncFolderId><t:DistinguishedFolderId Id="calendar"/></m:SyncFolderId><m:SyncState>${state}</m:SyncState><m:MaxChangesReturned>${max}</m:MaxChangesReturned></m:SyncFolderItems>`,
  );

describe("SyncFolderItems with a real EWS client", () => {
  it("first sync lists every meeting; then only what changed: an update, a new meeting, a cancellation; the state survives a new client", async () => {
    await db.store.meetings.upsert([meeting("a", "2025-03-28T10:00:00Z"), meeting("b", "2025-03-28T12:00:00Z")], clock.now());
    const first = await sync(device(), null);
    expect(first.Items.map((c) => [c.ChangeType, (c.Item as { Subject: string }).Subject])).toEqual([
      [ChangeType.Create, "Shown a"],
      [ChangeType.Create, "Shown b"],
    ]);
    expect(first.MoreChangesAvailable).toBe(false);
    const idOfB = first.Items[1]!.ItemId.UniqueId;

    // Nothing changed: no changes, the same state.
    const quiet = await sync(device(), first.SyncState);
    expect(quiet.Count).toBe(0);
    expect(quiet.SyncState).toBe(first.SyncState);

    await db.store.meetings.upsert(
      [
        meeting("a", "2025-03-28T10:30:00Z", { subjectShown: "Moved a", contentHash: "a2" }),
        meeting("b", "2025-03-28T12:00:00Z", { cancelled: true, contentHash: "b-cancelled" }),
        meeting("c", "2025-03-29T09:00:00Z"),
      ],
      clock.now(),
    );
    // A fresh client (as after a device or engine restart) with the stored state.
    const changed = await sync(device(), first.SyncState);
    expect(changed.Items.map((c) => c.ChangeType)).toEqual([ChangeType.Update, ChangeType.Create, ChangeType.Delete]);
    expect((changed.Items[0]!.Item as { Subject: string }).Subject).toBe("Moved a");
    expect((changed.Items[1]!.Item as { Subject: string }).Subject).toBe("Shown c");
    expect(changed.Items[2]!.ItemId.UniqueId).toBe(idOfB);
    expect((await sync(device(), changed.SyncState)).Count).toBe(0);
  });

  it("MaxChangesReturned pages the changes; the state follows what was returned", async () => {
    await db.store.meetings.upsert(
      ["a", "b", "c"].map((k, i) => meeting(k, `2025-03-28T1${i}:00:00Z`)),
      clock.now(),
    );
    const page1 = await sync(device(), null, 2);
    expect(page1.Count).toBe(2);
    expect(page1.MoreChangesAvailable).toBe(true);
    const page2 = await sync(device(), page1.SyncState, 2);
    expect(page2.Items.map((c) => (c.Item as { Subject: string }).Subject)).toEqual(["Shown c"]);
    expect(page2.MoreChangesAvailable).toBe(false);
  });

  it("hostile sync input: a forged or oversized state and a bad MaxChangesReturned get errors, not a crash", async () => {
    for (const state of ["not-base64!", "b3RqMQAAAA", `b3RqMQ${"A".repeat(60_000)}`]) {
      const r = await post("/EWS/Exchange.asmx", syncBody(state));
      const text = await r.text();
      expect(text).toMatch(/ErrorInvalidSyncStateData|ErrorInvalidRequest/);
    }
    for (const max of ["0", "513", "x", "1e3"]) {
      const r = await post("/EWS/Exchange.asmx", syncBody("", max));
      expect(r.status).toBe(500);
      expect(await r.text()).toContain("ErrorSchemaValidation");
    }
    await expect(sync(device(), "b3RqMQ==x")).rejects.toBeTruthy();
  });
});

describe("SOAP Autodiscover", () => {
  it("a real client's GetUserSettings gets the EWS URL and the display name; another mailbox is InvalidUser", async () => {
    const service = new AutodiscoverService(new Uri(`${server.base}/autodiscover/autodiscover.svc`), ExchangeVersion.Exchange2010);
    service.Credentials = new WebCredentials(MAILBOX, password);
    const answer = await service.GetUserSettings(MAILBOX, [UserSettingName.ExternalEwsUrl, UserSettingName.InternalEwsUrl, UserSettingName.UserDisplayName]);
    expect(answer.Settings.get(UserSettingName.ExternalEwsUrl)).toBe(`${server.base}/EWS/Exchange.asmx`);
    expect(answer.Settings.get(UserSettingName.UserDisplayName)).toBe("Poly Sync");
    const other = await post(
      "/autodiscover/autodiscover.svc",
      `<?xml version="1.0"?><s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/" xmlns:a="http://schemas.microsoft.com/exchange/2010/Autodiscover"><s:Body><a:GetUserSettingsRequestMessage><a:Request><a:Users><a:User><a:Mailbox>ceo@contoso.example</a:Mailbox></a:User></a:Users><a:RequestedSettings><a:Setting>ExternalEwsUrl</a:Setting></a:RequestedSettings></a:Request></a:GetUserSettingsRequestMessage></s:Body></s:Envelope>`,
    );
    const text = await other.text();
    expect(text).toContain("<ErrorCode>InvalidUser</ErrorCode>");
    expect(text).not.toContain("/EWS/Exchange.asmx");
    expect((await post("/autodiscover/autodiscover.svc", "<x/>", "Basic bm9wZTpub3Bl")).status).toBe(401);
    const hostile = await post("/autodiscover/autodiscover.svc", `<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><x>&e;</x>`);
    expect(hostile.status).toBe(500);
    expect(await hostile.text()).not.toContain("root:");
    const scraped = await metrics.registry.getSingleMetricAsString("otj_ews_requests_total");
    expect(scraped).toMatch(/operation="GetUserSettings",result="ok"\} 2/);
    expect(scraped).toMatch(/operation="GetUserSettings",result="fault"\} 1/);
    expect(scraped).toMatch(/operation="SyncFolderItems",result="ok"/);
  });
});

describe("time zones", () => {
  it("Start/End carry the requested zone's offset on each side of a daylight-saving change", async () => {
    // Europe moves to summer time on 30 March 2025 (01:00 UTC).
    await db.store.meetings.upsert([meeting("before", "2025-03-29T08:00:00Z"), meeting("after", "2025-03-31T07:00:00Z")], clock.now());
    const header = `<t:RequestServerVersion Version="Exchange2010"/><t:TimeZoneContext><t:TimeZoneDefinition Id="W. Europe Standard Time"/></t:TimeZoneContext>`;
    const find = (start: string, end: string) =>
      post(
        "/EWS/Exchange.asmx",
        soap(
          `<m:FindItem Traversal="Shallow"><m:ItemShape><t:BaseShape>Default</t:BaseShape></m:ItemShape><m:CalendarView StartDate="${start}" EndDate="${end}"/><m:ParentFolderIds><t:DistinguishedFolderId Id="calendar"/></m:ParentFolderIds></m:FindItem>`,
          header,
        ),
      );
    const raw = await (await find("2025-03-29T00:00:00", "2025-04-01T00:00:00")).text();
    expect(raw).toContain("<t:Start>2025-03-29T09:00:00+01:00</t:Start>");
    expect(raw).toContain("<t:Start>2025-03-31T09:00:00+02:00</t:Start>");
    expect(raw).toContain("<t:TimeZone>W. Europe Standard Time</t:TimeZone>");
    // A CalendarView without an offset is local time in the requested zone: 09:30 local on the
    // 31st is 07:30 UTC, after the second meeting's start, which still overlaps.
    const late = await (await find("2025-03-31T09:29:00", "2025-03-31T09:31:00")).text();
    expect(late).toContain("2025-03-31T09:00:00+02:00");
    const none = await (await find("2025-03-31T09:31:00", "2025-03-31T10:00:00")).text();
    expect(none).not.toContain("<t:CalendarItem>");

    // The real client, scoped to that zone (it sends TimeZoneContext), reads the same instants.
    const zone = TimeZoneInfo.FindSystemTimeZoneById("W. Europe Standard Time");
    const service = device(ExchangeVersion.Exchange2007_SP1, zone);
    const found = await service.FindAppointments(
      WellKnownFolderName.Calendar,
      new CalendarView(new DateTime(Date.parse("2025-03-29T00:00:00Z")), new DateTime(Date.parse("2025-04-01T00:00:00Z"))),
    );
    expect(found.Items.map((a) => a.Start.TotalMilliSeconds)).toEqual([Date.parse("2025-03-29T08:00:00Z"), Date.parse("2025-03-31T07:00:00Z")]);
    expect(found.Items.map((a) => a.Start.Format("HH:mm"))).toEqual(["09:00", "09:00"]);
    // An unknown zone id: UTC, as without a TimeZoneContext.
    const utc = await (
      await post(
        "/EWS/Exchange.asmx",
        soap(
          `<m:FindItem Traversal="Shallow"><m:ItemShape><t:BaseShape>Default</t:BaseShape></m:ItemShape><m:ParentFolderIds><t:DistinguishedFolderId Id="calendar"/></m:ParentFolderIds></m:FindItem>`,
          `<t:TimeZoneContext><t:TimeZoneDefinition Id="Nowhere Standard Time"/></t:TimeZoneContext>`,
        ),
      )
    ).text();
    expect(utc).toContain("<t:Start>2025-03-29T08:00:00Z</t:Start>");
  });
});
