/**
 * A Microsoft Graph emulator for tests, the demo and benchmarks: a real
 * HTTP server on loopback that speaks the parts of Graph otj uses, the way Graph speaks them,
 * with fault knobs and request counters.
 *
 * Routes: the client-credentials token endpoint; `calendarView` (and its `/calendar/` and
 * `/calendars/{id}/` forms) with `$top/$skip/$select`; `calendarView/delta` with signed opaque
 * tokens encoding the window and cursor; `/events`, `/events/{id}`, `/events/{id}/instances`;
 * Places rooms and room lists (no nextLink, `$top/$skip/$count`); `$batch` (≤ 20 items, relative
 * URLs, per-item status, at most 4 items at a time, `dependsOn` → 424); `/_emulator/*` control.
 * Links are written on `publicRoot` (default `https://graph.microsoft.com`).
 *
 * Also `/users/{id}/messages` with `$value` MIME and file attachments, and `/subscriptions` with
 * the validation handshake, change and lifecycle notifications; and `/communications/calls` with a
 * lobby model and JWT-signed call notifications (calls.ts).
 *
 * Routing: `/_emulator/*` control and the token endpoint first, then one route table for `/v1.0/`
 * (method + path pattern -> handler, emulators/shared/route-table.ts) on paths with their aliases
 * removed; bodies are read by the emulators' one reader (emulators/shared/request-body.ts).
 *
 * Size (over 400 lines, on purpose for now): this class owns the emulated tenant's state
 * (mailboxes, counters, faults, quotas, subscriptions) in private fields that every handler reads;
 * what needs none of it already lives beside it (calendar model, event JSON, delta tokens,
 * messages, subscriptions hub, calls, faults). The next cut is the token endpoint and the
 * subscription handlers, each with the state it needs passed in.
 */

import { randomBytes, randomUUID, X509Certificate } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { setTimeout as delay } from "node:timers/promises";
import { parseJson, readBodyOr413 } from "../shared/request-body.ts";
import { matchPattern, RouteTable } from "../shared/route-table.ts";
import { CallsEmulator } from "./calls.ts";
import { checkClientAssertion } from "./client-assertion.ts";
import { DeltaTokenCodec, type DeltaTokenState } from "./delta-token.ts";
import { type EmuRequest, type EmuResponse, graphError, json, parsePrefer } from "./emulator-http.ts";
import { renderEvent, renderMaster, type RenderOptions } from "./event-json.ts";
import { DEFAULT_ERROR_CODES, type FaultHandle, FaultPlan, type FaultRule, type RouteKind } from "./fault-plan.ts";
import { parseQueryInstant, resolveZone } from "./graph-time.ts";
import { type MessageInput, messageFilter, renderAttachment, renderMessage, type StoredMessage, storeMessage } from "./mailbox-messages.ts";
import { type Delivery, type LifecycleEvent, MAX_LIFETIME_MS, type Subscription, SubscriptionHub } from "./subscription-hub.ts";
import {
  type EventInput,
  type EventPatch,
  IdFactory,
  MailboxCalendar,
  occurrenceIdOf,
  type RecurrenceInput,
  type RoomProcessing,
  type SeriesInput,
} from "./mailbox-calendar.ts";

export type { DayOfWeek, EventInput, EventPatch, RecurrenceInput, RoomProcessing, SeriesInput } from "./mailbox-calendar.ts";
export type { FaultHandle, FaultRule, RouteKind } from "./fault-plan.ts";
export type { AttachmentInput, MeetingMessageType, MessageInput } from "./mailbox-messages.ts";
export type { Delivery, LifecycleEvent, Subscription } from "./subscription-hub.ts";
export type { CallLobbyPlan, CallsKnobs, EmulatedCall } from "./calls.ts";

export interface EmulatorClock {
  now(): Date;
  /** When present (a test's fake clock), the calls lobby model runs its timers on it. */
  setTimer?(at: Date, callback: () => void): () => void;
}

/** Every application permission otj can use (see docs/deploy-microsoft-365.md). */
export const ALL_APPLICATION_ROLES: readonly string[] = [
  "Calendars.Read",
  "Place.Read.All",
  "Mail.Read",
  "Calls.JoinGroupCall.All",
  "Calls.JoinGroupCallAsGuest.All",
  "Calls.AccessMedia.All",
  "OnlineMeetings.Read.All",
];

export interface GraphEmulatorOptions {
  /** Default `c0ffee00-1111-2222-3333-444455556666`. */
  tenantId?: string;
  /** Verified domains: accepted in the token URL; organisers outside them are external. Default `contoso.example`. */
  tenantDomains?: string[];
  clientId?: string;
  clientSecret?: string;
  /** PEM certificate registered for the app: client assertions signed by its key are accepted. */
  clientCertificate?: string;
  /** The root links are written on; also the token audience (`{publicRoot}/.default`). */
  publicRoot?: string;
  /** Default 3599. */
  tokenLifetimeSeconds?: number;
  /**
   * Application roles (permissions granted with admin consent) written into the access token's
   * `roles` claim. Default: every permission otj uses. Changeable later through `setRoles`.
   */
  roles?: readonly string[];
  /** Default: the wall clock. Drives token expiry, quotas and timestamps (never latency). */
  clock?: EmulatorClock;
  /** Makes ids deterministic. */
  seed?: string;
  /** Graph's MailboxConcurrency limit (default 4). */
  maxConcurrentPerMailbox?: number;
  /** `Retry-After` of a concurrency 429 (default `"1.387"`; null: none). */
  concurrencyRetryAfter?: string | null;
  /** Default 10,000 per 10 minutes per mailbox. */
  mailboxQuota?: { requests: number; windowMs: number };
  /** Default none (Graph: 130,000 per 10 s per app). */
  globalQuota?: { requests: number; windowMs: number } | null;
  /** Delta tokens older than this expire (default: never, only on demand). */
  deltaTokenTtlMs?: number | null;
  /** Items of one `$batch` run at most this many at a time (default 4). */
  batchConcurrency?: number;
  /** Answer `$batch` items in shuffled order (default true, as Graph may). */
  shuffleBatch?: boolean;
  /** Keep the last N requests in `requestLog` (default 10,000; 0 disables). */
  recordRequests?: number;
  /** Content-Type of `$value` MIME answers (unconfirmed on the real service; default text/plain). */
  mimeContentType?: string;
  /** Refuse http:// notification URLs like Graph does (default false, so tests can use loopback). */
  requireHttpsNotificationUrl?: boolean;
  /** The subscriber's time to echo a validation token (default 10 s). */
  validationTimeoutMs?: number;
  host?: string;
  port?: number;
}

export type MailboxAccess = "ok" | "denied" | "notFound" | "notEnabled";
export type DeltaExpiry = "gone" | "syncStateNotFound";

export interface RoomInput {
  address: string;
  displayName?: string;
  capacity?: number;
  building?: string;
  floorNumber?: number;
  floorLabel?: string;
  /** Hidden from the address book: Places leaves it out (its calendar still works). */
  hidden?: boolean;
  videoDeviceName?: string | null;
  processing?: Partial<RoomProcessing>;
}

export interface RecordedRequest {
  readonly at: string;
  readonly method: string;
  readonly route: RouteKind | "control" | "unknown";
  readonly path: string;
  readonly mailbox: string | null;
  readonly status: number;
  readonly batchItem: boolean;
  readonly authorized: boolean;
  readonly prefer: string | null;
  readonly retryAttempt: string | null;
}

export interface MailboxStats {
  requests: number;
  inFlight: number;
  maxInFlight: number;
  throttled: number;
}

export interface EmulatorStats {
  requests: number;
  byRoute: Record<string, number>;
  byStatus: Record<string, number>;
  batchItems: number;
  tokenRequests: number;
  tokensIssued: number;
  /** Requests refused because more than the limit were in flight for a mailbox. */
  concurrencyRejections: number;
  /** The most requests ever in flight for any one mailbox (refused ones not counted). */
  maxInFlightPerMailbox: number;
  dropped: number;
}

interface Knobs {
  latencyMs: number;
  access: MailboxAccess;
  loopNextLink: boolean;
  replayPerPage: number;
  seriesOverflow: boolean;
  generation: number;
  expiry: DeltaExpiry;
}

interface MailboxEntry {
  readonly calendar: MailboxCalendar;
  displayName: string;
  readonly knobs: Knobs;
  readonly stats: MailboxStats;
  quotaWindowStart: number;
  quotaCount: number;
  readonly messages: StoredMessage[];
  readonly messageIds: IdFactory;
}

interface Place {
  id: string;
  address: string;
  displayName: string;
  capacity: number | null;
  building: string | null;
  floorNumber: number | null;
  floorLabel: string | null;
  hidden: boolean;
  videoDeviceName: string | null;
}

interface RoomList {
  id: string;
  address: string;
  displayName: string;
  rooms: string[];
}

interface IssuedToken {
  readonly expiresMs: number;
  readonly audience: string;
}

const MAX_WINDOW_DAYS = 1825;
const DEFAULT_DELTA_PAGE = 10;

/** A `/v1.0/` resource: its kind (stats, faults), the mailbox it reads (null: none) and its handler. */
type ApiRoute = { kind: Exclude<RouteKind, "token">; mailbox: string | null; handle: (entry: MailboxEntry | null) => EmuResponse | Promise<EmuResponse> };

type Routed = { kind: "control" } | { kind: "token"; tenant: string } | { kind: "unknown"; response: EmuResponse } | ApiRoute;

/** Resources that answer 405 to any other method, whether or not the path names one of them. */
const METHOD_GUARDS: ReadonlyArray<{ pattern: string; method: string }> = [
  { pattern: "$batch", method: "POST" },
  { pattern: "places/*", method: "GET" },
  { pattern: "users/:id/:resource/*", method: "GET" },
];

/**
 * A mailbox path with its aliases removed: `users/{id}/calendar/...` and
 * `users/{id}/calendars/{calendarId}/...` name the default calendar's resources, and
 * `.../mailFolders/inbox/messages` the messages.
 */
function withoutAliases(seg: readonly string[]): readonly string[] {
  if (seg[0]?.toLowerCase() !== "users" || seg.length < 3) return seg;
  let rest = seg.slice(2);
  const low = (i: number) => rest[i]?.toLowerCase();
  if (low(0) === "calendar") rest = rest.slice(1);
  else if (low(0) === "calendars" && rest.length >= 2) rest = rest.slice(2);
  if (low(0) === "mailfolders" && low(1) === "inbox") rest = rest.slice(2);
  return [seg[0], seg[1]!, ...rest];
}

export class GraphEmulator {
  readonly tenantId: string;
  readonly publicRoot: string;
  #clientId: string;
  #clientSecret: string;
  #roles: readonly string[];
  #clientCertificate: X509Certificate | null;
  readonly #options: GraphEmulatorOptions;
  readonly #domains: Set<string>;
  readonly #mailboxes = new Map<string, MailboxEntry>();
  readonly #byUserId = new Map<string, MailboxEntry>();
  readonly #places = new Map<string, Place>();
  readonly #roomLists = new Map<string, RoomList>();
  readonly #tokens = new Map<string, IssuedToken>();
  readonly #faults = new FaultPlan(() => this.#nextRandom() / 2 ** 32);
  readonly #codec: DeltaTokenCodec;
  readonly #hub: SubscriptionHub;
  /** Cloud communications calls: lobby plan, knobs, recorded bodies and notifications. */
  readonly calls: CallsEmulator;
  readonly #log: RecordedRequest[] = [];
  #stats: EmulatorStats = emptyStats();
  #globalLatencyMs = 0;
  #maxConcurrent: number;
  #globalWindowStart = 0;
  #globalCount = 0;
  #randomState: number;
  #server: Server | null = null;
  #url = "";

  constructor(options: GraphEmulatorOptions = {}) {
    this.#options = options;
    this.tenantId = options.tenantId ?? "c0ffee00-1111-2222-3333-444455556666";
    this.#domains = new Set((options.tenantDomains ?? ["contoso.example"]).map((d) => d.toLowerCase()));
    this.#clientId = options.clientId ?? "0b6f3c1e-7d2a-4c55-9e10-6a1f2b3c4d5e";
    this.#clientSecret = options.clientSecret ?? "emulator-secret";
    this.#roles = options.roles ?? ALL_APPLICATION_ROLES;
    this.#clientCertificate = options.clientCertificate ? new X509Certificate(options.clientCertificate) : null;
    this.publicRoot = (options.publicRoot ?? "https://graph.microsoft.com").replace(/\/+$/, "");
    this.#maxConcurrent = options.maxConcurrentPerMailbox ?? 4;
    this.#codec = new DeltaTokenCodec(options.seed ?? randomBytes(16).toString("hex"));
    this.#randomState = hashSeed(options.seed ?? "graph-emulator");
    this.#hub = new SubscriptionHub({
      now: () => this.#now(),
      publicRoot: this.publicRoot,
      tenantId: this.tenantId,
      applicationId: this.#clientId,
      ...(options.validationTimeoutMs !== undefined ? { validationTimeoutMs: options.validationTimeoutMs } : {}),
    });
    this.calls = new CallsEmulator({
      now: () => this.#now(),
      ...(options.clock ? { clock: options.clock } : {}),
      audience: () => this.#clientId,
      publicRoot: this.publicRoot,
    });
  }

  /** Creates and starts an emulator. */
  static async start(options: GraphEmulatorOptions = {}): Promise<GraphEmulator> {
    const emulator = new GraphEmulator(options);
    await emulator.listen();
    return emulator;
  }

  // ---- lifecycle ----------------------------------------------------------------------------

  /** `http://127.0.0.1:PORT`: use it as both `graph.baseUrl` and `graph.authorityUrl`. */
  get url(): string {
    if (!this.#server) throw new Error("GraphEmulator: not started");
    return this.#url;
  }

  get clientId(): string {
    return this.#clientId;
  }

  get clientSecret(): string {
    return this.#clientSecret;
  }

  async listen(): Promise<void> {
    if (this.#server) return;
    const server = createServer((req, res) => {
      this.#onHttp(req, res).catch(() => {
        if (!res.headersSent) res.writeHead(500).end();
        else res.destroy();
      });
    });
    server.keepAliveTimeout = 5_000;
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(this.#options.port ?? 0, this.#options.host ?? "127.0.0.1", () => resolve());
    });
    const address = server.address() as AddressInfo;
    const host = address.family === "IPv6" ? `[${address.address}]` : address.address;
    this.#url = `http://${host}:${address.port}`;
    this.#server = server;
  }

  async stop(): Promise<void> {
    const server = this.#server;
    if (!server) return;
    this.#server = null;
    this.calls.stopTimers();
    await this.calls.idle();
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
  }

  // ---- seeding and mutation -----------------------------------------------------------------

  /** Adds a mailbox (a user or a room without a Places entry). Idempotent. */
  addMailbox(address: string, options: { displayName?: string; processing?: Partial<RoomProcessing> } = {}): MailboxCalendar {
    const key = address.trim().toLowerCase();
    let entry = this.#mailboxes.get(key);
    if (!entry) {
      const userId = uuidFrom(`${this.#options.seed ?? ""}:user:${key}`);
      const calendar = new MailboxCalendar(
        key,
        userId,
        new IdFactory(`${this.#options.seed ?? "emu"}:${key}`),
        () => this.#now().getTime(),
        (organizer) => this.#domains.has(organizer.split("@")[1]?.toLowerCase() ?? ""),
      );
      entry = {
        calendar,
        displayName: options.displayName ?? key.split("@")[0]!,
        knobs: { latencyMs: 0, access: "ok", loopNextLink: false, replayPerPage: 0, seriesOverflow: false, generation: 0, expiry: "gone" },
        stats: { requests: 0, inFlight: 0, maxInFlight: 0, throttled: 0 },
        quotaWindowStart: 0,
        quotaCount: 0,
        messages: [],
        messageIds: new IdFactory(`${this.#options.seed ?? "emu"}:mail:${key}`),
      };
      calendar.onChange = (change) => this.#hub.notifyChange(key, change);
      this.#mailboxes.set(key, entry);
      this.#byUserId.set(userId, entry);
    }
    if (options.displayName !== undefined) entry.displayName = options.displayName;
    if (options.processing) entry.calendar.processing = { ...entry.calendar.processing, ...options.processing };
    return entry.calendar;
  }

  /** Adds a room: its mailbox and its Places entry. */
  addRoom(room: RoomInput): MailboxCalendar {
    const key = room.address.trim().toLowerCase();
    const displayName = room.displayName ?? key.split("@")[0]!;
    const calendar = this.addMailbox(key, { displayName, ...(room.processing ? { processing: room.processing } : {}) });
    this.#places.set(key, {
      id: uuidFrom(`place:${key}`),
      address: key,
      displayName,
      capacity: room.capacity ?? null,
      building: room.building ?? null,
      floorNumber: room.floorNumber ?? null,
      floorLabel: room.floorLabel ?? null,
      hidden: room.hidden ?? false,
      videoDeviceName: room.videoDeviceName ?? null,
    });
    return calendar;
  }

  /** Adds (or replaces) a room list holding the given rooms' addresses. */
  addRoomList(list: { address: string; displayName?: string; rooms: string[] }): void {
    const key = list.address.trim().toLowerCase();
    this.#roomLists.set(key, {
      id: uuidFrom(`roomlist:${key}`),
      address: key,
      displayName: list.displayName ?? key.split("@")[0]!,
      rooms: list.rooms.map((r) => r.toLowerCase()),
    });
  }

  mailbox(address: string): MailboxCalendar {
    return this.#entry(address).calendar;
  }

  /** Books a single meeting in a mailbox. @returns its id and iCalUId, or null when the room rejected it. */
  addEvent(mailbox: string, input: EventInput): { id: string; iCalUId: string } | null {
    const e = this.#entry(mailbox).calendar.add(input);
    return e ? { id: e.id, iCalUId: e.iCalUId } : null;
  }

  /** Books a series. @returns the master's id and iCalUId and each occurrence's id in order. */
  addSeries(mailbox: string, input: SeriesInput): { id: string; iCalUId: string; occurrenceIds: string[] } | null {
    const m = this.#entry(mailbox).calendar.addSeries(input);
    return m ? { id: m.id, iCalUId: m.iCalUId, occurrenceIds: [...m.occurrenceIds] } : null;
  }

  /** The id of a series' occurrence originally at `originalStart`. */
  occurrenceId(masterId: string, originalStart: string): string {
    return occurrenceIdOf(masterId, Date.parse(originalStart));
  }

  updateEvent(mailbox: string, id: string, patch: EventPatch & { recurrence?: RecurrenceInput }): void {
    this.#entry(mailbox).calendar.update(id, patch);
  }

  cancelEvent(mailbox: string, id: string): void {
    this.#entry(mailbox).calendar.cancel(id);
  }

  deleteEvent(mailbox: string, id: string): void {
    this.#entry(mailbox).calendar.delete(id);
  }

  /** Delivers a message to a mailbox. @returns its id, or null when the room deletes such mail. */
  addMessage(mailbox: string, input: MessageInput): { id: string } | null {
    const entry = this.#entry(mailbox);
    if (entry.calendar.processing.deleteNonCalendarItems && (input.meetingMessageType ?? "none") === "none") return null;
    const message = storeMessage(input, input.id ?? entry.messageIds.eventId(), this.#now().getTime());
    entry.messages.push(message);
    return { id: message.id };
  }

  deleteMessage(mailbox: string, id: string): void {
    const messages = this.#entry(mailbox).messages;
    const i = messages.findIndex((m) => m.id === id);
    if (i >= 0) messages.splice(i, 1);
  }

  /** Live subscriptions. */
  subscriptions(): Subscription[] {
    return this.#hub.list();
  }

  /** Sends a lifecycle notification for a subscription (`subscriptionRemoved` also removes it). */
  sendLifecycleNotification(subscriptionId: string, event: LifecycleEvent): void {
    this.#hub.lifecycle(subscriptionId, event);
  }

  /** Every validation request and notification sent, with the subscriber's status and latency. */
  get deliveries(): readonly Delivery[] {
    return this.#hub.deliveries;
  }

  /** Waits until every notification sent so far has been answered (or timed out). */
  flushNotifications(): Promise<void> {
    return this.#hub.flush();
  }

  setProcessing(mailbox: string, processing: Partial<RoomProcessing>): void {
    const calendar = this.#entry(mailbox).calendar;
    calendar.processing = { ...calendar.processing, ...processing };
  }

  // ---- knobs --------------------------------------------------------------------------------

  /** Delay before every answer (all mailboxes, or one, added to the global delay). */
  setLatency(ms: number, mailbox?: string): void {
    if (mailbox === undefined) this.#globalLatencyMs = ms;
    else this.#entry(mailbox).knobs.latencyMs = ms;
  }

  /** `denied`: 403 ErrorAccessDenied (access policy); `notFound`: 404 ErrorInvalidUser; `notEnabled`: 404 MailboxNotEnabledForRESTAPI. */
  setMailboxAccess(mailbox: string, access: MailboxAccess): void {
    this.#entry(mailbox).knobs.access = access;
  }

  /** Delta pages of the mailbox always carry a fresh nextLink to the same items, never a deltaLink. */
  setLoopingNextLink(mailbox: string, on: boolean): void {
    this.#entry(mailbox).knobs.loopNextLink = on;
  }

  /** Every delta page also repeats up to `n` items already delivered. */
  setReplay(mailbox: string, n: number): void {
    this.#entry(mailbox).knobs.replayPerPage = n;
  }

  /** Delta pages keep a series' occurrences together, exceeding `odata.maxpagesize`. */
  setSeriesOverflow(mailbox: string, on: boolean): void {
    this.#entry(mailbox).knobs.seriesOverflow = on;
  }

  /** Every delta/skip token issued so far for the mailbox (or all) stops working. */
  expireDeltaTokens(mailbox?: string, mode: DeltaExpiry = "gone"): void {
    const entries = mailbox === undefined ? [...this.#mailboxes.values()] : [this.#entry(mailbox)];
    for (const e of entries) {
      e.knobs.generation++;
      e.knobs.expiry = mode;
    }
  }

  setMaxConcurrentPerMailbox(n: number): void {
    this.#maxConcurrent = n;
  }

  /** Answers matching requests with an error; see FaultRule. */
  injectFault(rule: FaultRule): FaultHandle {
    return this.#faults.add(rule);
  }

  /** `times` requests (of one mailbox, or any) get 429 with `retryAfter` (null: no header). */
  throttle(times: number, options: { mailbox?: string; retryAfter?: string | null; code?: string; routes?: RouteKind[] } = {}): FaultHandle {
    return this.#faults.add({
      status: 429,
      times,
      retryAfter: options.retryAfter === undefined ? "1.5" : options.retryAfter,
      ...(options.code ? { code: options.code } : {}),
      ...(options.mailbox ? { mailbox: options.mailbox } : {}),
      ...(options.routes ? { routes: options.routes } : {}),
    });
  }

  clearFaults(): void {
    this.#faults.clear();
  }

  /** Changes the app credentials the token endpoint accepts. */
  setCredentials(credentials: { clientId?: string; clientSecret?: string; clientCertificate?: string | null }): void {
    if (credentials.clientId !== undefined) this.#clientId = credentials.clientId;
    if (credentials.clientSecret !== undefined) this.#clientSecret = credentials.clientSecret;
    if (credentials.clientCertificate !== undefined) {
      this.#clientCertificate = credentials.clientCertificate === null ? null : new X509Certificate(credentials.clientCertificate);
    }
  }

  /** Changes the application roles written into tokens issued from now on (consent changed). */
  setRoles(roles: readonly string[]): void {
    this.#roles = [...roles];
  }

  /** Invalidates every access token issued so far. */
  revokeTokens(): void {
    this.#tokens.clear();
  }

  // ---- inspection ---------------------------------------------------------------------------

  stats(): EmulatorStats {
    return structuredClone(this.#stats);
  }

  mailboxStats(mailbox: string): MailboxStats {
    return { ...this.#entry(mailbox).stats };
  }

  /** The most recent requests, oldest first. */
  get requestLog(): readonly RecordedRequest[] {
    return this.#log;
  }

  resetStats(): void {
    this.#stats = emptyStats();
    this.#log.length = 0;
    for (const e of this.#mailboxes.values()) {
      e.stats.requests = 0;
      e.stats.maxInFlight = e.stats.inFlight;
      e.stats.throttled = 0;
    }
  }

  // ---- HTTP ---------------------------------------------------------------------------------

  async #onHttp(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const raw = await readBodyOr413(req, res);
    if (raw === null) return;
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(req.headers)) if (v !== undefined) headers[k] = Array.isArray(v) ? v.join(", ") : v;
    const url = new URL(req.url ?? "/", "http://emulator.invalid");
    let body: unknown = raw === "" ? undefined : raw;
    if (raw !== "" && (headers["content-type"] ?? "").includes("json")) {
      const parsed = parseJson(raw);
      body = parsed.ok ? parsed.value : Symbol.for("invalid-json");
    }
    const request: EmuRequest = { method: req.method ?? "GET", path: url.pathname, query: url.searchParams, headers, body, batchItem: false };
    const response = await this.#dispatch(request);
    if (response.drop) {
      this.#stats.dropped++;
      req.socket.destroy();
      return;
    }
    const out: Record<string, string> = { ...response.headers };
    out["request-id"] ??= randomUUID();
    out["client-request-id"] ??= headers["client-request-id"] ?? out["request-id"];
    const answer = response.body;
    const payload = typeof answer === "string" || Buffer.isBuffer(answer) ? answer : answer === undefined ? "" : JSON.stringify(answer);
    res.writeHead(response.status, out);
    res.end(payload);
  }

  /** Routes one request (direct or a `$batch` item) through auth, limits and faults. */
  async #dispatch(req: EmuRequest): Promise<EmuResponse> {
    const now = this.#now();
    const route = this.#route(req);
    let response: EmuResponse;
    let mailbox: string | null = null;
    let authorized = false;
    if (route.kind === "control") {
      response = this.#control(req);
    } else if (route.kind === "token") {
      this.#stats.tokenRequests++;
      const fault = this.#faults.take("token", null);
      response = fault ? this.#faultResponse(req, fault) : this.#token(req, route.tenant);
    } else if (route.kind === "unknown") {
      response = route.response;
    } else {
      const auth = this.#authenticate(req, now);
      authorized = auth === null;
      if (auth) {
        response = auth;
      } else {
        const entry = route.mailbox === null ? null : (this.#lookup(route.mailbox) ?? null);
        mailbox = entry?.calendar.address ?? route.mailbox?.toLowerCase() ?? null;
        if (route.mailbox !== null && !entry) {
          response = graphError(req, now, 404, "ErrorInvalidUser", `The requested user '${route.mailbox}' is invalid.`);
        } else {
          response = await this.#limited(req, route.kind, entry, () => route.handle(entry));
        }
      }
    }
    this.#record(req, route.kind, mailbox, response, authorized, now);
    return response;
  }

  async #limited(req: EmuRequest, kind: RouteKind, entry: MailboxEntry | null, handle: () => EmuResponse | Promise<EmuResponse>): Promise<EmuResponse> {
    const now = this.#now();
    if (entry) {
      entry.stats.requests++;
      if (entry.stats.inFlight >= this.#maxConcurrent) {
        this.#stats.concurrencyRejections++;
        entry.stats.throttled++;
        const retryAfter = this.#options.concurrencyRetryAfter === undefined ? "1.387" : this.#options.concurrencyRetryAfter;
        return graphError(
          req,
          now,
          429,
          "ApplicationThrottled",
          "Application is over its MailboxConcurrency limit.",
          retryAfter === null ? {} : { "Retry-After": retryAfter },
        );
      }
      entry.stats.inFlight++;
      entry.stats.maxInFlight = Math.max(entry.stats.maxInFlight, entry.stats.inFlight);
      this.#stats.maxInFlightPerMailbox = Math.max(this.#stats.maxInFlightPerMailbox, entry.stats.inFlight);
    }
    try {
      // A $batch envelope adds no latency of its own: its items each wait.
      const latency = kind === "batch" ? 0 : this.#globalLatencyMs + (entry?.knobs.latencyMs ?? 0);
      if (latency > 0) await delay(latency);
      const fault = this.#faults.take(kind, entry?.calendar.address ?? null);
      if (fault) {
        if (fault.status === 429 && entry) entry.stats.throttled++;
        return this.#faultResponse(req, fault);
      }
      if (entry && entry.knobs.access !== "ok") return accessDenied(req, this.#now(), entry);
      const quota = this.#quota(req, entry);
      if (quota) return quota;
      return await handle();
    } finally {
      if (entry) entry.stats.inFlight--;
    }
  }

  #quota(req: EmuRequest, entry: MailboxEntry | null): EmuResponse | null {
    const now = this.#now().getTime();
    const global = this.#options.globalQuota;
    if (global) {
      if (now - this.#globalWindowStart >= global.windowMs) {
        this.#globalWindowStart = now;
        this.#globalCount = 0;
      }
      if (++this.#globalCount > global.requests) {
        const wait = (this.#globalWindowStart + global.windowMs - now) / 1000;
        return graphError(req, new Date(now), 429, "TooManyRequests", "Too many requests.", { "Retry-After": wait.toFixed(3) });
      }
    }
    if (entry) {
      const q = this.#options.mailboxQuota ?? { requests: 10_000, windowMs: 600_000 };
      if (now - entry.quotaWindowStart >= q.windowMs) {
        entry.quotaWindowStart = now;
        entry.quotaCount = 0;
      }
      if (++entry.quotaCount > q.requests) {
        entry.stats.throttled++;
        const wait = (entry.quotaWindowStart + q.windowMs - now) / 1000;
        return graphError(req, new Date(now), 429, "ApplicationThrottled", "Application is over its MailboxRequests limit.", {
          "Retry-After": wait.toFixed(3),
        });
      }
    }
    return null;
  }

  #faultResponse(req: EmuRequest, fault: FaultRule): EmuResponse {
    if (fault.drop) return { status: 0, headers: {}, body: undefined, drop: true };
    const status = fault.status ?? 503;
    const [code, message] = DEFAULT_ERROR_CODES[status] ?? ["UnknownError", "An error occurred."];
    const headers: Record<string, string> = { ...(fault.headers ?? {}) };
    if (fault.retryAfter !== undefined && fault.retryAfter !== null) headers["Retry-After"] = fault.retryAfter;
    return graphError(req, this.#now(), status, fault.code ?? code, fault.message ?? message, headers);
  }

  #record(req: EmuRequest, route: RecordedRequest["route"], mailbox: string | null, response: EmuResponse, authorized: boolean, now: Date): void {
    const s = this.#stats;
    s.requests++;
    s.byRoute[route] = (s.byRoute[route] ?? 0) + 1;
    const status = response.drop ? "dropped" : String(response.status);
    s.byStatus[status] = (s.byStatus[status] ?? 0) + 1;
    if (req.batchItem) s.batchItems++;
    const limit = this.#options.recordRequests ?? 10_000;
    if (limit <= 0) return;
    this.#log.push({
      at: now.toISOString(),
      method: req.method,
      route,
      path: req.path,
      mailbox,
      status: response.drop ? 0 : response.status,
      batchItem: req.batchItem,
      authorized,
      prefer: req.headers["prefer"] ?? null,
      retryAttempt: req.headers["retry-attempt"] ?? null,
    });
    if (this.#log.length > limit) this.#log.splice(0, this.#log.length - limit);
  }

  // ---- routing ------------------------------------------------------------------------------

  /** The `/v1.0/` API, after METHOD_GUARDS, on paths without aliases (withoutAliases). */
  readonly #v1Routes = new RouteTable<EmuRequest, ApiRoute>([
    { method: "POST", pattern: "$batch", handle: (req) => ({ kind: "batch", mailbox: null, handle: () => this.#batch(req) }) },
    { method: "POST", pattern: "subscriptions", handle: (req) => ({ kind: "subscriptions", mailbox: null, handle: () => this.#createSubscription(req) }) },
    {
      method: "GET",
      pattern: "subscriptions",
      handle: () => ({ kind: "subscriptions", mailbox: null, handle: () => json(200, { value: this.#hub.list().map((x) => this.#hub.render(x)) }) }),
    },
    {
      method: "*",
      pattern: "subscriptions/:id",
      handle: (req, m) => ({ kind: "subscriptions", mailbox: null, handle: () => this.#subscription(req, m.params.id!, false) }),
    },
    {
      method: "POST",
      pattern: "subscriptions/:id/reauthorize",
      handle: (req, m) => ({ kind: "subscriptions", mailbox: null, handle: () => this.#subscription(req, m.params.id!, true) }),
    },
    { method: "*", pattern: "communications/calls/*", handle: (req, m) => ({ kind: "calls", mailbox: null, handle: () => this.calls.handle(req, m.rest) }) },
    { method: "GET", pattern: "places/microsoft.graph.room", handle: (req) => ({ kind: "places", mailbox: null, handle: () => this.#placesRooms(req, null) }) },
    { method: "GET", pattern: "places/microsoft.graph.roomlist", handle: (req) => ({ kind: "places", mailbox: null, handle: () => this.#placesLists(req) }) },
    {
      method: "GET",
      pattern: "places/:list/microsoft.graph.roomlist/rooms",
      handle: (req, m) => ({ kind: "places", mailbox: null, handle: () => this.#placesRooms(req, m.params.list!) }),
    },
    {
      method: "GET",
      pattern: "users/:id/messages/*",
      handle: (req, m) => ({ kind: "messages", mailbox: m.params.id!, handle: (e) => this.#messages(req, e!, [...m.rest]) }),
    },
    {
      method: "GET",
      pattern: "users/:id/calendarview",
      handle: (req, m) => ({ kind: "calendarView", mailbox: m.params.id!, handle: (e) => this.#calendarView(req, e!) }),
    },
    {
      method: "GET",
      pattern: "users/:id/calendarview/delta",
      handle: (req, m) => ({ kind: "delta", mailbox: m.params.id!, handle: (e) => this.#delta(req, e!) }),
    },
    { method: "GET", pattern: "users/:id/events", handle: (req, m) => ({ kind: "events", mailbox: m.params.id!, handle: (e) => this.#events(req, e!) }) },
    {
      method: "GET",
      pattern: "users/:id/events/:event",
      handle: (req, m) => ({ kind: "events", mailbox: m.params.id!, handle: (e) => this.#event(req, e!, m.params.event!) }),
    },
    {
      method: "GET",
      pattern: "users/:id/events/:event/instances",
      handle: (req, m) => ({ kind: "events", mailbox: m.params.id!, handle: (e) => this.#instances(req, e!, m.params.event!) }),
    },
  ]);

  #route(req: EmuRequest): Routed {
    const now = this.#now();
    if (req.path.startsWith("/_emulator/")) return { kind: "control" };
    const tokenMatch = /^\/([^/]+)\/oauth2\/v2\.0\/token$/.exec(req.path);
    if (tokenMatch && req.method === "POST") return { kind: "token", tenant: decodeURIComponent(tokenMatch[1]!) };
    const unknown = (status: number, code: string, message: string) => ({ kind: "unknown" as const, response: graphError(req, now, status, code, message) });
    if (!req.path.startsWith("/v1.0/")) {
      const segment = req.path.split("/")[1] ?? "";
      return unknown(400, "BadRequest", `Resource not found for the segment '${segment}'.`);
    }
    let seg: string[];
    try {
      seg = req.path
        .slice("/v1.0/".length)
        .split("/")
        .filter((s) => s !== "")
        .map(decodeURIComponent);
    } catch {
      return unknown(400, "BadRequest", "Invalid URL.");
    }
    for (const guard of METHOD_GUARDS) {
      if (req.method !== guard.method && matchPattern(guard.pattern, seg) !== null)
        return unknown(405, "BadRequest", "The HTTP method is not allowed for this resource.");
    }
    const routed = this.#v1Routes.dispatch(req.method, withoutAliases(seg), req);
    if (routed !== null) return routed;
    return unknown(400, "BadRequest", `Resource not found for the segment '${seg[seg.length - 1] ?? ""}'.`);
  }

  #lookup(id: string): MailboxEntry | undefined {
    const key = id.trim().toLowerCase();
    return this.#mailboxes.get(key) ?? this.#byUserId.get(key);
  }

  #entry(address: string): MailboxEntry {
    const entry = this.#lookup(address);
    if (!entry) throw new RangeError(`GraphEmulator: no mailbox ${address}`);
    return entry;
  }

  #now(): Date {
    return this.#options.clock?.now() ?? new Date();
  }

  // ---- token endpoint -----------------------------------------------------------------------

  #token(req: EmuRequest, tenant: string): EmuResponse {
    const now = this.#now();
    const form = new URLSearchParams(typeof req.body === "string" ? req.body : "");
    const fail = (status: number, error: string, code: number, description: string) =>
      json(status, {
        error,
        error_description: `AADSTS${code}: ${description} Trace ID: ${randomUUID()} Correlation ID: ${randomUUID()} Timestamp: ${now.toISOString().replace("T", " ").slice(0, 19)}Z`,
        error_codes: [code],
        timestamp: now.toISOString().replace("T", " ").slice(0, 19) + "Z",
        trace_id: randomUUID(),
        correlation_id: randomUUID(),
      });
    const t = tenant.toLowerCase();
    if (t !== this.tenantId && !this.#domains.has(t)) {
      return fail(
        400,
        "invalid_request",
        90002,
        `Tenant '${tenant}' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud.`,
      );
    }
    if (form.get("grant_type") !== "client_credentials") {
      return fail(400, "unsupported_grant_type", 70003, "The app requested an unsupported grant type.");
    }
    if (form.get("client_id") !== this.#clientId) {
      return fail(400, "unauthorized_client", 700016, `Application with identifier '${form.get("client_id") ?? ""}' was not found in the directory.`);
    }
    const assertionType = form.get("client_assertion_type");
    if (assertionType !== null) {
      if (assertionType !== "urn:ietf:params:oauth:client-assertion-type:jwt-bearer") {
        return fail(400, "invalid_request", 50027, "Invalid client_assertion_type.");
      }
      const check = checkClientAssertion(form.get("client_assertion") ?? "", {
        certificate: this.#clientCertificate,
        clientId: this.#clientId,
        tokenPath: req.path,
        now,
      });
      if (!check.ok) return fail(401, "invalid_client", check.code, check.description);
    } else if (form.get("client_secret") !== this.#clientSecret) {
      return fail(
        401,
        "invalid_client",
        7000215,
        "Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID.",
      );
    }
    const scope = form.get("scope") ?? "";
    if (scope !== `${this.publicRoot}/.default`) {
      return fail(
        400,
        "invalid_scope",
        1002012,
        `The provided value for scope ${scope} is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI).`,
      );
    }
    const lifetime = this.#options.tokenLifetimeSeconds ?? 3599;
    const claims = {
      aud: this.publicRoot,
      iss: `https://sts.windows.net/${this.tenantId}/`,
      tid: this.tenantId,
      appid: this.#clientId,
      roles: [...this.#roles],
      iat: Math.floor(now.getTime() / 1000),
      exp: Math.floor(now.getTime() / 1000) + lifetime,
      uti: randomBytes(16).toString("base64url"),
    };
    const token = `eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9.${Buffer.from(JSON.stringify(claims)).toString("base64url")}.emu`;
    const nowMs = now.getTime();
    for (const [k, v] of this.#tokens) if (v.expiresMs <= nowMs) this.#tokens.delete(k);
    this.#tokens.set(token, { expiresMs: nowMs + lifetime * 1000, audience: this.publicRoot });
    this.#stats.tokensIssued++;
    return json(
      200,
      { token_type: "Bearer", expires_in: lifetime, ext_expires_in: lifetime, access_token: token },
      { "Content-Type": "application/json; charset=utf-8" },
    );
  }

  #authenticate(req: EmuRequest, now: Date): EmuResponse | null {
    const header = req.headers["authorization"] ?? "";
    const match = /^Bearer\s+(\S+)$/i.exec(header);
    if (!match) return graphError(req, now, 401, "InvalidAuthenticationToken", "Access token is empty.");
    const token = this.#tokens.get(match[1]!);
    if (!token) return graphError(req, now, 401, "InvalidAuthenticationToken", "Access token validation failure.");
    if (token.expiresMs <= now.getTime()) return graphError(req, now, 401, "InvalidAuthenticationToken", "Lifetime validation failed, the token is expired.");
    if (token.audience !== this.publicRoot)
      return graphError(req, now, 401, "InvalidAuthenticationToken", "Access token validation failure. Invalid audience.");
    return null;
  }

  // ---- calendars ----------------------------------------------------------------------------

  #render(
    req: EmuRequest,
    entry: MailboxEntry,
    allowSelect: boolean,
  ): { options: RenderOptions; applied: string[]; prefs: ReturnType<typeof parsePrefer> } | EmuResponse {
    const prefs = parsePrefer(req.headers["prefer"]);
    const applied: string[] = [];
    let zone = "UTC";
    let zoneName = "UTC";
    const tz = prefs.get("outlook.timezone");
    if (tz) {
      const resolved = resolveZone(tz.value);
      if (resolved) {
        zone = resolved;
        zoneName = tz.value;
        applied.push(tz.text);
      }
    }
    let bodyType: "html" | "text" = "html";
    const bt = prefs.get("outlook.body-content-type");
    if (bt && (bt.value === "html" || bt.value === "text")) {
      bodyType = bt.value;
      applied.push(bt.text);
    }
    const idType = prefs.get("idtype");
    if (idType && idType.value.toLowerCase() === "immutableid") applied.push(idType.text);
    const selectParam = queryParam(req.query, "$select");
    if (selectParam !== null && !allowSelect) {
      return graphError(
        req,
        this.#now(),
        400,
        "ErrorInvalidUrlQuery",
        "The following parameters are not supported with change tracking over the 'CalendarView' resource: '$select'.",
      );
    }
    const select =
      selectParam === null
        ? null
        : new Set(
            selectParam
              .split(",")
              .map((s) => s.trim().toLowerCase())
              .filter((s) => s !== ""),
          );
    return { options: { zone, zoneName, bodyType, select, mailbox: { address: entry.calendar.address, displayName: entry.displayName } }, applied, prefs };
  }

  #window(req: EmuRequest): { start: number; end: number } | EmuResponse {
    const now = this.#now();
    const s = queryParam(req.query, "startDateTime");
    const e = queryParam(req.query, "endDateTime");
    if (s === null || e === null) {
      return graphError(
        req,
        now,
        400,
        "ErrorInvalidParameter",
        "This request requires a time window specified by the query string parameters StartDateTime and EndDateTime.",
      );
    }
    const start = parseQueryInstant(s);
    const end = parseQueryInstant(e);
    if (start === null || end === null)
      return graphError(req, now, 400, "ErrorInvalidParameter", "The value of StartDateTime or EndDateTime is not a valid date and time.");
    if (end - start > MAX_WINDOW_DAYS * 86_400_000) return graphError(req, now, 400, "ErrorInvalidRequest", "The time range exceeds the maximum of 1825 days.");
    if (end < start) return graphError(req, now, 400, "ErrorInvalidParameter", "EndDateTime is before StartDateTime.");
    return { start, end };
  }

  #calendarView(req: EmuRequest, entry: MailboxEntry): EmuResponse {
    const window = this.#window(req);
    if (!("start" in window)) return window;
    const rendering = this.#render(req, entry, true);
    if (!("options" in rendering)) return rendering;
    const all = entry.calendar.inWindow(window.start, window.end);
    const page = this.#slice(req, all.length, 10);
    if (!("top" in page)) return page;
    const value = all.slice(page.skip, page.skip + page.top).map((e) => renderEvent(e, rendering.options));
    return json(
      200,
      {
        "@odata.context": `${this.publicRoot}/v1.0/$metadata#users('${encodeURIComponent(entry.calendar.address)}')/calendarView`,
        value,
        ...(page.next ? { "@odata.nextLink": page.next } : {}),
      },
      preferenceApplied(rendering.applied),
    );
  }

  /** `$top`/`$skip` paging with a `$skip` nextLink that keeps the rest of the query. */
  #slice(req: EmuRequest, total: number, defaultTop: number, maxTop = 1000): { top: number; skip: number; next: string | null } | EmuResponse {
    const topText = queryParam(req.query, "$top");
    const skipText = queryParam(req.query, "$skip");
    const top = topText === null ? defaultTop : Number(topText);
    const skip = skipText === null ? 0 : Number(skipText);
    if (!Number.isInteger(top) || top < 0 || !Number.isInteger(skip) || skip < 0) {
      return graphError(req, this.#now(), 400, "BadRequest", "Invalid $top or $skip.");
    }
    const effectiveTop = Math.min(top, maxTop);
    let next: string | null = null;
    if (skip + effectiveTop < total) {
      const q = new URLSearchParams();
      for (const [k, v] of req.query) if (k !== "$skip" && k !== "$top") q.append(k, v);
      q.set("$top", String(effectiveTop));
      q.set("$skip", String(skip + effectiveTop));
      next = `${this.publicRoot}${req.path}?${q.toString()}`;
    }
    return { top: effectiveTop, skip, next };
  }

  #delta(req: EmuRequest, entry: MailboxEntry): EmuResponse {
    const now = this.#now();
    for (const unsupported of ["$select", "$filter", "$orderby", "$expand", "$search"]) {
      if (queryParam(req.query, unsupported) !== null) {
        return graphError(
          req,
          now,
          400,
          "ErrorInvalidUrlQuery",
          `The following parameters are not supported with change tracking over the 'CalendarView' resource: '${unsupported}'.`,
        );
      }
    }
    const rendering = this.#render(req, entry, false);
    if (!("options" in rendering)) return rendering;
    const { prefs } = rendering;
    const applied = [...rendering.applied];
    let limit = DEFAULT_DELTA_PAGE;
    const max = prefs.get("odata.maxpagesize");
    if (max && /^\d+$/.test(max.value) && Number(max.value) > 0) {
      limit = Number(max.value);
      applied.push(max.text);
    }
    const calendar = entry.calendar;
    const skipToken = queryParam(req.query, "$skiptoken");
    const deltaToken = queryParam(req.query, "$deltatoken");
    const token = skipToken || deltaToken || null;
    let state: DeltaTokenState;
    if (token === null) {
      const window = this.#window(req);
      if (!("start" in window)) return window;
      state = { m: calendar.address, s: window.start, e: window.end, v: 0, u: calendar.version, a: 0, g: entry.knobs.generation, t: now.getTime() };
    } else {
      const decoded = this.#codec.decode(token);
      if (!decoded || decoded.m !== calendar.address) return graphError(req, now, 400, "ErrorInvalidUrlQuery", "The token in the request is not valid.");
      const ttl = this.#options.deltaTokenTtlMs;
      if (decoded.g < entry.knobs.generation || (ttl != null && now.getTime() - decoded.t > ttl)) return this.#expired(req, entry, decoded);
      state = skipToken ? decoded : { ...decoded, u: calendar.version, a: decoded.v, t: now.getTime() };
    }
    const upTo = state.u ?? calendar.version;
    const after = state.a ?? state.v;
    const page = calendar.deltaPage({
      startMs: state.s,
      endMs: state.e,
      since: state.v,
      after,
      upTo,
      limit,
      keepSeriesTogether: entry.knobs.seriesOverflow,
    });
    const value: Record<string, unknown>[] = page.entries.map(({ event, removed }) =>
      removed
        ? { "@odata.type": "#microsoft.graph.event", id: event.id, "@removed": { reason: "deleted" } }
        : { "@odata.type": "#microsoft.graph.event", ...renderEvent(event, rendering.options) },
    );
    for (const replay of calendar.recent(state.s, state.e, after, entry.knobs.replayPerPage)) {
      value.push({ "@odata.type": "#microsoft.graph.event", ...renderEvent(replay, rendering.options) });
    }
    const base = `${this.publicRoot}${req.path}`;
    const links: Record<string, string> = {};
    if (entry.knobs.loopNextLink) {
      links["@odata.nextLink"] = `${base}?$skiptoken=${this.#codec.encode({ ...state, u: upTo, a: after, n: (state.n ?? 0) + 1 })}`;
    } else if (page.more) {
      links["@odata.nextLink"] =
        `${base}?$skiptoken=${this.#codec.encode({ m: state.m, s: state.s, e: state.e, v: state.v, u: upTo, a: page.last, g: entry.knobs.generation, t: now.getTime() })}`;
    } else {
      links["@odata.deltaLink"] =
        `${base}?$deltatoken=${this.#codec.encode({ m: state.m, s: state.s, e: state.e, v: upTo, g: entry.knobs.generation, t: now.getTime() })}`;
    }
    return json(200, { "@odata.context": `${this.publicRoot}/v1.0/$metadata#Collection(event)`, value, ...links }, preferenceApplied(applied));
  }

  #expired(req: EmuRequest, entry: MailboxEntry, state: DeltaTokenState): EmuResponse {
    const now = this.#now();
    if (entry.knobs.expiry === "syncStateNotFound") {
      return graphError(req, now, 400, "syncStateNotFound", "The sync state for this request could not be found. Perform a full synchronization.");
    }
    const restart = `${this.publicRoot}${req.path}?startDateTime=${new Date(state.s).toISOString()}&endDateTime=${new Date(state.e).toISOString()}&$deltatoken=`;
    return graphError(req, now, 410, "resyncRequired", "Resync required. Replace any local cached items with the server's.", { Location: restart });
  }

  #events(req: EmuRequest, entry: MailboxEntry): EmuResponse {
    const rendering = this.#render(req, entry, true);
    if (!("options" in rendering)) return rendering;
    const items: Record<string, unknown>[] = [];
    for (const e of entry.calendar.instances()) if (!e.deleted && e.type === "singleInstance") items.push(renderEvent(e, rendering.options));
    for (const m of entry.calendar.masters()) if (!m.deleted) items.push(renderMaster(m, rendering.options));
    const page = this.#slice(req, items.length, 10);
    if (!("top" in page)) return page;
    return json(
      200,
      { value: items.slice(page.skip, page.skip + page.top), ...(page.next ? { "@odata.nextLink": page.next } : {}) },
      preferenceApplied(rendering.applied),
    );
  }

  #event(req: EmuRequest, entry: MailboxEntry, id: string): EmuResponse {
    const rendering = this.#render(req, entry, true);
    if (!("options" in rendering)) return rendering;
    const instance = entry.calendar.instance(id);
    if (instance && !instance.deleted) return json(200, renderEvent(instance, rendering.options), preferenceApplied(rendering.applied));
    const master = entry.calendar.master(id);
    if (master && !master.deleted) return json(200, renderMaster(master, rendering.options), preferenceApplied(rendering.applied));
    return graphError(req, this.#now(), 404, "ErrorItemNotFound", "The specified object was not found in the store.");
  }

  #instances(req: EmuRequest, entry: MailboxEntry, id: string): EmuResponse {
    const master = entry.calendar.master(id);
    if (!master || master.deleted) return graphError(req, this.#now(), 404, "ErrorItemNotFound", "The specified object was not found in the store.");
    const window = this.#window(req);
    if (!("start" in window)) return window;
    const rendering = this.#render(req, entry, true);
    if (!("options" in rendering)) return rendering;
    const items = entry.calendar
      .inWindow(window.start, window.end)
      .filter((e) => e.seriesMasterId === id && !e.fields.isCancelled)
      .map((e) => renderEvent(e, rendering.options));
    return json(200, { value: items }, preferenceApplied(rendering.applied));
  }

  // ---- mail ---------------------------------------------------------------------------------

  /** `/messages`, `/messages/{id}`, `/messages/{id}/$value`, `/messages/{id}/attachments[/{aid}[/$value]]`. */
  #messages(req: EmuRequest, entry: MailboxEntry, rest: string[]): EmuResponse {
    const now = this.#now();
    const notFound = () => graphError(req, now, 404, "ErrorItemNotFound", "The specified object was not found in the store.");
    const mailbox = { name: entry.displayName, address: entry.calendar.address };
    if (rest.length === 0) {
      const filterText = queryParam(req.query, "$filter");
      const filter = filterText === null ? () => true : messageFilter(filterText);
      if (filter === null) return graphError(req, now, 400, "ErrorInvalidUrlQueryFilter", "The query filter contains one or more invalid nodes.");
      const all = entry.messages.filter(filter).sort((a, b) => b.receivedMs - a.receivedMs);
      const page = this.#slice(req, all.length, 10);
      if (!("top" in page)) return page;
      const selectParam = queryParam(req.query, "$select");
      const select = selectParam === null ? null : new Set(selectParam.split(",").map((x) => x.trim().toLowerCase()));
      const value = all.slice(page.skip, page.skip + page.top).map((m) => {
        const full = renderMessage(m, mailbox);
        if (select === null) return full;
        const out: Record<string, unknown> = { "@odata.type": full["@odata.type"], "@odata.etag": full["@odata.etag"], id: full["id"] };
        for (const [k, v] of Object.entries(full)) if (select.has(k.toLowerCase())) out[k] = v;
        return out;
      });
      return json(200, { value, ...(page.next ? { "@odata.nextLink": page.next } : {}) });
    }
    const message = entry.messages.find((m) => m.id === rest[0]);
    if (!message) return notFound();
    if (rest.length === 1) return json(200, renderMessage(message, mailbox));
    if (rest.length === 2 && rest[1] === "$value") {
      return { status: 200, headers: { "Content-Type": this.#options.mimeContentType ?? "text/plain" }, body: message.input.mime };
    }
    if (rest[1]?.toLowerCase() !== "attachments") return notFound();
    if (rest.length === 2) return json(200, { value: message.attachments.map(renderAttachment) });
    const attachment = message.attachments.find((a) => a.id === rest[2]);
    if (!attachment) return notFound();
    if (rest.length === 3) return json(200, renderAttachment(attachment));
    if (rest.length === 4 && rest[3] === "$value") return { status: 200, headers: { "Content-Type": attachment.contentType }, body: attachment.bytes };
    return notFound();
  }

  // ---- subscriptions ------------------------------------------------------------------------

  async #createSubscription(req: EmuRequest): Promise<EmuResponse> {
    const now = this.#now();
    const invalid = (message: string) => graphError(req, now, 400, "InvalidRequest", message);
    const body = (req.body ?? {}) as Record<string, unknown>;
    const { changeType, notificationUrl, lifecycleNotificationUrl, resource, expirationDateTime, clientState } = body;
    if (typeof changeType !== "string" || changeType === "" || !changeType.split(",").every((c) => ["created", "updated", "deleted"].includes(c))) {
      return invalid("changeType must list created, updated and/or deleted.");
    }
    if (typeof resource !== "string") return invalid("resource is required.");
    const match = /^\/?users\/([^/]+)\/events$/i.exec(resource);
    if (!match) return invalid(`Unsupported resource '${resource}'.`);
    if (typeof expirationDateTime !== "string" || Number.isNaN(Date.parse(expirationDateTime))) return invalid("expirationDateTime is required.");
    const expirationMs = Date.parse(expirationDateTime);
    if (expirationMs <= now.getTime()) return invalid("Subscription expiration must be in the future.");
    if (expirationMs - now.getTime() > MAX_LIFETIME_MS) return invalid("Subscription expiration can only be 10080 minutes in the future.");
    if (clientState !== undefined && clientState !== null && (typeof clientState !== "string" || clientState.length > 128)) {
      return invalid("clientState must be a string of at most 128 characters.");
    }
    const urls = [notificationUrl, ...(lifecycleNotificationUrl === undefined || lifecycleNotificationUrl === null ? [] : [lifecycleNotificationUrl])];
    for (const url of urls) {
      if (typeof url !== "string" || !/^https?:\/\//.test(url)) return invalid("notificationUrl must be an absolute URL.");
      if (this.#options.requireHttpsNotificationUrl && !url.startsWith("https://")) return invalid("The notification endpoint must be https.");
    }
    const entry = this.#lookup(decodeURIComponent(match[1]!));
    if (!entry) return graphError(req, now, 404, "ResourceNotFound", `Resource '${resource}' does not exist.`);
    const denied = await this.#limited(req, "subscriptions", entry, () => json(200, null));
    if (denied.status !== 200) return denied;
    for (const url of urls) {
      const failure = await this.#hub.validate(url as string);
      if (failure !== null) return invalid(failure);
    }
    const created = this.#hub.add({
      resource,
      mailbox: entry.calendar.address,
      userId: entry.calendar.userId,
      changeType,
      notificationUrl: notificationUrl as string,
      lifecycleNotificationUrl: typeof lifecycleNotificationUrl === "string" ? lifecycleNotificationUrl : null,
      clientState: typeof clientState === "string" ? clientState : null,
      expirationMs,
    });
    return json(201, this.#hub.render(created));
  }

  #subscription(req: EmuRequest, id: string, reauthorize: boolean): EmuResponse {
    const now = this.#now();
    const subscription = this.#hub.get(id);
    if (!subscription || subscription.expirationMs <= now.getTime()) {
      return graphError(req, now, 404, "ResourceNotFound", `The object was not found. SubscriptionId: ${id}`);
    }
    if (reauthorize) return json(204, undefined);
    if (req.method === "GET") return json(200, this.#hub.render(subscription));
    if (req.method === "DELETE") {
      this.#hub.remove(id);
      return json(204, undefined);
    }
    if (req.method === "PATCH") {
      const body = (req.body ?? {}) as Record<string, unknown>;
      const expirationMs = typeof body["expirationDateTime"] === "string" ? Date.parse(body["expirationDateTime"]) : Number.NaN;
      if (Number.isNaN(expirationMs) || expirationMs <= now.getTime())
        return graphError(req, now, 400, "InvalidRequest", "expirationDateTime must be in the future.");
      if (expirationMs - now.getTime() > MAX_LIFETIME_MS)
        return graphError(req, now, 400, "InvalidRequest", "Subscription expiration can only be 10080 minutes in the future.");
      subscription.expirationMs = expirationMs;
      return json(200, this.#hub.render(subscription));
    }
    return graphError(req, now, 405, "BadRequest", "The HTTP method is not allowed for this resource.");
  }

  // ---- places -------------------------------------------------------------------------------

  #placesRooms(req: EmuRequest, listAddress: string | null): EmuResponse {
    let rooms = [...this.#places.values()].filter((p) => !p.hidden);
    if (listAddress !== null) {
      const list = this.#roomLists.get(listAddress.toLowerCase());
      if (!list) return graphError(req, this.#now(), 404, "ErrorItemNotFound", "The specified object was not found in the store.");
      const members = new Set(list.rooms);
      rooms = rooms.filter((r) => members.has(r.address)).slice(0, 100);
    }
    return this.#placesPage(
      req,
      rooms.map((p) => ({
        "@odata.type": "#microsoft.graph.room",
        id: p.id,
        emailAddress: p.address,
        displayName: p.displayName,
        address: { street: "", city: "", state: "", countryOrRegion: "", postalCode: "" },
        geoCoordinates: null,
        phone: "",
        nickname: p.displayName,
        label: null,
        capacity: p.capacity,
        building: p.building,
        floorLabel: p.floorLabel,
        floorNumber: p.floorNumber,
        isWheelChairAccessible: false,
        bookingType: "standard",
        tags: [],
        audioDeviceName: null,
        videoDeviceName: p.videoDeviceName,
        displayDeviceName: null,
      })),
    );
  }

  #placesLists(req: EmuRequest): EmuResponse {
    return this.#placesPage(
      req,
      [...this.#roomLists.values()].map((l) => ({
        "@odata.type": "#microsoft.graph.roomList",
        id: l.id,
        displayName: l.displayName,
        address: null,
        geoCoordinates: null,
        phone: "",
        emailAddress: l.address,
      })),
    );
  }

  /** Places pages with `$top/$skip` but (historically) never a nextLink. */
  #placesPage(req: EmuRequest, all: Record<string, unknown>[]): EmuResponse {
    const page = this.#slice(req, all.length, 100);
    if (!("top" in page)) return page;
    const selectParam = queryParam(req.query, "$select");
    const select = selectParam === null ? null : new Set(selectParam.split(",").map((s) => s.trim().toLowerCase()));
    const value = all.slice(page.skip, page.skip + page.top).map((p) => {
      if (select === null) return p;
      const out: Record<string, unknown> = { id: p["id"] };
      for (const [k, v] of Object.entries(p)) if (select.has(k.toLowerCase())) out[k] = v;
      return out;
    });
    const count = queryParam(req.query, "$count") === "true" ? { "@odata.count": all.length } : {};
    return json(200, { "@odata.context": `${this.publicRoot}/v1.0/$metadata#places`, ...count, value });
  }

  // ---- $batch -------------------------------------------------------------------------------

  async #batch(req: EmuRequest): Promise<EmuResponse> {
    const now = this.#now();
    const requests = (req.body as { requests?: unknown } | undefined)?.requests;
    if (!Array.isArray(requests)) return graphError(req, now, 400, "BadRequest", "Invalid batch payload format.");
    if (requests.length === 0 || requests.length > 20) {
      return graphError(req, now, 400, "BadRequest", "The number of requests in a batch must be between 1 and 20.");
    }
    const items: { id: string; method: string; url: string; headers: Record<string, string>; body: unknown; dependsOn: string[] }[] = [];
    for (const r of requests as Record<string, unknown>[]) {
      if (!r || typeof r["id"] !== "string" || typeof r["method"] !== "string" || typeof r["url"] !== "string") {
        return graphError(req, now, 400, "BadRequest", "Every batch request needs id, method and url.");
      }
      if (items.some((i) => i.id === r["id"])) return graphError(req, now, 400, "BadRequest", `Duplicate request id '${r["id"]}'.`);
      const headers: Record<string, string> = {};
      const rawHeaders = r["headers"];
      if (rawHeaders && typeof rawHeaders === "object") {
        for (const [k, v] of Object.entries(rawHeaders as Record<string, unknown>)) if (typeof v === "string") headers[k.toLowerCase()] = v;
      }
      const dependsOn = Array.isArray(r["dependsOn"]) ? (r["dependsOn"] as unknown[]).filter((d): d is string => typeof d === "string") : [];
      items.push({ id: r["id"], method: r["method"].toUpperCase(), url: r["url"], headers, body: r["body"], dependsOn });
    }
    const results = new Map<string, Record<string, unknown>>();
    const run = async (item: (typeof items)[number]): Promise<void> => {
      const failedDependency = item.dependsOn.find((d) => {
        const status = results.get(d)?.["status"];
        return typeof status !== "number" || status >= 400;
      });
      let response: EmuResponse;
      if (failedDependency !== undefined) {
        response = graphError(req, this.#now(), 424, "FailedDependency", `The request depends on '${failedDependency}', which failed.`);
      } else {
        const versioned = /^\/?(v1\.0|beta)(\/|$)/i.exec(item.url);
        if (versioned) {
          response = graphError(req, this.#now(), 400, "BadRequest", `Resource not found for the segment '${versioned[1]}'.`);
        } else {
          const url = new URL(item.url.startsWith("/") ? item.url : `/${item.url}`, "http://emulator.invalid");
          response = await this.#dispatch({
            method: item.method,
            path: `/v1.0${url.pathname}`,
            query: url.searchParams,
            headers: {
              ...item.headers,
              authorization: req.headers["authorization"] ?? "",
              "client-request-id": req.headers["client-request-id"] ?? randomUUID(),
            },
            body: item.body,
            batchItem: true,
          });
          if (response.drop) response = graphError(req, this.#now(), 504, "GatewayTimeout", "The gateway did not receive a timely response.");
        }
      }
      const headers: Record<string, string> = {};
      for (const [k, v] of Object.entries(response.headers)) headers[k.toLowerCase() === "content-type" ? "Content-Type" : k] = v;
      // Non-JSON bodies (MIME, attachment bytes) travel base64-encoded inside a batch (unconfirmed).
      const raw = response.body;
      const itemBody = typeof raw === "string" || Buffer.isBuffer(raw) ? Buffer.from(raw).toString("base64") : (raw ?? null);
      results.set(item.id, { id: item.id, status: response.status, headers, body: itemBody });
    };
    if (items.some((i) => i.dependsOn.length > 0)) {
      for (const item of items) await run(item);
    } else {
      const queue = [...items];
      const workers = Array.from({ length: Math.min(this.#options.batchConcurrency ?? 4, queue.length) }, async () => {
        for (let item = queue.shift(); item; item = queue.shift()) await run(item);
      });
      await Promise.all(workers);
    }
    const responses = items.map((i) => results.get(i.id)!);
    if (this.#options.shuffleBatch ?? true) this.#shuffle(responses);
    return { status: 200, headers: { "Content-Type": "application/json" }, body: { responses } };
  }

  /** A seeded 32-bit generator (mulberry32) for shuffles and fault rates. */
  #nextRandom(): number {
    this.#randomState = (this.#randomState + 0x6d2b79f5) >>> 0;
    let t = this.#randomState;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  }

  #shuffle<T>(values: T[]): void {
    for (let i = values.length - 1; i > 0; i--) {
      const j = this.#nextRandom() % (i + 1);
      [values[i], values[j]] = [values[j]!, values[i]!];
    }
  }

  // ---- control API --------------------------------------------------------------------------

  #control(req: EmuRequest): EmuResponse {
    const name = req.path.slice("/_emulator/".length);
    if (name === "state" && req.method === "GET") {
      return json(200, { stats: this.#stats, mailboxes: this.#mailboxes.size, rooms: this.#places.size, roomLists: this.#roomLists.size });
    }
    if (name === "requests" && req.method === "GET") return json(200, { requests: this.#log });
    if (name === "openid" && req.method === "GET") return json(200, this.calls.openIdDocument(this.#url));
    if (name === "jwks" && req.method === "GET") return json(200, this.calls.jwks());
    if (name === "faults" && req.method === "POST" && req.body && typeof req.body === "object") {
      this.#faults.add(req.body as FaultRule);
      return json(204, undefined);
    }
    if (name === "faults" && req.method === "DELETE") {
      this.#faults.clear();
      return json(204, undefined);
    }
    if (name === "latency" && req.method === "POST") {
      const body = req.body as { ms?: unknown; mailbox?: unknown } | undefined;
      if (typeof body?.ms !== "number") return json(400, { error: "ms required" });
      this.setLatency(body.ms, typeof body.mailbox === "string" ? body.mailbox : undefined);
      return json(204, undefined);
    }
    return json(404, { error: "unknown control route" });
  }
}

function emptyStats(): EmulatorStats {
  return {
    requests: 0,
    byRoute: {},
    byStatus: {},
    batchItems: 0,
    tokenRequests: 0,
    tokensIssued: 0,
    concurrencyRejections: 0,
    maxInFlightPerMailbox: 0,
    dropped: 0,
  };
}

function accessDenied(req: EmuRequest, now: Date, entry: MailboxEntry): EmuResponse {
  switch (entry.knobs.access) {
    case "denied":
      return graphError(req, now, 403, "ErrorAccessDenied", "Access to OData is disabled.");
    case "notEnabled":
      return graphError(req, now, 404, "MailboxNotEnabledForRESTAPI", "The mailbox is either inactive, soft-deleted, or is hosted on-premise.");
    default:
      return graphError(req, now, 404, "ErrorInvalidUser", `The requested user '${entry.calendar.address}' is invalid.`);
  }
}

function preferenceApplied(applied: string[]): Record<string, string> {
  return applied.length > 0 ? { "Preference-Applied": applied.join(", ") } : {};
}

/** A query parameter by name, case-insensitively (`$skiptoken` = `$skipToken`); `%24` arrives decoded. */
function queryParam(query: URLSearchParams, name: string): string | null {
  const direct = query.get(name);
  if (direct !== null) return direct;
  const lower = name.toLowerCase();
  for (const [k, v] of query) if (k.toLowerCase() === lower) return v;
  return null;
}

function uuidFrom(text: string): string {
  let h = 0x811c9dc5;
  const bytes: number[] = [];
  for (let round = 0; round < 16; round++) {
    for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193) >>> 0;
    h = Math.imul(h ^ round, 0x01000193) >>> 0;
    bytes.push(h & 0xff);
  }
  const hex = bytes.map((b) => b.toString(16).padStart(2, "0")).join("");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-4${hex.slice(13, 16)}-8${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
}

function hashSeed(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193) >>> 0;
  return h;
}
