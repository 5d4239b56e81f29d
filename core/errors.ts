/**
 * OtjError and the registry of every error code otj raises.
 *
 * Codes are stable (`OTJ_<AREA>_<CONDITION>`); docs/errors.md lists each one and a test keeps the
 * two in sync. Adapters map foreign failures onto these codes with a table, not scattered ifs.
 */

export interface ErrorCodeInfo {
  /** Whether retrying the same operation later can succeed. */
  retryable: boolean;
  /** Exit code of the CLI when the error ends a command. */
  exitCode: 1 | 2;
  /** One sentence for docs/errors.md and for operators. */
  description: string;
}

export const ERROR_CODES = {
  OTJ_USAGE: { retryable: false, exitCode: 2, description: "A command was called with missing or invalid arguments." },
  OTJ_INPUT_UNREADABLE: { retryable: false, exitCode: 1, description: "An input file could not be read (missing, unreadable, or larger than the input cap)." },
  OTJ_PARSE_FAILED: { retryable: false, exitCode: 1, description: "An invite could not be parsed at all; the parser otherwise reports problems as warnings." },
  OTJ_CONFIG_INVALID: {
    retryable: false,
    exitCode: 2,
    description: "The configuration file or an OTJ_* variable has an unknown key or a value of the wrong shape.",
  },
  OTJ_CONFIG_SECRET_FILE: { retryable: false, exitCode: 2, description: "A secret named by a *_FILE variable or option could not be read." },
  OTJ_STORE_UNREACHABLE: { retryable: true, exitCode: 1, description: "The database could not be reached." },
  OTJ_STORE_LOCKED: {
    retryable: true,
    exitCode: 1,
    description: "The embedded PGlite directory is held by a running engine; use the engine's API or stop it first.",
  },
  OTJ_STORE_MIGRATION_FAILED: { retryable: false, exitCode: 1, description: "A database migration failed; nothing of it was applied." },
  OTJ_STORE_CONFLICT: { retryable: false, exitCode: 1, description: "A record with the same unique key already exists." },
  OTJ_STORE_NOT_FOUND: { retryable: false, exitCode: 1, description: "The named record does not exist." },
  OTJ_ROOM_INVALID: { retryable: false, exitCode: 2, description: "A room record is invalid (mailbox, device family, address or privacy setting)." },
  OTJ_PROVIDER_INVALID: { retryable: false, exitCode: 2, description: "A provider record is invalid (partner, tenant key, SIP domain or SGJ template)." },
  OTJ_PROVIDER_IN_USE: { retryable: false, exitCode: 1, description: "A provider cannot be removed while rooms use it (use --force)." },
  OTJ_IMPORT_INVALID: { retryable: false, exitCode: 1, description: "A CSV import had invalid rows; nothing was applied." },
  OTJ_GRAPH_AUTH: { retryable: false, exitCode: 1, description: "Microsoft Graph refused the app's credentials or permissions." },
  OTJ_GRAPH_THROTTLED: { retryable: true, exitCode: 1, description: "Microsoft Graph throttled a request (429/503 with Retry-After)." },
  OTJ_GRAPH_UNAVAILABLE: { retryable: true, exitCode: 1, description: "Microsoft Graph answered with a server error or did not answer in time." },
  OTJ_GRAPH_NOT_FOUND: { retryable: false, exitCode: 1, description: "The mailbox or resource does not exist in Graph or the app may not read it." },
  OTJ_GRAPH_SYNC_RESET: { retryable: true, exitCode: 1, description: "A delta token expired or was rejected; the room is re-synchronised from scratch." },
  OTJ_GRAPH_BAD_RESPONSE: { retryable: true, exitCode: 1, description: "Graph returned a response otj could not understand (bad JSON, looping nextLink)." },
  OTJ_GRAPH_ACCESS_DENIED: {
    retryable: false,
    exitCode: 1,
    description: "The app may not read this mailbox (403 ErrorAccessDenied: application access policy or Exchange RBAC scope).",
  },
  OTJ_GRAPH_REQUEST_INVALID: { retryable: false, exitCode: 1, description: "Microsoft Graph rejected a request otj built as invalid (400); please report it." },
  OTJ_EWS_AUTH: {
    retryable: false,
    exitCode: 1,
    description: "Exchange Server (EWS) refused the service account's credentials (401, or the OAuth token endpoint refused the app).",
  },
  OTJ_EWS_ACCESS_DENIED: {
    retryable: false,
    exitCode: 1,
    description:
      "The EWS service account may not open this room's calendar (ErrorAccessDenied, ErrorImpersonateUserDenied: ApplicationImpersonation role or delegate rights missing).",
  },
  OTJ_EWS_NOT_FOUND: { retryable: false, exitCode: 1, description: "Exchange Server has no mailbox with this address (ErrorNonExistentMailbox)." },
  OTJ_EWS_THROTTLED: {
    retryable: true,
    exitCode: 1,
    description: "Exchange Server is busy (ErrorServerBusy); retried after the BackOffMilliseconds it names.",
  },
  OTJ_EWS_UNAVAILABLE: {
    retryable: true,
    exitCode: 1,
    description: "Exchange Server answered with a server error, a transient EWS error, or did not answer in time.",
  },
  OTJ_EWS_BAD_RESPONSE: {
    retryable: true,
    exitCode: 1,
    description: "Exchange Server returned a response otj could not understand (not SOAP, missing elements).",
  },
  OTJ_EWS_TLS: {
    retryable: false,
    exitCode: 1,
    description: "The Exchange server's TLS certificate could not be verified (an internal CA goes in ews.caFile).",
  },
  OTJ_EWS_REQUEST_INVALID: { retryable: false, exitCode: 1, description: "Exchange Server rejected a request otj built as invalid; please report it." },
  OTJ_GOOGLE_AUTH: {
    retryable: false,
    exitCode: 1,
    description: "Google refused the service account's key, its domain-wide delegation or the impersonated subject.",
  },
  OTJ_GOOGLE_THROTTLED: { retryable: true, exitCode: 1, description: "Google throttled a request (429, or 403 rateLimitExceeded/userRateLimitExceeded)." },
  OTJ_GOOGLE_UNAVAILABLE: { retryable: true, exitCode: 1, description: "A Google API answered with a server error or did not answer in time." },
  OTJ_GOOGLE_NOT_FOUND: { retryable: false, exitCode: 1, description: "The resource calendar does not exist or the impersonated subject cannot see it (404)." },
  OTJ_GOOGLE_ACCESS_DENIED: {
    retryable: false,
    exitCode: 1,
    description: "Google denied access to a calendar or the directory (403 forbidden, API not enabled, daily quota used up).",
  },
  OTJ_GOOGLE_BAD_RESPONSE: { retryable: true, exitCode: 1, description: "A Google API returned a response otj could not understand." },
  OTJ_GOOGLE_REQUEST_INVALID: { retryable: false, exitCode: 1, description: "A Google API rejected a request otj built as invalid (400); please report it." },
  OTJ_GOOGLE_BUDGET_EXHAUSTED: {
    retryable: true,
    exitCode: 1,
    description: "google.dailyRequestBudget is used up for this UTC day; Google rooms wait for the next day.",
  },
  OTJ_CALENDAR_DELTA_LOOP: {
    retryable: true,
    exitCode: 1,
    description: "A delta round was stopped by a guard (page cap, repeated page or time budget); the previous cursor is kept.",
  },
  OTJ_DEVICE_AUTH: { retryable: false, exitCode: 1, description: "A device rejected otj's credentials." },
  OTJ_DEVICE_UNREACHABLE: { retryable: true, exitCode: 1, description: "A device did not answer or answered with a server error." },
  OTJ_DEVICE_REJECTED: { retryable: false, exitCode: 1, description: "A device refused the bookings otj pushed." },
  OTJ_DEVICE_UNSUPPORTED: {
    retryable: false,
    exitCode: 1,
    description: "The device refuses bookings in its current mode (e.g. a Cisco device running Microsoft Teams Rooms).",
  },
  OTJ_DEVICE_TLS: { retryable: false, exitCode: 1, description: "A device's TLS certificate could not be verified." },
  OTJ_DEVICE_NOT_FETCHING: {
    retryable: true,
    exitCode: 1,
    description: "An ews room's device has not read the EWS feed for longer than alarms.ewsFetchStaleMinutes (or never).",
  },
  OTJ_DEVICE_REPLY_TOO_LARGE: {
    retryable: false,
    exitCode: 1,
    description: "A device's reply was larger than 4 MiB; it was not used (is the device address right?).",
  },
  OTJ_BRIDGE_NOT_CONFIGURED: { retryable: false, exitCode: 1, description: "An SGJ session was due but no bridge adapter is configured." },
  OTJ_BRIDGE_UNAVAILABLE: { retryable: true, exitCode: 1, description: "The media bridge answered with a server error or did not answer in time." },
  OTJ_BRIDGE_REJECTED: { retryable: false, exitCode: 1, description: "The media bridge refused to start a session." },
  OTJ_CALLBACK_UNAUTHENTICATED: { retryable: false, exitCode: 1, description: "A callback or notification failed signature, JWT or clientState validation." },
  OTJ_HTTP_UNAUTHORIZED: { retryable: false, exitCode: 1, description: "An HTTP request lacked a valid admin or device token." },
  OTJ_HTTP_FORBIDDEN: {
    retryable: false,
    exitCode: 1,
    description: "A signed-in console user lacks the role an action needs, or the OpenID provider gave the user no console role (403).",
  },
  OTJ_HTTP_RATE_LIMITED: {
    retryable: true,
    exitCode: 1,
    description: "Too many requests from one device token, or too many failed token attempts from one client, within a minute (429 with Retry-After).",
  },
  OTJ_CONFIG_SECRETS_KEY_UNSET: {
    retryable: false,
    exitCode: 1,
    description: "Device passwords are stored while secrets.key is unset: they sit in the database in plain text.",
  },
  OTJ_GRAPH_CONSENT_MISSING: {
    retryable: false,
    exitCode: 1,
    description: "The Graph app's token lacks an application permission a configured feature uses (admin consent missing).",
  },
  OTJ_DEVICE_PULL_STALE: {
    retryable: true,
    exitCode: 1,
    description: "A pulling device (pull, macro) has not fetched its meetings for longer than alarms.pullStaleMinutes.",
  },
  OTJ_ALERT_DELIVERY_FAILED: {
    retryable: true,
    exitCode: 1,
    description: "An alarm notification (webhook, Teams or e-mail) could not be delivered after its retries.",
  },
  OTJ_NOTIFICATIONS_FAILING: {
    retryable: true,
    exitCode: 1,
    description:
      "Change notifications (Graph subscriptions or Google events.watch channels) keep failing for some rooms: those rooms see changes only at the next poll.",
  },
  OTJ_INTERNAL: { retryable: false, exitCode: 1, description: "An unexpected internal error; please report it." },
} as const satisfies Record<string, ErrorCodeInfo>;

export type ErrorCode = keyof typeof ERROR_CODES;

export class OtjError extends Error {
  readonly code: ErrorCode;
  readonly retryable: boolean;
  /** Extra facts for logs and API replies; never secrets. */
  readonly details: Readonly<Record<string, unknown>> | undefined;

  constructor(code: ErrorCode, message: string, options: { cause?: unknown; retryable?: boolean; details?: Record<string, unknown> } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = "OtjError";
    this.code = code;
    this.retryable = options.retryable ?? ERROR_CODES[code].retryable;
    this.details = options.details;
  }

  /** The CLI exit code for this error. */
  get exitCode(): 1 | 2 {
    return ERROR_CODES[this.code].exitCode;
  }
}

export function isOtjError(value: unknown): value is OtjError {
  return value instanceof OtjError;
}

/** Wraps anything thrown into an OtjError, keeping OtjErrors as they are. */
export function toOtjError(value: unknown, fallback: ErrorCode = "OTJ_INTERNAL"): OtjError {
  if (value instanceof OtjError) return value;
  const message = value instanceof Error ? value.message : String(value);
  return new OtjError(fallback, message, { cause: value });
}
