/// <reference lib="dom" />
/**
 * Named sign-in to the console in Chromium against a real OpenID provider (oidc-provider) started
 * here on loopback: the code flow with PKCE, roles from the ID token's `roles` claim, a viewer's
 * POSTs refused with 403 on every action, sign-out at otj and at the provider, a user without a
 * role refused, and an ID token altered on its way back (a viewer made admin) refused. The
 * changes made are in the event log with who made them.
 */
import { randomBytes } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { FastifyInstance } from "fastify";
import Provider from "oidc-provider";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { OidcSettings } from "../../app/http/admin/oidc.ts";
import { launchChromium } from "../support/browser.ts";
import { FakeClock } from "../support/fake-clock.ts";
import { startTestHttpServer } from "../support/http-server.ts";
import { openTestStore, type TestStore } from "../support/test-database.ts";

const ADMIN = randomBytes(16).toString("hex");
const CLIENT = { id: "otj-console", secret: randomBytes(24).toString("hex") };
/** The provider's users and the values of their `roles` claim. */
const USERS: Record<string, string[]> = {
  alice: ["otj-admins", "staff"],
  olga: ["otj-operators"],
  victor: ["otj-viewers"],
  nobody: ["staff"],
};

let db: TestStore;
let clock: FakeClock;
let issuer = "";
let idp: Server;
let otj: { app: FastifyInstance; base: string };
/** A second console whose token responses are altered on the way back. */
let tampered: { app: FastifyInstance; base: string };
let browser: Browser;
let roomId = "";
let providerId = "";

const settings = (extra: Partial<OidcSettings> = {}): OidcSettings => ({
  issuer,
  clientId: CLIENT.id,
  clientSecret: CLIENT.secret,
  rolesClaim: "roles",
  roles: { "otj-admins": "admin", "otj-operators": "operator", "otj-viewers": "viewer" },
  ...extra,
});

/** Replaces the payload of the ID token in token endpoint answers: the viewer claims admin. */
const tamperingFetch: typeof fetch = async (input, init) => {
  const response = await fetch(input, init);
  const url = typeof input === "string" ? input : input instanceof URL ? input.href : input.url;
  if (!url.endsWith("/token")) return response;
  const body = (await response.json()) as { id_token?: string };
  if (body.id_token) {
    const [header, payload, signature] = body.id_token.split(".") as [string, string, string];
    const claims = JSON.parse(Buffer.from(payload, "base64url").toString("utf8")) as Record<string, unknown>;
    claims.roles = ["otj-admins"];
    body.id_token = `${header}.${Buffer.from(JSON.stringify(claims)).toString("base64url")}.${signature}`;
  }
  return new Response(JSON.stringify(body), { status: response.status, headers: { "content-type": "application/json" } });
};

beforeAll(async () => {
  db = await openTestStore("postgres");
  clock = new FakeClock(new Date().toISOString());
  // The provider's port first (the issuer), then otj's servers (their redirect URIs), then the provider.
  let handler: (req: IncomingMessage, res: ServerResponse) => void = (_req, res) => res.writeHead(503).end();
  idp = createServer((req, res) => handler(req, res));
  await new Promise<void>((resolve) => idp.listen(0, "127.0.0.1", resolve));
  issuer = `http://127.0.0.1:${(idp.address() as { port: number }).port}`;
  otj = await startTestHttpServer(db.store, clock, ADMIN, settings());
  tampered = await startTestHttpServer(db.store, clock, ADMIN, settings({ fetch: tamperingFetch }));
  const provider = new Provider(issuer, {
    clients: [
      {
        client_id: CLIENT.id,
        client_secret: CLIENT.secret,
        redirect_uris: [`${otj.base}/admin/oidc/callback`, `${tampered.base}/admin/oidc/callback`],
        post_logout_redirect_uris: [`${otj.base}/admin/login?done=signed-out`],
        token_endpoint_auth_method: "client_secret_post",
      },
    ],
    pkce: { required: () => true },
    claims: { openid: ["sub", "roles"], email: ["email"] },
    // The roles claim goes into the ID token itself (as Entra ID's app roles do).
    conformIdTokenClaims: false,
    cookies: { keys: [randomBytes(32).toString("hex")] },
    findAccount: async (_ctx, sub) => ({ accountId: sub, claims: async () => ({ sub, email: `${sub}@contoso.example`, roles: USERS[sub] ?? [] }) }),
  });
  handler = provider.callback();
  const added = await db.store.providers.add({ name: "webex", partner: "cisco", tenantKey: "contoso@m.webex.com" }, clock.now());
  providerId = added.id;
  roomId = (await db.store.rooms.add({ mailbox: "room1@contoso.example", displayName: "Room 1", provider: "webex", deviceFamily: "pull" }, clock.now())).room
    .id;
  browser = await launchChromium();
});

afterAll(async () => {
  await browser?.close();
  await otj?.app.close();
  await tampered?.app.close();
  await new Promise((resolve) => idp?.close(resolve));
  await db?.close();
});

/** Signs in at the provider as `user` from otj's sign-in page, consenting when asked. */
async function signInAs(page: Page, base: string, user: string): Promise<void> {
  await page.goto(`${base}/admin/login`);
  await page.getByRole("link", { name: "Sign in with your organisation account" }).click();
  await page.waitForURL((url) => url.href.startsWith(issuer));
  await page.locator('input[name="login"]').fill(user);
  await page.locator('input[name="password"]').fill("any");
  await page.getByRole("button", { name: "Sign-in" }).click();
  // The consent step (first sign-in of a user), then back to otj.
  const cont = page.getByRole("button", { name: "Continue" });
  await expect.poll(async () => page.url().startsWith(base) || (await cont.count()) > 0).toBe(true);
  if (!page.url().startsWith(base)) await cont.click();
  await page.waitForURL((url) => url.href.startsWith(base));
}

describe("named sign-in (OpenID Connect)", () => {
  it("signs an admin in with the code flow and PKCE; the change is audited with the user's name", async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    const seen: string[] = [];
    page.on("request", (r) => seen.push(r.url()));
    await signInAs(page, otj.base, "alice");
    await page.waitForURL(`${otj.base}/admin/rooms`);
    await expect.poll(() => page.locator(".user").textContent()).toContain("alice@contoso.example (admin)");
    const authorize = seen.find((u) => u.startsWith(`${issuer}/auth?`));
    expect(authorize).toBeDefined();
    const params = new URL(authorize as string).searchParams;
    expect(params.get("code_challenge_method")).toBe("S256");
    expect(params.get("state")?.length).toBeGreaterThan(20);
    expect(params.get("nonce")?.length).toBeGreaterThan(20);
    // An admin action: rename the room.
    await page.goto(`${otj.base}/admin/rooms/${roomId}/edit`);
    await page.getByLabel("Display name").fill("Room One");
    await page.getByRole("button", { name: "Save" }).click();
    await page.waitForURL(`${otj.base}/admin/rooms/${roomId}?done=room-saved`);
    const [entry] = await db.store.eventLog.list({ roomId, kind: "admin.room-changed" });
    expect(entry?.data).toMatchObject({
      who: "alice@contoso.example",
      via: "oidc",
      role: "admin",
      before: { displayName: "Room 1" },
      after: { displayName: "Room One" },
    });
    expect(entry?.data).not.toHaveProperty("breakGlass");
    // The room's timeline page shows the change and who made it.
    await page.getByRole("link", { name: "Timeline" }).click();
    await page.waitForURL(`${otj.base}/admin/rooms/${roomId}/timeline`);
    const row = page.getByRole("row").filter({ hasText: "admin.room-changed" });
    await expect.poll(() => row.textContent()).toContain("alice@contoso.example");
    await context.close();
  });

  it("refuses every console POST of a viewer with 403, lets an operator poll but not remove", async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    await signInAs(page, otj.base, "victor");
    await page.waitForURL(`${otj.base}/admin/rooms`);
    await page.goto(`${otj.base}/admin/rooms/${roomId}`);
    expect(await page.locator(".user").textContent()).toContain("(viewer)");
    const csrf = (await page.locator('input[name="_csrf"]').first().getAttribute("value")) ?? "";
    const posts = [
      "/admin/rooms",
      `/admin/rooms/${roomId}`,
      `/admin/rooms/${roomId}/remove`,
      `/admin/rooms/${roomId}/token`,
      `/admin/rooms/${roomId}/poll`,
      "/admin/import",
      "/admin/providers",
      `/admin/providers/${providerId}`,
      `/admin/providers/${providerId}/remove`,
      "/admin/rooms/bulk",
      `/admin/rooms/${roomId}/test`,
    ];
    for (const path of posts) {
      const response = await page.request.post(`${otj.base}${path}`, {
        form: { _csrf: csrf, displayName: "Hacked", csv: "mailbox\n", force: "true", action: "disable", room: roomId },
        maxRedirects: 0,
      });
      expect(response.status(), path).toBe(403);
      expect(await response.text()).toContain("needs the");
    }
    // A viewer sees no button or form it may not use (the server refuses them all the same).
    for (const name of ["Poll now", "Test device", "Rotate device token", "Create device token"])
      expect(await page.getByRole("button", { name }).count(), name).toBe(0);
    for (const name of ["Edit", "Remove"]) expect(await page.getByRole("link", { name, exact: true }).count(), name).toBe(0);
    await page.goto(`${otj.base}/admin/rooms`);
    expect(await page.locator("form#bulk").count()).toBe(0);
    expect(await page.getByRole("link", { name: "Add room" }).count()).toBe(0);
    expect(await page.getByRole("link", { name: "Import" }).count()).toBe(0);
    await page.goto(`${otj.base}/admin/providers`);
    expect(await page.getByRole("button", { name: "Add provider" }).count()).toBe(0);
    expect((await db.store.rooms.get(roomId))?.displayName).toBe("Room One");
    await context.close();

    const operator = await browser.newContext();
    const op = await operator.newPage();
    await signInAs(op, otj.base, "olga");
    await op.waitForURL(`${otj.base}/admin/rooms`);
    await op.goto(`${otj.base}/admin/rooms/${roomId}`);
    const opCsrf = (await op.locator('input[name="_csrf"]').first().getAttribute("value")) ?? "";
    // An operator gets Poll now and the token rotation, not the admin's Edit and Remove.
    expect(await op.getByRole("button", { name: "Poll now" }).count()).toBe(1);
    for (const name of ["Edit", "Remove"]) expect(await op.getByRole("link", { name, exact: true }).count(), name).toBe(0);
    expect((await op.request.post(`${otj.base}/admin/rooms/${roomId}/poll`, { form: { _csrf: opCsrf }, maxRedirects: 0 })).status()).toBe(303);
    expect((await op.request.post(`${otj.base}/admin/rooms/${roomId}/remove`, { form: { _csrf: opCsrf }, maxRedirects: 0 })).status()).toBe(403);
    const [poll] = await db.store.eventLog.list({ roomId, kind: "admin.poll-now" });
    expect(poll?.data).toMatchObject({ who: "olga@contoso.example", role: "operator" });
    await operator.close();
  });

  it("signs out at otj and at the provider; the old cookie no longer opens the console", async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    await signInAs(page, otj.base, "alice");
    await page.waitForURL(`${otj.base}/admin/rooms`);
    const cookie = (await context.cookies()).find((c) => c.name === "otj_admin");
    expect(cookie).toBeDefined();
    await page.getByRole("button", { name: "Sign out" }).click();
    await page.waitForURL((url) => url.href.startsWith(issuer) || url.href.startsWith(`${otj.base}/admin/login`));
    if (page.url().startsWith(issuer)) await page.getByRole("button", { name: "Yes, sign me out" }).click();
    await page.waitForURL(`${otj.base}/admin/login?done=signed-out`);
    const again = await fetch(`${otj.base}/admin/rooms`, { headers: { cookie: `otj_admin=${cookie?.value}` }, redirect: "manual" });
    expect(again.status).toBe(303);
    expect(again.headers.get("location")).toMatch(/^\/admin\/login/);
    await context.close();
  });

  it("refuses a user whose roles claim maps to no console role", async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    await signInAs(page, otj.base, "nobody");
    await expect.poll(() => page.locator('[role="alert"]').textContent()).toContain("no role in this console");
    expect((await context.cookies()).some((c) => c.name === "otj_admin" && c.value !== "")).toBe(false);
    await context.close();
  });

  it("refuses an ID token altered on its way back (a viewer made admin)", async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    await signInAs(page, tampered.base, "victor");
    await expect.poll(() => page.locator('[role="alert"]').textContent()).toContain("could not be verified");
    expect((await context.cookies()).some((c) => c.name === "otj_admin" && c.value !== "")).toBe(false);
    const response = await page.goto(`${tampered.base}/admin/rooms`);
    expect(response?.url()).toContain("/admin/login");
    await context.close();
  });

  it("keeps the admin token as break-glass, logged as such", async () => {
    const response = await fetch(`${otj.base}/admin/login`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ token: ADMIN, next: "/admin/rooms" }).toString(),
      redirect: "manual",
    });
    expect(response.status).toBe(303);
    const [entry] = await db.store.eventLog.list({ kind: "admin.sign-in" });
    expect(entry?.data).toMatchObject({ who: "admin-token", via: "token", role: "admin", breakGlass: true });
  });
});
