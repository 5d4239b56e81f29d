/**
 * The operations routes, open to any caller: `/healthz`, `/readyz`, `/metrics` (its own token
 * when `http.metricsToken` is set) and `/openapi.json`. Nothing they answer names an address, a
 * secret or database text: the reasons a check fails go to the log.
 */
import type { FastifyInstance } from "fastify";
import type { OpenAPIV3_1 } from "openapi-types";
import type { Logger } from "../../../core/logger.ts";
import type { EngineMetrics } from "../../metrics.ts";
import { bearerOf, secretEquals } from "../auth.ts";
import { security, zodRoutes } from "./openapi.ts";
import { errorBody } from "./replies.ts";
import { ErrorReply, Health, OpenApiDocument, Readiness, textReply } from "./schemas.ts";

export interface OpsDeps {
  log: Logger;
  metrics: EngineMetrics;
  metricsToken: string | null;
  /** Readiness checks: name -> ok (or a reason). */
  readiness: () => Promise<Record<string, true | string>>;
}

export async function opsRoutes(instance: FastifyInstance, deps: OpsDeps): Promise<void> {
  const app = zodRoutes(instance);
  app.get("/healthz", { schema: { summary: "liveness", security: [], response: { 200: Health } } }, async () => ({ status: "ok" as const }));

  let lastNotReady = "";
  app.get(
    "/readyz",
    {
      schema: {
        summary: "readiness: database migrated and reachable, Graph token obtainable",
        security: [],
        response: { 200: Readiness.describe("ready"), 503: Readiness.describe("not ready: the failing checks") },
      },
    },
    async (_req, reply) => {
      const checks = await deps.readiness();
      const failing = Object.entries(checks).filter(([, v]) => v !== true);
      // An open route: the reasons (addresses, database text) go to the log, once per change.
      const reasons = JSON.stringify(failing);
      if (failing.length > 0 && reasons !== lastNotReady) deps.log.error({ checks: Object.fromEntries(failing) }, "not ready");
      lastNotReady = failing.length > 0 ? reasons : "";
      const shown = Object.fromEntries(Object.entries(checks).map(([k, v]) => [k, v === true ? (true as const) : ("unavailable" as const)]));
      return reply.code(failing.length === 0 ? 200 : 503).send({ ready: failing.length === 0, checks: shown });
    },
  );

  app.get(
    "/metrics",
    {
      schema: {
        summary: "Prometheus metrics (bearer http.metricsToken when set)",
        security: [{}, ...security("metricsToken")],
        response: { 200: textReply("text/plain", "Prometheus text exposition"), 401: ErrorReply },
      },
    },
    async (req, reply) => {
      if (deps.metricsToken && !secretEquals(bearerOf(req.headers.authorization), deps.metricsToken)) {
        return reply.code(401).header("www-authenticate", "Bearer").send(errorBody("OTJ_HTTP_UNAUTHORIZED", "GET /metrics needs the metrics token"));
      }
      reply.header("content-type", deps.metrics.registry.contentType);
      return deps.metrics.registry.metrics();
    },
  );

  app.get(
    "/openapi.json",
    { schema: { summary: "this document", security: [], response: { 200: OpenApiDocument } } },
    async () => instance.swagger() as OpenAPIV3_1.Document,
  );
}
