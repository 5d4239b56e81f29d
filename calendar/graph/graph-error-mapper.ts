/**
 * Classifies Microsoft Graph and token-endpoint failures with tables (docs/deploy-microsoft-365.md): status and error code → OtjError code, whether a retry can help, and how long to
 * wait before it.
 */

import { type ErrorCode, OtjError } from "../../core/errors.ts";
import { backoffMs } from "../../core/backoff.ts";

/** How to wait before retrying: the service's `Retry-After` (else exponential), exponential, or not at all. */
export type Backoff = "retry-after" | "exponential" | "none";

/** What went wrong, in HTTP terms, before classification. */
export type GraphFailure =
  | {
      readonly kind: "http";
      readonly status: number;
      /** `error.code` of Graph's body (or the OAuth `error` of the token endpoint), if any. */
      readonly graphCode: string | null;
      readonly message: string | null;
      readonly retryAfter: string | null;
      readonly requestId: string | null;
    }
  | { readonly kind: "network"; readonly cause: unknown }
  | { readonly kind: "timeout"; readonly cause: unknown };

interface ErrorRule {
  /** An HTTP status, an inclusive range, or a transport failure. */
  readonly status: number | readonly [number, number] | "network" | "timeout";
  /** Matching error codes (case-insensitive); absent means any code. */
  readonly codes?: readonly string[];
  /** Only when the response carried `Retry-After`. */
  readonly withRetryAfter?: boolean;
  readonly code: ErrorCode;
  readonly retryable: boolean;
  readonly backoff: Backoff;
}

const SYNC_STATE_CODES = ["syncStateNotFound", "syncStateInvalid", "resyncRequired", "resyncApplicationRequired"];
const MAILBOX_MISSING_CODES = ["ErrorInvalidUser", "MailboxNotEnabledForRESTAPI", "ResourceNotFound", "ErrorNonExistentMailbox"];

/** Graph API responses. First matching row wins. */
export const GRAPH_ERROR_TABLE: readonly ErrorRule[] = [
  { status: 410, code: "OTJ_GRAPH_SYNC_RESET", retryable: true, backoff: "none" },
  { status: [400, 499], codes: SYNC_STATE_CODES, code: "OTJ_GRAPH_SYNC_RESET", retryable: true, backoff: "none" },
  { status: 401, code: "OTJ_GRAPH_AUTH", retryable: false, backoff: "none" },
  { status: 403, codes: ["ErrorAccessDenied"], code: "OTJ_GRAPH_ACCESS_DENIED", retryable: false, backoff: "none" },
  { status: 403, code: "OTJ_GRAPH_AUTH", retryable: false, backoff: "none" },
  { status: 404, code: "OTJ_GRAPH_NOT_FOUND", retryable: false, backoff: "none" },
  { status: 400, codes: MAILBOX_MISSING_CODES, code: "OTJ_GRAPH_NOT_FOUND", retryable: false, backoff: "none" },
  { status: 429, code: "OTJ_GRAPH_THROTTLED", retryable: true, backoff: "retry-after" },
  { status: 503, withRetryAfter: true, code: "OTJ_GRAPH_THROTTLED", retryable: true, backoff: "retry-after" },
  { status: [500, 599], code: "OTJ_GRAPH_UNAVAILABLE", retryable: true, backoff: "retry-after" },
  { status: "network", code: "OTJ_GRAPH_UNAVAILABLE", retryable: true, backoff: "exponential" },
  { status: "timeout", code: "OTJ_GRAPH_UNAVAILABLE", retryable: true, backoff: "exponential" },
  { status: [400, 499], code: "OTJ_GRAPH_REQUEST_INVALID", retryable: false, backoff: "none" },
  { status: [0, 999], code: "OTJ_GRAPH_BAD_RESPONSE", retryable: false, backoff: "none" },
];

/** The token endpoint (OAuth errors, docs/deploy-microsoft-365.md). */
export const TOKEN_ERROR_TABLE: readonly ErrorRule[] = [
  { status: 429, code: "OTJ_GRAPH_THROTTLED", retryable: true, backoff: "retry-after" },
  { status: [500, 599], code: "OTJ_GRAPH_UNAVAILABLE", retryable: true, backoff: "retry-after" },
  { status: "network", code: "OTJ_GRAPH_UNAVAILABLE", retryable: true, backoff: "exponential" },
  { status: "timeout", code: "OTJ_GRAPH_UNAVAILABLE", retryable: true, backoff: "exponential" },
  // invalid_client, unauthorized_client, invalid_scope, invalid_request, invalid_grant, tenant not found: configuration.
  { status: [400, 499], code: "OTJ_GRAPH_AUTH", retryable: false, backoff: "none" },
  { status: [0, 999], code: "OTJ_GRAPH_BAD_RESPONSE", retryable: false, backoff: "none" },
];

function matches(rule: ErrorRule, failure: GraphFailure): boolean {
  if (failure.kind !== "http") return rule.status === failure.kind;
  const { status } = rule;
  if (typeof status === "string") return false;
  if (typeof status === "number" ? status !== failure.status : failure.status < status[0] || failure.status > status[1]) {
    return false;
  }
  if (rule.withRetryAfter && failure.retryAfter === null) return false;
  if (rule.codes) {
    const code = failure.graphCode?.toLowerCase();
    return code !== undefined && rule.codes.some((c) => c.toLowerCase() === code);
  }
  return true;
}

/** Details every mapped OtjError carries (never secrets). */
export interface GraphErrorDetails {
  status: number | null;
  graphCode: string | null;
  requestId: string | null;
  backoff: Backoff;
  /** The wait the service asked for, in ms (from `Retry-After`), else null. */
  retryAfterMs: number | null;
  [key: string]: unknown;
}

/**
 * Turns a failure into an OtjError with `details` of type GraphErrorDetails.
 * @param context What was attempted, for the message (e.g. `calendarView/delta for room1@x`).
 */
export function mapGraphFailure(failure: GraphFailure, context: string, now: Date, table: readonly ErrorRule[] = GRAPH_ERROR_TABLE): OtjError {
  const rule = table.find((r) => matches(r, failure)) ?? table[table.length - 1]!;
  const retryAfterMs = failure.kind === "http" ? parseRetryAfter(failure.retryAfter, now) : null;
  const details: GraphErrorDetails = {
    status: failure.kind === "http" ? failure.status : null,
    graphCode: failure.kind === "http" ? failure.graphCode : null,
    requestId: failure.kind === "http" ? failure.requestId : null,
    backoff: rule.backoff,
    retryAfterMs: rule.backoff === "none" ? null : retryAfterMs,
  };
  let what: string;
  if (failure.kind === "http") {
    what = `HTTP ${failure.status}${failure.graphCode ? ` ${failure.graphCode}` : ""}${failure.message ? `: ${failure.message}` : ""}`;
  } else {
    what = failure.kind === "timeout" ? "no answer in time" : `network error: ${errorMessage(failure.cause)}`;
  }
  return new OtjError(rule.code, `${context}: ${what}`, {
    retryable: rule.retryable,
    details,
    ...(failure.kind === "http" ? {} : { cause: failure.cause }),
  });
}

function errorMessage(value: unknown): string {
  return value instanceof Error ? value.message : String(value);
}

/**
 * Parses `Retry-After`: seconds (possibly fractional, e.g. `2.128`) or an HTTP-date.
 * @returns milliseconds to wait (≥ 0, rounded up), or null when absent or unreadable.
 */
export function parseRetryAfter(value: string | null | undefined, now: Date): number | null {
  if (value === null || value === undefined) return null;
  const text = value.trim();
  if (text === "") return null;
  if (/^\d+(\.\d+)?$/.test(text)) return Math.ceil(Number(text) * 1000);
  if (/^[-+\d.]/.test(text)) return null; // a negative or malformed number, not a date
  const date = Date.parse(text);
  if (Number.isNaN(date)) return null;
  return Math.max(0, date - now.getTime());
}

/** Exponential backoff with jitter: attempt 0 → 0.5-1 × base, doubling up to `capMs`. */
export function exponentialBackoffMs(attempt: number, random: () => number, baseMs = 1000, capMs = 30_000): number {
  return backoffMs(attempt, { baseMs, capMs }, random);
}

/** The wait before retry number `attempt` (0-based) after `error`, or null if it must not be retried. */
export function retryDelayMs(error: OtjError, attempt: number, random: () => number): number | null {
  if (!error.retryable) return null;
  const details = error.details as Partial<GraphErrorDetails> | undefined;
  const backoff = details?.backoff ?? "exponential";
  if (backoff === "none") return null;
  if (backoff === "retry-after" && typeof details?.retryAfterMs === "number") return details.retryAfterMs;
  return exponentialBackoffMs(attempt, random);
}
