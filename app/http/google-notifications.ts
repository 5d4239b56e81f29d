/**
 * `POST /v1/notifications/google`: Google Calendar's change notifications (the `events.watch`
 * channels of calendar/google/google-channels.ts). Google sends headers only; the channel token
 * (X-Goog-Channel-Token) authenticates the sender and is checked against its stored hash in
 * constant time. Answers: 200 for the channel's `sync` message and for a change (the room is made
 * due); 403 for an unknown channel or a wrong token; 400 without the X-Goog headers; 503 when the
 * store fails (Google retries); 404 when Google notifications are not enabled.
 */
import type { FastifyInstance } from "fastify";
import type { GoogleChannelManager } from "../../calendar/google/google-channels.ts";

export type GoogleNotificationHandler = Pick<GoogleChannelManager, "handleNotification">;

/** Google's notifications carry no body; anything larger than this is refused unread. */
const BODY_LIMIT = 1024;

const error = (code: string, message: string) => ({ error: { code, message } });

/** Registers the route on the callbacks' scope (raw bodies, open auth). */
export function registerGoogleNotifications(app: FastifyInstance, handler: GoogleNotificationHandler | null | undefined): void {
  app.post(
    "/v1/notifications/google",
    {
      config: { auth: "open" },
      bodyLimit: BODY_LIMIT,
      schema: { summary: "Google Calendar change notifications (X-Goog-Channel-Token)" },
    },
    async (req, reply) => {
      if (!handler) return reply.code(404).send(error("OTJ_CONFIG_INVALID", "Google notifications are not enabled (google.notifications.enabled)"));
      let outcome: Awaited<ReturnType<GoogleNotificationHandler["handleNotification"]>>;
      try {
        outcome = await handler.handleNotification(req.headers);
      } catch {
        return reply.code(503).send(error("OTJ_STORE_UNREACHABLE", "temporarily unavailable"));
      }
      switch (outcome.status) {
        case "invalid":
          return reply.code(400).send(error("OTJ_USAGE", outcome.message));
        case "refused":
          return reply.code(403).send(error("OTJ_HTTP_FORBIDDEN", "unknown channel or wrong channel token"));
        default:
          return reply.code(200).send();
      }
    },
  );
}
