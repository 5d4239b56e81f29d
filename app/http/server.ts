/**
 * The engine's HTTP server, built from fastify plugins that each carry their own hooks:
 * - ops (`/healthz`, `/readyz`, `/metrics`, `/openapi.json`): open (metrics: its own token when set);
 * - the admin API under `/v1` (rooms, status): the admin bearer token;
 * - the device routes under `/v1` (pull API, ICS feed): the room's device token or the admin
 *   token, rate-limited per device token;
 * - the callbacks under `/v1` (bridge, Graph calls, change notifications): raw bytes, capped per
 *   route, checked by signature, JWT or clientState before anything parses them;
 * - the EWS feed and the admin console (their own plugins, their own auth);
 * - any other path: 404 behind the admin token.
 * Tokens are checked in onRequest, before any body is read or validated, so a bad token is always
 * a bare 401; failed token guesses are limited per client. A 5xx reply carries a code only; its
 * cause goes to the log. The routes' zod schemas validate requests and make /openapi.json.
 */
import Fastify, { type FastifyInstance } from "fastify";
import type { Clock } from "../../core/clock.ts";
import type { Logger } from "../../core/logger.ts";
import type { DevicePusher } from "../../core/ports/device-pusher.ts";
import type { Room, Store } from "../../core/ports/store.ts";
import { FetchRecorder } from "../alarms/device-fetch.ts";
import type { EngineMetrics } from "../metrics.ts";
import type { StatusSettings } from "../status.ts";
import { adminConsole } from "./admin/console.ts";
import type { OidcSettings } from "./admin/oidc.ts";
import { adminApi } from "./api/admin-api.ts";
import { type CallbackHandlers, callbackRoutes } from "./api/callbacks.ts";
import { deviceApi } from "./api/device-api.ts";
import { notFound, paramsPlausible, TokenGuards } from "./api/guard.ts";
import { registerOpenApi } from "./api/openapi.ts";
import { opsRoutes } from "./api/ops.ts";
import { errorHandler } from "./api/replies.ts";
import { ewsFeed } from "./ews-feed/index.ts";

export type { CallbackReply } from "./api/callbacks.ts";

export interface HttpServerDeps {
  store: Store;
  clock: Clock;
  logger: Logger;
  metrics: EngineMetrics;
  adminToken: string | null;
  settings: StatusSettings & { startBufferMinutes: number };
  /** Readiness checks: name -> ok (or a reason). */
  readiness: () => Promise<Record<string, true | string>>;
  /** Callback handlers; each gets the body's raw bytes, unparsed, and checks its sender first. */
  callbacks?: CallbackHandlers;
  /** Called after a room was added through the API (the engine makes it due). */
  onRoomAdded?: (room: Room) => void;
  /** Called after the console added or changed a room (the engine polls and plans it again). */
  onRoomChanged?: (room: Room) => void;
  /** `http.timeZone`: the console's reports count days in it (default UTC). */
  timeZone?: string;
  /** The console's "Poll now": the room is already due; wake the poller. */
  onPollNow?: (room: Room) => void;
  /** `http.publicUrl` (the console's origin behind a TLS terminator). */
  publicUrl?: string | null;
  /** `http.oidc.*`: the console's named sign-in (null: admin token only). */
  oidc?: OidcSettings | null;
  /** The device pusher the console's read-only "Test device" probes with (absent: not offered). */
  devicePusher?: DevicePusher;
  /** `http.metricsToken`: when set, GET /metrics requires it as a bearer token. */
  metricsToken?: string | null;
  /** Requests per rolling minute per device token on the pull API (default 10). */
  pullRateLimit?: number;
  /** `http.trustProxy`: proxies whose X-Forwarded-For names the client (default: none). */
  trustProxy?: string | null;
  /** Connection and request limits (defaults: the `http.*` defaults). */
  limits?: Partial<HttpLimits>;
  /** Failed token attempts per client per rolling minute before it must wait (default 20). */
  failureLimit?: number;
  /** The EWS feed's `http.ewsRateLimit` and `http.ewsDialStringIn` (defaults: 60, location). */
  ewsFeed?: { rateLimit?: number; dialStringIn?: "location" | "body" };
}

/** The `http.*` connection and request limits, in milliseconds and bytes. */
export interface HttpLimits {
  requestTimeoutMs: number;
  headersTimeoutMs: number;
  keepAliveTimeoutMs: number;
  maxHeaderBytes: number;
  maxConnections: number;
}

const DEFAULT_LIMITS: HttpLimits = {
  requestTimeoutMs: 30_000,
  headersTimeoutMs: 10_000,
  keepAliveTimeoutMs: 5_000,
  maxHeaderBytes: 16_384,
  maxConnections: 1_000,
};

/** Builds the server (not listening). */
export async function buildHttpServer(deps: HttpServerDeps): Promise<FastifyInstance> {
  const limits = { ...DEFAULT_LIMITS, ...deps.limits };
  const app = Fastify({
    logger: false,
    bodyLimit: 1024 * 1024,
    ajv: { customOptions: { coerceTypes: true, removeAdditional: false } },
    trustProxy: deps.trustProxy ?? false,
    requestTimeout: limits.requestTimeoutMs,
    // A backstop: a socket idle this long is destroyed without a reply. The request and header
    // timeouts come first and answer 408.
    connectionTimeout: 2 * limits.requestTimeoutMs,
    keepAliveTimeout: limits.keepAliveTimeoutMs,
    // Node checks the request and header timeouts on this interval (default 30 s).
    http: { maxHeaderSize: limits.maxHeaderBytes, connectionsCheckingInterval: Math.max(10, Math.min(1_000, Math.floor(limits.headersTimeoutMs / 2))) },
  });
  app.server.headersTimeout = limits.headersTimeoutMs;
  app.server.maxConnections = limits.maxConnections;
  const log = deps.logger.child({ component: "http" });

  app.addContentTypeParser("application/json", { parseAs: "string" }, (_req, body, done) => {
    if ((body as string).length === 0) return done(null, {});
    try {
      done(null, JSON.parse(body as string));
    } catch {
      const err = Object.assign(new Error("request body is not valid JSON"), { statusCode: 400, code: "OTJ_USAGE" });
      done(err, undefined);
    }
  });
  // HTML forms of the admin console.
  app.addContentTypeParser("application/x-www-form-urlencoded", { parseAs: "string" }, (_req, body, done) => {
    done(null, Object.fromEntries(new URLSearchParams(body as string)));
  });
  app.addContentTypeParser("*", { parseAs: "string" }, (_req, body, done) => {
    done(null, body);
  });

  // Every reply, also the open routes' (the validationToken handshake echoes its input).
  app.addHook("onSend", async (_req, reply) => {
    reply.header("x-content-type-options", "nosniff");
  });
  app.addHook("onResponse", async (req, reply) => {
    deps.metrics.httpRequests.inc({ route: req.routeOptions.url ?? "unknown", status: String(reply.statusCode) });
  });
  app.setErrorHandler(errorHandler(log));
  // Route parameters name rooms and providers: one with control characters or of absurd length
  // names nothing. Checked for every route after its own plugin's auth hooks (onRequest), before
  // validation, so it is a 404 only for a caller who may know.
  app.addHook("preValidation", async (req, reply) => (paramsPlausible(req) ? undefined : notFound(reply)));

  const fetches = new FetchRecorder(deps.store, log);
  const guards = new TokenGuards({
    store: deps.store,
    clock: deps.clock,
    log,
    adminToken: deps.adminToken,
    ...(deps.failureLimit ? { failureLimit: deps.failureLimit } : {}),
    ...(deps.pullRateLimit ? { pullRateLimit: deps.pullRateLimit } : {}),
    // Every device's fetch (pull API, ICS feed, EWS feed) goes to one recorder: the staleness alarm's record.
    onDeviceFetch: (room, via) => void fetches.record(room.id, via, deps.clock.now()),
  });

  app.register(adminConsole, { prefix: "/admin", ...deps });

  // The API: everything /openapi.json describes (the console is not part of it).
  await app.register(async (api) => {
    await registerOpenApi(api);
    await api.register(opsRoutes, { log, metrics: deps.metrics, metricsToken: deps.metricsToken ?? null, readiness: deps.readiness });
    await api.register(adminApi, {
      prefix: "/v1",
      store: deps.store,
      clock: deps.clock,
      guards,
      settings: deps.settings,
      ...(deps.onRoomAdded ? { onRoomAdded: deps.onRoomAdded } : {}),
      ...(deps.onRoomChanged ? { onRoomChanged: deps.onRoomChanged } : {}),
    });
    await api.register(deviceApi, { prefix: "/v1", store: deps.store, clock: deps.clock, guards, settings: deps.settings });
    await api.register(callbackRoutes, { prefix: "/v1", log, handlers: deps.callbacks });
    await api.register(ewsFeed, {
      store: deps.store,
      clock: deps.clock,
      logger: deps.logger,
      metrics: deps.metrics,
      settings: deps.settings,
      publicUrl: deps.publicUrl ?? null,
      fetches,
      ...(deps.failureLimit ? { failureLimit: deps.failureLimit } : {}),
      ...(deps.ewsFeed?.rateLimit ? { rateLimit: deps.ewsFeed.rateLimit } : {}),
      ...(deps.ewsFeed?.dialStringIn ? { feed: { dialStringIn: deps.ewsFeed.dialStringIn } } : {}),
    });
  });

  // Any other path: not found, behind the admin token like the API (a 401 before a 404).
  await app.register(async (fallback) => {
    fallback.addHook("onRequest", guards.admin);
    fallback.setNotFoundHandler((_req, reply) => notFound(reply));
  });

  return app;
}
