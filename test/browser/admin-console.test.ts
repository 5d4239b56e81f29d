/// <reference lib="dom" />
/**
 * The admin console in a real browser (Debian's Chromium through playwright-core) against the real
 * engine on real PostgreSQL, the Graph, Cisco device and bridge emulators over HTTP, driven by a
 * manual clock. The tests run in order and share one engine, like an admin's session would.
 */
import { randomBytes } from "node:crypto";
import { mkdirSync } from "node:fs";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Engine } from "../../app/main.ts";
import type { ManualClock } from "../../core/manual-clock.ts";
import { CiscoDeviceEmulator } from "../../emulators/cisco-device/cisco-device-emulator.ts";
import type { GraphEmulator } from "../../emulators/graph/graph-emulator.ts";
import { teamsHtmlV4, teamsHtmlV5 } from "../../emulators/invite-factory.ts";
import { launchChromium } from "../support/browser.ts";
import { type EngineHarness, startEngineHarness } from "../support/engine-harness.ts";

const at = (hhmm: string) => `2026-03-02T${hhmm}:00.000Z`;
const ADMIN = randomBytes(16).toString("hex");
const HOSTILE = "<img src=x onerror=alert(1)>";
const CVI = { tenantKey: "contoso@m.webex.com", videoId: "1198563286" };
const FABRIKAM = { name: "Ben Okafor", address: "ben@fabrikam.example" };

let harness: EngineHarness;
let clock: ManualClock;
let graph: GraphEmulator;
let engine: Engine;
let browser: Browser;
let context: BrowserContext;
let page: Page;
let base = "";
let room101 = "";
const dialogs: string[] = [];

/** `minutes` steps, then one more so the last minute's work is done. */
async function step(minutes = 1) {
  await harness.step(minutes);
  await engine.workflows.step();
  await harness.bridge.idle();
}

async function signIn(p: Page) {
  await p.goto(`${base}/admin/login`);
  await p.getByLabel("Admin token").fill(ADMIN);
  await p.getByRole("button", { name: "Sign in" }).click();
  await p.waitForURL(`${base}/admin/rooms`);
}

beforeAll(async () => {
  harness = await startEngineHarness({
    label: "console",
    adminToken: ADMIN,
    startAt: at("07:30"),
    provider: { name: "contoso-webex", tenantKey: CVI.tenantKey, sipDomain: "sgj.contoso.example" },
  });
  ({ clock, graph, engine, roomId: room101 } = harness);
  base = `http://127.0.0.1:${engine.port}`;
  graph.addEvent("room101@contoso.example", {
    subject: "Weekly sales sync",
    start: at("09:00"),
    end: at("09:30"),
    organizer: { name: "Ana Ruiz", address: "ana@contoso.example" },
    body: { contentType: "html", content: teamsHtmlV4({ threadKey: "console-sync", passcode: "Zq9Pw3Lk", cvi: CVI }, 200) },
  });
  graph.addEvent("room101@contoso.example", {
    subject: "Supplier review (Fabrikam)",
    start: at("09:40"),
    end: at("10:30"),
    organizer: FABRIKAM,
    body: {
      contentType: "html",
      content: teamsHtmlV5(
        { threadKey: "console-ext", tenantId: "0f0f0f0f-aaaa-4bbb-8ccc-dddddddddddd", meetingId: "357159246802468", passcode: "Hk4mN8pQ" },
        200,
      ),
    },
  });
  graph.addEvent("room101@contoso.example", {
    subject: HOSTILE,
    start: at("11:00"),
    end: at("11:30"),
    organizer: { name: "Ana Ruiz", address: "ana@contoso.example" },
    body: { contentType: "html", content: teamsHtmlV4({ threadKey: "console-hostile", cvi: CVI }, 200) },
  });
  browser = await launchChromium();
  context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  page = await context.newPage();
  page.on("dialog", (d) => {
    dialogs.push(d.message());
    void d.dismiss();
  });
});

afterAll(async () => {
  await browser?.close().catch(() => undefined);
  await harness?.close();
});

describe("admin console in Chromium", () => {
  it("signed out, every console page redirects to sign-in, and a change is refused", async () => {
    const pages = [
      "/admin",
      "/admin/rooms",
      "/admin/rooms/new",
      `/admin/rooms/${room101}`,
      `/admin/rooms/${room101}/edit`,
      "/admin/import",
      "/admin/providers",
      "/admin/sessions",
      "/admin/health",
    ];
    for (const path of pages) {
      await page.goto(`${base}${path}`);
      expect(new URL(page.url()).pathname, path).toBe("/admin/login");
    }
    const post = await context.request.post(`${base}/admin/rooms/${room101}/remove`, { form: { _csrf: "x" }, maxRedirects: 0 });
    expect(post.status()).toBe(303);
    expect(post.headers().location).toMatch(/^\/admin\/login/);
    expect((await context.request.get(`${base}/admin/sessions.json`)).status()).toBe(401);
    expect(await engine.store.rooms.get(room101)).not.toBeNull();
  });

  it("signs in with the admin token only, into an HttpOnly SameSite=Strict cookie, under a strict CSP", async () => {
    await page.goto(`${base}/admin/login`);
    await page.getByLabel("Admin token").fill("not-the-token");
    await page.getByRole("button", { name: "Sign in" }).click();
    await expect.poll(() => page.getByRole("alert").textContent()).toContain("not the admin token");
    expect(await context.cookies()).toEqual([]);
    await signIn(page);
    const [cookie] = await context.cookies();
    expect(cookie).toMatchObject({ name: "otj_admin", httpOnly: true, sameSite: "Strict", path: "/admin" });
    expect(cookie!.expires).toBeGreaterThan(Date.now() / 1000);
    const response = await page.goto(`${base}/admin/rooms`);
    const csp = response!.headers()["content-security-policy"] ?? "";
    expect(csp).toContain("default-src 'none'");
    expect(csp).toContain("script-src 'self'");
    expect(csp).not.toContain("unsafe-inline");
    expect(await page.locator("script:not([src])").count()).toBe(0);
    expect(await page.locator("[style]").count()).toBe(0);
  });

  it("adds a pull room through the form and shows its device token once", async () => {
    await page.goto(`${base}/admin/rooms`);
    await page.getByRole("link", { name: "Add room" }).click();
    await page.getByLabel("Mailbox").fill("Huddle7@Contoso.example");
    await page.getByLabel("Display name").fill("Huddle 7");
    await page.getByLabel("Device family").selectOption("pull");
    await page.getByRole("button", { name: "Add room" }).click();
    const token = await page.getByLabel("Device token").inputValue();
    expect(token).toMatch(/^[A-Za-z0-9._~-]{16,}$/);
    expect(await page.textContent("main")).toContain("shown only this once");
    const room = await engine.store.rooms.get("huddle7@contoso.example");
    expect(room).toMatchObject({ displayName: "Huddle 7", device: { family: "pull", hasToken: true } });
    // The token works on the pull API, and the room page never shows it again.
    const pulled = await fetch(`${base}/v1/rooms/${room!.id}/meetings`, { headers: { authorization: `Bearer ${token}` } });
    expect(pulled.status).toBe(200);
    await page.goto(`${base}/admin/rooms/${room!.id}`);
    expect(await page.content()).not.toContain(token);
    // A bad edit is refused with the reason, and nothing changes.
    await page.goto(`${base}/admin/rooms/${room!.id}/edit`);
    await page.getByLabel("Device family").selectOption("xapi");
    await page.getByRole("button", { name: "Save" }).click();
    await expect.poll(() => page.getByRole("alert").textContent()).toContain("needs a device address");
    expect((await engine.store.rooms.get(room!.id))?.device.family).toBe("pull");
  });

  it("is usable from the keyboard: tab to the search field, type, press Enter", async () => {
    await page.goto(`${base}/admin/rooms`);
    let focused = "";
    for (let i = 0; i < 20 && focused !== "q"; i++) {
      await page.keyboard.press("Tab");
      focused = await page.evaluate(() => document.activeElement?.id ?? "");
    }
    expect(focused).toBe("q");
    await page.keyboard.type("huddle");
    await page.keyboard.press("Enter");
    await page.waitForURL(/q=huddle/);
    expect(await page.locator("#rooms tbody tr").count()).toBe(1);
    expect(await page.textContent("#rooms tbody")).toContain("huddle7@contoso.example");
    // Every visible form field has a label.
    for (const path of ["/admin/rooms/new", "/admin/providers", "/admin/import"]) {
      await page.goto(`${base}${path}`);
      const unlabelled = await page.evaluate(() =>
        Array.from(document.querySelectorAll<HTMLInputElement>("input:not([type=hidden]), select, textarea:not([hidden])"))
          .filter((el) => (el.labels?.length ?? 0) === 0 && !el.getAttribute("aria-label"))
          .map((el) => el.name),
      );
      expect(unlabelled, path).toEqual([]);
    }
  });

  it("checks a CSV import first: a bad row is refused with its reason and nothing is applied", async () => {
    const bad = [
      "mailbox,displayName,provider,deviceFamily,deviceAddress,deviceUsername,devicePassword",
      "room301@contoso.example,Room 301,contoso-webex,pull,,,",
      "room302@contoso.example,Room 302,contoso-webex,fax,,,",
      "huddle7@contoso.example,Huddle Seven,contoso-webex,pull,,,",
    ].join("\n");
    await page.goto(`${base}/admin/import`);
    await page.getByLabel("CSV text").fill(bad);
    await page.getByRole("button", { name: "Check (dry run)" }).click();
    const rows = page.locator("#diff tbody tr");
    await expect.poll(() => rows.count()).toBe(3);
    expect(await rows.nth(0).textContent()).toMatch(/room301@contoso\.example\s*add/);
    expect(await rows.nth(1).textContent()).toMatch(/3room302@contoso\.example\s*refused.*device family must be one of/);
    expect(await rows.nth(2).textContent()).toMatch(/huddle7@contoso\.example\s*change.*display name: Huddle 7 -> Huddle Seven/);
    expect(await page.getByRole("button", { name: /^Apply/ }).count()).toBe(0);
    expect(await page.textContent("#diff-summary")).toContain("1 refused");
    expect(await engine.store.rooms.get("room301@contoso.example")).toBeNull();
    // Posting "apply" anyway (a crafted request) still applies nothing.
    const csrf = await page.locator("input[name=_csrf]").first().inputValue();
    const forced = await context.request.post(`${base}/admin/import`, { form: { _csrf: csrf, csv: bad, mode: "apply" } });
    expect(forced.status()).toBe(400);
    expect(await engine.store.rooms.get("room301@contoso.example")).toBeNull();
    // Fixed, it applies: one added, one changed.
    await page.getByLabel("CSV text").fill(bad.replace(",fax,", ",pull,"));
    await page.getByRole("button", { name: "Check (dry run)" }).click();
    await page.getByRole("button", { name: "Apply: add 2, change 1" }).click();
    await expect.poll(() => page.getByRole("status").textContent()).toContain("Added 2 room(s), changed 1");
    expect((await engine.store.rooms.get("huddle7@contoso.example"))?.displayName).toBe("Huddle Seven");
    expect(await engine.store.rooms.get("room302@contoso.example")).not.toBeNull();
  });

  it("after a poll shows the room's meetings with routes, dial strings and the planner's account; a hostile subject is text", async () => {
    await page.goto(`${base}/admin/rooms/${room101}`);
    await page.getByRole("button", { name: "Poll now" }).click();
    await expect.poll(() => page.getByRole("status").textContent()).toContain("Poll requested");
    await step(1);
    await page.reload();
    const rows = page.locator("#meetings tbody tr");
    await expect.poll(() => rows.count()).toBe(3);
    expect(await rows.nth(0).textContent()).toMatch(/Weekly sales sync.*cvi.*1198563286\.contoso@m\.webex\.com.*on device/s);
    expect(await rows.nth(1).textContent()).toMatch(/Supplier review \(Fabrikam\).*sgj.*sgj_[0-9a-f]{12}@sgj\.contoso\.example/s);
    await rows
      .nth(0)
      .getByText(/Why cvi/)
      .click();
    expect(await rows.nth(0).locator("ol.trace").textContent()).toMatch(/teams-cvi\s+matched/);
    // The hostile subject is shown as the characters it is, and never runs.
    expect(await rows.nth(2).locator("td.subject").textContent()).toBe(HOSTILE);
    expect(await page.locator("main img").count()).toBe(0);
    expect(dialogs).toEqual([]);
    // No secret reaches the page: not the device password, not the meeting passcode.
    const htmlText = await page.content();
    expect(htmlText).not.toContain("device-secret-pw");
    expect(htmlText).not.toContain("Zq9Pw3Lk");
    // The README's screenshots are refreshed only when asked (OTJ_SCREENSHOTS=1 npm test): the
    // pages show the emulators' random ports, so every run would otherwise change the files.
    const screenshots = process.env.OTJ_SCREENSHOTS === "1";
    if (screenshots) mkdirSync("docs", { recursive: true });
    expect((await page.screenshot({ fullPage: true, ...(screenshots ? { path: "docs/console-room.png" } : {}) })).length).toBeGreaterThan(10_000);
    await page.goto(`${base}/admin/rooms`);
    expect(await page.textContent("#rooms")).toContain("room101@contoso.example");
    expect((await page.screenshot({ fullPage: true, ...(screenshots ? { path: "docs/console-rooms.png" } : {}) })).length).toBeGreaterThan(10_000);
  });

  it("shows an SGJ session go lobby -> admitted without a reload", async () => {
    await page.goto(`${base}/admin/sessions`);
    const state = page.locator("#sessions tbody tr", { hasText: "Supplier review (Fabrikam)" }).locator(".badge");
    await expect.poll(() => state.textContent()).toBe("scheduled");
    const loads: string[] = [];
    page.on("load", () => loads.push(page.url()));
    const scheduler = engine.scheduler;
    const settle = async () => {
      // Timers due "now" on the manual clock fire on the next advance; callbacks are real HTTP.
      for (let i = 0; i < 3; i++) {
        await scheduler.idle();
        clock.advance(0);
        await harness.bridge.idle();
      }
      await scheduler.idle();
    };
    clock.advanceTo(new Date(at("09:37")));
    await engine.workflows.step(); // claims the session and arms its timer for 09:38 (start minus the 120 s lead)
    clock.advanceTo(new Date(at("09:38")));
    await settle();
    await expect.poll(() => state.textContent()).toBe("in the lobby");
    clock.advance(60_000); // the bridge emulator's organizer admits after a minute
    await settle();
    await expect.poll(() => state.textContent()).toBe("admitted");
    expect(loads).toEqual([]);
  });

  it("opens a bridge session's timeline from the sessions list: its state changes in time order", async () => {
    await page.goto(`${base}/admin/sessions`);
    await page.locator("#sessions tbody tr", { hasText: "Supplier review (Fabrikam)" }).getByRole("link").click();
    await page.waitForURL(/\/admin\/sessions\/[^/]+$/);
    const events = page.locator("#session-events tbody tr");
    const kinds = await events.locator("td:nth-child(3)").allTextContents();
    expect(kinds).toEqual(expect.arrayContaining(["bridge.lobby", "bridge.admitted"]));
    expect(kinds.indexOf("bridge.lobby")).toBeLessThan(kinds.indexOf("bridge.admitted"));
    expect(await events.filter({ hasText: "bridge.admitted" }).locator("td:nth-child(4)").textContent()).toBe("lobby → admitted");
    expect(await page.locator(".facts").textContent()).toContain("admitted");
    expect((await page.goto(`${base}/admin/sessions/no-such-session`))?.status()).toBe(404);
  });

  it("tests a room's device read-only: pass with its credentials, fail with the fix when they are wrong", async () => {
    const written = harness.device.bookings.length;
    await page.goto(`${base}/admin/rooms/${room101}`);
    await page.getByRole("button", { name: "Test device" }).click();
    await expect.poll(() => page.locator("#device-test-outcome").textContent()).toBe("pass");
    await engine.store.rooms.update(room101, { devicePassword: "not-the-password" }, clock.now());
    await page.goto(`${base}/admin/rooms/${room101}`);
    await page.getByRole("button", { name: "Test device" }).click();
    await expect.poll(() => page.locator("#device-test-outcome").textContent()).toBe("fail");
    expect(await page.locator("#device-test-fix").textContent()).toContain("refused the credentials");
    expect(await page.content()).not.toContain("not-the-password");
    await engine.store.rooms.update(room101, { devicePassword: "device-secret-pw" }, clock.now());
    expect(harness.device.bookings.length).toBe(written);
  });

  it("selects rooms for bulk actions: disable, enable and poll now, each room audited", async () => {
    const rows = () => page.locator("#rooms tbody tr");
    const pick = async (mailboxes: string[]) => {
      await page.goto(`${base}/admin/rooms`);
      for (const m of mailboxes) await rows().filter({ hasText: m }).getByRole("checkbox").check();
    };
    const picked = ["room101@contoso.example", "room301@contoso.example"];
    const ids = await Promise.all(picked.map(async (m) => (await engine.store.rooms.get(m))!.id));
    await pick(picked);
    await page.getByRole("button", { name: "Disable" }).click();
    await expect.poll(() => page.getByRole("status").textContent()).toContain("disabled");
    for (const id of ids) expect((await engine.store.rooms.get(id))?.enabled).toBe(false);
    expect(await rows().filter({ hasText: "room101@contoso.example" }).locator(".badge.muted", { hasText: "disabled" }).count()).toBe(1);
    await pick(picked);
    await page.getByRole("button", { name: "Enable" }).click();
    await expect.poll(() => page.getByRole("status").textContent()).toContain("enabled");
    for (const id of ids) expect((await engine.store.rooms.get(id))?.enabled).toBe(true);
    const changes = await engine.store.eventLog.list({ roomId: ids[0], kind: "admin.room-changed" });
    expect(changes.slice(0, 2).map((e) => e.message)).toEqual([
      "admin-token: enabled room room101@contoso.example",
      "admin-token: disabled room room101@contoso.example",
    ]);
    expect(changes[1]?.data).toMatchObject({ bulk: true, who: "admin-token" });
    // "Select all" ticks the page; Poll now makes every one due.
    await page.goto(`${base}/admin/rooms`);
    await page.getByRole("checkbox", { name: "Select every room of this page" }).check();
    await page.getByRole("button", { name: "Poll now" }).click();
    await expect.poll(() => page.getByRole("status").textContent()).toContain("Poll requested");
    for (const id of ids) expect((await engine.store.eventLog.list({ roomId: id, kind: "admin.poll-now" })).length).toBeGreaterThan(0);
  });

  it("refuses a change without the CSRF token or from another origin", async () => {
    const before = await engine.store.rooms.get("room301@contoso.example");
    expect(before).not.toBeNull();
    const path = `${base}/admin/rooms/${before!.id}/remove`;
    expect((await context.request.post(path, { form: {} })).status()).toBe(403);
    expect((await context.request.post(path, { form: { _csrf: "forged" } })).status()).toBe(403);
    await page.goto(`${base}/admin/rooms/${before!.id}/remove`);
    const csrf = await page.locator("input[name=_csrf]").first().inputValue();
    expect((await context.request.post(path, { form: { _csrf: csrf }, headers: { origin: "https://evil.example" } })).status()).toBe(403);
    expect(await engine.store.rooms.get(before!.id)).not.toBeNull();
    // The real button works.
    await page.getByRole("button", { name: "Remove room" }).click();
    await expect.poll(() => page.getByRole("status").textContent()).toContain("Room removed");
    expect(await engine.store.rooms.get(before!.id)).toBeNull();
  });

  it("manages CVI providers and shows health", async () => {
    await page.goto(`${base}/admin/providers`);
    await page.getByLabel("Name").fill("fabrikam-pexip");
    await page.getByLabel("Partner").selectOption("pexip");
    await page.getByLabel("Tenant key").fill("teams@vc.fabrikam.example");
    // SGJ is on, so the provider needs the SIP domain its SGJ addresses are on.
    await page.getByLabel("SIP domain").fill("sgj.fabrikam.example");
    await page.getByRole("button", { name: "Add provider" }).click();
    await expect.poll(() => page.getByRole("status").textContent()).toContain("Provider added");
    expect(await page.textContent("#providers")).toContain("teams@vc.fabrikam.example");
    await page.getByRole("link", { name: "Edit fabrikam-pexip" }).click();
    await page.getByLabel("SIP domain").fill("vc.fabrikam.example");
    await page.getByRole("button", { name: "Save" }).click();
    expect((await engine.store.providers.get("fabrikam-pexip"))?.sipDomain).toBe("vc.fabrikam.example");
    await page.getByRole("link", { name: "Edit fabrikam-pexip" }).click();
    await page.getByRole("button", { name: "Remove provider" }).click();
    await expect.poll(() => page.getByRole("status").textContent()).toContain("Provider removed");
    expect(await engine.store.providers.get("fabrikam-pexip")).toBeNull();

    await page.goto(`${base}/admin/health`);
    expect(await page.textContent("#checks")).toMatch(/database\s*ok/);
    expect(await page.textContent("#checks")).toMatch(/Graph token\s*ok/);
    expect(await page.textContent("#counters")).toMatch(/Device pushes \(ok \/ failed\)\s*[1-9]\d* \/ 0/);
  });

  it("an edited device address gets the room's bookings at once", async () => {
    const replacement = new CiscoDeviceEmulator({ users: { otj: { password: "new-device-pw", role: "Admin" } } });
    await replacement.start();
    try {
      await page.goto(`${base}/admin/rooms/${room101}/edit`);
      await page.getByLabel("Device address").fill(replacement.url);
      await page.getByLabel("Device username").fill("otj");
      await page.getByLabel("Device password").fill("new-device-pw");
      await page.getByRole("button", { name: "Save" }).click();
      await expect.poll(() => page.getByRole("status").textContent()).toContain("Room saved");
      expect(await page.content()).not.toContain("new-device-pw");
      await engine.workflows.step();
      await engine.workflows.step();
      expect(replacement.bookings.map((b) => b.Title)).toContain(HOSTILE);
      expect(await engine.store.rooms.deviceCredentials(room101)).toEqual({ username: "otj", password: "new-device-pw" });
    } finally {
      await replacement.stop();
    }
  });

  it("fits a tablet screen without sideways scrolling", async () => {
    const tablet = await context.newPage();
    await tablet.setViewportSize({ width: 768, height: 1024 });
    await tablet.goto(`${base}/admin/rooms/${room101}`);
    const overflow = await tablet.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    expect(overflow).toBeLessThanOrEqual(0);
    await tablet.close();
  });

  it("signs out; afterwards the console redirects to sign-in", async () => {
    await page.goto(`${base}/admin/rooms`);
    await page.getByRole("button", { name: "Sign out" }).click();
    await page.waitForURL(/\/admin\/login/);
    await page.goto(`${base}/admin/health`);
    expect(new URL(page.url()).pathname).toBe("/admin/login");
  });
});
