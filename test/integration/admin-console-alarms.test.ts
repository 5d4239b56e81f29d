/**
 * The console's Alarms page over HTTP (real PostgreSQL): open alarms and the history, acknowledge
 * and mute with who and until when, the CSRF token required, values escaped, the CSP kept.
 */
import type { FastifyInstance } from "fastify";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FakeClock } from "../support/fake-clock.ts";
import { startTestHttpServer } from "../support/http-server.ts";
import { openTestStore, type TestStore } from "../support/test-database.ts";

const ADMIN = "console-alarms-token-0123456789abcdef";
let db: TestStore;
let clock: FakeClock;
let app: FastifyInstance;
let base: string;
let cookie = "";

beforeAll(async () => {
  db = await openTestStore("postgres");
  clock = new FakeClock("2026-03-02T08:00:00.000Z");
  ({ app, base } = await startTestHttpServer(db.store, clock, ADMIN));
  const res = await fetch(`${base}/admin/login`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({ token: ADMIN, next: "/admin/alarms" }).toString(),
    redirect: "manual",
  });
  cookie = (res.headers.get("set-cookie") ?? "").split(";")[0] ?? "";
});
afterAll(async () => {
  await app?.close();
  await db?.close();
});

const get = (path: string) => fetch(`${base}${path}`, { headers: { cookie }, redirect: "manual" });
const post = (path: string, fields: Record<string, string>) =>
  fetch(`${base}${path}`, {
    method: "POST",
    headers: { cookie, "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams(fields).toString(),
    redirect: "manual",
  });

describe("console Alarms page", () => {
  it("lists open alarms and the history; acknowledge and mute record who and until when", async () => {
    const t0 = clock.now();
    await db.store.alarms.reconcile(
      [
        { key: "engine:bridge", code: "OTJ_BRIDGE_NOT_CONFIGURED", roomId: null, subject: "engine", message: "2 meeting(s) <b>planned</b>" },
        { key: "room:x:OTJ_DEVICE_AUTH", code: "OTJ_DEVICE_AUTH", roomId: null, subject: "room1@contoso.example", message: "device refused" },
      ],
      t0,
    );
    clock.advance(60_000);
    await db.store.alarms.reconcile(
      [{ key: "engine:bridge", code: "OTJ_BRIDGE_NOT_CONFIGURED", roomId: null, subject: "engine", message: "2 meeting(s) <b>planned</b>" }],
      clock.now(),
    );

    const res = await get("/admin/alarms");
    expect(res.status).toBe(200);
    expect(res.headers.get("content-security-policy")).toContain("script-src 'self'");
    const page = await res.text();
    const openTable = /<table id="open-alarms">[\s\S]*?<\/table>/.exec(page)?.[0] ?? "";
    expect(openTable).toContain("OTJ_BRIDGE_NOT_CONFIGURED");
    expect(openTable).not.toContain("OTJ_DEVICE_AUTH");
    expect(openTable).toContain("2 meeting(s) &lt;b&gt;planned&lt;/b&gt;");
    const history = /<table id="alarm-history">[\s\S]*?<\/table>/.exec(page)?.[0] ?? "";
    expect(history).toMatch(/OTJ_DEVICE_AUTH[\s\S]*cleared/);
    expect(page).toContain('<a href="/admin/alarms" aria-current="page">Alarms</a>');

    const [open] = await db.store.alarms.listOpen();
    const csrf = /name="_csrf" value="([^"]+)"/.exec(page)![1]!;
    // Without the CSRF token nothing changes.
    expect((await post(`/admin/alarms/${open!.id}/ack`, {})).status).toBe(403);
    expect((await db.store.alarms.get(open!.id))?.ackedBy).toBeNull();

    const ack = await post(`/admin/alarms/${open!.id}/ack`, { _csrf: csrf });
    expect(ack.status).toBe(303);
    expect(ack.headers.get("location")).toBe("/admin/alarms?done=alarm-acked");
    expect(await db.store.alarms.get(open!.id)).toMatchObject({ ackedBy: "admin-token (admin token)", ackedAt: clock.now() });
    // The acknowledgement is in the audit trail, with who did it.
    const audited = await db.store.eventLog.list({ kind: "admin.alarm-acknowledged" });
    expect(audited).toHaveLength(1);
    expect(audited[0]).toMatchObject({
      message: expect.stringContaining("acknowledged alarm"),
      data: expect.objectContaining({ who: "admin-token", alarmId: open!.id }),
    });

    const mute = await post(`/admin/alarms/${open!.id}/mute`, { _csrf: csrf, hours: "4" });
    expect(mute.status).toBe(303);
    expect(await db.store.alarms.get(open!.id)).toMatchObject({
      mutedBy: "admin-token (admin token)",
      mutedUntil: new Date(clock.now().getTime() + 4 * 3_600_000),
    });
    const after = await (await get("/admin/alarms?done=alarm-muted")).text();
    expect(after).toContain("Alarm muted.");
    expect(after).toMatch(/acknowledged by admin-token \(admin token\)/);
    expect(after).toMatch(/muted by admin-token \(admin token\) until 2026-03-02 12:01 UTC/);

    expect((await post(`/admin/alarms/${open!.id}/mute`, { _csrf: csrf, hours: "0" })).headers.get("location")).toBe("/admin/alarms?done=alarm-unmuted");
    expect((await db.store.alarms.get(open!.id))?.mutedUntil).toBeNull();

    expect((await post(`/admin/alarms/${open!.id}/mute`, { _csrf: csrf, hours: "5" })).status).toBe(400);
    expect((await post("/admin/alarms/424242/ack", { _csrf: csrf })).status).toBe(404);
    expect((await post("/admin/alarms/abc'/ack", { _csrf: csrf })).status).toBe(404);
  });

  it("the Health page lists engine-wide open alarms next to the rooms' ones", async () => {
    const health = await (await get("/admin/health")).text();
    const table = /<table id="alarms">[\s\S]*?<\/table>/.exec(health)?.[0] ?? "";
    expect(table).toContain("Engine-wide");
    expect(table).toContain("OTJ_BRIDGE_NOT_CONFIGURED");
    expect(health).toContain("Alarm notifications (delivered / failed)");
  });

  it("asks for a sign-in first", async () => {
    const res = await fetch(`${base}/admin/alarms`, { redirect: "manual" });
    expect(res.status).toBe(303);
    expect(res.headers.get("location")).toBe("/admin/login?next=%2Fadmin%2Falarms");
  });
});
