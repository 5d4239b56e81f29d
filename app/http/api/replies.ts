/**
 * Error replies of the HTTP API: `{"error":{"code","message"}}` with a status per OTJ code. A 5xx
 * carries a code only; its cause goes to the log, never request data.
 */
import type { FastifyError, FastifyReply, FastifyRequest } from "fastify";
import { isOtjError } from "../../../core/errors.ts";
import type { Logger } from "../../../core/logger.ts";

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

export function errorBody(code: string, message: string) {
  return { error: { code, message } };
}

/** An error the handler throws to answer `status` with `code` (the error handler sends it). */
export function httpError(status: number, code: string, message: string): Error {
  return Object.assign(new Error(message), { statusCode: status, code });
}

/** A string property of something thrown, if it has one. */
function textOf(value: unknown, key: "code" | "message"): string | undefined {
  const v = typeof value === "object" && value !== null ? Reflect.get(value, key) : undefined;
  return typeof v === "string" ? v : undefined;
}

/** What the log keeps of a failure: its code and message, and its cause's (never request data). */
export function causeOf(error: unknown): Record<string, unknown> {
  const cause: unknown = typeof error === "object" && error !== null ? Reflect.get(error, "cause") : undefined;
  return {
    code: textOf(error, "code"),
    message: textOf(error, "message") ?? String(error),
    ...(cause ? { cause: { code: textOf(cause, "code"), message: textOf(cause, "message") } } : {}),
  };
}

/** The server's error handler: OTJ codes to their status, validation to 400 OTJ_USAGE, the rest 500. */
export function errorHandler(log: Logger) {
  return (error: FastifyError | Error, req: FastifyRequest, reply: FastifyReply) => {
    const e = error as Error & { statusCode?: number; validation?: unknown; code?: string };
    const route = req.routeOptions.url ?? "unknown";
    if (isOtjError(e)) {
      const status = STATUS_BY_CODE[e.code] ?? 500;
      if (status < 500) return reply.code(status).send(errorBody(e.code, e.message));
      // A store message can carry database text: it goes to the log, the client gets the code.
      log.error({ err: causeOf(e), method: req.method, route }, "request failed");
      return reply.code(status).send(errorBody(e.code, status === 503 ? "temporarily unavailable" : "internal error"));
    }
    if (e.validation) return reply.code(400).send(errorBody("OTJ_USAGE", e.message));
    if (e.statusCode && e.statusCode < 500) return reply.code(e.statusCode).send(errorBody(e.code?.startsWith("OTJ_") ? e.code : "OTJ_USAGE", e.message));
    log.error({ err: causeOf(e), method: req.method, route }, "request failed");
    return reply.code(500).send(errorBody("OTJ_INTERNAL", "internal error"));
  };
}
