/**
 * The console's reports page and CSV over real HTTP on real PostgreSQL: counts per local day of
 * the requested time zone (grouped in SQL), admit rate, meetings by route, the rooms with most
 * failures, SVG charts with titles and table fallbacks, and bad parameters answered, not thrown.
 * Also the rooms CSV export, which the import reads back as unchanged.
 */
import type { FastifyInstance } from "fastify";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildHttpServer } from "../../app/http/server.ts";
import { runRoomsImport } from "../../app/rooms-import.ts";
import { EngineMetrics } from "../../app/metrics.ts";
import type { BridgeState } from "../../core/domain.ts";
import { createLogger } from "../../core/logger.ts";
import type { MeetingUpsert, Room } from "../../core/ports/store.ts";
import { plannedMeeting } from "../support/planned-meeting.ts";
import { FakeClock } from "../support/fake-clock.ts";
import { openTestStore, type TestStore } from "../support/test-database.ts";

const ADMIN = "console-admin-token-0123456789abcdef";
let db: TestStore;
let app: FastifyInstance;
let base: string;
let cookie: string;

/** A 30-minute meeting at `start` (no dial string, no rule), from the shared builder. */
function meeting(room: Room, key: string, start: string, route: string, extra: Partial<MeetingUpsert> = {}): MeetingUpsert {
  return plannedMeeting(room, key, new Date(start), 0, {
    occurrenceKey: `${room.mailbox}|${key}`,
    subject: "Quarterly review",
    subjectShown: "Quarterly review",
    route: route as MeetingUpsert["route"],
    dialString: null,
    rule: null,
    contentHash: key,
    ...extra,
  });
}

async function session(room: Room, key: string, due: string, state: BridgeState): Promise<void> {
  const dueAt = new Date(due);
  const occurrenceKey = `${room.mailbox}|${key}`;
  await db.store.bridgeSessions.schedule(
    {
      occurrenceKey,
      sessionId: `sgj_${key.padEnd(12, "0")}`,
      roomId: room.id,
      dueAt,
      notAfter: new Date(dueAt.getTime() + 3_600_000),
      dialString: `sgj_${key}@sgj.otj.invalid`,
    },
    dueAt,
  );
  if (state !== "scheduled") await db.store.bridgeSessions.transition(occurrenceKey, { to: state }, dueAt);
}

beforeAll(async () => {
  db = await openTestStore("postgres");
  const now = new Date("2026-03-01T00:00:00Z");
  await db.store.providers.add({ name: "webex", partner: "cisco", tenantKey: "contoso@m.webex.com" }, now);
  const { room: a } = await db.store.rooms.add({ mailbox: "alpha@contoso.example", displayName: "Alpha", provider: "webex", deviceFamily: "pull" }, now);
  const { room: b } = await db.store.rooms.add({ mailbox: "beta@contoso.example", displayName: "Beta <b>", provider: "webex", deviceFamily: "pull" }, now);
  await session(a, "a1", "2026-03-03T10:00:00Z", "ended");
  await session(a, "a2", "2026-03-03T23:30:00Z", "denied"); // 2026-03-04 in Berlin
  await session(b, "b1", "2026-03-04T09:00:00Z", "failed");
  await session(b, "b2", "2026-03-04T11:00:00Z", "timeout");
  await session(b, "b3", "2026-03-04T12:00:00Z", "admitted");
  await session(b, "old", "2026-02-01T12:00:00Z", "failed"); // outside the range
  await db.store.meetings.upsert(
    [
      meeting(a, "m1", "2026-03-03T10:00:00Z", "sgj"),
      meeting(a, "m2", "2026-03-03T12:00:00Z", "cvi"),
      meeting(b, "m3", "2026-03-04T12:00:00Z", "cvi"),
      meeting(b, "m4", "2026-03-04T13:00:00Z", "cvi", { cancelled: true }),
    ],
    now,
  );
  await db.store.eventLog.append([
    { at: new Date("2026-03-04T08:00:00Z"), kind: "poll.error", roomId: b.id, message: "mailbox not found" },
    { at: new Date("2026-03-04T08:05:00Z"), kind: "poll.error", roomId: b.id, message: "mailbox not found" },
  ]);
  app = await buildHttpServer({
    store: db.store,
    clock: new FakeClock("2026-03-05T12:00:00.000Z"),
    logger: createLogger("silent"),
    metrics: new EngineMetrics(),
    adminToken: ADMIN,
    settings: { startBufferMinutes: 5, endBufferMinutes: 0, windowFutureDays: 7, pollFailuresBeforeAlarm: 3, pushFailuresBeforeAlarm: 3 },
    readiness: async () => ({ database: true }),
  });
  await app.listen({ host: "127.0.0.1", port: 0 });
  base = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`;
  const login = await fetch(`${base}/admin/login`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({ token: ADMIN, next: "/admin/reports" }).toString(),
    redirect: "manual",
  });
  cookie = (login.headers.get("set-cookie") ?? "").split(";")[0] ?? "";
  expect(cookie).not.toBe("");
});
afterAll(async () => {
  await app?.close();
  await db?.close();
});

const get = (path: string, withCookie = true) => fetch(`${base}${path}`, { headers: withCookie ? { cookie } : {}, redirect: "manual" });

describe("reports page", () => {
  it("needs a console session", async () => {
    expect((await get("/admin/reports", false)).status).toBe(303);
    expect((await get("/admin/reports.csv", false)).status).toBe(303);
  });

  it("counts sessions, the admit rate, meetings by route and the failing rooms for the range, in UTC by default", async () => {
    const r = await get("/admin/reports?from=2026-03-01&to=2026-03-05");
    expect(r.status).toBe(200);
    const page = await r.text();
    expect(page).toContain('aria-current="page"');
    expect(page).toMatch(
      /<svg id="sessions-chart" role="img" aria-labelledby="sessions-chart-t"[^>]*><title id="sessions-chart-t">SIP Guest Join sessions per day by outcome/,
    );
    // Table fallback: 2026-03-03 has ended 1 and denied 1 in UTC.
    const row = (table: string, day: string) => page.slice(page.indexOf(`id="${table}"`)).match(new RegExp(`<tr><th scope="row">${day}</th>(.*?)</tr>`))?.[1];
    expect(page).toMatch(
      /<table id="sessions-chart-table"><thead><tr><th scope="col">Day<\/th><th scope="col">admitted<\/th><th scope="col">denied<\/th><th scope="col">ended<\/th><th scope="col">failed<\/th><th scope="col">timeout<\/th>/,
    );
    expect(row("sessions-chart-table", "2026-03-03")).toBe("<td>0</td><td>1</td><td>1</td><td>0</td><td>0</td><td>2</td>");
    expect(row("sessions-chart-table", "2026-03-04")).toBe("<td>1</td><td>0</td><td>0</td><td>1</td><td>1</td><td>3</td>");
    // Admitted (ended, admitted) 2 of decided 4 (plus denied, timeout).
    expect(page).toContain("Admit rate: <strong>50 %</strong>");
    expect(row("meetings-chart-table", "2026-03-03")).toBe("<td>1</td><td>1</td><td>2</td>");
    expect(row("meetings-chart-table", "2026-03-04")).toBe("<td>1</td><td>0</td><td>1</td>");
    const failing = page.slice(page.indexOf('id="failing-rooms"'));
    expect(failing.indexOf("Beta &lt;b&gt;")).toBeGreaterThan(0);
    expect(failing).toMatch(/Beta &lt;b&gt;<\/a> <span class="muted">beta@contoso.example<\/span><\/th><td>2<\/td><td>2<\/td>/);
    expect(failing).toMatch(/Alpha<\/a> <span class="muted">alpha@contoso.example<\/span><\/th><td>1<\/td><td>0<\/td>/);
    expect(failing.indexOf("Beta")).toBeLessThan(failing.indexOf("Alpha"));
    expect(page).toContain('<time datetime="2026-03-01T00:00:00.000Z" title="2026-03-01 00:00 UTC">');
  });

  it("counts days in the time zone asked for, with UTC on hover", async () => {
    const page = await (await get("/admin/reports?from=2026-03-01&to=2026-03-05&tz=Europe%2FBerlin")).text();
    const row = (day: string) => page.slice(page.indexOf('id="sessions-chart-table"')).match(new RegExp(`<tr><th scope="row">${day}</th>(.*?)</tr>`))?.[1];
    // The denial due 23:30 UTC on the 3rd is on the 4th in Berlin.
    expect(row("2026-03-03")).toBe("<td>0</td><td>0</td><td>1</td><td>0</td><td>0</td><td>1</td>");
    expect(row("2026-03-04")).toBe("<td>1</td><td>1</td><td>0</td><td>1</td><td>1</td><td>4</td>");
    expect(page).toContain('<time datetime="2026-02-28T23:00:00.000Z" title="2026-02-28 23:00 UTC">');
  });

  it("defaults to the last 14 days and answers bad parameters with a message", async () => {
    const fallback = await (await get("/admin/reports")).text();
    expect(fallback).toContain('name="from" value="2026-02-20"');
    expect(fallback).toContain('name="to" value="2026-03-05"');
    const bad = await get("/admin/reports?from=yesterday&tz=Mars%2FOlympus");
    expect(bad.status).toBe(400);
    const text = await bad.text();
    expect(text).toContain("unknown time zone &quot;Mars/Olympus&quot;");
    expect(text).toContain("from must be a date as YYYY-MM-DD");
    const csv = await get("/admin/reports.csv?to=2026-13-45");
    expect(csv.status).toBe(400);
  });

  it("exports the same counts as CSV", async () => {
    const r = await get("/admin/reports.csv?from=2026-03-01&to=2026-03-05&tz=UTC");
    expect(r.status).toBe(200);
    expect(r.headers.get("content-type")).toContain("text/csv");
    expect(r.headers.get("content-disposition")).toContain('filename="otj-report-2026-03-01-2026-03-05.csv"');
    const lines = (await r.text()).trim().split("\r\n");
    expect(lines[0]).toBe("report,day,key,count");
    expect(lines).toEqual(
      expect.arrayContaining([
        "sessions,2026-03-03,denied,1",
        "sessions,2026-03-04,failed,1",
        "meetings,2026-03-03,sgj,1",
        "meetings,2026-03-04,cvi,1",
        "room-failed-sessions,2026-03-01..2026-03-05,beta@contoso.example,2",
        "room-poll-errors,2026-03-01..2026-03-05,beta@contoso.example,2",
      ]),
    );
    expect(lines.some((l) => l.includes("2026-02-01"))).toBe(false);
  });
});

describe("rooms CSV export", () => {
  it("exports every room in the import's columns, without secrets, and reads back as unchanged", async () => {
    await db.store.rooms.add(
      {
        mailbox: "gamma@contoso.example",
        displayName: "=cmd|calc",
        provider: "webex",
        deviceFamily: "xapi",
        deviceAddress: "https://10.0.0.9",
        deviceUsername: "admin",
        devicePassword: "hunter2",
        insecureTls: true,
        webrtc: "teams,meet",
      },
      new Date("2026-03-01T00:00:00Z"),
    );
    expect((await get("/admin/rooms.csv", false)).status).toBe(303);
    const r = await get("/admin/rooms.csv");
    expect(r.status).toBe(200);
    expect(r.headers.get("content-type")).toContain("text/csv");
    const text = await r.text();
    expect(text).not.toContain("hunter2");
    const lines = text.trim().split("\r\n");
    expect(lines[0]).toBe(
      "mailbox,displayName,provider,deviceFamily,deviceAddress,deviceUsername,sipUri,insecureTls,insecureHttp,privateMeetings,subjectReplace,subjectTemplate,privateJoin,webrtc,delivery,source",
    );
    expect(lines).toHaveLength(4);
    expect(lines[3]).toBe(
      'gamma@contoso.example,\'=cmd|calc,webex,xapi,https://10.0.0.9,admin,,true,false,process,private,Private meeting,enabled,"teams,meet",xapi,graph',
    );
    expect((await get("/admin/rooms")).status).toBe(200);
    expect(await (await get("/admin/rooms")).text()).toContain('href="/admin/rooms.csv"');
    // The export of the other rooms, as it is, changes nothing when imported with --update.
    const report = await runRoomsImport(db.store, [lines[0], lines[1], lines[2]].join("\n"), new Date(), { update: true, dryRun: true });
    expect(report).toMatchObject({ problems: [], unchanged: 2, rows: 2, applied: false });
  });
});

describe("http.timeZone", () => {
  it("is the reports' zone when the page names none", async () => {
    const zoned = await buildHttpServer({
      store: db.store,
      clock: new FakeClock("2026-03-05T12:00:00.000Z"),
      logger: createLogger("silent"),
      metrics: new EngineMetrics(),
      adminToken: ADMIN,
      settings: { startBufferMinutes: 5, endBufferMinutes: 0, windowFutureDays: 7, pollFailuresBeforeAlarm: 3, pushFailuresBeforeAlarm: 3 },
      readiness: async () => ({ database: true }),
      timeZone: "Europe/Berlin",
    });
    await zoned.listen({ host: "127.0.0.1", port: 0 });
    try {
      const at = `http://127.0.0.1:${(zoned.server.address() as { port: number }).port}`;
      const login = await fetch(`${at}/admin/login`, {
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded" },
        body: new URLSearchParams({ token: ADMIN, next: "/admin/reports" }).toString(),
        redirect: "manual",
      });
      const session = (login.headers.get("set-cookie") ?? "").split(";")[0] ?? "";
      const page = await (await fetch(`${at}/admin/reports?from=2026-03-01&to=2026-03-05`, { headers: { cookie: session } })).text();
      expect(page).toContain('name="tz" value="Europe/Berlin"');
      expect(page).toContain('<time datetime="2026-02-28T23:00:00.000Z" title="2026-02-28 23:00 UTC">');
    } finally {
      await zoned.close();
    }
  });
});

describe("Rooms page filters and order", () => {
  const listed = async (query: string) => {
    const r = await get(`/admin/rooms${query}`);
    expect(r.status).toBe(200);
    const text = await r.text();
    const table = text.slice(text.indexOf('<table id="rooms"'), text.indexOf("</table>", text.indexOf('<table id="rooms"')));
    return [...new Set([...table.matchAll(/(alpha|beta|gamma)@contoso\.example/g)].map((m) => m[1]))];
  };

  it("filters by device family, source and errors, sorts by name, and keeps the filters in the form", async () => {
    const gamma = await db.store.rooms.get("gamma@contoso.example");
    expect(gamma).not.toBeNull();
    const now = new Date("2026-03-05T11:00:00Z");
    await db.store.deviceStates.setDesired(gamma!.id, "h1", now);
    await db.store.deviceStates.claimDue(now, 10);
    await db.store.deviceStates.recordFailed(
      gamma!.id,
      { code: "OTJ_DEVICE_AUTH", message: "device answered HTTP 401", retryAt: new Date(now.getTime() + 60_000) },
      now,
    );

    expect(await listed("")).toEqual(["alpha", "beta", "gamma"]);
    expect(await listed("?family=xapi")).toEqual(["gamma"]);
    expect(await listed("?family=pull&source=graph")).toEqual(["alpha", "beta"]);
    expect(await listed("?source=google")).toEqual([]);
    expect(await listed("?failing=1")).toEqual(["gamma"]);
    expect(await listed("?provider=webex&sort=name")).toEqual(["gamma", "alpha", "beta"]);
    // Unknown values are ignored, not errors.
    expect(await listed("?provider=nope&family=fax&sort=drop")).toEqual(["alpha", "beta", "gamma"]);
    const page = await (await get("/admin/rooms?family=xapi&failing=1")).text();
    expect(page).toContain('<option value="xapi" selected>xapi</option>');
    expect(page).toContain('name="failing" value="1" checked');
  });
});
