/**
 * The callback routes under `/v1`: bridge status callbacks, Graph call notifications and Graph
 * change notifications. Open to any sender: each handler checks its sender first (HMAC signature,
 * JWT, clientState). The body arrives as raw bytes whatever its content type, capped per route,
 * so the check runs over exactly the bytes sent and before anything parses them.
 */
import type { GoogleChannelManager } from "../../../calendar/google/google-channels.ts";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import type { Logger } from "../../../core/logger.ts";
import { z } from "zod";
import { CALLBACK_BODY_LIMITS, jsonNestingExceeds, MAX_JSON_DEPTH } from "../body-limits.ts";
import { documentedBody, security, zodRoutes } from "./openapi.ts";
import { errorBody } from "./replies.ts";
import {
  BridgeCallbackBody,
  CallbackErrorReply,
  ChangeNotifications,
  ErrorReply,
  GraphCallNotifications,
  NoContent,
  NotificationQuery,
  textReply,
} from "./schemas.ts";

export interface CallbackReply {
  status: number;
  contentType?: string;
  body?: unknown;
}

export interface CallbackHandlers {
  bridge?: (rawBody: Buffer, signature: string | undefined) => Promise<CallbackReply>;
  graphCalls?: (headers: Record<string, string | string[] | undefined>, rawBody: Buffer) => Promise<CallbackReply>;
  notifications?: (query: Record<string, string | undefined>, rawBody: Buffer) => Promise<CallbackReply>;
  /** Google Calendar's `events.watch` channels (calendar/google/google-channels.ts). */
  googleNotifications?: GoogleNotificationHandler;
}

export type GoogleNotificationHandler = Pick<GoogleChannelManager, "handleNotification">;

/** Google's notifications carry no body (the X-Goog-* headers say it all); anything over the cap is refused unread. */
const GoogleNotificationBody = z
  .object({})
  .describe("empty: Google sends X-Goog-Channel-ID, X-Goog-Channel-Token, X-Goog-Resource-State and X-Goog-Resource-ID as headers");
const GOOGLE_BODY_LIMIT = 1024;

export interface CallbackDeps {
  log: Logger;
  handlers: CallbackHandlers | undefined;
}

const CALLBACK_ERRORS = {
  400: CallbackErrorReply,
  401: CallbackErrorReply,
  404: ErrorReply.describe("OTJ_BRIDGE_NOT_CONFIGURED: no such bridge configured"),
  413: ErrorReply.describe("body over the route's cap"),
  503: ErrorReply.describe("temporarily unavailable: the sender retries"),
};

export async function callbackRoutes(instance: FastifyInstance, deps: CallbackDeps): Promise<void> {
  instance.removeAllContentTypeParsers();
  instance.addContentTypeParser("*", { parseAs: "buffer" }, (_req, body, done) => done(null, body));
  const app = zodRoutes(instance);
  const log = deps.log;

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

  app.post(
    "/callbacks/bridge",
    {
      bodyLimit: CALLBACK_BODY_LIMITS.bridge,
      config: documentedBody(BridgeCallbackBody),
      schema: {
        summary: "HTTP bridge status callbacks (HMAC-signed; docs/bridge-protocol.md)",
        security: security("bridgeSignature"),
        response: { 204: NoContent.describe("accepted"), ...CALLBACK_ERRORS },
      },
    },
    async (req, reply) => {
      if (!deps.handlers?.bridge) return reply.code(404).send(errorBody("OTJ_BRIDGE_NOT_CONFIGURED", "no HTTP bridge configured"));
      const signature = req.headers["x-otj-signature"];
      return sendCallback(req, reply, await deps.handlers.bridge(rawOf(req), typeof signature === "string" ? signature : undefined));
    },
  );

  app.post(
    "/callbacks/graph-calls",
    {
      bodyLimit: CALLBACK_BODY_LIMITS.graphCalls,
      config: documentedBody(GraphCallNotifications),
      schema: {
        summary: "Graph call notifications (JWT-authenticated)",
        security: security("graphCallsJwt"),
        response: { 202: NoContent.describe("accepted"), ...CALLBACK_ERRORS },
      },
    },
    async (req, reply) => {
      if (!deps.handlers?.graphCalls) return reply.code(404).send(errorBody("OTJ_BRIDGE_NOT_CONFIGURED", "no Graph bridge configured"));
      return sendCallback(req, reply, await deps.handlers.graphCalls(req.headers, rawOf(req)));
    },
  );

  app.post(
    "/notifications/graph",
    {
      bodyLimit: CALLBACK_BODY_LIMITS.notifications,
      config: documentedBody(ChangeNotifications),
      schema: {
        summary: "Graph change notifications (validationToken handshake, clientState in the body)",
        security: [],
        querystring: NotificationQuery,
        response: {
          200: textReply("text/plain", "the validationToken, echoed"),
          202: NoContent.describe("accepted"),
          ...CALLBACK_ERRORS,
        },
      },
    },
    async (req, reply) => {
      const { validationToken } = req.query;
      // clientState sits inside the body, so this body is parsed before its sender is known: only a shallow one.
      if (validationToken === undefined && jsonNestingExceeds(rawOf(req), MAX_JSON_DEPTH)) {
        return reply.code(400).send(errorBody("OTJ_USAGE", `JSON nested deeper than ${MAX_JSON_DEPTH} levels`));
      }
      if (!deps.handlers?.notifications) {
        // Answer the subscription handshake even before notifications are wired.
        if (validationToken !== undefined) return reply.code(200).header("content-type", "text/plain; charset=utf-8").send(validationToken);
        return reply.code(202).send(undefined);
      }
      return sendCallback(req, reply, await deps.handlers.notifications(req.query, rawOf(req)));
    },
  );

  // Google sends headers only; the channel token (X-Goog-Channel-Token) authenticates the sender
  // and is checked against its stored hash in constant time by the channel manager.
  app.post(
    "/notifications/google",
    {
      bodyLimit: GOOGLE_BODY_LIMIT,
      config: documentedBody(GoogleNotificationBody),
      schema: {
        summary: "Google Calendar change notifications (X-Goog-Channel-ID, X-Goog-Resource-State, X-Goog-Channel-Token)",
        security: [],
        response: {
          200: textReply("text/plain", "acknowledged (an empty body): the channel's sync message, or a change (the room is made due)"),
          400: ErrorReply.describe("the X-Goog headers are missing"),
          403: ErrorReply.describe("unknown channel or wrong channel token"),
          404: ErrorReply.describe("Google notifications are not enabled (google.notifications.enabled)"),
          413: ErrorReply.describe("body over the route's cap"),
          503: ErrorReply.describe("temporarily unavailable: Google retries"),
        },
      },
    },
    async (req, reply) => {
      const handler = deps.handlers?.googleNotifications;
      if (!handler) return reply.code(404).send(errorBody("OTJ_CONFIG_INVALID", "Google notifications are not enabled (google.notifications.enabled)"));
      let outcome: Awaited<ReturnType<GoogleNotificationHandler["handleNotification"]>>;
      try {
        outcome = await handler.handleNotification(req.headers);
      } catch (error) {
        log.error({ err: (error as Error).message, route: req.routeOptions.url }, "Google notification not handled");
        return reply.code(503).send(errorBody("OTJ_STORE_UNREACHABLE", "temporarily unavailable"));
      }
      if (outcome.status === "invalid") return reply.code(400).send(errorBody("OTJ_USAGE", outcome.message));
      if (outcome.status === "refused") return reply.code(403).send(errorBody("OTJ_HTTP_FORBIDDEN", "unknown channel or wrong channel token"));
      return reply.code(200).header("content-type", "text/plain; charset=utf-8").send("");
    },
  );
}
