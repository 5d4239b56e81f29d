/**
 * The API's token checks, as onRequest hooks that the plugins and routes needing them install:
 * they run before any body is read or validated, so a missing or wrong token is always a bare
 * 401. Failed guesses are limited per client (a correct token looks the same as a wrong one past
 * the limit); a device token is also limited per minute per token.
 */
import type { FastifyReply, FastifyRequest } from "fastify";
import type { Clock } from "../../../core/clock.ts";
import type { Logger } from "../../../core/logger.ts";
import type { Room, Store } from "../../../core/ports/store.ts";
import { bearerOf, FailureLimiter, RollingRateLimiter, secretEquals } from "../auth.ts";
import { causeOf, errorBody } from "./replies.ts";
import { PLAUSIBLE_PARAM } from "./schemas.ts";

declare module "fastify" {
  interface FastifyRequest {
    /** The room whose device token opened this request. */
    room?: Room;
  }
}

export interface GuardDeps {
  store: Store;
  clock: Clock;
  log: Logger;
  adminToken: string | null;
  /** Failed token attempts per client per rolling minute before it must wait (default 20). */
  failureLimit?: number;
  /** Requests per rolling minute per device token (default 10). */
  pullRateLimit?: number;
  /** A device authenticated with its token. */
  onDeviceFetch?: (room: Room, via: "pull" | "ics") => void;
}

type Hook = (req: FastifyRequest, reply: FastifyReply) => Promise<unknown>;

function textOf(record: unknown, name: string): string | null {
  const value: unknown = typeof record === "object" && record !== null ? Reflect.get(record, name) : undefined;
  return typeof value === "string" ? value : null;
}

/** Route parameters name rooms and providers: one with control characters or of absurd length names nothing. */
export function paramsPlausible(req: FastifyRequest): boolean {
  const params = typeof req.params === "object" && req.params !== null ? Object.values(req.params) : [];
  return params.every((v) => typeof v === "string" && PLAUSIBLE_PARAM.test(v));
}

export const notFound = (reply: FastifyReply) => reply.code(404).send(errorBody("OTJ_STORE_NOT_FOUND", "not found"));
const unauthorized = (reply: FastifyReply) => reply.code(401).send(errorBody("OTJ_HTTP_UNAUTHORIZED", "unauthorized"));

export class TokenGuards {
  readonly #deps: GuardDeps;
  readonly #guesses: FailureLimiter;
  readonly #perDevice: RollingRateLimiter;

  constructor(deps: GuardDeps) {
    this.#deps = deps;
    this.#guesses = new FailureLimiter(deps.failureLimit ?? 20, 60_000);
    this.#perDevice = new RollingRateLimiter(deps.pullRateLimit ?? 10, 60_000);
  }

  /** The admin bearer token (`http.adminToken`; none set: every request is refused). */
  readonly admin: Hook = async (req, reply) => {
    const nowMs = this.#deps.clock.now().getTime();
    const key = `api ${req.ip}`;
    if (this.#tooManyGuesses(reply, key, nowMs)) return reply;
    const bearer = bearerOf(req.headers.authorization);
    if (secretEquals(bearer, this.#deps.adminToken)) return undefined;
    if (bearer !== null) this.#guesses.fail(key, nowMs);
    return unauthorized(reply);
  };

  /**
   * The admin token, or the device token of the room named by `:id` (which the request then
   * carries as `req.room`). `queryToken`: the device token may come as `?token=` (calendar apps
   * cannot send headers); the admin token never travels in a URL.
   */
  device(options: { queryToken: boolean }): Hook {
    return async (req, reply) => {
      const nowMs = this.#deps.clock.now().getTime();
      const key = `device ${req.ip}`;
      if (this.#tooManyGuesses(reply, key, nowMs)) return reply;
      const bearer = bearerOf(req.headers.authorization);
      if (secretEquals(bearer, this.#deps.adminToken)) return undefined;
      const token = bearer ?? (options.queryToken ? textOf(req.query, "token") : null);
      const roomId = textOf(req.params, "id");
      // An implausible room id names no room: no query for it.
      if (token && roomId && paramsPlausible(req)) {
        let room: Room | null;
        try {
          room = await this.#deps.store.rooms.verifyDeviceToken(roomId, token);
        } catch (error) {
          // The token may well be valid: a device must not take this for a revoked token.
          this.#deps.log.error({ err: causeOf(error), route: req.routeOptions.url }, "device token check failed");
          return reply.code(503).header("retry-after", "5").send(errorBody("OTJ_STORE_UNREACHABLE", "temporarily unavailable"));
        }
        if (room) {
          const wait = this.#perDevice.take(token, nowMs);
          if (wait > 0) {
            reply.header("retry-after", String(Math.ceil(wait / 1000)));
            return reply.code(429).send(errorBody("OTJ_HTTP_RATE_LIMITED", "more than the allowed requests per minute for this device"));
          }
          req.room = room;
          this.#deps.onDeviceFetch?.(room, options.queryToken ? "ics" : "pull");
          return undefined;
        }
      }
      if (token !== null) this.#guesses.fail(key, nowMs);
      return unauthorized(reply);
    };
  }

  #tooManyGuesses(reply: FastifyReply, key: string, nowMs: number): boolean {
    const wait = this.#guesses.waitMs(key, nowMs);
    if (wait <= 0) return false;
    reply
      .code(429)
      .header("retry-after", String(Math.ceil(wait / 1000)))
      .send(errorBody("OTJ_HTTP_RATE_LIMITED", "too many failed attempts from this client: wait a minute"));
    return true;
  }
}
