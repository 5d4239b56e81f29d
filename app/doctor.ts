/**
 * `otj doctor`: checks a deployment from the inside, each check with its outcome and, when it
 * fails, the fix. Every check is read-only: it never writes to the calendar, the device or the
 * bridge (the bridge probe asks to stop a session id that cannot exist).
 *
 * Outcomes: `pass`; `fail` (otj cannot do its job: exit 1); `warn` (a feature that is not in use
 * would fail, or a check could not be made conclusive); `skip` (nothing to check).
 */
import { randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import type { Clock } from "../core/clock.ts";
import type { Config } from "../core/config.ts";
import { isOtjError, toOtjError } from "../core/errors.ts";
import type { DevicePusher } from "../core/ports/device-pusher.ts";
import type { Room, RoomStore } from "../core/ports/store.ts";
import type { GraphClient } from "../calendar/graph/graph-client.ts";
import { hasGraphCredentials } from "../calendar/graph/graph-from-config.ts";
import { HttpMediaBridge } from "../bridge/adapters/http-media-bridge.ts";
import type { DatabaseHandle } from "../store/create-database.ts";
import { migrationStatus } from "../store/migrate.ts";
import type { PostgresStore } from "../store/postgres-store.ts";

export type CheckOutcome = "pass" | "fail" | "warn" | "skip";

export interface DoctorCheck {
  /** Stable id, e.g. `graph.token`, `room.calendar`, `device.reachable`. */
  id: string;
  outcome: CheckOutcome;
  /** What was found, without secrets, passcodes or meeting subjects. */
  detail: string;
  /** What to do about a `fail` or `warn`. */
  fix?: string;
}

export interface DoctorReport {
  ok: boolean;
  checks: DoctorCheck[];
}

/** Application roles each feature needs (Microsoft Graph application permissions). */
export const FEATURE_ROLES = {
  calendar: ["Calendars.Read"],
  discovery: ["Place.Read.All"],
  mailIngest: ["Mail.Read"],
  graphBridge: ["Calls.JoinGroupCall.All", "Calls.JoinGroupCallAsGuest.All", "Calls.AccessMedia.All", "OnlineMeetings.Read.All"],
} as const;

export interface DoctorDeps {
  config: Config;
  cwd: string;
  clock: Clock;
  /** Opens the database (or throws); the doctor closes it. */
  openDatabase(): Promise<{ handle: DatabaseHandle; store: PostgresStore }>;
  /** The Graph client for the configured tenant (only called when Graph credentials are set). */
  graph(): GraphClient;
  pusher: DevicePusher;
}

export interface DoctorOptions {
  /** Check this room (mailbox or id) in depth: its calendar, bodies and device. */
  room?: string;
  /** How far back the body check looks (default 14 days). */
  lookbackDays?: number;
}

const TIMEOUT_MS = 15_000;

/** The `roles` claim of an access token (a JWT), or null when the token is not a readable JWT. */
export function tokenRoles(token: string): string[] | null {
  const payload = token.split(".")[1];
  if (payload === undefined) return null;
  try {
    const claims = JSON.parse(Buffer.from(payload, "base64url").toString("utf8")) as { roles?: unknown };
    return Array.isArray(claims.roles) ? claims.roles.filter((r): r is string => typeof r === "string") : [];
  } catch {
    return null;
  }
}

function describeError(error: unknown): string {
  const e = toOtjError(error);
  return `${e.code}: ${e.message}`;
}

export async function runDoctor(deps: DoctorDeps, options: DoctorOptions = {}): Promise<DoctorReport> {
  const checks: DoctorCheck[] = [{ id: "config", outcome: "pass", detail: "configuration is valid" }];
  const { config } = deps;

  // Database: reachable and migrated.
  let opened: { handle: DatabaseHandle; store: PostgresStore } | null = null;
  try {
    opened = await deps.openDatabase();
    await opened.store.ping();
    const pending = (await migrationStatus(opened.handle.db)).filter((m) => m.executedAt === null);
    checks.push(
      pending.length === 0
        ? { id: "database", outcome: "pass", detail: `${opened.handle.target.display} reachable, all migrations applied` }
        : {
            id: "database",
            outcome: "fail",
            detail: `${opened.handle.target.display}: ${pending.length} migration(s) not applied (${pending.map((m) => m.name).join(", ")})`,
            fix: "run `otj migrate` (otj run also migrates at start)",
          },
    );
  } catch (error) {
    checks.push({ id: "database", outcome: "fail", detail: describeError(error), fix: "check database.url / DATABASE_URL and that the server is up" });
  }
  try {
    const store = opened?.store ?? null;
    const rooms = store ? await store.rooms.list() : [];
    const providers = store ? await store.providers.list() : [];

    // Stored secrets need secrets.key.
    if (store) {
      const withPassword = rooms.filter((room) => room.device.hasPassword).length;
      checks.push(
        withPassword > 0 && config.secrets.key === null
          ? {
              id: "secrets.key",
              outcome: "fail",
              detail: `${withPassword} room(s) store a device password while secrets.key is unset: they are kept unencrypted (or, if they were stored with a key, otj cannot read them)`,
              fix: "set secrets.key (OTJ_SECRETS__KEY or OTJ_SECRETS__KEY_FILE, at least 16 characters), then set each password again",
            }
          : { id: "secrets.key", outcome: "pass", detail: config.secrets.key === null ? "no device password is stored" : "set" },
      );
      // SGJ-enabled providers need a SIP domain.
      const noDomain = providers.filter((p) => p.sgjEnabled && !p.sipDomain);
      checks.push(
        noDomain.length > 0
          ? {
              id: "providers.sgj",
              outcome: "fail",
              detail: `SGJ is enabled without a SIP domain for: ${noDomain.map((p) => p.name).join(", ")}`,
              fix: "otj providers set NAME --sip-domain DOMAIN (the domain the SGJ bridge answers at)",
            }
          : { id: "providers.sgj", outcome: "pass", detail: `${providers.filter((p) => p.sgjEnabled).length} SGJ provider(s), each with a SIP domain` },
      );
    }

    // Graph: a token, and the application roles it carries against the features in use.
    let graph: GraphClient | null = null;
    if (!hasGraphCredentials(config)) {
      checks.push({ id: "graph.token", outcome: "skip", detail: "Graph is not configured (graph.tenantId, graph.clientId and a secret or certificate)" });
    } else {
      try {
        graph = deps.graph();
        const token = await graph.tokens.getToken(AbortSignal.timeout(TIMEOUT_MS));
        const roles = tokenRoles(token);
        checks.push({ id: "graph.token", outcome: "pass", detail: `token obtained${roles ? `; application roles: ${roles.join(", ") || "none"}` : ""}` });
        if (roles) checks.push(...roleChecks(roles, config));
      } catch (error) {
        graph = null;
        checks.push({
          id: "graph.token",
          outcome: "fail",
          detail: describeError(error),
          fix: "check graph.tenantId, graph.clientId and graph.clientSecret (or graph.certificate), and that the secret has not expired",
        });
      }
    }

    if (options.room !== undefined) {
      const room = store ? await store.rooms.get(options.room) : null;
      if (room === null) {
        checks.push({ id: "room", outcome: "fail", detail: `no room ${options.room}`, fix: "otj rooms list shows the rooms; otj rooms add adds one" });
      } else {
        checks.push({ id: "room", outcome: "pass", detail: `${room.mailbox} (${room.device.family})` });
        if (graph) checks.push(...(await roomCalendarChecks(graph, room, deps.clock, options.lookbackDays ?? 14)));
        checks.push(await deviceCheck(deps.pusher, store!.rooms, room));
      }
    } else if (store) {
      for (const room of rooms.filter((r) => r.enabled && (r.device.family === "xapi" || r.device.family === "xapi-legacy"))) {
        checks.push(await deviceCheck(deps.pusher, store.rooms, room));
      }
    }

    checks.push(await bridgeCheck(config));
  } finally {
    await opened?.handle.close();
  }
  return { ok: checks.every((c) => c.outcome !== "fail"), checks };
}

/**
 * The roles of `wanted` that `granted` lacks; a `.ReadWrite` permission covers its `.Read`
 * (e.g. Calendars.ReadWrite covers Calendars.Read). The doctor and the engine's consent alarm
 * both decide with it.
 */
export function missingRoles(granted: readonly string[], wanted: readonly string[]): string[] {
  return wanted.filter((r) => !granted.includes(r) && !granted.includes(r.replace(/\.Read(\.All)?$/, ".ReadWrite$1")));
}

/** One check per feature: its roles, the outcome when they are missing, and the texts. */
const ROLE_CHECKS: ReadonlyArray<{
  id: string;
  roles: readonly string[];
  whenMissing: "fail" | "warn";
  granted: string;
  lacking: (missing: readonly string[]) => string;
  fix: string;
  applies?: (config: Config) => boolean;
}> = [
  {
    id: "graph.roles.calendar",
    roles: FEATURE_ROLES.calendar,
    whenMissing: "fail",
    granted: "Calendars.Read granted",
    lacking: () => "Calendars.Read is not granted",
    fix: "add the application permission Calendars.Read and grant admin consent",
  },
  {
    id: "graph.roles.discovery",
    roles: FEATURE_ROLES.discovery,
    whenMissing: "warn",
    granted: "Place.Read.All granted (otj rooms discover)",
    lacking: () => "Place.Read.All is not granted: otj rooms discover will fail",
    fix: "add Place.Read.All and grant admin consent, or map rooms by hand",
  },
  {
    id: "graph.roles.mail",
    roles: FEATURE_ROLES.mailIngest,
    whenMissing: "warn",
    granted: "Mail.Read granted (mail ingest)",
    lacking: () => "Mail.Read is not granted: mail ingest from a mailbox will fail",
    fix: "add Mail.Read (scoped by an application access policy) if you ingest forwarded invites",
  },
  {
    id: "graph.roles.bridge",
    roles: FEATURE_ROLES.graphBridge,
    whenMissing: "fail",
    granted: "calling permissions granted (Graph bridge)",
    lacking: (missing) => `bridge.adapter is graph but ${missing.join(", ")} ${missing.length === 1 ? "is" : "are"} not granted`,
    fix: "add the missing application permissions to the bot's app registration and grant admin consent",
    applies: (config) => config.bridge.adapter === "graph",
  },
];

function roleChecks(roles: readonly string[], config: Config): DoctorCheck[] {
  return ROLE_CHECKS.filter((c) => c.applies?.(config) ?? true).map((c): DoctorCheck => {
    const missing = missingRoles(roles, c.roles);
    return missing.length === 0
      ? { id: c.id, outcome: "pass", detail: c.granted }
      : { id: c.id, outcome: c.whenMissing, detail: c.lacking(missing), fix: c.fix };
  });
}

async function roomCalendarChecks(graph: GraphClient, room: Room, clock: Clock, lookbackDays: number): Promise<DoctorCheck[]> {
  const now = clock.now();
  const from = new Date(now.getTime() - lookbackDays * 86_400_000).toISOString();
  const to = new Date(now.getTime() + 7 * 86_400_000).toISOString();
  const mailbox = encodeURIComponent(room.mailbox);
  let events: Array<{ organizer?: { emailAddress?: { address?: string } }; body?: { content?: string } }>;
  try {
    const reply = await graph.get(`/users/${mailbox}/calendarView?startDateTime=${from}&endDateTime=${to}&$select=organizer,body&$top=100`, {
      signal: AbortSignal.timeout(TIMEOUT_MS),
      mailboxes: [room.mailbox],
    });
    events = ((reply.body as { value?: unknown[] } | null)?.value ?? []) as typeof events;
  } catch (error) {
    const e = toOtjError(error);
    const status = isOtjError(error) ? (e.details as { status?: number } | undefined)?.status : undefined;
    const fix =
      status === 403 || e.code === "OTJ_GRAPH_ACCESS_DENIED"
        ? `access denied: the application access policy does not include ${room.mailbox}. Add the mailbox to the policy's group, then check with: Test-ApplicationAccessPolicy -Identity ${room.mailbox} -AppId <client id>`
        : status === 404 || e.code === "OTJ_GRAPH_NOT_FOUND"
          ? `${room.mailbox} is not a mailbox in this tenant: check the address (otj rooms discover lists room mailboxes)`
          : "see docs/errors.md for the code";
    return [{ id: "room.calendar", outcome: "fail", detail: describeError(error), fix }];
  }
  const checks: DoctorCheck[] = [
    { id: "room.calendar", outcome: "pass", detail: `calendar readable: ${events.length} meeting(s) from ${lookbackDays} days ago to 7 days ahead` },
  ];
  const domain = room.mailbox.split("@")[1]?.toLowerCase() ?? "";
  const external = events.filter((e) => {
    const address = e.organizer?.emailAddress?.address?.toLowerCase() ?? "";
    return address.includes("@") && !address.endsWith(`@${domain}`);
  });
  const bodiless = external.filter((e) => (e.body?.content ?? "").replace(/<[^>]*>/g, "").trim() === "");
  if (external.length === 0) {
    checks.push({ id: "room.bodies", outcome: "skip", detail: "no meeting from an external organiser in the look-back window" });
  } else if (bodiless.length === external.length) {
    checks.push({
      id: "room.bodies",
      outcome: "fail",
      detail: `all ${external.length} meeting(s) from external organisers arrive without a body: the room strips them, so otj cannot find their join links`,
      fix: `Set-CalendarProcessing -Identity ${room.mailbox} -DeleteComments $false -DeleteSubject $false -AddOrganizerToSubject $false -ProcessExternalMeetingMessages $true`,
    });
  } else {
    checks.push({
      id: "room.bodies",
      outcome: "pass",
      detail: `${external.length - bodiless.length} of ${external.length} external meeting(s) keep their body`,
    });
  }
  return checks;
}

/**
 * A room's device reached with its credentials, read-only (the pusher's probe asks the device
 * what it is): pass, or fail with what to do. Shared by `otj doctor` and the console's
 * "Test device" action.
 */
export async function deviceCheck(
  pusher: DevicePusher,
  rooms: Pick<RoomStore, "deviceCredentials">,
  room: Room,
  signal: AbortSignal = AbortSignal.timeout(TIMEOUT_MS),
): Promise<DoctorCheck> {
  const id = `device.${room.mailbox}`;
  const family = room.device.family;
  if (family !== "xapi" && family !== "xapi-legacy") return { id, outcome: "skip", detail: `${family} devices are not reached by otj (they fetch from otj)` };
  if (!pusher.probe || !room.device.address) return { id, outcome: "skip", detail: "no address to probe" };
  try {
    const credentials = await rooms.deviceCredentials(room.id);
    const { product } = await pusher.probe(
      {
        family,
        address: room.device.address,
        username: credentials?.username ?? null,
        password: credentials?.password ?? null,
        insecureTls: room.device.insecureTls,
      },
      signal,
    );
    return { id, outcome: "pass", detail: `reachable with its credentials${product ? `: ${product}` : ""}` };
  } catch (error) {
    const code = toOtjError(error).code;
    const fix =
      code === "OTJ_DEVICE_AUTH"
        ? "the device refused the credentials: set them again with otj rooms set or the console (an admin or integrator user on the device)"
        : code === "OTJ_DEVICE_TLS"
          ? "the device's certificate is not trusted: add its CA with devices.caFile, or opt this room out of verification"
          : "check the address, the network path and that the device's HTTP(S) API is on (xConfiguration NetworkServices HTTP Mode)";
    return { id, outcome: "fail", detail: describeError(error), fix };
  }
}

/**
 * The HTTP bridge: reachable, and it accepts our token and signature. otj stops a session id that
 * cannot exist, signed as the engine signs: a conforming bridge answers 404 (or 2xx, stop being
 * idempotent); 401/403 means it refused the token or the signature.
 */
async function bridgeCheck(config: Config): Promise<DoctorCheck> {
  const bridge = config.bridge;
  if (bridge.adapter === null) return { id: "bridge", outcome: "skip", detail: "no SGJ bridge configured (bridge.adapter)" };
  if (bridge.adapter !== "http") return { id: "bridge", outcome: "skip", detail: `bridge.adapter is ${bridge.adapter}: nothing to probe over HTTP` };
  const host = new URL(bridge.http.baseUrl!).host;
  const client = new HttpMediaBridge({
    baseUrl: bridge.http.baseUrl!,
    token: bridge.http.token ?? "",
    hmacSecret: bridge.http.hmacSecret!,
    timeoutMs: TIMEOUT_MS,
    maxConnections: 1,
  });
  try {
    await client.stop(`otj-doctor-${randomUUID()}`, AbortSignal.timeout(TIMEOUT_MS));
    return { id: "bridge", outcome: "pass", detail: `${host} accepted a signed request` };
  } catch (error) {
    const e = toOtjError(error);
    return {
      id: "bridge",
      outcome: "fail",
      detail: `${host}: ${describeError(error)}`,
      fix:
        e.code === "OTJ_BRIDGE_REJECTED"
          ? "the bridge refused otj's request: check bridge.http.token and bridge.http.hmacSecret against the bridge's settings (otj bridge check runs the whole conformance suite)"
          : "check bridge.http.baseUrl and the network path to the bridge",
    };
  } finally {
    client.close();
  }
}

/** The CA file of devices.caFile, for the doctor's pusher. */
export function deviceCa(config: Config, cwd: string): string | null {
  return config.devices.caFile ? readFileSync(resolve(cwd, config.devices.caFile), "utf8") : null;
}
