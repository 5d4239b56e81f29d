/**
 * What every page family of the console shares: its dependencies, the signed-in user, how a page
 * is sent, the audit trail and the route options (`role`: who may use a route).
 */
import type { FastifyReply, FastifyRequest } from "fastify";
import type { Clock } from "../../../core/clock.ts";
import type { ConsoleRole } from "../../../core/config.ts";
import type { DevicePusher } from "../../../core/ports/device-pusher.ts";
import type { Logger } from "../../../core/logger.ts";
import type { Room, Store } from "../../../core/ports/store.ts";
import type { EngineMetrics } from "../../metrics.ts";
import type { StatusSettings } from "../../status.ts";
import type { AuditEntry } from "./audit.ts";
import type { OidcSettings } from "./oidc.ts";
import type { ConsoleSession } from "./session.ts";
import type { PageContext } from "./views.ts";

export interface ConsoleDeps {
  store: Store;
  clock: Clock;
  logger: Logger;
  metrics: EngineMetrics;
  adminToken: string | null;
  settings: StatusSettings;
  readiness: () => Promise<Record<string, true | string>>;
  /** "Poll now": the room is already due; wake the poller. */
  onPollNow?: (room: Room) => Promise<void> | void;
  /** A room was added or changed: plan and push again. */
  onRoomChanged?: (room: Room) => void;
  /** The device pusher whose read-only `probe` the "Test device" action uses (absent: not offered). */
  devicePusher?: DevicePusher;
  /** Session lifetime (default 8 hours). */
  sessionTtlMs?: number;
  /** `http.publicUrl`: behind a TLS terminator, the https origin browsers use. */
  publicUrl?: string | null;
  /** `http.timeZone`: the reports' zone when the page names none (default UTC). */
  timeZone?: string;
  /** `http.oidc.*`: named sign-in (null or absent: the admin token only). */
  oidc?: OidcSettings | null;
}

declare module "fastify" {
  interface FastifyRequest {
    consoleSession?: ConsoleSession;
  }
  interface FastifyContextConfig {
    /** The console role a route needs (default: viewer for GET, admin for POST). */
    role?: ConsoleRole;
    /** Open without a console session (sign-in, assets). */
    signIn?: boolean;
  }
}

export interface ConsoleContext {
  deps: ConsoleDeps;
  store: Store;
  log: Logger;
  now(): Date;
  send(reply: FastifyReply, body: string, status?: number): FastifyReply;
  /** The page context of a request: CSRF token, notice (`?done=`), who is signed in. */
  ctx(req: FastifyRequest, extra?: Partial<PageContext>): PageContext;
  /** Records a change in the event log: who (and how signed in), what, before and after. */
  audit(req: FastifyRequest, entry: AuditEntry): Promise<void>;
  /** Sends a 404 page naming what was not found. */
  notFound(req: FastifyRequest, reply: FastifyReply, what: string): FastifyReply;
  /** Who acts, for the alarm store: the user and role, or the admin token. */
  actor(req: FastifyRequest): string;
}

/** Route options of console pages: its own session check, never in the API's OpenAPI document. */
export const routeOf = (role?: ConsoleRole): { config: { role?: ConsoleRole } } => ({ config: role ? { role } : {} });

export const NOTICES: Record<string, string> = {
  "room-added": "Room added.",
  "room-saved": "Room saved.",
  "room-removed": "Room removed.",
  "poll-requested": "Poll requested: the room is due now.",
  "provider-added": "Provider added.",
  "provider-saved": "Provider saved.",
  "provider-removed": "Provider removed.",
  "signed-out": "Signed out.",
  "alarm-acked": "Alarm acknowledged.",
  "alarm-muted": "Alarm muted.",
  "alarm-unmuted": "Alarm unmuted.",
  "bulk-poll": "Poll requested for the selected rooms.",
  "bulk-disable": "The selected rooms are disabled.",
  "bulk-enable": "The selected rooms are enabled.",
  "bulk-none": "No room was selected.",
};
