/**
 * The routes devices read under `/v1`: the pull API (`/rooms/:id/meetings`, docs/pull-api.md) and
 * the room's iCalendar feed (`/rooms/:id/calendar.ics`). Each takes the room's own device token
 * (or the admin token), checked in onRequest; the feed also takes the device token as `?token=`.
 */
import { createHash } from "node:crypto";
import type { FastifyInstance, FastifyRequest } from "fastify";
import type { Clock } from "../../../core/clock.ts";
import type { BridgeState } from "../../../core/domain.ts";
import type { Store } from "../../../core/ports/store.ts";
import { bookingId } from "../../../join/device-bookings.ts";
import { renderIcsFeed } from "../ics-feed.ts";
import type { TokenGuards } from "./guard.ts";
import { security, zodRoutes } from "./openapi.ts";
import { httpError } from "./replies.ts";
import { ErrorReply, IcsQuery, MeetingsQuery, NoContent, PullMeetings, RoomParams, ServerError, textReply } from "./schemas.ts";

export interface DeviceApiDeps {
  store: Store;
  clock: Clock;
  guards: TokenGuards;
  settings: { startBufferMinutes: number; endBufferMinutes: number; windowFutureDays: number };
}

const DEVICE_ERRORS = {
  401: ErrorReply.describe("missing or wrong token, or a token of another room"),
  404: ErrorReply.describe("no such room (admin token only)"),
  429: ErrorReply.describe("over the device's requests per minute, or too many failed tokens from this client"),
  "5xx": ServerError,
};

export async function deviceApi(instance: FastifyInstance, deps: DeviceApiDeps): Promise<void> {
  const app = zodRoutes(instance);

  /** The room's visible meetings in the window asked for (default: the live window). */
  const roomMeetings = async (req: FastifyRequest, id: string, window: { startTime?: string | undefined; endTime?: string | undefined }) => {
    const room = req.room ?? (await deps.store.rooms.get(id));
    if (!room) throw httpError(404, "OTJ_STORE_NOT_FOUND", "unknown room");
    const now = deps.clock.now();
    const from = window.startTime ? new Date(window.startTime) : new Date(now.getTime() - deps.settings.endBufferMinutes * 60000);
    const to = window.endTime ? new Date(window.endTime) : new Date(now.getTime() + deps.settings.windowFutureDays * 86_400_000);
    const meetings = (await deps.store.meetings.list(room.id, { from, to })).filter((m) => !m.cancelled && !m.declined);
    return { room, meetings, now };
  };

  app.get(
    "/rooms/:id/meetings",
    {
      onRequest: deps.guards.device({ queryToken: false }),
      schema: {
        summary: "pull API for devices and panels (docs/pull-api.md)",
        security: security("deviceToken", "adminToken"),
        params: RoomParams,
        querystring: MeetingsQuery,
        response: { 200: PullMeetings, 304: NoContent.describe("not modified: the ETag matches If-None-Match"), 400: ErrorReply, ...DEVICE_ERRORS },
      },
    },
    async (req, reply) => {
      const { limit, idsOnly } = req.query;
      const { room, meetings } = await roomMeetings(req, req.params.id, req.query);
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
      if (req.headers["if-none-match"] === etag) return reply.code(304).send(undefined);
      return body;
    },
  );

  app.get(
    "/rooms/:id/calendar.ics",
    {
      onRequest: deps.guards.device({ queryToken: true }),
      schema: {
        summary: "room feed as iCalendar; ?token= accepted",
        security: security("deviceToken", "deviceTokenQuery", "adminToken"),
        params: RoomParams,
        querystring: IcsQuery,
        response: { 200: textReply("text/calendar", "the room's meetings as iCalendar (RFC 5545)"), ...DEVICE_ERRORS },
      },
    },
    async (req, reply) => {
      const { room, meetings, now } = await roomMeetings(req, req.params.id, {});
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
    },
  );
}
