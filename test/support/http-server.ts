/** The engine's HTTP server (API and console) on a free loopback port, for tests. */
import type { FastifyInstance } from "fastify";
import { buildHttpServer } from "../../app/http/server.ts";
import { EngineMetrics } from "../../app/metrics.ts";
import type { Clock } from "../../core/clock.ts";
import { createLogger } from "../../core/logger.ts";
import type { Store } from "../../core/ports/store.ts";
import type { OidcSettings } from "../../app/http/admin/oidc.ts";
import { FakeClock } from "./fake-clock.ts";
import { openTestStore, type TestStore } from "./test-database.ts";

export interface TestHttpServer {
  app: FastifyInstance;
  /** `http://127.0.0.1:<port>` */
  base: string;
}

export async function startTestHttpServer(
  store: Store,
  clock: Clock,
  adminToken: string | null,
  oidc: OidcSettings | null = null,
  metrics: EngineMetrics = new EngineMetrics(),
): Promise<TestHttpServer> {
  const app = await buildHttpServer({
    store,
    clock,
    logger: createLogger("silent"),
    metrics,
    adminToken,
    settings: { startBufferMinutes: 5, endBufferMinutes: 0, windowFutureDays: 7, pollFailuresBeforeAlarm: 3, pushFailuresBeforeAlarm: 3 },
    readiness: async () => ({ database: true }),
    oidc,
  });
  await app.listen({ host: "127.0.0.1", port: 0 });
  return { app, base: `http://127.0.0.1:${(app.server.address() as { port: number }).port}` };
}

export interface ServedTestStore extends TestHttpServer {
  db: TestStore;
  clock: FakeClock;
  /** The metrics the server counts in (tests scrape them). */
  metrics: EngineMetrics;
  /** Closes the server, then the store. */
  close(): Promise<void>;
}

/** A fresh PostgreSQL test store, a fake clock at `startIso`, and the HTTP server (no admin token) on them. */
export async function serveTestStore(startIso: string): Promise<ServedTestStore> {
  const db = await openTestStore("postgres");
  const clock = new FakeClock(startIso);
  const metrics = new EngineMetrics();
  const { app, base } = await startTestHttpServer(db.store, clock, null, null, metrics);
  return {
    db,
    clock,
    metrics,
    app,
    base,
    async close() {
      await app.close();
      await db.close();
    },
  };
}
