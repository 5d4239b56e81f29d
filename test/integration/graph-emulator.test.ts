/**
 * The Graph emulator on its own, with plain fetch: the shapes and behaviours Graph
 * has, so that the adapter tests prove something about Graph and not about the emulator.
 */

import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { GraphEmulator, type GraphEmulatorOptions } from "../../emulators/graph/graph-emulator.ts";

class ManualClock {
  constructor(public ms: number) {}
  now(): Date {
    return new Date(this.ms);
  }
}

const ROOM = "room101@contoso.example";
/** Response bodies are read as loosely as JSON.parse returns them. */
type Json = ReturnType<typeof JSON.parse>;
const running: GraphEmulator[] = [];
const servers: Server[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((e) => e.stop()));
  for (const server of servers.splice(0)) {
    server.close();
    server.closeAllConnections();
  }
});

async function start(options: GraphEmulatorOptions = {}) {
  const clock = new ManualClock(Date.parse("2025-03-04T08:00:00Z"));
  const emu = await GraphEmulator.start({ seed: "emu-test", clock, ...options });
  running.push(emu);
  emu.addRoom({ address: ROOM, displayName: "Room 101" });
  const form = (fields: Record<string, string>) => new URLSearchParams(fields).toString();
  const tokenResponse = await fetch(`${emu.url}/${emu.tenantId}/oauth2/v2.0/token`, {
    method: "POST",
    headers: { "Content-Type": "application/x-www-form-urlencoded" },
    body: form({ grant_type: "client_credentials", client_id: emu.clientId, client_secret: emu.clientSecret, scope: "https://graph.microsoft.com/.default" }),
  });
  const token = ((await tokenResponse.json()) as { access_token: string }).access_token;
  const call = async (path: string, init: RequestInit & { headers?: Record<string, string> } = {}) => {
    const response = await fetch(`${emu.url}${path}`, { ...init, headers: { Authorization: `Bearer ${token}`, ...(init.headers ?? {}) } });
    const text = await response.text();
    return { status: response.status, headers: response.headers, body: text === "" ? null : (JSON.parse(text) as Record<string, Json>) };
  };
  return { emu, clock, call, form };
}

const VIEW = `/v1.0/users/${ROOM}/calendarView?startDateTime=2025-03-03T00:00:00Z&endDateTime=2025-03-10T00:00:00Z`;
const DELTA = `/v1.0/users/${ROOM}/calendarView/delta?startDateTime=2025-03-03T00:00:00Z&endDateTime=2025-03-10T00:00:00Z`;

function relative(link: string): string {
  return link.replace("https://graph.microsoft.com", "");
}

describe("token endpoint", () => {
  it("issues client-credentials tokens and refuses bad tenants, clients, secrets and scopes", async () => {
    const { emu, form } = await start();
    const post = async (tenant: string, fields: Record<string, string>) => {
      const r = await fetch(`${emu.url}/${tenant}/oauth2/v2.0/token`, {
        method: "POST",
        headers: { "Content-Type": "application/x-www-form-urlencoded" },
        body: form(fields),
      });
      return { status: r.status, body: (await r.json()) as Record<string, unknown> };
    };
    const good = { grant_type: "client_credentials", client_id: emu.clientId, client_secret: emu.clientSecret, scope: "https://graph.microsoft.com/.default" };
    const ok = await post("contoso.example", good);
    expect(ok.status).toBe(200);
    expect(ok.body).toMatchObject({ token_type: "Bearer", expires_in: 3599, ext_expires_in: 3599 });
    expect(typeof ok.body["access_token"]).toBe("string");
    expect(await post("common", good)).toMatchObject({ status: 400, body: { error: "invalid_request", error_codes: [90002] } });
    expect(await post(emu.tenantId, { ...good, client_id: "nope" })).toMatchObject({ status: 400, body: { error: "unauthorized_client" } });
    expect(await post(emu.tenantId, { ...good, client_secret: "nope" })).toMatchObject({
      status: 401,
      body: { error: "invalid_client", error_codes: [7000215] },
    });
    expect(await post(emu.tenantId, { ...good, scope: "https://graph.microsoft.us/.default" })).toMatchObject({
      status: 400,
      body: { error: "invalid_scope" },
    });
  });

  it("rejects missing and expired bearer tokens with Graph's error shape", async () => {
    const { emu, clock, call } = await start({ tokenLifetimeSeconds: 60 });
    const bare = await fetch(`${emu.url}${VIEW}`, { headers: { "client-request-id": "abc-123" } });
    const body = (await bare.json()) as { error: Record<string, Json> };
    expect(bare.status).toBe(401);
    expect(body.error).toMatchObject({ code: "InvalidAuthenticationToken", message: "Access token is empty.", innerError: { "client-request-id": "abc-123" } });
    expect(body.error["innerError"]["request-id"]).toBe(bare.headers.get("request-id"));
    expect(bare.headers.get("client-request-id")).toBe("abc-123");
    clock.ms += 61_000;
    const expired = await call(VIEW);
    expect(expired.status).toBe(401);
    expect(expired.body?.["error"]["message"]).toContain("expired");
  });
});

describe("calendarView", () => {
  it("pages with $top/$skip nextLinks on publicRoot and honours $select and Prefer", async () => {
    const { emu, call } = await start();
    for (let i = 0; i < 12; i++) {
      emu.addEvent(ROOM, {
        subject: `m${i}`,
        start: new Date(Date.parse("2025-03-04T07:00:00Z") + i * 3_600_000).toISOString(),
        end: new Date(Date.parse("2025-03-04T07:30:00Z") + i * 3_600_000).toISOString(),
        body: { contentType: "html", content: '<p>Hello <a href="https://teams.microsoft.com/l/meetup-join/x">Join</a></p>' },
      });
    }
    const first = await call(VIEW, {
      headers: { Prefer: 'outlook.timezone="W. Europe Standard Time", outlook.body-content-type="text", IdType="ImmutableId", outlook.unknown="x"' },
    });
    expect(first.status).toBe(200);
    expect(first.headers.get("content-type")).toContain("application/json;odata.metadata=minimal");
    expect(first.headers.get("preference-applied")).toBe('outlook.timezone="W. Europe Standard Time", outlook.body-content-type="text", IdType="ImmutableId"');
    expect(first.body?.["value"]).toHaveLength(10);
    const m0 = first.body?.["value"][0];
    expect(m0.start).toEqual({ dateTime: "2025-03-04T08:00:00.0000000", timeZone: "W. Europe Standard Time" });
    expect(m0.body).toEqual({ contentType: "text", content: "Hello Join<https://teams.microsoft.com/l/meetup-join/x>" });
    expect(m0.bodyPreview).toBe("Hello Join");
    const next: string = first.body?.["@odata.nextLink"];
    expect(next.startsWith(`https://graph.microsoft.com/v1.0/users/${ROOM}/calendarView?`)).toBe(true);
    const second = await call(relative(next));
    expect(second.body?.["value"]).toHaveLength(2);
    expect(second.body?.["@odata.nextLink"]).toBeUndefined();
    const selected = await call(`${VIEW}&$select=subject,start`);
    expect(Object.keys(selected.body?.["value"][0]).sort()).toEqual(["@odata.etag", "id", "start", "subject"]);
    const viaCalendar = await call(VIEW.replace("/calendarView", "/calendar/calendarView").replace(ROOM, ROOM.toUpperCase()));
    expect(viaCalendar.body?.["value"]).toHaveLength(10);
  });

  it("requires a window of at most 1,825 days", async () => {
    const { call } = await start();
    expect((await call(`/v1.0/users/${ROOM}/calendarView`)).body?.["error"]["code"]).toBe("ErrorInvalidParameter");
    const long = await call(`/v1.0/users/${ROOM}/calendarView?startDateTime=2020-01-01T00:00:00Z&endDateTime=2025-01-02T00:00:00Z`);
    expect(long).toMatchObject({ status: 400, body: { error: { code: "ErrorInvalidRequest" } } });
  });

  it("expands series: one iCalUId per occurrence, instances leave cancelled ones out, /events lists the master", async () => {
    const { emu, call } = await start();
    const series = emu.addSeries(ROOM, {
      subject: "Weekly",
      start: "2025-03-03T09:00:00Z",
      end: "2025-03-03T10:00:00Z",
      recurrence: { type: "weekly", daysOfWeek: ["monday", "thursday"], count: 4 },
    })!;
    expect(series.occurrenceIds).toHaveLength(4);
    emu.cancelEvent(ROOM, series.occurrenceIds[1]!);
    const view = await call(VIEW);
    const items = view.body?.["value"] as Array<Record<string, Json>>;
    expect(items.map((i) => i["start"]["dateTime"])).toEqual(["2025-03-03T09:00:00.0000000", "2025-03-06T09:00:00.0000000"]);
    expect(items.map((i) => i["type"])).toEqual(["occurrence", "exception"]);
    expect(items[1]!["isCancelled"]).toBe(true);
    expect(items[0]!["iCalUId"].slice(32, 40)).toBe("07E90303");
    expect(items[0]!["iCalUId"].slice(40)).toBe(series.iCalUId.slice(40));
    expect(series.iCalUId.slice(32, 40)).toBe("00000000");
    expect(items[0]!["originalStart"]).toBe("2025-03-03T09:00:00Z");
    const instances = await call(`/v1.0/users/${ROOM}/events/${series.id}/instances?startDateTime=2025-03-01T00:00:00Z&endDateTime=2025-04-01T00:00:00Z`);
    expect(instances.body?.["value"]).toHaveLength(3);
    const events = await call(`/v1.0/users/${ROOM}/events`);
    expect(events.body?.["value"]).toMatchObject([
      { id: series.id, type: "seriesMaster", recurrence: { pattern: { type: "weekly", daysOfWeek: ["monday", "thursday"] } } },
    ]);
    expect((await call(`/v1.0/users/${ROOM}/events/AAMkAGInope`)).body?.["error"]["code"]).toBe("ErrorItemNotFound");
  });

  it("applies the room's calendar processing to new bookings", async () => {
    const { emu, call } = await start();
    emu.setProcessing(ROOM, {
      deleteComments: true,
      deleteSubject: true,
      addOrganizerToSubject: true,
      removePrivateProperty: true,
      processExternal: false,
      stripOnlineMeeting: true,
    });
    const booked = emu.addEvent(ROOM, {
      subject: "Secret plans",
      start: "2025-03-04T09:00:00Z",
      end: "2025-03-04T10:00:00Z",
      sensitivity: "private",
      organizer: { name: "Bo Chen", address: "bo@contoso.example" },
      body: { contentType: "html", content: "<p>Join here</p>" },
      onlineMeeting: { joinUrl: "https://teams.microsoft.com/l/meetup-join/y" },
    });
    const external = emu.addEvent(ROOM, {
      subject: "External",
      start: "2025-03-04T11:00:00Z",
      end: "2025-03-04T12:00:00Z",
      organizer: { name: "Eve", address: "eve@fabrikam.example" },
    });
    expect(booked).not.toBeNull();
    expect(external).toBeNull();
    const item = (await call(VIEW)).body?.["value"][0];
    expect(item).toMatchObject({
      subject: "Bo Chen",
      sensitivity: "normal",
      body: { content: "" },
      bodyPreview: "",
      onlineMeeting: null,
      isOnlineMeeting: false,
    });
    emu.setProcessing(ROOM, { removeCanceledMeetings: true });
    emu.cancelEvent(ROOM, booked!.id);
    expect((await call(VIEW)).body?.["value"]).toHaveLength(0);
  });
});

describe("calendarView/delta", () => {
  it("rejects $select, honours odata.maxpagesize and reports removals and out-of-window changes", async () => {
    const { emu, call } = await start();
    expect(await call(`${DELTA}&$select=subject`)).toMatchObject({ status: 400, body: { error: { code: "ErrorInvalidUrlQuery" } } });
    const a = emu.addEvent(ROOM, { subject: "a", start: "2025-03-04T09:00:00Z", end: "2025-03-04T10:00:00Z" })!;
    const b = emu.addEvent(ROOM, { subject: "b", start: "2025-03-05T09:00:00Z", end: "2025-03-05T10:00:00Z" })!;
    emu.addEvent(ROOM, { subject: "c", start: "2025-03-06T09:00:00Z", end: "2025-03-06T10:00:00Z" });
    const headers = { Prefer: "odata.maxpagesize=2" };
    const page1 = await call(DELTA, { headers });
    expect(page1.headers.get("preference-applied")).toBe("odata.maxpagesize=2");
    expect(page1.body?.["value"]).toHaveLength(2);
    const skip: string = page1.body?.["@odata.nextLink"];
    expect(skip).toMatch(/calendarView\/delta\?\$skiptoken=/);
    expect(skip).not.toContain("2025-03"); // opaque
    const page2 = await call(relative(skip), { headers });
    expect(page2.body?.["value"]).toHaveLength(1);
    const deltaLink: string = page2.body?.["@odata.deltaLink"];
    expect(deltaLink).toMatch(/\$deltatoken=/);

    emu.deleteEvent(ROOM, a.id);
    emu.updateEvent(ROOM, b.id, { start: "2025-04-05T09:00:00Z", end: "2025-04-05T10:00:00Z" });
    emu.addEvent(ROOM, { subject: "far", start: "2025-05-01T09:00:00Z", end: "2025-05-01T10:00:00Z" });
    const changes = await call(relative(deltaLink), { headers });
    const value = changes.body?.["value"] as Array<Record<string, unknown>>;
    expect(value).toHaveLength(2);
    expect(value[0]).toEqual({ "@odata.type": "#microsoft.graph.event", id: a.id, "@removed": { reason: "deleted" } });
    expect(value[1]).toMatchObject({ id: b.id, "@removed": { reason: "deleted" } });
    const tail = await call(relative(changes.body?.["@odata.nextLink"]), { headers });
    expect(tail.body?.["value"]).toHaveLength(1); // the out-of-window booking, as @removed
    expect(tail.body?.["value"][0]["@removed"]).toBeDefined();

    const tampered = `${relative(deltaLink).slice(0, -3)}xyz`;
    expect((await call(tampered)).status).toBe(400);
  });

  it("expires tokens with 410 and a Location that restarts the round", async () => {
    const { emu, call } = await start();
    emu.addEvent(ROOM, { subject: "a", start: "2025-03-04T09:00:00Z", end: "2025-03-04T10:00:00Z" });
    const first = await call(DELTA);
    emu.expireDeltaTokens(ROOM);
    const gone = await call(relative(first.body?.["@odata.deltaLink"]));
    expect(gone.status).toBe(410);
    expect(gone.body?.["error"]["code"]).toBe("resyncRequired");
    const location = gone.headers.get("location")!;
    expect(location).toMatch(/\$deltatoken=$/);
    const restart = await call(relative(location));
    expect(restart.body?.["value"]).toHaveLength(1);
    expect(restart.body?.["@odata.deltaLink"]).toBeDefined();
    emu.expireDeltaTokens(ROOM, "syncStateNotFound");
    const notFound = await call(relative(restart.body?.["@odata.deltaLink"]));
    expect(notFound).toMatchObject({ status: 400, body: { error: { code: "syncStateNotFound" } } });
  });
});

describe("limits", () => {
  it("answers a fifth concurrent request for one mailbox with 429 and a fractional Retry-After", async () => {
    const { emu, call } = await start();
    emu.setLatency(200, ROOM); // long enough that all six overlap even on a busy machine
    const answers = await Promise.all(Array.from({ length: 6 }, () => call(VIEW)));
    const throttled = answers.filter((a) => a.status === 429);
    expect(throttled).toHaveLength(2);
    expect(throttled[0]!.headers.get("retry-after")).toBe("1.387");
    expect(throttled[0]!.body?.["error"]).toMatchObject({ code: "ApplicationThrottled", message: "Application is over its MailboxConcurrency limit." });
    expect(emu.mailboxStats(ROOM)).toMatchObject({ maxInFlight: 4, throttled: 2 });
  });

  it("enforces the per-mailbox request quota until the window passes", async () => {
    const { clock, call } = await start({ mailboxQuota: { requests: 3, windowMs: 60_000 } });
    for (let i = 0; i < 3; i++) expect((await call(VIEW)).status).toBe(200);
    const over = await call(VIEW);
    expect(over.status).toBe(429);
    expect(Number(over.headers.get("retry-after"))).toBeCloseTo(60, 0);
    clock.ms += 60_000;
    expect((await call(VIEW)).status).toBe(200);
  });

  it("injects faults by route and mailbox, and reports access policy denials", async () => {
    const { emu, call } = await start();
    emu.addRoom({ address: "other@contoso.example" });
    emu.injectFault({ mailbox: "other@contoso.example", status: 504, times: 1 });
    expect((await call(VIEW)).status).toBe(200);
    expect((await call(VIEW.replace(ROOM, "other@contoso.example"))).status).toBe(504);
    expect((await call(VIEW.replace(ROOM, "other@contoso.example"))).status).toBe(200);
    const flaky = emu.injectFault({ mailbox: "other@contoso.example", status: 500, rate: 0.5 });
    const statuses = [];
    for (let i = 0; i < 40; i++) statuses.push((await call(VIEW.replace(ROOM, "other@contoso.example"))).status);
    expect(flaky.hits).toBe(statuses.filter((s) => s === 500).length);
    expect(flaky.hits).toBeGreaterThan(5);
    expect(flaky.hits).toBeLessThan(35);
    flaky.remove();
    emu.setMailboxAccess(ROOM, "denied");
    expect(await call(VIEW)).toMatchObject({ status: 403, body: { error: { code: "ErrorAccessDenied", message: "Access to OData is disabled." } } });
    expect(await call(VIEW.replace(ROOM, "ghost@contoso.example"))).toMatchObject({ status: 404, body: { error: { code: "ErrorInvalidUser" } } });
  });
});

describe("$batch", () => {
  it("runs up to 20 relative items, each with its own status, at most 4 at a time", async () => {
    const { emu, call } = await start({ shuffleBatch: false });
    const rooms = Array.from({ length: 8 }, (_, i) => `b${i}@contoso.example`);
    for (const r of rooms) emu.addRoom({ address: r });
    emu.setLatency(25);
    emu.throttle(1, { mailbox: rooms[2]!, retryAfter: "0.5" });
    const requests = rooms.map((r, i) => ({
      id: String(i),
      method: "GET",
      url: `/users/${r}/calendarView?startDateTime=2025-03-03T00:00:00Z&endDateTime=2025-03-04T00:00:00Z`,
    }));
    requests.push({ id: "v", method: "GET", url: `/v1.0/users/${ROOM}/events` });
    const started = Date.now();
    const batch = await call("/v1.0/$batch", { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ requests }) });
    expect(Date.now() - started).toBeGreaterThanOrEqual(50); // 8 items at 25 ms, 4 at a time
    expect(batch.status).toBe(200);
    const byId = new Map((batch.body!["responses"] as Array<Record<string, Json>>).map((r) => [r["id"], r]));
    expect(byId.get("0")).toMatchObject({ status: 200, headers: { "Content-Type": expect.stringContaining("application/json") }, body: { value: [] } });
    expect(byId.get("2")).toMatchObject({ status: 429, headers: { "Retry-After": "0.5" }, body: { error: { code: "ApplicationThrottled" } } });
    expect(byId.get("v")).toMatchObject({ status: 400, body: { error: { message: "Resource not found for the segment 'v1.0'." } } });

    const tooMany = Array.from({ length: 21 }, (_, i) => ({ id: String(i), method: "GET", url: "/places/microsoft.graph.room" }));
    expect(
      (await call("/v1.0/$batch", { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ requests: tooMany }) })).status,
    ).toBe(400);
  });

  it("orders dependsOn items and fails dependents of a failed item with 424", async () => {
    const { call } = await start();
    const requests = [
      { id: "1", method: "GET", url: "/users/ghost@contoso.example/events" },
      { id: "2", method: "GET", url: `/users/${ROOM}/events`, dependsOn: ["1"] },
    ];
    const batch = await call("/v1.0/$batch", { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ requests }) });
    const byId = new Map((batch.body!["responses"] as Array<Record<string, Json>>).map((r) => [r["id"], r["status"]]));
    expect(byId).toEqual(
      new Map([
        ["1", 404],
        ["2", 424],
      ]),
    );
  });
});

describe("places and control", () => {
  it("pages rooms without nextLink, counts them, leaves hidden rooms out and lists room lists", async () => {
    const { emu, call } = await start();
    for (let i = 0; i < 120; i++) emu.addRoom({ address: `p${i}@contoso.example`, capacity: 6 });
    emu.addRoom({ address: "hidden@contoso.example", hidden: true });
    emu.addRoomList({ address: "list@contoso.example", displayName: "List", rooms: ["p1@contoso.example", "hidden@contoso.example"] });
    const page1 = await call("/v1.0/places/microsoft.graph.room?$count=true");
    expect(page1.body?.["value"]).toHaveLength(100);
    expect(page1.body?.["@odata.count"]).toBe(121);
    expect(page1.body?.["@odata.nextLink"]).toBeUndefined();
    const page2 = await call("/v1.0/places/microsoft.graph.room?$top=100&$skip=100&$select=emailAddress");
    expect(page2.body?.["value"]).toHaveLength(21);
    expect(Object.keys(page2.body?.["value"][0]).sort()).toEqual(["emailAddress", "id"]);
    const lists = await call("/v1.0/places/microsoft.graph.roomlist");
    expect(lists.body?.["value"]).toMatchObject([{ emailAddress: "list@contoso.example", displayName: "List" }]);
    const members = await call("/v1.0/places/list@contoso.example/microsoft.graph.roomlist/rooms");
    expect(members.body?.["value"].map((r: Record<string, unknown>) => r["emailAddress"])).toEqual(["p1@contoso.example"]);
  });

  it("exposes state and faults over /_emulator/*", async () => {
    const { emu, call } = await start();
    const add = await fetch(`${emu.url}/_emulator/faults`, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ status: 503, times: 1, routes: ["calendarView"] }),
    });
    expect(add.status).toBe(204);
    expect((await call(VIEW)).status).toBe(503);
    expect((await call(VIEW)).status).toBe(200);
    const state = (await (await fetch(`${emu.url}/_emulator/state`)).json()) as { stats: { byStatus: Record<string, number> }; rooms: number };
    expect(state.rooms).toBe(1);
    expect(state.stats.byStatus).toMatchObject({ "503": 1 });
  });
});

describe("mail", () => {
  const MIME = "From: Ana <ana@fabrikam.example>\r\nSubject: Review\r\nContent-Type: text/calendar; method=REQUEST\r\n\r\nBEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n";

  it("lists messages newest first, filters meeting requests and serves $value MIME and attachments", async () => {
    const { emu, call } = await start();
    const invite = emu.addMessage(ROOM, {
      subject: "Review",
      from: { name: "Ana", address: "ana@fabrikam.example" },
      receivedDateTime: "2025-03-04T07:00:00Z",
      meetingMessageType: "meetingRequest",
      mime: MIME,
      attachments: [{ name: "invite.ics", contentType: "text/calendar", content: "BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n" }],
    })!;
    emu.addMessage(ROOM, { subject: "Lunch?", receivedDateTime: "2025-03-04T07:30:00Z", mime: "Subject: Lunch?\r\n\r\nhi\r\n" });
    const all = await call(`/v1.0/users/${ROOM}/messages`);
    expect(all.body?.["value"].map((m: Record<string, unknown>) => m["subject"])).toEqual(["Lunch?", "Review"]);
    expect(all.body?.["value"][1]).toMatchObject({
      "@odata.type": "#microsoft.graph.eventMessageRequest",
      meetingMessageType: "meetingRequest",
      hasAttachments: true,
    });
    const filtered = await call(
      `/v1.0/users/${ROOM}/messages?$filter=${encodeURIComponent("microsoft.graph.eventMessage/meetingMessageType eq 'meetingRequest' and receivedDateTime ge 2025-03-04T06:00:00Z")}`,
    );
    expect(filtered.body?.["value"].map((m: Record<string, unknown>) => m["id"])).toEqual([invite.id]);
    expect((await call(`/v1.0/users/${ROOM}/messages?$filter=startswith(subject,'R')`)).status).toBe(400);
    const raw = await fetch(`${emu.url}/v1.0/users/${ROOM}/messages/${invite.id}/$value`, { headers: { Authorization: await tokenHeader(emu) } });
    expect(await raw.text()).toBe(MIME);
    const attachments = await call(`/v1.0/users/${ROOM}/mailFolders/inbox/messages/${invite.id}/attachments`);
    const attachment = attachments.body?.["value"][0];
    expect(attachment).toMatchObject({ "@odata.type": "#microsoft.graph.fileAttachment", name: "invite.ics", contentType: "text/calendar" });
    expect(Buffer.from(attachment.contentBytes, "base64").toString()).toContain("BEGIN:VCALENDAR");
    const batch = await call("/v1.0/$batch", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ requests: [{ id: "1", method: "GET", url: `/users/${ROOM}/messages/${invite.id}/$value` }] }),
    });
    expect(Buffer.from(batch.body?.["responses"][0]["body"], "base64").toString()).toBe(MIME);
  });

  it("a room that deletes non-calendar items keeps only meeting mail", async () => {
    const { emu } = await start();
    emu.setProcessing(ROOM, { deleteNonCalendarItems: true });
    expect(emu.addMessage(ROOM, { mime: "Subject: fwd\r\n\r\n" })).toBeNull();
    expect(emu.addMessage(ROOM, { mime: MIME, meetingMessageType: "meetingRequest" })).not.toBeNull();
  });
});

async function tokenHeader(emu: GraphEmulator): Promise<string> {
  const r = await fetch(`${emu.url}/${emu.tenantId}/oauth2/v2.0/token`, {
    method: "POST",
    headers: { "Content-Type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({
      grant_type: "client_credentials",
      client_id: emu.clientId,
      client_secret: emu.clientSecret,
      scope: "https://graph.microsoft.com/.default",
    }).toString(),
  });
  return `Bearer ${((await r.json()) as { access_token: string }).access_token}`;
}

describe("subscriptions", () => {
  /** A subscriber: echoes validation tokens (or not) and records notifications. */
  async function subscriber(mode: "echo" | "wrong" = "echo") {
    const received: Array<{ value: Array<Record<string, Json>> }> = [];
    const server = createServer((req, res) => {
      const url = new URL(req.url ?? "/", "http://x");
      const token = url.searchParams.get("validationToken");
      let text = "";
      req.on("data", (c: Buffer) => {
        text += c.toString();
      });
      req.on("end", () => {
        if (token !== null) {
          res.writeHead(200, { "Content-Type": "text/plain" }).end(mode === "echo" ? token : "nope");
          return;
        }
        received.push(JSON.parse(text));
        res.writeHead(202).end();
      });
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", () => resolve()));
    servers.push(server);
    return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1/notifications/graph`, received };
  }

  it("validates the endpoint, notifies changes with clientState and sends lifecycle events", async () => {
    const { emu, call } = await start();
    const hook = await subscriber();
    const created = await call("/v1.0/subscriptions", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({
        changeType: "created,updated,deleted",
        notificationUrl: hook.url,
        lifecycleNotificationUrl: hook.url,
        resource: `/users/${ROOM}/events`,
        expirationDateTime: "2025-03-10T08:00:00.0000000Z",
        clientState: "s3cret",
      }),
    });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ resource: `/users/${ROOM}/events`, clientState: "s3cret", latestSupportedTlsVersion: "v1_2" });
    expect(emu.deliveries.filter((d) => d.kind === "validation").map((d) => d.status)).toEqual([200, 200]);

    const booked = emu.addEvent(ROOM, { subject: "x", start: "2025-03-04T09:00:00Z", end: "2025-03-04T10:00:00Z" })!;
    emu.deleteEvent(ROOM, booked.id);
    await emu.flushNotifications();
    const changes = hook.received.flatMap((n) => n.value);
    expect(changes.map((c) => c["changeType"]).sort()).toEqual(["created", "deleted"]);
    expect(changes[0]).toMatchObject({ subscriptionId: created.body?.["id"], clientState: "s3cret", tenantId: emu.tenantId, resourceData: { id: booked.id } });
    expect(emu.deliveries.filter((d) => d.kind === "change").every((d) => d.status === 202)).toBe(true);

    const renewed = await call(`/v1.0/subscriptions/${created.body?.["id"]}`, {
      method: "PATCH",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ expirationDateTime: "2025-03-11T07:00:00Z" }),
    });
    expect(renewed.status).toBe(200);
    expect((await call(`/v1.0/subscriptions/${created.body?.["id"]}/reauthorize`, { method: "POST" })).status).toBe(204);
    emu.sendLifecycleNotification(created.body?.["id"], "subscriptionRemoved");
    await emu.flushNotifications();
    expect(hook.received.at(-1)?.value[0]).toMatchObject({ lifecycleEvent: "subscriptionRemoved", clientState: "s3cret" });
    expect(emu.subscriptions()).toHaveLength(0);
  });

  it("refuses a subscription whose endpoint does not echo the token, or that lives too long", async () => {
    const { call } = await start();
    const bad = await subscriber("wrong");
    const body = {
      changeType: "updated",
      notificationUrl: bad.url,
      resource: `/users/${ROOM}/events`,
      expirationDateTime: "2025-03-05T08:00:00Z",
      clientState: "x",
    };
    const refused = await call("/v1.0/subscriptions", { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });
    expect(refused).toMatchObject({ status: 400, body: { error: { code: "InvalidRequest" } } });
    expect(refused.body?.["error"]["message"]).toContain("validationToken");
    const tooLong = await call("/v1.0/subscriptions", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ ...body, expirationDateTime: "2025-03-20T08:00:00Z" }),
    });
    expect(tooLong.body?.["error"]["message"]).toContain("10080 minutes");
  });
});
