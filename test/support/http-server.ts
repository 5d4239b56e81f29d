/** The engine's HTTP server (API and console) on a free loopback port, for tests. */
import type { FastifyInstance } from "fastify";
import { buildHttpServer } from "../../app/http/server.ts";
import { EngineMetrics } from "../../app/metrics.ts";
import type { Clock } from "../../core/clock.ts";
import { createLogger } from "../../core/logger.ts";
import type { Store } from "../../core/ports/store.ts";
import type { OidcSettings } from "../../app/http/admin/oidc.ts";

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
