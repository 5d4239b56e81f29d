/**
 * The engine's HTTP API: health, readiness, metrics, OpenAPI, rooms, status, the pull API and ICS
 * feed for devices, and the callback/notification routes. Auth runs in onRequest, before any body
 * is read or validated, so a bad token is always a bare 401; failed token guesses are limited per
 * client. The callback routes get their body as raw bytes (capped per route) and check the
 * signature, JWT or clientState before anything parses it. A 5xx reply carries a code only; its
 * cause goes to the log.
 */
import { createHash } from "node:crypto";
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from "fastify";
import type { Clock } from "../../core/clock.ts";
import type { BridgeState } from "../../core/domain.ts";
import { isOtjError, type OtjError } from "../../core/errors.ts";
import type { Logger } from "../../core/logger.ts";
import type { NewRoom, Room, RoomChanges, Store } from "../../core/ports/store.ts";
import { bookingId } from "../../join/device-bookings.ts";
import { roomJson } from "../../store/records-json.ts";
import type { EngineMetrics } from "../metrics.ts";
import { runRoomsImport } from "../rooms-import.ts";
import { buildStatus, type StatusSettings } from "../status.ts";
import { registerAdminConsole } from "./admin/console.ts";
import type { OidcSettings } from "./admin/oidc.ts";
import { bearerOf, FailureLimiter, RollingRateLimiter, secretEquals } from "./auth.ts";
import { CALLBACK_BODY_LIMITS, jsonNestingExceeds, MAX_JSON_DEPTH } from "./body-limits.ts";
import { ewsFeed } from "./ews-feed/index.ts";
import { type GoogleNotificationHandler, registerGoogleNotifications } from "./google-notifications.ts";
import { renderIcsFeed } from "./ics-feed.ts";

export interface CallbackReply {
  status: number;
  contentType?: string;
  body?: unknown;
}

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
  callbacks?: {
    bridge?: (rawBody: Buffer, signature: string | undefined) => Promise<CallbackReply>;
    graphCalls?: (headers: Record<string, string | string[] | undefined>, rawBody: Buffer) => Promise<CallbackReply>;
    notifications?: (query: Record<string, string | undefined>, rawBody: Buffer) => Promise<CallbackReply>;
    googleNotifications?: GoogleNotificationHandler;
  };
  /** Called after a room was added through the API (the engine makes it due). */
  onRoomAdded?: (room: Room) => void;
  /** Called after the console added or changed a room (the engine polls and plans it again). */
  onRoomChanged?: (room: Room) => void;
  /** `http.timeZone`: the console's reports count days in it (default UTC). */
  timeZone?: string;
  /** The console's "Poll now": the room is already due; wake the poller. */
  onPollNow?: (room: Room) => void;
  /** A device authenticated with its token (it fetched): the alarms' staleness check. */
  onDeviceFetch?: (room: Room) => void;
  /** `http.publicUrl` (the console's origin behind a TLS terminator). */
  publicUrl?: string | null;
  /** `http.oidc.*`: the console's named sign-in (null: admin token only). */
  oidc?: OidcSettings | null;
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

/** Route parameters name rooms and providers: no control characters, and never this long. */
const PLAUSIBLE_PARAM = /^[^\u0000-\u001f\u007f]{1,512}$/;

/** `console`: the admin console checks its own session cookie (app/http/admin/console.ts). */
type AuthKind = "open" | "admin" | "device" | "console";

declare module "fastify" {
  interface FastifySchema {
    summary?: string;
  }
  interface FastifyContextConfig {
    auth?: AuthKind;
  }
  interface FastifyRequest {
    room?: Room;
  }
}

const STATUS_BY_CODE: Partial<Record<string, number>> = {
  OTJ_USAGE: 400,
  OTJ_ROOM_INVALID: 400,
  OTJ_IMPORT_INVALID: 400,
  OTJ_PROVIDER_INVALID: 400,
  OTJ_STORE_NOT_FOUND: 404,
  OTJ_STORE_CONFLICT: 409,
  OTJ_PROVIDER_IN_USE: 409,
  OTJ_STORE_UNREACHABLE: 503,
};

function errorBody(code: string, message: string) {
  return { error: { code, message } };
}

/** What the log keeps of a failure: its code and message, and its cause's (never request data). */
function causeOf(error: unknown): Record<string, unknown> {
  const e = error as { code?: unknown; message?: unknown; cause?: unknown } | null;
  const cause = e?.cause as { code?: unknown; message?: unknown } | undefined;
  return {
    code: typeof e?.code === "string" ? e.code : undefined,
    message: typeof e?.message === "string" ? e.message : String(error),
    ...(cause
      ? { cause: { code: typeof cause.code === "string" ? cause.code : undefined, message: typeof cause.message === "string" ? cause.message : undefined } }
      : {}),
  };
}

const ROOM_BODY = {
  type: "object",
  additionalProperties: false,
  required: ["mailbox", "displayName", "provider", "deviceFamily"],
  properties: {
    mailbox: { type: "string", minLength: 3, maxLength: 320 },
    displayName: { type: "string", minLength: 1, maxLength: 256 },
    provider: { type: "string", minLength: 1, maxLength: 128 },
    deviceFamily: { type: "string", enum: ["xapi", "xapi-legacy", "webex-cloud", "pull", "macro", "ews"] },
    deviceAddress: { type: ["string", "null"], maxLength: 2048 },
    deviceUsername: { type: ["string", "null"], maxLength: 256 },
    devicePassword: { type: ["string", "null"], maxLength: 1024 },
    insecureTls: { type: "boolean" },
    allowInsecureHttp: { type: "boolean" },
    deviceToken: { type: ["string", "null"], maxLength: 256 },
    sipUri: { type: ["string", "null"], maxLength: 320 },
    privateMeetings: { type: "string", enum: ["process", "skip"] },
    subjectReplace: { type: "string", enum: ["never", "private", "all"] },
    subjectTemplate: { type: "string", maxLength: 256 },
    privateJoin: { type: "string", enum: ["enabled", "disabled"] },
    webrtc: {
      anyOf: [
        { type: "string", maxLength: 64 },
        { type: "array", maxItems: 4, items: { type: "string", enum: ["teams", "meet"] } },
      ],
    },
    delivery: { type: "string", enum: ["xapi", "macro", "both"] },
    source: { type: "string", enum: ["graph", "google", "ews"] },
  },
} as const;

/** `otj rooms set --url`: the fields to change (rooms add's, less the mailbox and the token). */
const { mailbox: _mailbox, deviceToken: _deviceToken, ...ROOM_CHANGE_PROPERTIES } = ROOM_BODY.properties;
const ROOM_CHANGES_BODY = { type: "object", additionalProperties: false, minProperties: 1, properties: ROOM_CHANGE_PROPERTIES } as const;

/** The CSV text `otj rooms import --url` sends (the console's import takes as much). */
const MAX_IMPORT_CSV_CHARS = 8 * 1024 * 1024;
const ROOMS_IMPORT_BODY = {
  type: "object",
  additionalProperties: false,
  required: ["csv"],
  properties: { csv: { type: "string", maxLength: MAX_IMPORT_CSV_CHARS }, dryRun: { type: "boolean" }, update: { type: "boolean" } },
} as const;

const MEETINGS_QUERY = {
  type: "object",
  properties: {
    startTime: { type: "string", format: "date-time" },
    endTime: { type: "string", format: "date-time" },
    limit: { type: "integer", minimum: 1, maximum: 100, default: 10 },
    idsOnly: { type: "boolean", default: false },
  },
} as const;

/** The one route that takes its device token from `?token=` (calendar apps cannot send headers). */
const ICS_ROUTE = "/v1/rooms/:id/calendar.ics";

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
  const openapiPaths: Record<string, Record<string, unknown>> = {};
  const limiter = new RollingRateLimiter(deps.pullRateLimit ?? 10, 60_000);
  const guesses = new FailureLimiter(deps.failureLimit ?? 20, 60_000);
  const log = deps.logger.child({ component: "http" });

  app.addHook("onRoute", (route) => {
    if (route.config?.auth === "console") return;
    if (route.url === "*" || route.method === "HEAD" || (Array.isArray(route.method) && route.method.includes("HEAD"))) return;
    const path = route.url.replace(/:([A-Za-z]+)/g, "{$1}");
    const methods = Array.isArray(route.method) ? route.method : [route.method];
    for (const m of methods) {
      const schema = (route.schema ?? {}) as Record<string, unknown>;
      const entry = openapiPaths[path] ?? {};
      openapiPaths[path] = entry;
      entry[m.toLowerCase()] = {
        summary: (schema.summary as string) ?? "",
        security: route.config?.auth === "open" ? [] : [{ bearer: [] }],
        ...(schema.body ? { requestBody: { content: { "application/json": { schema: schema.body } } } } : {}),
        ...(schema.querystring
          ? {
              parameters: Object.entries((schema.querystring as { properties: Record<string, unknown> }).properties).map(([name, s]) => ({
                name,
                in: "query",
                schema: s,
              })),
            }
          : {}),
        responses: { default: { description: 'JSON; errors as {"error":{"code","message"}}' } },
      };
    }
  });

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

  const tooManyGuesses = (reply: FastifyReply, wait: number) =>
    reply
      .code(429)
      .header("retry-after", String(Math.ceil(wait / 1000)))
      .send(errorBody("OTJ_HTTP_RATE_LIMITED", "too many failed attempts from this client: wait a minute"));

  app.addHook("onRequest", async (req, reply) => {
    const auth = req.routeOptions.config?.auth ?? "admin";
    const paramsOk = Object.values((req.params as Record<string, string> | undefined) ?? {}).every((v) => PLAUSIBLE_PARAM.test(v));
    // The console (and its unknown pages) check the console session instead.
    if (auth === "open" || auth === "console" || req.url === "/admin" || req.url.startsWith("/admin/")) {
      if (!paramsOk) return reply.code(404).send(errorBody("OTJ_STORE_NOT_FOUND", "not found"));
      return;
    }
    const nowMs = deps.clock.now().getTime();
    const guessKey = `${auth === "device" ? "device" : "api"} ${req.ip}`;
    const wait = guesses.waitMs(guessKey, nowMs);
    if (wait > 0) return tooManyGuesses(reply, wait);
    const bearer = bearerOf(req.headers.authorization);
    if (secretEquals(bearer, deps.adminToken)) {
      if (!paramsOk) return reply.code(404).send(errorBody("OTJ_STORE_NOT_FOUND", "not found"));
      return;
    }
    // Only the feed takes ?token=, and only a device token: the admin token never travels in a URL.
    const token =
      bearer ?? (auth === "device" && req.routeOptions.url === ICS_ROUTE ? ((req.query as Record<string, string | undefined>)?.token ?? null) : null);
    if (auth === "device" && token && paramsOk) {
      let room: Room | null;
      try {
        room = await deps.store.rooms.verifyDeviceToken((req.params as { id: string }).id, token);
      } catch (error) {
        // The token may well be valid: a device must not take this for a revoked token.
        log.error({ err: causeOf(error), route: req.routeOptions.url }, "device token check failed");
        return reply.code(503).header("retry-after", "5").send(errorBody("OTJ_STORE_UNREACHABLE", "temporarily unavailable"));
      }
      if (room) {
        const wait = limiter.take(token, nowMs);
        if (wait > 0) {
          reply.header("retry-after", String(Math.ceil(wait / 1000)));
          return reply.code(429).send(errorBody("OTJ_HTTP_RATE_LIMITED", "more than the allowed requests per minute for this device"));
        }
        req.room = room;
        deps.onDeviceFetch?.(room);
        return;
      }
    }
    if (bearer !== null || token !== null) guesses.fail(guessKey, nowMs);
    return reply.code(401).send(errorBody("OTJ_HTTP_UNAUTHORIZED", "unauthorized"));
  });

  app.addHook("onResponse", async (req, reply) => {
    deps.metrics.httpRequests.inc({ route: req.routeOptions.url ?? "unknown", status: String(reply.statusCode) });
  });

  app.setErrorHandler((error: Error & { statusCode?: number; validation?: unknown; code?: string }, req, reply) => {
    if (isOtjError(error)) {
      const e = error as OtjError;
      const status = STATUS_BY_CODE[e.code] ?? 500;
      if (status < 500) return reply.code(status).send(errorBody(e.code, e.message));
      // A store message can carry database text: it goes to the log, the client gets the code.
      log.error({ err: causeOf(error), method: req.method, route: req.routeOptions.url ?? "unknown" }, "request failed");
      return reply.code(status).send(errorBody(e.code, status === 503 ? "temporarily unavailable" : "internal error"));
    }
    if (error.validation) return reply.code(400).send(errorBody("OTJ_USAGE", error.message));
    if (error.statusCode && error.statusCode < 500)
      return reply.code(error.statusCode).send(errorBody(error.code?.startsWith("OTJ_") ? error.code : "OTJ_USAGE", error.message));
    log.error({ err: causeOf(error), method: req.method, route: req.routeOptions.url ?? "unknown" }, "request failed");
    return reply.code(500).send(errorBody("OTJ_INTERNAL", "internal error"));
  });
  app.setNotFoundHandler((_req, reply) => reply.code(404).send(errorBody("OTJ_STORE_NOT_FOUND", "not found")));

  const open = { config: { auth: "open" as AuthKind } };

  registerAdminConsole(app, {
    store: deps.store,
    clock: deps.clock,
    logger: deps.logger,
    metrics: deps.metrics,
    adminToken: deps.adminToken,
    settings: deps.settings,
    readiness: deps.readiness,
    ...(deps.onRoomChanged ? { roomChanged: deps.onRoomChanged } : {}),
    ...(deps.onPollNow ? { pollNow: deps.onPollNow } : {}),
    publicUrl: deps.publicUrl ?? null,
    ...(deps.timeZone ? { timeZone: deps.timeZone } : {}),
    oidc: deps.oidc ?? null,
  });

  app.get("/healthz", { ...open, schema: { summary: "liveness" } }, async () => ({ status: "ok" }));
  let lastNotReady = "";
  app.get("/readyz", { ...open, schema: { summary: "readiness: database migrated and reachable, Graph token obtainable" } }, async (_req, reply) => {
    const checks = await deps.readiness();
    const failing = Object.entries(checks).filter(([, v]) => v !== true);
    // An open route: the reasons (addresses, database text) go to the log, once per change.
    const reasons = JSON.stringify(failing);
    if (failing.length > 0 && reasons !== lastNotReady) log.error({ checks: Object.fromEntries(failing) }, "not ready");
    lastNotReady = failing.length > 0 ? reasons : "";
    return reply
      .code(failing.length === 0 ? 200 : 503)
      .send({ ready: failing.length === 0, checks: Object.fromEntries(Object.entries(checks).map(([k, v]) => [k, v === true ? true : "unavailable"])) });
  });
  app.get("/metrics", { ...open, schema: { summary: "Prometheus metrics (bearer http.metricsToken when set)" } }, async (req, reply) => {
    if (deps.metricsToken && !secretEquals(bearerOf(req.headers.authorization), deps.metricsToken)) {
      return reply.code(401).header("www-authenticate", "Bearer").send(errorBody("OTJ_HTTP_UNAUTHORIZED", "GET /metrics needs the metrics token"));
    }
    reply.header("content-type", deps.metrics.registry.contentType);
    return deps.metrics.registry.metrics();
  });
  app.get("/openapi.json", { ...open, schema: { summary: "this document" } }, async () => ({
    openapi: "3.1.0",
    info: { title: "otj engine API", version: "1" },
    components: { securitySchemes: { bearer: { type: "http", scheme: "bearer" } } },
    paths: openapiPaths,
  }));

  app.get("/v1/rooms", { schema: { summary: "list rooms" } }, async () => {
    const rooms = await deps.store.rooms.list();
    return {
      rooms: rooms.map((r) => ({
        id: r.id,
        mailbox: r.mailbox,
        displayName: r.displayName,
        provider: r.providerName,
        deviceFamily: r.device.family,
        deviceAddress: r.device.address,
      })),
    };
  });

  app.post(
    "/v1/rooms",
    { bodyLimit: 64 * 1024, schema: { summary: "add a room (rooms add flags as camelCase JSON)", body: ROOM_BODY } },
    async (req, reply) => {
      const added = await deps.store.rooms.add(req.body as NewRoom, deps.clock.now());
      deps.onRoomAdded?.(added.room);
      return reply.code(201).send({ id: added.room.id, mailbox: added.room.mailbox, ...(added.deviceToken ? { deviceToken: added.deviceToken } : {}) });
    },
  );

  app.get("/v1/rooms/:id", { schema: { summary: "one room (id or mailbox), as `otj rooms list --json` shows it" } }, async (req) => {
    const room = await deps.store.rooms.get((req.params as { id: string }).id);
    if (!room) throw Object.assign(new Error("unknown room"), { statusCode: 404, code: "OTJ_STORE_NOT_FOUND" });
    return roomJson(room);
  });

  app.patch(
    "/v1/rooms/:id",
    { bodyLimit: 64 * 1024, schema: { summary: "change a room (rooms set flags as camelCase JSON)", body: ROOM_CHANGES_BODY } },
    async (req) => {
      const saved = await deps.store.rooms.update((req.params as { id: string }).id, req.body as RoomChanges, deps.clock.now());
      deps.onRoomChanged?.(saved);
      return roomJson(saved);
    },
  );

  app.post(
    "/v1/rooms/import",
    { bodyLimit: MAX_IMPORT_CSV_CHARS * 2, schema: { summary: "import rooms from CSV text, all or nothing (as `otj rooms import`)", body: ROOMS_IMPORT_BODY } },
    async (req, reply) => {
      const body = req.body as { csv: string; dryRun?: boolean; update?: boolean };
      const report = await runRoomsImport(deps.store, body.csv, deps.clock.now(), { dryRun: body.dryRun === true, update: body.update === true });
      if (report.applied) {
        const touched = await deps.store.rooms.getMany([...report.added.map((r) => r.id), ...report.changed.map((r) => r.id)]);
        for (const room of touched) deps.onRoomChanged?.(room);
      }
      if (report.problems.length === 0) return report;
      const message = `${report.problems.length} of ${report.rows} rows are invalid; nothing was imported`;
      return reply.code(400).send({ ...errorBody("OTJ_IMPORT_INVALID", message), ...report });
    },
  );

  app.delete("/v1/rooms/:id", { schema: { summary: "remove a room (id or mailbox)" } }, async (req, reply) => {
    await deps.store.rooms.remove((req.params as { id: string }).id);
    return reply.code(204).send();
  });

  app.get("/v1/status", { schema: { summary: "status of every room, its device and alarms, and the bridge sessions (as `otj status --json`)" } }, async () =>
    buildStatus(deps.store, deps.clock.now(), deps.settings),
  );

  const roomMeetings = async (req: FastifyRequest) => {
    const id = (req.params as { id: string }).id;
    const room = req.room ?? (await deps.store.rooms.get(id));
    if (!room) throw Object.assign(new Error("unknown room"), { statusCode: 404, code: "OTJ_STORE_NOT_FOUND" });
    const q = req.query as { startTime?: string; endTime?: string; limit?: number; idsOnly?: boolean };
    const now = deps.clock.now();
    const from = q.startTime ? new Date(q.startTime) : new Date(now.getTime() - deps.settings.endBufferMinutes * 60000);
    const to = q.endTime ? new Date(q.endTime) : new Date(now.getTime() + deps.settings.windowFutureDays * 86_400_000);
    const meetings = (await deps.store.meetings.list(room.id, { from, to })).filter((m) => !m.cancelled && !m.declined);
    return { room, meetings, limit: q.limit ?? 10, idsOnly: q.idsOnly === true, now };
  };

  app.get(
    "/v1/rooms/:id/meetings",
    { config: { auth: "device" }, schema: { summary: "pull API for devices and panels (docs/pull-api.md)", querystring: MEETINGS_QUERY } },
    async (req, reply: FastifyReply) => {
      const { room, meetings, limit, idsOnly } = await roomMeetings(req);
      const picked = meetings.slice(0, limit);
      const states = new Map<string, BridgeState>();
      for (const m of picked) {
        if (m.route !== "sgj") continue;
        const s = await deps.store.bridgeSessions.get(m.occurrenceKey);
        if (s) states.set(m.occurrenceKey, s.state);
      }
      const list = picked.map((m) => {
        const dial = m.route === "none" ? null : m.dialString;
        const joinUrl = m.route === "webrtc" ? m.dialString : null;
        return idsOnly
          ? { id: bookingId(m.occurrenceKey) }
          : {
              id: bookingId(m.occurrenceKey),
              subject: m.subjectShown,
              organizerName: m.organizerName,
              organizerEmail: m.organizerEmail,
              startTime: m.start.toISOString(),
              endTime: m.end.toISOString(),
              // A SIP-only client never sees a join URL as an alias.
              alias: joinUrl === null ? dial : null,
              dialString: dial,
              route: m.route,
              joinUrl,
              platform: m.join?.provider ?? null,
              joinFrom: new Date(m.start.getTime() - deps.settings.startBufferMinutes * 60000).toISOString(),
              joinUntil: new Date(m.end.getTime() + deps.settings.endBufferMinutes * 60000).toISOString(),
              private: m.sensitivity !== "normal",
              bridgeState: states.get(m.occurrenceKey) ?? null,
            };
      });
      const body = { room: { id: room.id, mailbox: room.mailbox, displayName: room.displayName }, meetings: list };
      const etag = `"${createHash("sha256").update(JSON.stringify(body)).digest("hex").slice(0, 32)}"`;
      reply.header("etag", etag);
      if (req.headers["if-none-match"] === etag) return reply.code(304).send();
      return body;
    },
  );

  app.get("/v1/rooms/:id/calendar.ics", { config: { auth: "device" }, schema: { summary: "room feed as iCalendar; ?token= accepted" } }, async (req, reply) => {
    const { room, meetings, now } = await roomMeetings(req);
    reply.header("content-type", "text/calendar; charset=utf-8");
    return renderIcsFeed(
      room.displayName,
      meetings.map((m) => ({
        id: bookingId(m.occurrenceKey),
        start: m.start,
        end: m.end,
        subject: m.subjectShown,
        organizerName: m.organizerName,
        organizerEmail: m.organizerEmail,
        dialString: m.route === "none" ? null : m.dialString,
        route: m.route,
        platform: m.join?.provider ?? null,
      })),
      now,
    );
  });

  const sendCallback = (req: FastifyRequest, reply: FastifyReply, r: CallbackReply) => {
    if (r.status >= 500) {
      // A handler's failure text may come from the database: logged, and the sender gets a code.
      log.error({ route: req.routeOptions.url, status: r.status, reply: r.body }, "callback failed");
      return reply
        .code(r.status)
        .send(errorBody(r.status === 503 ? "OTJ_STORE_UNREACHABLE" : "OTJ_INTERNAL", r.status === 503 ? "temporarily unavailable" : "internal error"));
    }
    if (r.contentType) reply.header("content-type", r.contentType);
    return reply.code(r.status).send(r.body === undefined ? undefined : r.body);
  };
  const rawOf = (req: FastifyRequest) => (Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0));
  // The callback routes take their body as raw bytes, whatever its content type: the signature,
  // JWT or clientState is checked before anything parses it, over exactly the bytes sent.
  await app.register(async (callbacks) => {
    callbacks.removeAllContentTypeParsers();
    callbacks.addContentTypeParser("*", { parseAs: "buffer" }, (_req, body, done) => done(null, body));

    callbacks.post(
      "/v1/callbacks/bridge",
      { ...open, bodyLimit: CALLBACK_BODY_LIMITS.bridge, schema: { summary: "HTTP bridge status callbacks (HMAC-signed)" } },
      async (req, reply) => {
        if (!deps.callbacks?.bridge) return reply.code(404).send(errorBody("OTJ_BRIDGE_NOT_CONFIGURED", "no HTTP bridge configured"));
        return sendCallback(req, reply, await deps.callbacks.bridge(rawOf(req), req.headers["x-otj-signature"] as string | undefined));
      },
    );
    callbacks.post(
      "/v1/callbacks/graph-calls",
      { ...open, bodyLimit: CALLBACK_BODY_LIMITS.graphCalls, schema: { summary: "Graph call notifications (JWT-authenticated)" } },
      async (req, reply) => {
        if (!deps.callbacks?.graphCalls) return reply.code(404).send(errorBody("OTJ_BRIDGE_NOT_CONFIGURED", "no Graph bridge configured"));
        return sendCallback(req, reply, await deps.callbacks.graphCalls(req.headers, rawOf(req)));
      },
    );
    callbacks.post(
      "/v1/notifications/graph",
      { ...open, bodyLimit: CALLBACK_BODY_LIMITS.notifications, schema: { summary: "Graph change notifications (validationToken handshake, clientState)" } },
      async (req, reply) => {
        const query = req.query as Record<string, string | undefined>;
        if (typeof query.validationToken !== "string") {
          // clientState sits inside the body, so this body is parsed before its sender is known:
          // only a shallow one.
          if (jsonNestingExceeds(rawOf(req), MAX_JSON_DEPTH))
            return reply.code(400).send(errorBody("OTJ_USAGE", `JSON nested deeper than ${MAX_JSON_DEPTH} levels`));
        }
        if (!deps.callbacks?.notifications) {
          // Answer the subscription handshake even before notifications are wired.
          if (typeof query.validationToken === "string") return reply.code(200).header("content-type", "text/plain; charset=utf-8").send(query.validationToken);
          return reply.code(202).send();
        }
        return sendCallback(req, reply, await deps.callbacks.notifications(query, rawOf(req)));
      },
    );
    registerGoogleNotifications(callbacks, deps.callbacks?.googleNotifications);
  });
  await app.register(ewsFeed, {
    store: deps.store,
    clock: deps.clock,
    logger: deps.logger,
    metrics: deps.metrics,
    settings: deps.settings,
    publicUrl: deps.publicUrl ?? null,
    ...(deps.failureLimit ? { failureLimit: deps.failureLimit } : {}),
    ...(deps.ewsFeed?.rateLimit ? { rateLimit: deps.ewsFeed.rateLimit } : {}),
    ...(deps.ewsFeed?.dialStringIn ? { feed: { dialStringIn: deps.ewsFeed.dialStringIn } } : {}),
  });

  return app;
}
