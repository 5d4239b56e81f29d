/**
 * Google API failures to OtjError, by a table: HTTP status and Google's `errors[].reason` to our
 * code, whether it is retryable, and whether the adapter retries it inside the round.
 *
 * Google's quota errors are the trap: per-minute rate limits come as 403 with reason
 * `rateLimitExceeded` or `userRateLimitExceeded` (and as 429), which are worth a backoff; a daily
 * `quotaExceeded`/`dailyLimitExceeded` will not clear within a round.
 */
import { OtjError, type ErrorCode } from "../../core/errors.ts";
import { backoffMs as sharedBackoffMs } from "../../core/backoff.ts";

interface Row {
  readonly code: ErrorCode;
  /** Retried inside the round with exponential backoff and jitter. */
  readonly backoff: boolean;
}

/** A sync token Google no longer accepts (410 Gone): the caller starts a full round. */
export class SyncTokenGone extends Error {
  constructor() {
    super("Google sync token expired (410 Gone)");
    this.name = "SyncTokenGone";
  }
}

const BY_REASON: Readonly<Record<string, Row>> = {
  rateLimitExceeded: { code: "OTJ_GOOGLE_THROTTLED", backoff: true },
  userRateLimitExceeded: { code: "OTJ_GOOGLE_THROTTLED", backoff: true },
  quotaExceeded: { code: "OTJ_GOOGLE_THROTTLED", backoff: false },
  dailyLimitExceeded: { code: "OTJ_GOOGLE_ACCESS_DENIED", backoff: false },
  backendError: { code: "OTJ_GOOGLE_UNAVAILABLE", backoff: true },
};

const BY_STATUS: Readonly<Record<number, Row>> = {
  400: { code: "OTJ_GOOGLE_REQUEST_INVALID", backoff: false },
  401: { code: "OTJ_GOOGLE_AUTH", backoff: false },
  403: { code: "OTJ_GOOGLE_ACCESS_DENIED", backoff: false },
  404: { code: "OTJ_GOOGLE_NOT_FOUND", backoff: false },
  429: { code: "OTJ_GOOGLE_THROTTLED", backoff: true },
};

/** OAuth token endpoint answers (`{"error":"invalid_grant"}`): credentials, never retried in-round. */
const OAUTH_ERRORS = new Set([
  "invalid_grant",
  "unauthorized_client",
  "invalid_client",
  "invalid_scope",
  "access_denied",
  "unsupported_grant_type",
  "invalid_request",
]);

export interface GoogleFailure {
  readonly error: OtjError;
  /** Whether a backoff inside the round may help. */
  readonly backoff: boolean;
  /** The wait the service named (Retry-After), in ms, or null. */
  readonly retryAfterMs: number | null;
}

/**
 * Classifies what a Google client library threw (a GaxiosError, a network error, a key error).
 * Messages name the status and reason only: never a token, key or request body.
 */
export function mapGoogleError(thrown: unknown, what: string): GoogleFailure {
  if (thrown instanceof OtjError) return { error: thrown, backoff: false, retryAfterMs: null };
  const e = thrown as {
    status?: unknown;
    code?: unknown;
    response?: { status?: unknown; data?: unknown; headers?: unknown };
    message?: unknown;
    name?: unknown;
  };
  const status = typeof e?.response?.status === "number" ? e.response.status : typeof e?.status === "number" ? e.status : null;
  const data = e?.response?.data as Record<string, unknown> | string | undefined;
  if (status === 410) throw new SyncTokenGone();
  const oauth = typeof data === "object" && data !== null && typeof data["error"] === "string" ? (data["error"] as string) : null;
  if (oauth !== null && OAUTH_ERRORS.has(oauth)) {
    return fail(
      "OTJ_GOOGLE_AUTH",
      `${what}: the token endpoint refused the service account (${oauth}); check the key, domain-wide delegation, scopes and google.subject`,
      status,
      null,
      false,
    );
  }
  const errorObject = typeof data === "object" && data !== null && typeof data["error"] === "object" ? (data["error"] as Record<string, unknown>) : null;
  const reasons = Array.isArray(errorObject?.["errors"])
    ? (errorObject["errors"] as Array<Record<string, unknown>>).map((r) => String(r?.["reason"] ?? ""))
    : [];
  const reason = reasons.find((r) => r in BY_REASON) ?? reasons[0] ?? null;
  const retryAfterMs = retryAfter(e?.response?.headers);
  if (status === null) {
    // No answer: connection refused or reset, DNS, timeout. A key that cannot sign lands here too.
    if (typeof e?.message === "string" && /private key|PEM|DECODER|asn1/i.test(e.message)) {
      return fail("OTJ_GOOGLE_AUTH", `${what}: the service account key cannot sign (is it the JSON key Google issued?)`, null, null, false);
    }
    const code = typeof e?.code === "string" ? e.code : "no answer";
    return fail("OTJ_GOOGLE_UNAVAILABLE", `${what}: no answer from Google (${code})`, null, retryAfterMs, true);
  }
  const row =
    (reason !== null && (status === 403 || status === 429 || status >= 500) ? BY_REASON[reason] : undefined) ??
    BY_STATUS[status] ??
    (status >= 500 ? { code: "OTJ_GOOGLE_UNAVAILABLE" as const, backoff: true } : { code: "OTJ_GOOGLE_BAD_RESPONSE" as const, backoff: false });
  return fail(row.code, `${what}: HTTP ${status}${reason ? ` ${reason}` : ""}`, status, retryAfterMs, row.backoff, reason);
}

function fail(
  code: ErrorCode,
  message: string,
  status: number | null,
  retryAfterMs: number | null,
  backoff: boolean,
  reason: string | null = null,
): GoogleFailure {
  const details: Record<string, unknown> = { status, reason };
  if (retryAfterMs !== null) details["retryAfterMs"] = retryAfterMs;
  return { error: new OtjError(code, message, { details }), backoff, retryAfterMs };
}

function retryAfter(headers: unknown): number | null {
  let value: string | null = null;
  if (headers && typeof (headers as Headers).get === "function") value = (headers as Headers).get("retry-after");
  else if (headers && typeof headers === "object") value = ((headers as Record<string, unknown>)["retry-after"] as string | undefined) ?? null;
  if (value === null || value === "") return null;
  const seconds = Number(value);
  if (Number.isFinite(seconds) && seconds >= 0) return Math.round(seconds * 1000);
  return null;
}

/**
 * The wait before retry `attempt` (0-based): the service's Retry-After, else exponential from
 * `baseMs` with full jitter in [50%, 100%] of the step (so many rooms do not retry in step).
 */
export function backoffMs(failure: GoogleFailure, attempt: number, random: () => number, baseMs = 1000): number {
  if (failure.retryAfterMs !== null) return failure.retryAfterMs;
  return sharedBackoffMs(attempt, { baseMs, maxExponent: Number.POSITIVE_INFINITY }, random);
}
