/**
 * The engine's HTTP API (CONTRACT.md "HTTP API"): health, readiness, metrics, OpenAPI, rooms,
 * status, the pull API and ICS feed for devices, and the callback/notification routes. Auth runs
 * in onRequest, before any body is read or validated, so a bad token is always a bare 401.
 */
import { createHash } from "node:crypto";
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from "fastify";
import type { Clock } from "../../core/clock.ts";
import type { BridgeState } from "../../core/domain.ts";
import { isOtjError, type OtjError } from "../../core/errors.ts";
import type { Logger } from "../../core/logger.ts";
import type { NewRoom, Room, Store } from "../../core/ports/store.ts";
import { bookingId } from "../../join/device-bookings.ts";
import type { EngineMetrics } from "../metrics.ts";
import { buildStatus, type StatusSettings } from "../status.ts";
import { registerAdminConsole } from "./admin/console.ts";
import { bearerOf, RollingRateLimiter, secretEquals } from "./auth.ts";
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
  callbacks?: {
    bridge?: (rawBody: string, signature: string | undefined) => Promise<CallbackReply>;
    graphCalls?: (headers: Record<string, string | string[] | undefined>, rawBody: string) => Promise<CallbackReply>;
    notifications?: (query: Record<string, string | undefined>, rawBody: string) => Promise<CallbackReply>;
  };
  /** Called after a room was added through the API (the engine makes it due). */
  onRoomAdded?: (room: Room) => void;
  /** Called after the console added or changed a room (the engine polls and plans it again). */
  onRoomChanged?: (room: Room) => void;
  /** The console's "Poll now": the room is already due; wake the poller. */
  onPollNow?: (room: Room) => void;
  /** `http.publicUrl` (the console's origin behind a TLS terminator). */
  publicUrl?: string | null;
  /** Requests per rolling minute per device token on the pull API (default 10). */
  pullRateLimit?: number;
}

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
    rawBody?: string;
    room?: Room;
  }
}

const STATUS_BY_CODE: Partial<Record<string, number>> = {
  OTJ_USAGE: 400,
  OTJ_ROOM_INVALID: 400,
  OTJ_PROVIDER_INVALID: 400,
  OTJ_STORE_NOT_FOUND: 404,
  OTJ_STORE_CONFLICT: 409,
  OTJ_PROVIDER_IN_USE: 409,
  OTJ_STORE_UNREACHABLE: 503,
};

function errorBody(code: string, message: string) {
  return { error: { code, message } };
}

const ROOM_BODY = {
  type: "object",
  additionalProperties: false,
  required: ["mailbox", "displayName", "provider", "deviceFamily"],
  properties: {
    mailbox: { type: "string", minLength: 3, maxLength: 320 },
    displayName: { type: "string", minLength: 1, maxLength: 256 },
    provider: { type: "string", minLength: 1, maxLength: 128 },
    deviceFamily: { type: "string", enum: ["xapi", "xapi-legacy", "webex-cloud", "pull"] },
    deviceAddress: { type: ["string", "null"], maxLength: 2048 },
    deviceUsername: { type: ["string", "null"], maxLength: 256 },
    devicePassword: { type: ["string", "null"], maxLength: 1024 },
    insecureTls: { type: "boolean" },
    sipUri: { type: ["string", "null"], maxLength: 320 },
    privateMeetings: { type: "string", enum: ["process", "skip"] },
    subjectReplace: { type: "string", enum: ["never", "private", "all"] },
    subjectTemplate: { type: "string", maxLength: 256 },
    privateJoin: { type: "string", enum: ["enabled", "disabled"] },
    source: { type: "string", enum: ["graph", "google", "ews"] },
  },
} as const;

const MEETINGS_QUERY = {
  type: "object",
  properties: {
    startTime: { type: "string", format: "date-time" },
    endTime: { type: "string", format: "date-time" },
    limit: { type: "integer", minimum: 1, maximum: 100, default: 10 },
    idsOnly: { type: "boolean", default: false },
    token: { type: "string" },
  },
} as const;

/** Builds the server (not listening). */
export async function buildHttpServer(deps: HttpServerDeps): Promise<FastifyInstance> {
  const app = Fastify({ logger: false, bodyLimit: 1024 * 1024, ajv: { customOptions: { coerceTypes: true, removeAdditional: false } } });
  const openapiPaths: Record<string, Record<string, unknown>> = {};
  const limiter = new RollingRateLimiter(deps.pullRateLimit ?? 10, 60_000);
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
        ...(schema.querystring ? { parameters: Object.entries((schema.querystring as { properties: Record<string, unknown> }).properties).map(([name, s]) => ({ name, in: "query", schema: s })) } : {}),
        responses: { default: { description: "see CONTRACT.md" } },
      };
    }
  });

  // Keep the raw body for signature checks; parse JSON ourselves.
  app.addContentTypeParser("application/json", { parseAs: "string" }, (req, body, done) => {
    req.rawBody = body as string;
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
  app.addContentTypeParser("*", { parseAs: "string" }, (req, body, done) => {
    req.rawBody = body as string;
    done(null, body);
  });

  app.addHook("onRequest", async (req, reply) => {
    const auth = req.routeOptions.config?.auth ?? "admin";
    // The console (and its unknown pages) check the console session instead.
    if (auth === "open" || auth === "console" || req.url === "/admin" || req.url.startsWith("/admin/")) return;
    const token = bearerOf(req.headers.authorization) ?? (auth === "device" && req.url.includes(".ics") ? ((req.query as Record<string, string>)?.token ?? null) : null);
    if (secretEquals(token, deps.adminToken)) return;
    if (auth === "device" && token) {
      const id = (req.params as { id?: string }).id ?? "";
      const room = await deps.store.rooms.verifyDeviceToken(id, token).catch(() => null);
      if (room) {
        const wait = limiter.take(token, deps.clock.now().getTime());
        if (wait > 0) {
          reply.header("retry-after", String(Math.ceil(wait / 1000)));
          return reply.code(429).send(errorBody("OTJ_HTTP_RATE_LIMITED", "more than the allowed requests per minute for this device"));
        }
        req.room = room;
        return;
      }
    }
    return reply.code(401).send(errorBody("OTJ_HTTP_UNAUTHORIZED", "unauthorized"));
  });

  app.addHook("onResponse", async (req, reply) => {
    deps.metrics.httpRequests.inc({ route: req.routeOptions.url ?? "unknown", status: String(reply.statusCode) });
  });

  app.setErrorHandler((error: Error & { statusCode?: number; validation?: unknown; code?: string }, _req, reply) => {
    if (isOtjError(error)) {
      const e = error as OtjError;
      return reply.code(STATUS_BY_CODE[e.code] ?? 500).send(errorBody(e.code, e.message));
    }
    if (error.validation) return reply.code(400).send(errorBody("OTJ_USAGE", error.message));
    if (error.statusCode && error.statusCode < 500) return reply.code(error.statusCode).send(errorBody(error.code?.startsWith("OTJ_") ? error.code : "OTJ_USAGE", error.message));
    log.error({ err: { message: error.message } }, "request failed");
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
  });

  app.get("/healthz", { ...open, schema: { summary: "liveness" } }, async () => ({ status: "ok" }));
  app.get("/readyz", { ...open, schema: { summary: "readiness: database migrated and reachable, Graph token obtainable" } }, async (_req, reply) => {
    const checks = await deps.readiness();
    const ready = Object.values(checks).every((v) => v === true);
    return reply.code(ready ? 200 : 503).send({ ready, checks });
  });
  app.get("/metrics", { ...open, schema: { summary: "Prometheus metrics" } }, async (_req, reply) => {
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
      rooms: rooms.map((r) => ({ id: r.id, mailbox: r.mailbox, displayName: r.displayName, provider: r.providerName, deviceFamily: r.device.family, deviceAddress: r.device.address })),
    };
  });

  app.post("/v1/rooms", { bodyLimit: 64 * 1024, schema: { summary: "add a room (rooms add flags as camelCase JSON)", body: ROOM_BODY } }, async (req, reply) => {
    const added = await deps.store.rooms.add(req.body as NewRoom, deps.clock.now());
    deps.onRoomAdded?.(added.room);
    return reply.code(201).send({ id: added.room.id, mailbox: added.room.mailbox, ...(added.deviceToken ? { deviceToken: added.deviceToken } : {}) });
  });

  app.delete("/v1/rooms/:id", { schema: { summary: "remove a room (id or mailbox)" } }, async (req, reply) => {
    await deps.store.rooms.remove((req.params as { id: string }).id);
    return reply.code(204).send();
  });

  app.get("/v1/status", { schema: { summary: "StatusOutput (CONTRACT.md)" } }, async () => buildStatus(deps.store, deps.clock.now(), deps.settings));

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
    { config: { auth: "device" }, schema: { summary: "pull API for devices and panels (INTERFACES.md 11)", querystring: MEETINGS_QUERY } },
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
        return idsOnly
          ? { id: bookingId(m.occurrenceKey) }
          : {
              id: bookingId(m.occurrenceKey),
              subject: m.subjectShown,
              organizerName: m.organizerName,
              organizerEmail: m.organizerEmail,
              startTime: m.start.toISOString(),
              endTime: m.end.toISOString(),
              alias: dial,
              dialString: dial,
              route: m.route,
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
      })),
      now,
    );
  });

  const sendCallback = (reply: FastifyReply, r: CallbackReply) => {
    if (r.contentType) reply.header("content-type", r.contentType);
    return reply.code(r.status).send(r.body === undefined ? undefined : r.body);
  };
  app.post("/v1/callbacks/bridge", { ...open, schema: { summary: "HTTP bridge status callbacks (HMAC-signed)" } }, async (req, reply) => {
    if (!deps.callbacks?.bridge) return reply.code(404).send(errorBody("OTJ_BRIDGE_NOT_CONFIGURED", "no HTTP bridge configured"));
    return sendCallback(reply, await deps.callbacks.bridge(req.rawBody ?? "", req.headers["x-otj-signature"] as string | undefined));
  });
  app.post("/v1/callbacks/graph-calls", { ...open, schema: { summary: "Graph call notifications (JWT-authenticated)" } }, async (req, reply) => {
    if (!deps.callbacks?.graphCalls) return reply.code(404).send(errorBody("OTJ_BRIDGE_NOT_CONFIGURED", "no Graph bridge configured"));
    return sendCallback(reply, await deps.callbacks.graphCalls(req.headers, req.rawBody ?? ""));
  });
  app.post("/v1/notifications/graph", { ...open, schema: { summary: "Graph change notifications (validationToken handshake, clientState)" } }, async (req, reply) => {
    const query = req.query as Record<string, string | undefined>;
    if (!deps.callbacks?.notifications) {
      // Answer the subscription handshake even before notifications are wired.
      if (typeof query.validationToken === "string") return reply.code(200).header("content-type", "text/plain").send(query.validationToken);
      return reply.code(202).send();
    }
    return sendCallback(reply, await deps.callbacks.notifications(query, req.rawBody ?? ""));
  });

  return app;
}
