/**
 * The admin console's HTTP contract without a browser (the browser tests are in test/browser):
 * session cookies, expiry on the engine clock, open-redirect and brute-force protection, the
 * admin bearer token not being a console session, 10,000 rooms paged on the server.
 */
import type { FastifyInstance } from "fastify";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { applyRoomsDiff, diffRoomsCsv } from "../../app/http/admin/import-diff.ts";
import { ConsoleSessions } from "../../app/http/admin/session.ts";
import { escapeHtml, html } from "../../app/http/admin/html.ts";
import { buildHttpServer } from "../../app/http/server.ts";
import { EngineMetrics } from "../../app/metrics.ts";
import { createLogger } from "../../core/logger.ts";
import { FakeClock } from "../support/fake-clock.ts";
import { startTestHttpServer } from "../support/http-server.ts";
import { openTestStore, type TestStore } from "../support/test-database.ts";

const ADMIN = "console-admin-token-0123456789abcdef";
let db: TestStore;
let clock: FakeClock;
let app: FastifyInstance;
let base: string;

beforeAll(async () => {
  db = await openTestStore("postgres");
  clock = new FakeClock("2026-03-02T08:00:00.000Z");
  ({ app, base } = await startTestHttpServer(db.store, clock, ADMIN));
});
afterAll(async () => {
  await app?.close();
  await db?.close();
});

const form = (fields: Record<string, string>) => ({
  method: "POST",
  headers: { "content-type": "application/x-www-form-urlencoded" },
  body: new URLSearchParams(fields).toString(),
  redirect: "manual" as const,
});

async function signIn(next = "/admin/rooms"): Promise<{ cookie: string; response: Response }> {
  const response = await fetch(`${base}/admin/login`, form({ token: ADMIN, next }));
  const cookie = (response.headers.get("set-cookie") ?? "").split(";")[0] ?? "";
  return { cookie, response };
}

describe("html templates", () => {
  it("escape every interpolated value, including attribute quotes, but not nested fragments", () => {
    expect(escapeHtml(`<img src=x onerror="alert('1')">&\``)).toBe("&lt;img src=x onerror=&quot;alert(&#39;1&#39;)&quot;&gt;&amp;&#96;");
    const subject = "<script>alert(1)</script>";
    expect(html`<td title="${subject}">${subject}${html`<b>${"&"}</b>`}</td>`.text).toBe(
      '<td title="&lt;script&gt;alert(1)&lt;/script&gt;">&lt;script&gt;alert(1)&lt;/script&gt;<b>&amp;</b></td>',
    );
  });
});

describe("console sessions", () => {
  it("accept only their own signed, unexpired, unrevoked cookie", async () => {
    const sessions = new ConsoleSessions(ADMIN, 60_000);
    const { cookie, session } = sessions.create(1_000);
    expect((await sessions.verify(cookie, 2_000))?.csrf).toBe(session.csrf);
    expect(await sessions.verify(cookie, 61_000)).toBeNull();
    expect(await sessions.verify(`${cookie.slice(0, -1)}${cookie.endsWith("A") ? "B" : "A"}`, 2_000)).toBeNull();
    expect(await sessions.verify(cookie.replace(/^\d+/, "99999999"), 2_000)).toBeNull();
    expect(await new ConsoleSessions("another-admin-token", 60_000).verify(cookie, 2_000)).toBeNull();
    expect(sessions.checkCsrf(session, session.csrf)).toBe(true);
    expect(sessions.checkCsrf(session, `${session.csrf}x`)).toBe(false);
    await sessions.revoke(session, 2_000);
    expect(await sessions.verify(cookie, 2_000)).toBeNull();
    expect(new ConsoleSessions(null, 60_000).enabled).toBe(false);
  });

  it("a sign-out on one instance is refused by every other instance sharing the database", async () => {
    const other = await db.openAnother();
    try {
      const a = new ConsoleSessions(ADMIN, 60_000, db.store.consoleRevocations);
      const b = new ConsoleSessions(ADMIN, 60_000, other.store.consoleRevocations);
      const { cookie, session } = a.create(1_000);
      const kept = b.create(1_000);
      expect(await b.verify(cookie, 2_000)).not.toBeNull();
      await a.revoke(session, 2_000);
      expect(await b.verify(cookie, 3_000)).toBeNull();
      expect(await a.verify(kept.cookie, 3_000)).not.toBeNull();
    } finally {
      await other.close();
    }
  });
});

describe("console over HTTP", () => {
  it("signs in into a cookie that expires on the engine clock", async () => {
    const { cookie, response } = await signIn();
    expect(response.status).toBe(303);
    expect(response.headers.get("location")).toBe("/admin/rooms");
    expect(response.headers.get("set-cookie")).toMatch(/^otj_admin=[^;]+; Max-Age=28800; Path=\/admin; HttpOnly; SameSite=Strict$/);
    expect((await fetch(`${base}/admin/rooms`, { headers: { cookie }, redirect: "manual" })).status).toBe(200);
    clock.advance(8 * 3_600_000);
    expect((await fetch(`${base}/admin/rooms`, { headers: { cookie }, redirect: "manual" })).status).toBe(303);
  });

  it("works behind a TLS terminator: Secure cookie, the https origin of the same host accepted, others refused", async () => {
    const response = await fetch(`${base}/admin/login`, {
      ...form({ token: ADMIN }),
      headers: { "content-type": "application/x-www-form-urlencoded", "x-forwarded-proto": "https" },
    });
    expect(response.headers.get("set-cookie")).toMatch(/; Secure$/);
    const cookie = (response.headers.get("set-cookie") ?? "").split(";")[0]!;
    const page = await (await fetch(`${base}/admin/providers`, { headers: { cookie } })).text();
    const csrf = /name="_csrf" value="([^"]+)"/.exec(page)![1]!;
    const host = new URL(base).host;
    const add = (origin: string, name: string) =>
      fetch(`${base}/admin/providers`, {
        method: "POST",
        headers: { cookie, origin, "content-type": "application/x-www-form-urlencoded" },
        body: new URLSearchParams({ _csrf: csrf, name, partner: "generic" }).toString(),
        redirect: "manual",
      });
    expect((await add(`https://${host}`, "via-proxy")).status).toBe(303);
    expect((await add("https://evil.example", "evil")).status).toBe(403);
    expect((await add("null", "opaque")).status).toBe(403);
    expect(await db.store.providers.get("via-proxy")).not.toBeNull();
    expect(await db.store.providers.get("evil")).toBeNull();
  });

  it("never redirects off the console after sign-in", async () => {
    for (const next of ["//evil.example/admin", "https://evil.example/", "/v1/rooms", "/admin/../v1/status", "/admin\\@evil.example"]) {
      expect((await signIn(next)).response.headers.get("location"), next).toBe("/admin/rooms");
    }
    expect((await signIn("/admin/health")).response.headers.get("location")).toBe("/admin/health");
  });

  it("does not take the API bearer token as a console session, nor a console cookie on the API", async () => {
    const bearer = await fetch(`${base}/admin/rooms`, { headers: { authorization: `Bearer ${ADMIN}` }, redirect: "manual" });
    expect(bearer.status).toBe(303);
    const { cookie } = await signIn();
    expect((await fetch(`${base}/v1/status`, { headers: { cookie } })).status).toBe(401);
    // Console routes stay out of the API's OpenAPI document.
    const openapi = (await (await fetch(`${base}/openapi.json`)).json()) as { paths: Record<string, unknown> };
    expect(Object.keys(openapi.paths).filter((p) => p.startsWith("/admin"))).toEqual([]);
  });

  it("slows down guessing: more than 10 failed sign-ins a minute are refused", async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 12; i++) statuses.push((await fetch(`${base}/admin/login`, form({ token: `guess-${i}` }))).status);
    expect(statuses.filter((s) => s === 401).length).toBeLessThanOrEqual(10);
    expect(statuses.at(-1)).toBe(429);
    clock.advance(61_000);
    expect((await signIn()).response.status).toBe(303);
  });

  it("pages 10,000 rooms on the server: 50 rows a page, search across all of them", async () => {
    await db.truncate();
    await db.store.providers.add({ name: "webex", partner: "cisco", tenantKey: "contoso@m.webex.com" }, clock.now());
    const rooms = Array.from({ length: 10_000 }, (_, i) => ({
      mailbox: `room${String(i).padStart(5, "0")}@contoso.example`,
      displayName: `Room ${i}`,
      provider: "webex",
      deviceFamily: "pull",
    }));
    expect((await db.store.rooms.addMany(rooms, clock.now())).applied).toBe(true);
    const { cookie } = await signIn();
    const first = await (await fetch(`${base}/admin/rooms`, { headers: { cookie } })).text();
    expect(first).toContain("10000 rooms");
    expect(first.match(/<td><a href="\/admin\/rooms\/rm_/g)).toHaveLength(50);
    const last = await (await fetch(`${base}/admin/rooms?page=200`, { headers: { cookie } })).text();
    expect(last).toContain("page 200 of 200");
    expect(last).toContain("room09999@contoso.example");
    const search = await (await fetch(`${base}/admin/rooms?q=room0999`, { headers: { cookie } })).text();
    expect(search).toContain("10 rooms matching");
  });
});

describe("sign-in limits, assets and odd parameters", () => {
  it("counts only failed sign-ins, per client (X-Forwarded-For only from http.trustProxy)", async () => {
    const proxied = await buildHttpServer({
      store: db.store,
      clock,
      logger: createLogger("silent"),
      metrics: new EngineMetrics(),
      adminToken: ADMIN,
      settings: { startBufferMinutes: 5, endBufferMinutes: 0, windowFutureDays: 7, pollFailuresBeforeAlarm: 3, pushFailuresBeforeAlarm: 3 },
      readiness: async () => ({ database: true }),
      trustProxy: "127.0.0.1",
    });
    await proxied.listen({ host: "127.0.0.1", port: 0 });
    const url = `http://127.0.0.1:${(proxied.server.address() as { port: number }).port}/admin/login`;
    const attempt = async (client: string, token: string) => {
      const request = form({ token, next: "/admin/rooms" });
      return (await fetch(url, { ...request, headers: { ...request.headers, "x-forwarded-for": client } })).status;
    };
    try {
      for (let i = 0; i < 15; i++) expect(await attempt("198.51.100.1", ADMIN)).toBe(303);
      for (let i = 0; i < 10; i++) expect(await attempt("198.51.100.66", `guess-${i}`)).toBe(401);
      expect(await attempt("198.51.100.66", "guess-10")).toBe(429);
      expect(await attempt("198.51.100.66", ADMIN)).toBe(429);
      expect(await attempt("198.51.100.1", ADMIN)).toBe(303);
      expect(await attempt("198.51.100.2", "guess-x")).toBe(401);
    } finally {
      await proxied.close();
    }
  });

  it("refuses a sign-in body far larger than a token", async () => {
    const r = await fetch(`${base}/admin/login`, form({ token: "x".repeat(64 * 1024), next: "/admin/rooms" }));
    expect(r.status).toBe(413);
  });

  it("has no assets named after prototype keys", async () => {
    for (const name of ["__proto__", "constructor", "toString", "hasOwnProperty", "valueOf"]) {
      const r = await fetch(`${base}/admin/assets/${name}`);
      expect(r.status, name).toBe(404);
      expect(r.headers.get("x-content-type-options")).toBe("nosniff");
    }
    expect((await fetch(`${base}/admin/assets/console.css`)).status).toBe(200);
  });

  it("shows a page for a huge page number, a NUL or an array in the search, never a database error", async () => {
    const { cookie } = await signIn();
    for (const query of ["page=99999999999999999999", "page=-5", "page=1e300", "q=%00", "q=a%00b&page=2", "q=a&q=b", "q=%E2%80%AE%01"]) {
      const r = await fetch(`${base}/admin/rooms?${query}`, { headers: { cookie } });
      expect(r.status, query).toBe(200);
      expect(await r.text(), query).not.toMatch(/internal error|invalid byte sequence|out of range/i);
    }
    expect((await fetch(`${base}/admin/rooms/a%00b`, { headers: { cookie } })).status).toBe(404);
  });
});

describe("console import", () => {
  it("applies added and changed rows in one transaction: a failing change writes nothing", async () => {
    await db.truncate();
    await db.store.providers.add({ name: "webex", partner: "cisco", tenantKey: "contoso@m.webex.com" }, clock.now());
    for (const n of [1, 2])
      await db.store.rooms.add({ mailbox: `huddle${n}@contoso.example`, displayName: `Huddle ${n}`, provider: "webex", deviceFamily: "pull" }, clock.now());
    const csv = [
      "mailbox,displayName,provider,deviceFamily,deviceAddress,deviceUsername,devicePassword",
      "room401@contoso.example,Room 401,webex,pull,,,",
      "huddle1@contoso.example,Huddle One,webex,pull,,,",
      "huddle2@contoso.example,Huddle Two,webex,pull,,,",
    ].join("\n");
    const diff = await diffRoomsCsv(db.store, csv);
    expect(diff.counts).toMatchObject({ add: 1, change: 2, refuse: 0 });
    // The second changed room disappears between the check and the apply.
    await db.store.rooms.remove("huddle2@contoso.example");
    await expect(applyRoomsDiff(db.store, diff, clock.now())).rejects.toMatchObject({ code: "OTJ_STORE_NOT_FOUND" });
    expect(await db.store.rooms.get("room401@contoso.example")).toBeNull();
    expect((await db.store.rooms.get("huddle1@contoso.example"))?.displayName).toBe("Huddle 1");

    const again = await diffRoomsCsv(db.store, csv);
    const applied = await applyRoomsDiff(db.store, again, clock.now());
    expect(applied.added.map((a) => a.room.mailbox)).toEqual(["room401@contoso.example", "huddle2@contoso.example"]);
    expect(applied.changed.map((r) => r.displayName)).toEqual(["Huddle One"]);
    expect(await db.store.syncCursors.get(applied.added[0]!.room.id)).not.toBeNull();
  });
});
