/**
 * The engine end to end (real PostgreSQL, real HTTP): a pull device that stops fetching raises
 * its alarm on the engine's step, the signed webhook hears of it, a fetch with the device token
 * clears it, and the notifications are counted in /metrics.
 */
import { createHmac } from "node:crypto";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Engine } from "../../app/main.ts";
import { resolveConfig } from "../../core/config.ts";
import { createLogger } from "../../core/logger.ts";
import { ManualClock } from "../../core/manual-clock.ts";
import { createTestPostgres, type TestPostgres } from "../support/test-database.ts";

const ADMIN = "engine-alarms-admin-token-0123456789";
const SECRET = "engine-alarms-webhook-secret";
const received: Array<{ signature: string | undefined; body: string }> = [];
const receiver = http.createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on("data", (c: Buffer) => chunks.push(c));
  req.on("end", () => {
    received.push({ signature: req.headers["x-otj-signature"] as string | undefined, body: Buffer.concat(chunks).toString("utf8") });
    res.statusCode = 204;
    res.end();
  });
});

let pg: TestPostgres;
let engine: Engine;
const clock = new ManualClock("2026-12-01T09:00:00.000Z");

beforeAll(async () => {
  await new Promise<void>((r) => receiver.listen(0, "127.0.0.1", r));
  pg = await createTestPostgres("engine-alarms");
  const config = resolveConfig(
    {
      database: { url: pg.url },
      http: { host: "127.0.0.1", port: 0, adminToken: ADMIN },
      alarms: { pullStaleMinutes: 5 },
      alerts: { webhook: { url: `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/otj`, secret: SECRET }, maxAttempts: 1 },
      log: { level: "silent" },
    },
    { env: {}, cwd: process.cwd() },
  );
  engine = new Engine({ config, clock, logger: createLogger("silent"), cwd: process.cwd(), ticks: false });
  await engine.start(true);
});
afterAll(async () => {
  await engine?.stop();
  await pg?.drop();
  await new Promise<void>((r) => receiver.close(() => r()));
});

describe("engine alarms", () => {
  it("raise on a stale pull device, notify, clear on its next fetch", async () => {
    await engine.store.providers.add({ name: "pexip", partner: "pexip", sipDomain: "video.contoso.example" }, clock.now());
    const { room, deviceToken } = await engine.store.rooms.add(
      { mailbox: "panel1@contoso.example", displayName: "Panel 1", provider: "pexip", deviceFamily: "pull" },
      clock.now(),
    );
    await engine.workflows.step();
    expect(await engine.store.alarms.listOpen()).toEqual([]);

    clock.advance(6 * 60_000);
    await engine.workflows.step();
    expect((await engine.store.alarms.listOpen()).map((a) => [a.code, a.roomId])).toEqual([["OTJ_DEVICE_PULL_STALE", room.id]]);
    await expect.poll(() => received.length).toBe(1);
    const first = received[0]!;
    expect(first.signature).toBe(`sha256=${createHmac("sha256", SECRET).update(first.body).digest("hex")}`);
    expect(JSON.parse(first.body)).toMatchObject({ event: "raised", alarm: { code: "OTJ_DEVICE_PULL_STALE", subject: "panel1@contoso.example" } });

    const base = `http://127.0.0.1:${engine.port}`;
    const fetched = await fetch(`${base}/v1/rooms/${room.id}/meetings`, { headers: { authorization: `Bearer ${deviceToken}` } });
    expect(fetched.status).toBe(200);
    await expect.poll(async () => (await engine.store.alarms.lastFetches()).get(room.id)).toEqual({ at: clock.now(), via: "pull" });
    await engine.workflows.step();
    expect(await engine.store.alarms.listOpen()).toEqual([]);
    await expect.poll(() => received.length).toBe(2);
    expect(JSON.parse(received[1]!.body)).toMatchObject({ event: "cleared", alarm: { code: "OTJ_DEVICE_PULL_STALE" } });

    const metrics = await (await fetch(`${base}/metrics`)).text();
    expect(metrics).toMatch(/otj_alert_notifications_total\{channel="webhook",outcome="delivered"\} 2/);
  });
});
