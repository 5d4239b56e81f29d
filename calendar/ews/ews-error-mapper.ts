/**
 * Classifies EWS failures with one table: the EWS response code (from a SOAP fault or an error
 * response message) or the HTTP status → OtjError code, whether a retry can help, and how to wait.
 * The details carry the same `backoff`/`retryAfterMs` fields as Graph's, so one retry rule
 * (`retryDelayMs`) serves both.
 */

import { type ErrorCode, OtjError } from "../../core/errors.ts";
import type { Backoff } from "../graph/graph-error-mapper.ts";

export type EwsFailure =
  | {
      readonly kind: "ews";
      /** HTTP status of the answer (200 for an error response message, usually 500 for a fault). */
      readonly status: number;
      /** EWS `ResponseCode` (`ErrorServerBusy`, `ErrorNonExistentMailbox`, …), or null for a bare HTTP error. */
      readonly responseCode: string | null;
      readonly message: string | null;
      /** `BackOffMilliseconds` the server asked for. */
      readonly backOffMs: number | null;
    }
  | { readonly kind: "network"; readonly cause: unknown }
  | { readonly kind: "timeout"; readonly cause: unknown }
  /** The server's certificate was refused (untrusted CA, wrong name, expired). */
  | { readonly kind: "tls"; readonly cause: unknown };

interface EwsErrorRule {
  /** EWS response codes (exact), an HTTP status or inclusive range, or a transport failure. */
  readonly match: { readonly codes: readonly string[] } | { readonly status: number | readonly [number, number] } | "network" | "timeout" | "tls";
  readonly code: ErrorCode;
  readonly retryable: boolean;
  readonly backoff: Backoff;
}

/** First matching row wins; EWS response codes are checked before HTTP statuses. */
export const EWS_ERROR_TABLE: readonly EwsErrorRule[] = [
  { match: { codes: ["ErrorServerBusy"] }, code: "OTJ_EWS_THROTTLED", retryable: true, backoff: "retry-after" },
  {
    match: { codes: ["ErrorNonExistentMailbox", "ErrorInvalidSmtpAddress", "ErrorMailRecipientNotFound", "ErrorFolderNotFound", "ErrorInvalidUser"] },
    code: "OTJ_EWS_NOT_FOUND",
    retryable: false,
    backoff: "none",
  },
  {
    match: {
      codes: ["ErrorAccessDenied", "ErrorImpersonateUserDenied", "ErrorImpersonationDenied", "ErrorImpersonationFailed", "ErrorDelegateNoUser"],
    },
    code: "OTJ_EWS_ACCESS_DENIED",
    retryable: false,
    backoff: "none",
  },
  {
    match: {
      codes: [
        "ErrorInternalServerTransientError",
        "ErrorMailboxStoreUnavailable",
        "ErrorMailboxMoveInProgress",
        "ErrorConnectionFailed",
        "ErrorTimeoutExpired",
        "ErrorInternalServerError",
        "ErrorProxyRequestProcessingFailed",
      ],
    },
    code: "OTJ_EWS_UNAVAILABLE",
    retryable: true,
    backoff: "exponential",
  },
  {
    // Requests otj built wrongly; Exchange sends them as SOAP faults with HTTP 500, so they come before the statuses.
    match: {
      codes: [
        "ErrorInvalidRequest",
        "ErrorSchemaValidation",
        "ErrorInvalidServerVersion",
        "ErrorInvalidIdMalformed",
        "ErrorInvalidPropertyRequest",
        "ErrorCalendarViewRangeTooBig",
        "ErrorExceededFindCountLimit",
        "ErrorInvalidOperation",
      ],
    },
    code: "OTJ_EWS_REQUEST_INVALID",
    retryable: false,
    backoff: "none",
  },
  { match: { status: 401 }, code: "OTJ_EWS_AUTH", retryable: false, backoff: "none" },
  { match: { status: 403 }, code: "OTJ_EWS_ACCESS_DENIED", retryable: false, backoff: "none" },
  { match: { status: 404 }, code: "OTJ_EWS_REQUEST_INVALID", retryable: false, backoff: "none" },
  { match: { status: [500, 599] }, code: "OTJ_EWS_UNAVAILABLE", retryable: true, backoff: "exponential" },
  { match: "tls", code: "OTJ_EWS_TLS", retryable: false, backoff: "none" },
  { match: "network", code: "OTJ_EWS_UNAVAILABLE", retryable: true, backoff: "exponential" },
  { match: "timeout", code: "OTJ_EWS_UNAVAILABLE", retryable: true, backoff: "exponential" },
  // Any other EWS error code: a request the server did not accept (ErrorInvalidRequest, ErrorSchemaValidation, …).
  { match: { status: [200, 499] }, code: "OTJ_EWS_REQUEST_INVALID", retryable: false, backoff: "none" },
  { match: { status: [0, 999] }, code: "OTJ_EWS_BAD_RESPONSE", retryable: false, backoff: "none" },
];

function matches(rule: EwsErrorRule, failure: EwsFailure): boolean {
  const { match } = rule;
  if (typeof match === "string") return failure.kind === match;
  if (failure.kind !== "ews") return false;
  if ("codes" in match) return failure.responseCode !== null && match.codes.includes(failure.responseCode);
  const s = match.status;
  return typeof s === "number" ? failure.status === s : failure.status >= s[0] && failure.status <= s[1];
}

/**
 * Turns a failure into an OtjError. Details: `status`, `ewsCode`, `backoff`, `retryAfterMs`
 * (BackOffMilliseconds) — never credentials.
 * @param context What was attempted (`FindItem for room1@x`).
 */
export function mapEwsFailure(failure: EwsFailure, context: string): OtjError {
  const rule = EWS_ERROR_TABLE.find((r) => matches(r, failure)) ?? EWS_ERROR_TABLE[EWS_ERROR_TABLE.length - 1]!;
  const ews = failure.kind === "ews" ? failure : null;
  const details = {
    status: ews?.status ?? null,
    ewsCode: ews?.responseCode ?? null,
    backoff: rule.backoff,
    retryAfterMs: rule.backoff === "retry-after" ? (ews?.backOffMs ?? null) : null,
  };
  let what: string;
  if (failure.kind === "ews") {
    what = `HTTP ${failure.status}${failure.responseCode ? ` ${failure.responseCode}` : ""}${failure.message ? `: ${failure.message.slice(0, 200)}` : ""}`;
  } else {
    what =
      failure.kind === "timeout"
        ? "no answer in time"
        : `${failure.kind === "tls" ? "TLS" : "network"} error: ${failure.cause instanceof Error ? failure.cause.message : String(failure.cause)}`;
  }
  return new OtjError(rule.code, `${context}: ${what}`, {
    retryable: rule.retryable,
    details,
    ...(failure.kind === "ews" ? {} : { cause: failure.cause }),
  });
}

/** Node's codes for a refused server certificate. */
const TLS_CODES = new Set([
  "DEPTH_ZERO_SELF_SIGNED_CERT",
  "SELF_SIGNED_CERT_IN_CHAIN",
  "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
  "UNABLE_TO_GET_ISSUER_CERT_LOCALLY",
  "CERT_HAS_EXPIRED",
  "CERT_NOT_YET_VALID",
  "ERR_TLS_CERT_ALTNAME_INVALID",
]);

/** Whether a transport failure (fetch's error and its causes) is a refused certificate. */
export function isTlsFailure(error: unknown): boolean {
  for (let e: unknown = error, depth = 0; e instanceof Error && depth < 5; e = e.cause, depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === "string" && TLS_CODES.has(code)) return true;
  }
  return false;
}
