/**
 * Configuration: one JSON (or JS/TS) file plus `OTJ_*` environment overrides, validated once at
 * start-up into a deeply frozen object (docs/configuration.md).
 *
 * - Every key has a default, so an empty file (or none) is a valid configuration.
 * - Environment: `OTJ_` + the key path in upper snake case with `__` between levels
 *   (`bridge.http.hmacSecret` -> `OTJ_BRIDGE__HTTP__HMAC_SECRET`); `<NAME>_FILE` reads the value
 *   from a file (for secrets). `DATABASE_URL` also sets `database.url`, below `OTJ_DATABASE__URL`.
 * - Precedence: explicit overrides (CLI flags) > environment > file > defaults.
 * - Any problem throws `OTJ_CONFIG_INVALID` (or `OTJ_CONFIG_SECRET_FILE`) naming every bad key,
 *   where it came from and what was expected; values are never echoed (they may be secrets).
 */
import { readFileSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { isIP } from "node:net";
import { extname, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import cron from "node-cron";
import { z } from "zod";
import { OtjError } from "./errors.ts";

/** Graph national clouds (docs/deploy-microsoft-365.md): default authority, service root and token scope. */
export const GRAPH_CLOUDS = {
  global: {
    authorityUrl: "https://login.microsoftonline.com",
    baseUrl: "https://graph.microsoft.com",
    scope: "https://graph.microsoft.com/.default",
  },
  gcch: {
    authorityUrl: "https://login.microsoftonline.us",
    baseUrl: "https://graph.microsoft.us",
    scope: "https://graph.microsoft.us/.default",
  },
  dod: {
    authorityUrl: "https://login.microsoftonline.us",
    baseUrl: "https://dod-graph.microsoft.us",
    scope: "https://dod-graph.microsoft.us/.default",
  },
  china: {
    authorityUrl: "https://login.chinacloudapi.cn",
    baseUrl: "https://microsoftgraph.chinacloudapi.cn",
    scope: "https://microsoftgraph.chinacloudapi.cn/.default",
  },
} as const;

export type GraphCloud = keyof typeof GRAPH_CLOUDS;

const DATABASE_URL_PATTERN = /^(postgres|postgresql):\/\/.+|^pglite:\/\/\/.+|^memory:\/\/$/;

// ---------------------------------------------------------------------------------------------
// Helpers for the schema
// ---------------------------------------------------------------------------------------------

const describe = (text: string) => ({ description: text });

function optionalString(description: string) {
  return z.string().min(1).nullable().default(null).meta(describe(description));
}

function int(min: number, max: number, fallback: number, description: string) {
  return z.number().int().min(min).max(max).default(fallback).meta(describe(description));
}

/** True for a time zone name this Node knows (IANA, e.g. `Europe/Berlin`, or `UTC`). */
function isTimeZone(value: string): boolean {
  try {
    new Intl.DateTimeFormat("en", { timeZone: value });
    return value.length > 0;
  } catch {
    return false;
  }
}

/** The shortest `http.adminToken` accepted: it is the key of the console's session cookies. */
export const ADMIN_TOKEN_MIN_LENGTH = 32;

/** Console roles, each allowed what the one before it may do and more. */
export const CONSOLE_ROLES = ["viewer", "operator", "admin"] as const;
export type ConsoleRole = (typeof CONSOLE_ROLES)[number];

/** An issuer identifier: kept exactly as given (a trailing slash is part of it). */
function oidcIssuer(description: string) {
  return z.string().refine(serviceUrlAllowed, "expected an https:// URL (http:// only on loopback)").nullable().default(null).meta(describe(description));
}

/** `10.0.0.1, 192.168.0.0/16, ::1`: addresses or CIDR ranges, IPv4 or IPv6. */
function isProxyList(value: string): boolean {
  const parts = value.split(",").map((part) => part.trim());
  return parts.every((part) => {
    const [address = "", bits, ...rest] = part.split("/");
    const family = isIP(address);
    if (family === 0 || rest.length > 0) return false;
    if (bits === undefined) return true;
    const n = Number(bits);
    return /^\d{1,3}$/.test(bits) && n <= (family === 4 ? 32 : 128);
  });
}

/** An https URL, or http on a loopback host. */
function serviceUrlAllowed(value: string): boolean {
  try {
    const url = new URL(value);
    return url.protocol === "https:" || (url.protocol === "http:" && isLoopbackHost(url.hostname));
  } catch {
    return false;
  }
}

function isLoopbackHost(hostname: string): boolean {
  const host = hostname.replace(/^\[|\]$/g, "").toLowerCase();
  return host === "localhost" || host === "::1" || /^127(\.\d{1,3}){3}$/.test(host);
}

/** An http(s) URL; `http:` only on loopback when `httpsOrLoopback` (emulators). No trailing slash. */
function serviceUrl(description: string, httpsOrLoopback: boolean) {
  return z
    .string()
    .superRefine((value, ctx) => {
      let url: URL;
      try {
        url = new URL(value);
      } catch {
        ctx.addIssue({ code: "custom", message: "expected an absolute http(s) URL" });
        return;
      }
      if (url.protocol !== "https:" && url.protocol !== "http:") {
        ctx.addIssue({ code: "custom", message: "expected an https:// URL" });
      } else if (httpsOrLoopback && url.protocol === "http:" && !isLoopbackHost(url.hostname)) {
        ctx.addIssue({ code: "custom", message: "expected an https:// URL (http:// only on loopback)" });
      }
    })
    .transform((value) => value.replace(/\/+$/, ""))
    .nullable()
    .default(null)
    .meta(describe(description));
}

// ---------------------------------------------------------------------------------------------
// The schema
// ---------------------------------------------------------------------------------------------

const configSchema = z
  .strictObject({
    database: z
      .strictObject({
        url: z
          .string()
          .regex(DATABASE_URL_PATTERN, "expected postgres://…, postgresql://…, pglite:///absolute/dir or memory://")
          .nullable()
          .default(null)
          .meta(describe("PostgreSQL URL, `pglite:///abs/dir` or `memory://`; unset means embedded PGlite in ./.otj/db. Also `DATABASE_URL`.")),
        poolSize: int(1, 200, 10, "Most connections the PostgreSQL pool opens."),
      })
      .prefault({}),
    graph: z
      .strictObject({
        tenantId: optionalString("Tenant GUID or verified domain of the room mailboxes (never `common`)."),
        clientId: optionalString("Application (client) id of the app registration."),
        clientSecret: optionalString("Client secret (secret; or use graph.certificate)."),
        certificate: z
          .strictObject({
            path: optionalString("PEM file holding the certificate and its private key."),
            thumbprint: optionalString("SHA-1 thumbprint of the certificate (hex)."),
          })
          .prefault({}),
        cloud: z.enum(["global", "gcch", "dod", "china"]).default("global").meta(describe("National cloud: global, gcch, dod or china.")),
        baseUrl: serviceUrl("Graph service root without /v1.0; default from graph.cloud. http:// only on loopback.", true),
        authorityUrl: serviceUrl("Token authority; default from graph.cloud. http:// only on loopback.", true),
        notifications: z
          .strictObject({
            enabled: z.boolean().default(false).meta(describe("Subscribe to change notifications (needs an https http.publicUrl).")),
          })
          .prefault({}),
      })
      .prefault({}),
    ews: z
      .strictObject({
        url: serviceUrl("EWS endpoint of Exchange Server, e.g. https://mail.contoso.example/EWS/Exchange.asmx; http:// only on loopback.", true),
        username: optionalString("Service account (DOMAIN\\user or UPN); the app's client id for ews.auth oauth."),
        password: optionalString("Service account password (secret); the client secret for ews.auth oauth."),
        auth: z.enum(["basic", "ntlm", "oauth"]).default("basic").meta(describe("EWS authentication: basic, ntlm or oauth (client credentials).")),
        impersonation: z.boolean().default(true).meta(describe("Open room calendars with ExchangeImpersonation (else delegate access).")),
        caFile: optionalString("Extra CA certificate (PEM) trusted for the EWS server's TLS."),
        tokenUrl: serviceUrl("OAuth token endpoint for ews.auth oauth (hybrid); http:// only on loopback.", true),
      })
      .prefault({}),
    google: z
      .strictObject({
        serviceAccountKeyFile: optionalString("JSON key file of the Google service account with domain-wide delegation (or google.serviceAccountKey)."),
        serviceAccountKey: optionalString("The service account's JSON key itself (secret; `_FILE` form as for other secrets)."),
        subject: optionalString("Workspace user the service account impersonates (an administrator who may read the resource calendars)."),
        apiRoot: serviceUrl("Root of the Google APIs (calendar, directory); default https://www.googleapis.com. http:// only on loopback.", true),
        tokenUrl: serviceUrl("OAuth token endpoint; default https://oauth2.googleapis.com/token. http:// only on loopback.", true),
        dailyRequestBudget: int(
          1,
          1_000_000_000,
          900_000,
          "Most Google API requests per UTC day, for all engine instances on one database together; past it rooms wait for the next day.",
        ),
        notifications: z
          .strictObject({
            enabled: z
              .boolean()
              .default(false)
              .meta(
                describe("Open events.watch channels so Google notifies changes at {http.publicUrl}/v1/notifications/google (needs an https http.publicUrl)."),
              ),
          })
          .prefault({}),
      })
      .prefault({}),
    http: z
      .strictObject({
        host: z.string().min(1).default("0.0.0.0").meta(describe("Address the HTTP API listens on.")),
        port: int(0, 65535, 8080, "Port of the HTTP API; 0 picks a free port (logged as `listening`)."),
        adminToken: z
          .string()
          .min(ADMIN_TOKEN_MIN_LENGTH, `expected at least ${ADMIN_TOKEN_MIN_LENGTH} characters`)
          .nullable()
          .default(null)
          .meta(describe(`Bearer token of the admin routes (secret, at least ${ADMIN_TOKEN_MIN_LENGTH} characters); unset means admin routes answer 401.`)),
        publicUrl: serviceUrl("URL others reach otj at (callbacks, notifications); unset means http://127.0.0.1:{port}.", false),
        trustProxy: z
          .string()
          .refine(isProxyList, "expected IP addresses or CIDR ranges separated by commas")
          .nullable()
          .default(null)
          .meta(describe("Reverse proxies whose X-Forwarded-For is believed (IPs or CIDRs, comma-separated); unset trusts none.")),
        requestTimeoutSeconds: int(1, 3_600, 30, "Seconds a whole request (headers and body) may take; slower ones are closed."),
        headersTimeoutSeconds: int(1, 600, 10, "Seconds a client may take to send the request headers (at most requestTimeoutSeconds)."),
        keepAliveTimeoutSeconds: int(1, 600, 5, "Seconds an idle keep-alive connection stays open."),
        maxHeaderBytes: int(1_024, 65_536, 16_384, "Largest request header section in bytes (431 beyond)."),
        maxConnections: int(1, 100_000, 1_000, "Most open connections; the server drops further ones at once."),
        metricsToken: optionalString("Bearer token GET /metrics requires (secret); unset means /metrics is open."),
        ewsRateLimit: int(1, 10_000, 60, "Requests per rolling minute per ews device on the EWS feed (a device's poll is several requests)."),
        ewsDialStringIn: z
          .enum(["location", "body"])
          .default("location")
          .meta(describe("Where the EWS feed puts the dial string: location (Location and the body's join block) or body (the join block only).")),
        timeZone: z
          .string()
          .refine(isTimeZone, "expected an IANA time zone such as Europe/Berlin")
          .default("UTC")
          .meta(describe("Time zone the console's reports count days in and show times in, unless the page asks for another.")),
        oidc: z
          .strictObject({
            issuer: oidcIssuer("OpenID Connect issuer of the console's named sign-in (https; http:// only on loopback); unset: admin token only."),
            clientId: optionalString("Client id of otj at the OpenID provider (redirect URI {http.publicUrl}/admin/oidc/callback)."),
            clientSecret: optionalString("Client secret at the OpenID provider (secret); unset: a public client (PKCE only)."),
            rolesClaim: z.string().min(1).default("roles").meta(describe("ID token claim holding the user's app roles or groups (a string or a list).")),
            roles: z
              .record(z.string().min(1), z.enum(CONSOLE_ROLES))
              .default({})
              .meta(describe("Claim value (app role or group id) -> console role viewer, operator or admin; the highest match wins, none: refused.")),
          })
          .prefault({}),
      })
      .prefault({}),
    alarms: z
      .strictObject({
        pollFailuresBeforeAlarm: int(
          1,
          1_000,
          3,
          "Failed poll rounds in a row (retryable errors) before a room's poll alarm is raised; also failed change-notification subscriptions (or channels) in a row before OTJ_NOTIFICATIONS_FAILING.",
        ),
        pushFailuresBeforeAlarm: int(1, 1_000, 3, "Failed device pushes in a row (retryable errors) before a room's device alarm is raised."),
        ewsFetchStaleMinutes: int(
          0,
          100_000,
          60,
          "Minutes an ews room's device may go without reading the EWS feed before its alarm is raised; 0 turns the alarm off.",
        ),
        pullStaleMinutes: int(1, 10_080, 30, "Minutes a pulling device (pull, macro) may go without fetching before its alarm is raised."),
      })
      .prefault({}),
    alerts: z
      .strictObject({
        webhook: z
          .strictObject({
            url: serviceUrl("URL that receives a signed JSON POST when an alarm is raised or cleared. http:// only on loopback.", true),
            secret: optionalString("HMAC-SHA256 key of the webhook's X-Otj-Signature header (secret)."),
          })
          .prefault({}),
        teams: z
          .strictObject({
            url: serviceUrl(
              "Microsoft Teams Workflows webhook URL that receives an Adaptive Card per raise and clear (secret: the URL is the credential).",
              true,
            ),
          })
          .prefault({}),
        smtp: z
          .strictObject({
            host: optionalString("SMTP server that sends alarm e-mail; unset means no e-mail."),
            port: int(1, 65_535, 587, "SMTP port."),
            secure: z.boolean().default(false).meta(describe("TLS from the first byte (port 465); false uses STARTTLS when the server offers it.")),
            user: optionalString("SMTP user name."),
            password: optionalString("SMTP password (secret)."),
            from: optionalString("Sender address of alarm e-mail."),
            to: optionalString("Recipients of alarm e-mail, comma-separated."),
          })
          .prefault({}),
        maxAttempts: int(1, 20, 5, "Attempts per notification and channel before it is given up (visible as a failed delivery)."),
        retryBaseSeconds: int(1, 3_600, 10, "Seconds before the first retry of a notification; each retry waits twice as long."),
      })
      .prefault({}),
    retention: z
      .strictObject({
        bridgeSessionsDays: int(1, 3_650, 30, "Days a finished bridge session is kept after its last change."),
        eventLogDays: int(1, 3_650, 90, "Days an event log entry is kept."),
        meetingsDays: int(32, 3_650, 90, "Days a meeting is kept after its end (at least 32: longer than any poll window)."),
        alarmsDays: int(1, 3_650, 90, "Days a cleared alarm is kept in the alarm history after it cleared (open alarms are always kept)."),
        schedule: z
          .string()
          .refine((value) => cron.validate(value), { message: "expected a cron expression (node-cron)" })
          .default("0 17 3 * * *")
          .meta(describe("When the prune runs (node-cron expression, local time); one instance prunes at a time.")),
      })
      .prefault({}),
    poll: z
      .strictObject({
        intervalSeconds: int(1, 86_400, 60, "Seconds between poll rounds of a room."),
        windowPastHours: int(0, 24 * 31, 24, "Hours before now the calendar window starts."),
        windowFutureDays: int(1, 365, 7, "Days after now the calendar window ends."),
        maxInFlightPerMailbox: int(1, 32, 4, "Graph requests in flight per mailbox (Graph allows 4)."),
        maxInFlight: int(1, 10_000, 50, "Graph requests in flight in total."),
        maxPagesPerRound: int(1, 100_000, 500, "Delta pages per round before the round is abandoned."),
        roundBudgetSeconds: int(1, 3_600, 120, "Time budget of one delta round."),
      })
      .prefault({}),
    join: z
      .strictObject({
        startBufferMinutes: int(0, 180, 5, "Minutes before the start the join button shows."),
        endBufferMinutes: int(0, 180, 0, "Minutes after the end the join button stays."),
        // Each rule is checked (regex safety, placeholders, ids) by join/rules.ts compileRules at
        // start-up, which names the rule; here only its container shape.
        rules: z
          .array(z.record(z.string(), z.unknown()))
          .default([])
          .meta(describe("Custom routing rules (docs/formats.md), checked at start-up; a JSON array in the environment.")),
      })
      .prefault({}),
    bridge: z
      .strictObject({
        adapter: z
          .enum(["graph", "http", "emulator"])
          .nullable()
          .default(null)
          .meta(describe("SGJ media bridge: graph, http or emulator; unset means SGJ sessions fail with OTJ_BRIDGE_NOT_CONFIGURED.")),
        leadSeconds: int(0, 3_600, 120, "Seconds before the start the bridge joins."),
        lobbyTimeoutSeconds: int(1, 86_400, 900, "Seconds in the lobby before otj gives up."),
        lateStartSeconds: int(0, 86_400, 300, "Seconds after the start a first-seen session may still start."),
        endGraceSeconds: int(0, 86_400, 0, "Seconds after end + end buffer the bridge stays."),
        maxStartsInFlight: int(1, 1_000, 64, "Start requests in flight at once per instance when many sessions start together."),
        sendAheadSeconds: int(0, 60, 2, "Seconds before notBefore an http bridge's start request leaves (the bridge waits until notBefore); 0: at notBefore."),
        http: z
          .strictObject({
            baseUrl: serviceUrl("Base URL of the HTTP bridge (docs/bridge-protocol.md).", false),
            token: optionalString("Bearer token sent to the HTTP bridge (secret)."),
            hmacSecret: optionalString("HMAC-SHA256 secret of requests and callbacks (secret)."),
          })
          .prefault({}),
        graph: z
          .strictObject({
            jwtIssuer: optionalString("Expected issuer of Graph call notification JWTs."),
            openIdConfigUrl: serviceUrl("OpenID configuration URL giving the JWT signing keys.", true),
          })
          .prefault({}),
      })
      .prefault({}),
    devices: z
      .strictObject({
        caFile: optionalString("Extra CA certificate (PEM) trusted for device TLS."),
        webex: z.strictObject({ token: optionalString("Webex cloud xAPI token (secret).") }).prefault({}),
        webrtcBookings: z
          .boolean()
          .default(false)
          .meta(describe("Push route webrtc bookings with Protocol WebRTC, MeetingPlatform and the join URL (unconfirmed that RoomOS accepts them).")),
      })
      .prefault({}),
    shutdown: z.strictObject({ graceSeconds: int(0, 3_600, 10, "Seconds otj run takes to drain on SIGTERM/SIGINT.") }).prefault({}),
    secrets: z
      .strictObject({
        key: z
          .string()
          .min(16, "expected at least 16 characters")
          .nullable()
          .default(null)
          .meta(describe("When set, device passwords and tokens are stored encrypted with it (secret).")),
      })
      .prefault({}),
    log: z
      .strictObject({
        level: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).default("info").meta(describe("Log level.")),
      })
      .prefault({}),
  })
  .superRefine((config, ctx) => {
    const cert = config.graph.certificate;
    if ((cert.path === null) !== (cert.thumbprint === null)) {
      ctx.addIssue({ code: "custom", path: ["graph", "certificate"], message: "expected both path and thumbprint, or neither" });
    }
    if (config.graph.notifications.enabled && !config.http.publicUrl?.startsWith("https://")) {
      ctx.addIssue({
        code: "custom",
        path: ["graph", "notifications", "enabled"],
        message: "change notifications need an https:// http.publicUrl",
      });
    }
    // Google only calls https addresses; an unset publicUrl (http://127.0.0.1) serves the emulators.
    const publicUrl = config.http.publicUrl;
    if (config.google.notifications.enabled && publicUrl !== null && !serviceUrlAllowed(publicUrl)) {
      ctx.addIssue({ code: "custom", path: ["google", "notifications", "enabled"], message: "change notifications need an https:// http.publicUrl" });
    }
    if (config.http.headersTimeoutSeconds > config.http.requestTimeoutSeconds) {
      ctx.addIssue({ code: "custom", path: ["http", "headersTimeoutSeconds"], message: "expected at most http.requestTimeoutSeconds" });
    }
    if (config.alerts.webhook.url !== null && config.alerts.webhook.secret === null) {
      ctx.addIssue({ code: "custom", path: ["alerts", "webhook", "secret"], message: "required when alerts.webhook.url is set (the body is signed)" });
    }
    if (config.alerts.smtp.host !== null) {
      for (const key of ["from", "to"] as const) {
        if (config.alerts.smtp[key] === null) ctx.addIssue({ code: "custom", path: ["alerts", "smtp", key], message: "required when alerts.smtp.host is set" });
      }
    }
    if (config.bridge.adapter === "http") {
      for (const key of ["baseUrl", "hmacSecret"] as const) {
        if (config.bridge.http[key] === null) {
          ctx.addIssue({ code: "custom", path: ["bridge", "http", key], message: 'required when bridge.adapter is "http"' });
        }
      }
    }
  })
  .transform((config) => {
    const cloud = GRAPH_CLOUDS[config.graph.cloud];
    return {
      ...config,
      graph: {
        ...config.graph,
        baseUrl: config.graph.baseUrl ?? cloud.baseUrl,
        authorityUrl: config.graph.authorityUrl ?? cloud.authorityUrl,
      },
    };
  });

type DeepReadonly<T> = T extends (infer U)[] ? readonly DeepReadonly<U>[] : T extends object ? { readonly [K in keyof T]: DeepReadonly<T[K]> } : T;

/** The validated, frozen configuration. Components receive only their slice of it. */
export type Config = DeepReadonly<z.output<typeof configSchema>>;

// ---------------------------------------------------------------------------------------------
// Key catalogue (for the environment, unknown-key suggestions and docs/configuration.md)
// ---------------------------------------------------------------------------------------------

type ValueKind = "string" | "number" | "boolean" | "json";

/** One configuration key, as docs/configuration.md lists it. */
export interface ConfigKey {
  /** Dotted path, e.g. `bridge.http.hmacSecret`. */
  path: string;
  /** Environment variable, e.g. `OTJ_BRIDGE__HTTP__HMAC_SECRET`. */
  env: string;
  /** The default (null: unset). */
  defaultValue: unknown;
  description: string;
  kind: ValueKind;
}

interface JsonSchemaNode {
  type?: string;
  properties?: Record<string, JsonSchemaNode>;
  anyOf?: JsonSchemaNode[];
  default?: unknown;
  description?: string;
}

function upperSnake(segment: string): string {
  return segment.replace(/([a-z0-9])([A-Z])/g, "$1_$2").toUpperCase();
}

/** The environment variable of a key path (`bridge.http.hmacSecret` -> `OTJ_BRIDGE__HTTP__HMAC_SECRET`). */
export function envNameOf(path: string): string {
  return `OTJ_${path.split(".").map(upperSnake).join("__")}`;
}

let catalogue: { keys: ConfigKey[]; objects: Map<string, string[]> } | undefined;

function buildCatalogue(): { keys: ConfigKey[]; objects: Map<string, string[]> } {
  const root = z.toJSONSchema(configSchema, { io: "input", unrepresentable: "any" }) as JsonSchemaNode;
  const keys: ConfigKey[] = [];
  const objects = new Map<string, string[]>();
  const kindOf = (node: JsonSchemaNode): ValueKind => {
    const types = [node.type, ...(node.anyOf ?? []).map((n) => n.type)].filter((t) => t !== undefined && t !== "null");
    if (types.includes("integer") || types.includes("number")) return "number";
    if (types.includes("boolean")) return "boolean";
    if (types.includes("array") || types.includes("object")) return "json";
    return "string";
  };
  const walk = (node: JsonSchemaNode, prefix: string[]): void => {
    const props = node.properties ?? {};
    objects.set(prefix.join("."), Object.keys(props));
    for (const [name, child] of Object.entries(props)) {
      const path = [...prefix, name];
      if (child.type === "object" && child.properties) {
        walk(child, path);
      } else {
        const dotted = path.join(".");
        keys.push({
          path: dotted,
          env: envNameOf(dotted),
          defaultValue: child.default === undefined ? null : child.default,
          description: child.description ?? "",
          kind: kindOf(child),
        });
      }
    }
  };
  walk(root, []);
  return { keys, objects };
}

function getCatalogue(): { keys: ConfigKey[]; objects: Map<string, string[]> } {
  catalogue ??= buildCatalogue();
  return catalogue;
}

/** Every configuration key with its environment variable and default, in schema order. */
export function configKeys(): readonly ConfigKey[] {
  return getCatalogue().keys;
}

// ---------------------------------------------------------------------------------------------
// Loading
// ---------------------------------------------------------------------------------------------

export interface ResolveConfigOptions {
  /** The environment (only `OTJ_*`, `DATABASE_URL` and `OTJ_CONFIG` are read). */
  env: Readonly<Record<string, string | undefined>>;
  /** Base for relative `_FILE` paths. */
  cwd: string;
  /** Where the file value came from, for messages (e.g. the file's path). */
  source?: string;
  /** Values that win over everything else (CLI flags). */
  overrides?: { databaseUrl?: string | undefined };
}

export interface LoadConfigOptions extends ResolveConfigOptions {
  /** The configuration file (JSON, or a JS/TS module with a default export); else `OTJ_CONFIG`. */
  file?: string | undefined;
}

/** Reads the configuration file (if any) and resolves it with the environment. */
export async function loadConfig(options: LoadConfigOptions): Promise<Config> {
  const file = options.file ?? options.env["OTJ_CONFIG"];
  if (file === undefined || file === "") return resolveConfig({}, options);
  const path = resolve(options.cwd, file);
  return resolveConfig(await readConfigFile(path), { ...options, source: file });
}

async function readConfigFile(path: string): Promise<unknown> {
  const extension = extname(path).toLowerCase();
  if ([".js", ".mjs", ".cjs", ".ts", ".mts"].includes(extension)) {
    try {
      const module = (await import(pathToFileURL(path).href)) as { default?: unknown };
      return module.default;
    } catch (error) {
      throw new OtjError("OTJ_CONFIG_INVALID", `cannot load configuration module ${path}: ${(error as Error).message}`, { cause: error });
    }
  }
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (error) {
    throw new OtjError("OTJ_CONFIG_INVALID", `cannot read configuration file ${path}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`, {
      cause: error,
    });
  }
  const json = text.replace(/^\uFEFF/, "");
  try {
    return JSON.parse(json);
  } catch (error) {
    // V8's message may quote the file around the error, and the file may hold secrets: name the
    // place only (and the reason when V8 states it without quoting).
    const { line, column } = lineAndColumn(json, jsonSyntaxErrorOffset(json));
    const stated = /^([^"']*) in JSON at position \d+/.exec((error as Error).message)?.[1];
    const reason = stated ?? (/Unexpected end/.test((error as Error).message) ? "unexpected end of input" : "unexpected character");
    throw new OtjError("OTJ_CONFIG_INVALID", `configuration file ${path} is not valid JSON at line ${line}, column ${column}: ${reason}`);
  }
}

/** The offset of the first JSON syntax error in `text` (text.length when it ends too early). */
function jsonSyntaxErrorOffset(text: string): number {
  let i = 0;
  const space = () => {
    while (i < text.length && " \t\n\r".includes(text[i] ?? "")) i++;
  };
  const fail = (): never => {
    throw i;
  };
  const string = () => {
    i++;
    while (i < text.length) {
      const c = text.charCodeAt(i);
      if (c === 0x22) {
        i++;
        return;
      }
      if (c < 0x20) fail();
      if (c === 0x5c) {
        const e = text[i + 1] ?? "";
        if (e === "u") {
          if (!/^[0-9a-fA-F]{4}$/.test(text.slice(i + 2, i + 6))) fail();
          i += 6;
        } else if ('"\\/bfnrt'.includes(e) && e !== "") i += 2;
        else {
          i++;
          fail();
        }
      } else i++;
    }
    fail();
  };
  const value = (depth: number): void => {
    space();
    if (depth > 512) fail();
    const c = text[i];
    if (c === "{" || c === "[") {
      const close = c === "{" ? "}" : "]";
      i++;
      space();
      if (text[i] === close) {
        i++;
        return;
      }
      for (;;) {
        if (c === "{") {
          space();
          if (text[i] !== '"') fail();
          string();
          space();
          if (text[i] !== ":") fail();
          i++;
        }
        value(depth + 1);
        space();
        if (text[i] === ",") i++;
        else if (text[i] === close) {
          i++;
          return;
        } else fail();
      }
    }
    if (c === '"') {
      string();
      return;
    }
    const literal = /^(?:true|false|null|-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?)/.exec(text.slice(i, i + 400));
    if (literal === null) {
      fail();
      return;
    }
    i += literal[0].length;
  };
  try {
    value(0);
    space();
    if (i < text.length) fail();
    return text.length;
  } catch (at) {
    if (typeof at === "number") return at;
    throw at;
  }
}

/** 1-based line and column (in UTF-16 units) of an offset. */
function lineAndColumn(text: string, offset: number): { line: number; column: number } {
  const before = text.slice(0, offset);
  const lines = before.split(/\r\n|\n|\r/);
  return { line: lines.length, column: (lines[lines.length - 1]?.length ?? 0) + 1 };
}

interface Origin {
  path: string[];
  source: string;
}

function setPath(target: Record<string, unknown>, path: string[], value: unknown): void {
  let node = target;
  for (const segment of path.slice(0, -1)) {
    const next = node[segment];
    if (typeof next !== "object" || next === null || Array.isArray(next)) node[segment] = {};
    node = node[segment] as Record<string, unknown>;
  }
  node[path[path.length - 1] ?? ""] = value;
}

function parseEnvValue(key: ConfigKey, raw: string, source: string): unknown {
  switch (key.kind) {
    case "number": {
      const value = Number(raw.trim());
      if (raw.trim() === "" || !Number.isFinite(value)) {
        throw invalid([`${key.path} (from ${source}): expected a number`]);
      }
      return value;
    }
    case "boolean": {
      const value = raw.trim().toLowerCase();
      if (["true", "1", "yes", "on"].includes(value)) return true;
      if (["false", "0", "no", "off"].includes(value)) return false;
      throw invalid([`${key.path} (from ${source}): expected true or false`]);
    }
    case "json":
      try {
        return JSON.parse(raw);
      } catch {
        throw invalid([`${key.path} (from ${source}): expected JSON`]);
      }
    default:
      return raw;
  }
}

function readSecretFile(variable: string, file: string, cwd: string): string {
  try {
    return readFileSync(resolve(cwd, file), "utf8").replace(/\r?\n$/, "");
  } catch (error) {
    throw new OtjError(
      "OTJ_CONFIG_SECRET_FILE",
      `${variable} names ${file}, which cannot be read (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`,
      { cause: error },
    );
  }
}

function invalid(problems: string[], source?: string): OtjError {
  const where = source === undefined ? "" : ` (${source})`;
  return new OtjError("OTJ_CONFIG_INVALID", `invalid configuration${where}:\n  - ${problems.join("\n  - ")}`, {
    details: { problems },
  });
}

function closest(word: string, candidates: readonly string[]): string | null {
  const distance = (a: string, b: string): number => {
    const row = Array.from({ length: b.length + 1 }, (_, i) => i);
    for (let i = 1; i <= a.length; i++) {
      let previous = row[0] ?? 0;
      row[0] = i;
      for (let j = 1; j <= b.length; j++) {
        const current = row[j] ?? 0;
        row[j] = Math.min((row[j] ?? 0) + 1, (row[j - 1] ?? 0) + 1, previous + (a[i - 1]?.toLowerCase() === b[j - 1]?.toLowerCase() ? 0 : 1));
        previous = current;
      }
    }
    return row[b.length] ?? Number.POSITIVE_INFINITY;
  };
  let best: string | null = null;
  let bestDistance = Math.max(2, Math.floor(word.length / 3)) + 1;
  for (const candidate of candidates) {
    const d = distance(word, candidate);
    if (d < bestDistance) {
      best = candidate;
      bestDistance = d;
    }
  }
  return best;
}

/** Collects environment values by key path, and the variables that name no key. */
function readEnvironment(options: ResolveConfigOptions): { values: Array<{ key: ConfigKey; value: unknown; source: string }>; unknown: string[] } {
  const { keys } = getCatalogue();
  const byEnv = new Map(keys.map((key) => [key.env, key]));
  const chosen = new Map<string, { key: ConfigKey; value: unknown; source: string }>();
  const unknown: string[] = [];
  const env = options.env;
  const databaseUrlKey = byEnv.get("OTJ_DATABASE__URL");
  if (databaseUrlKey && env["DATABASE_URL"]) {
    chosen.set(databaseUrlKey.path, { key: databaseUrlKey, value: env["DATABASE_URL"], source: "DATABASE_URL" });
  }
  const names = Object.keys(env)
    .filter((name) => name.startsWith("OTJ_"))
    .sort();
  for (const name of names) {
    const raw = env[name];
    if (raw === undefined || raw === "") continue;
    const direct = byEnv.get(name);
    const viaFile = name.endsWith("_FILE") ? byEnv.get(name.slice(0, -"_FILE".length)) : undefined;
    if (direct) {
      if (env[`${name}_FILE`]) throw invalid([`both ${name} and ${name}_FILE are set; set only one`]);
      chosen.set(direct.path, { key: direct, value: parseEnvValue(direct, raw, name), source: name });
    } else if (viaFile) {
      const text = readSecretFile(name, raw, options.cwd);
      chosen.set(viaFile.path, { key: viaFile, value: parseEnvValue(viaFile, text, name), source: name });
    } else if (name.includes("__")) {
      unknown.push(name);
    }
  }
  return { values: [...chosen.values()], unknown };
}

function describeIssue(issue: z.core.$ZodIssue, origins: Origin[], fileSource: string | undefined): string[] {
  const path = issue.path.map(String);
  const originOf = (p: string[]): string | undefined => {
    const hit = origins.find((o) => o.path.length <= p.length && o.path.every((segment, i) => segment === p[i]));
    return hit?.source ?? fileSource;
  };
  const label = (p: string[]): string => {
    const source = originOf(p);
    const name = p.length === 0 ? "(top level)" : p.join(".");
    // The file is named once in the message's first line; only other origins are named per key.
    return source === undefined || source === fileSource ? name : `${name} (from ${source})`;
  };
  if (issue.code === "unrecognized_keys") {
    const siblings = getCatalogue().objects.get(path.join(".")) ?? [];
    return issue.keys.map((key) => {
      const suggestion = closest(key, siblings);
      const hint = suggestion === null ? "" : ` (did you mean ${[...path, suggestion].join(".")}?)`;
      return `${label([...path, key])}: unknown key${hint}`;
    });
  }
  const message = issue.message.replace(/^Invalid input: /, "").replace(/^Too (small|big): /, "");
  return [`${label(path)}: ${message}`];
}

/**
 * Validates a configuration value (the parsed file, `{}` for none) with the environment and
 * overrides applied, and returns it deeply frozen. Throws OTJ_CONFIG_INVALID naming each problem.
 */
export function resolveConfig(fileValue: unknown, options: ResolveConfigOptions): Config {
  const source = options.source;
  if (fileValue === undefined || fileValue === null) fileValue = {};
  if (typeof fileValue !== "object" || Array.isArray(fileValue)) {
    throw invalid(["expected a JSON object at the top level"], source);
  }
  const merged = structuredClone(fileValue) as Record<string, unknown>;
  const origins: Origin[] = [];
  const environment = readEnvironment(options);
  if (environment.unknown.length > 0) {
    const names = getCatalogue().keys.map((key) => key.env);
    throw invalid(
      environment.unknown.map((name) => {
        const suggestion = closest(name, names);
        return `${name}: unknown configuration variable${suggestion === null ? "" : ` (did you mean ${suggestion}?)`}`;
      }),
    );
  }
  for (const { key, value, source: from } of environment.values) {
    const path = key.path.split(".");
    setPath(merged, path, value);
    origins.push({ path, source: from });
  }
  if (options.overrides?.databaseUrl !== undefined) {
    setPath(merged, ["database", "url"], options.overrides.databaseUrl);
    origins.push({ path: ["database", "url"], source: "--database-url" });
  }
  const parsed = configSchema.safeParse(merged);
  if (!parsed.success) {
    throw invalid(
      parsed.error.issues.flatMap((issue) => describeIssue(issue, origins, source)),
      source,
    );
  }
  return deepFreeze(parsed.data) as Config;
}

function deepFreeze<T>(value: T): T {
  if (typeof value === "object" && value !== null && !Object.isFrozen(value)) {
    for (const child of Object.values(value)) deepFreeze(child);
    Object.freeze(value);
  }
  return value;
}

/** `http.publicUrl`, or `http://127.0.0.1:{port}` with the port the server actually listens on. */
export function publicUrlOf(http: Config["http"], listeningPort: number): string {
  return http.publicUrl ?? `http://127.0.0.1:${listeningPort}`;
}
