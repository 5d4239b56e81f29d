/**
 * console-rooms-10k: the admin console's rooms page with 10,000 rooms on PostgreSQL, signed in,
 * over real HTTP: median time of the first page, a middle page and a search, against the time of
 * `GET /v1/rooms` listing all rooms as JSON (the baseline: what a page that did not page would cost).
 */
import { buildHttpServer } from "../app/http/server.ts";
import { EngineMetrics } from "../app/metrics.ts";
import { createLogger } from "../core/logger.ts";
import { ManualClock } from "../core/manual-clock.ts";
import { openTestStore } from "../test/support/test-database.ts";
import { median, report } from "./report.ts";

const ROOMS = 10_000;
const RUNS = 15;

export async function benchConsoleRooms(): Promise<void> {
  const db = await openTestStore("postgres");
  const clock = new ManualClock("2026-03-02T08:00:00.000Z");
  const admin = "bench-console-admin-token-0123456789";
  const app = await buildHttpServer({
    store: db.store,
    clock,
    logger: createLogger("silent"),
    metrics: new EngineMetrics(),
    adminToken: admin,
    settings: { startBufferMinutes: 5, endBufferMinutes: 0, windowFutureDays: 7, pollFailuresBeforeAlarm: 3, pushFailuresBeforeAlarm: 3 },
    readiness: async () => ({ database: true }),
  });
  try {
    await app.listen({ host: "127.0.0.1", port: 0 });
    const base = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`;
    await db.store.providers.add({ name: "webex", partner: "cisco", tenantKey: "contoso@m.webex.com" }, clock.now());
    const rooms = Array.from({ length: ROOMS }, (_, i) => ({
      mailbox: `room${String(i).padStart(5, "0")}@contoso.example`,
      displayName: `Room ${i}`,
      provider: "webex",
      deviceFamily: "pull",
    }));
    await db.store.rooms.addMany(rooms, clock.now());
    const signIn = await fetch(`${base}/admin/login`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: `token=${admin}`,
      redirect: "manual",
    });
    const cookie = (signIn.headers.get("set-cookie") ?? "").split(";")[0]!;
    const time = async (path: string, headers: Record<string, string>) => {
      const samples: number[] = [];
      for (let i = 0; i < RUNS; i++) {
        const t0 = performance.now();
        const response = await fetch(base + path, { headers });
        await response.text();
        if (!response.ok) throw new Error(`console-rooms: ${path} answered ${response.status}`);
        samples.push((performance.now() - t0) / 1000);
      }
      return median(samples);
    };
    const all = await time("/v1/rooms", { authorization: `Bearer ${admin}` });
    for (const [metric, path] of [
      ["first-page", "/admin/rooms"],
      ["page-100", "/admin/rooms?page=100"],
      ["search", "/admin/rooms?q=room0999"],
    ] as const) {
      const t = await time(path, { cookie });
      report({ bench: "console-rooms-10k", metric, value: t, unit: "s", baseline: all, ratio: t / all });
    }
  } finally {
    await app.close();
    await db.close();
  }
}
