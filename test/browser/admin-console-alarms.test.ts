/// <reference lib="dom" />
/**
 * The console's Alarms page in Chromium against the real engine (real PostgreSQL, emulators over
 * HTTP): the engine raises an engine-wide alarm (a device password stored without secrets.key),
 * the page lists it, and an admin acknowledges and mutes it with the keyboard-reachable forms.
 */
import { randomBytes } from "node:crypto";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { launchChromium } from "../support/browser.ts";
import { type EngineHarness, startEngineHarness } from "../support/engine-harness.ts";

const ADMIN = randomBytes(16).toString("hex");
let harness: EngineHarness;
let browser: Browser;
let page: Page;
let base = "";
const pageErrors: string[] = [];

beforeAll(async () => {
  harness = await startEngineHarness({
    label: "console-alarms",
    adminToken: ADMIN,
    startAt: "2026-03-02T07:30:00.000Z",
    provider: { name: "contoso", tenantKey: "contoso@m.webex.com", sipDomain: "sgj.contoso.example" },
  });
  base = `http://127.0.0.1:${harness.engine.port}`;
  browser = await launchChromium();
  page = await (await browser.newContext()).newPage();
  page.on("pageerror", (e) => pageErrors.push(e.message));
  page.on("console", (m) => {
    if (m.type() === "error") pageErrors.push(m.text());
  });
});
afterAll(async () => {
  await browser?.close().catch(() => undefined);
  await harness?.close();
});

describe("Alarms page in Chromium", () => {
  it("lists the engine's alarm; acknowledge and mute from the page", async () => {
    await harness.engine.workflows.step();
    await page.goto(`${base}/admin/login?next=%2Fadmin%2Falarms`);
    await page.getByLabel("Admin token").fill(ADMIN);
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.waitForURL(`${base}/admin/alarms`);
    await page.getByRole("link", { name: "Alarms" }).waitFor();
    const row = page.locator("#open-alarms tbody tr", { hasText: "OTJ_CONFIG_SECRETS_KEY_UNSET" });
    expect(await row.count()).toBe(1);
    expect(await row.textContent()).toContain("secrets.key is not set");

    await row.getByRole("button", { name: /^Acknowledge OTJ_CONFIG_SECRETS_KEY_UNSET/ }).click();
    await page.waitForURL(`${base}/admin/alarms?done=alarm-acked`);
    expect(await page.getByRole("status").first().textContent()).toContain("Alarm acknowledged.");
    const acked = page.locator("#open-alarms tbody tr", { hasText: "OTJ_CONFIG_SECRETS_KEY_UNSET" });
    expect(await acked.textContent()).toContain("acknowledged by admin-token (admin token)");

    await acked.getByLabel("Mute", { exact: true }).selectOption("24");
    await acked.getByRole("button", { name: /^Mute OTJ_CONFIG_SECRETS_KEY_UNSET/ }).click();
    await page.waitForURL(`${base}/admin/alarms?done=alarm-muted`);
    const muted = await harness.engine.store.alarms.listOpen();
    const alarm = muted.find((a) => a.code === "OTJ_CONFIG_SECRETS_KEY_UNSET");
    expect(alarm?.mutedUntil?.getTime()).toBe(harness.clock.now().getTime() + 24 * 3_600_000);
    expect(await page.locator("#open-alarms").textContent()).toContain("muted by admin-token (admin token) until");
    expect(pageErrors).toEqual([]);
  });
});
