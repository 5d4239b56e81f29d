/**
 * Google Workspace emulator over real HTTP: the parts of Google's APIs otj uses.
 *
 * - `POST /token`: OAuth 2.0 JWT-bearer grant. The assertion's RS256 signature is verified with
 *   the emulated service account's public key; `iss` must be the account, `sub` a delegated
 *   subject, `scope` read-only calendar/directory scopes, `exp` in the future.
 * - `GET /calendar/v3/calendars/{id}/events`: `singleEvents=true` listing over `timeMin/timeMax`
 *   paged by `pageToken` (`maxResults`), ending with `nextSyncToken`; `syncToken` returns what
 *   changed since (cancelled entries included) and 410 `fullSyncRequired` once a token expired.
 * - `POST /calendar/v3/calendars/{id}/events/watch`, `POST /calendar/v3/channels/stop`: channels
 *   that receive a `sync` ping at creation and `exists` pings on every change.
 * - `GET /admin/directory/v1/customer/{customer}/resources/calendars`: resource calendars, paged.
 * - Faults on demand: 403 `rateLimitExceeded`/`userRateLimitExceeded`, 429, 500, 503, dropped
 *   connections, for the next N calendar/directory requests.
 *
 * Time comes from the injected clock (tokens, `updated`, channel expiry).
 *
 * Size (over 400 lines): one class keeps the calendars, sync tokens, channels and faults its
 * handlers share; splitting it would pass that state around for no gain in a test double.
 */
import { createPublicKey, createVerify, generateKeyPairSync, randomBytes, randomUUID } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { readBodyOr413 } from "../shared/request-body.ts";

export const CALENDAR_SCOPE = "https://www.googleapis.com/auth/calendar.readonly";
export const DIRECTORY_SCOPE = "https://www.googleapis.com/auth/admin.directory.resource.calendar.readonly";

export interface GoogleEmulatorOptions {
  readonly clock?: { now(): Date };
  /**
   * Checks assertion times and token lifetimes (default real time): google-auth-library stamps
   * its assertions with the wall clock whatever clock the test drives.
   */
  readonly tokenClock?: { now(): Date };
  /** Largest page the emulator sends whatever maxResults asks (default 250, Google's default). */
  readonly maxPageSize?: number;
  /** Subjects the service account may impersonate (default admin@<domain>). */
  readonly subjects?: readonly string[];
  readonly domain?: string;
}

export interface EmulatedEvent {
  id: string;
  iCalUID: string;
  status: "confirmed" | "tentative" | "cancelled";
  summary?: string;
  description?: string;
  location?: string;
  visibility?: "default" | "public" | "private" | "confidential";
  start: { dateTime?: string; date?: string };
  end: { dateTime?: string; date?: string };
  organizer?: { email: string; displayName?: string };
  attendees?: Array<{ email: string; displayName?: string; resource?: boolean; responseStatus?: string; organizer?: boolean }>;
  recurringEventId?: string;
  originalStartTime?: { dateTime: string };
  conferenceData?: Record<string, unknown>;
  hangoutLink?: string;
}

export interface NewEmulatedEvent {
  id?: string;
  summary?: string;
  description?: string;
  location?: string;
  visibility?: EmulatedEvent["visibility"];
  start: string;
  end: string;
  allDay?: boolean;
  organizer?: { email: string; displayName?: string };
  /** The room's own answer (default accepted). */
  roomResponse?: "accepted" | "tentative" | "declined" | "needsAction";
  conferenceData?: Record<string, unknown>;
  hangoutLink?: string;
}

export type GoogleFault = "rateLimitExceeded" | "userRateLimitExceeded" | "429" | "500" | "503" | "drop" | "quotaExceeded" | "forbidden";

interface Stored {
  event: EmulatedEvent;
  /** Change sequence of its last change. */
  seq: number;
  etagN: number;
  updated: string;
}

interface Calendar {
  readonly email: string;
  readonly name: string;
  readonly capacity: number | null;
  readonly building: string | null;
  readonly floor: string | null;
  readonly events: Map<string, Stored>;
  /** Sync tokens of an older generation are answered 410. */
  generation: number;
}

interface Channel {
  id: string;
  resourceId: string;
  calendar: string;
  address: string;
  token: string | null;
  expiration: number;
  messages: number;
}

interface TokenGrant {
  subject: string;
  scopes: Set<string>;
  expiresAt: number;
}

/** What the emulator saw, for tests. */
export interface GoogleCallLog {
  method: string;
  path: string;
  query: Record<string, string>;
  status: number;
}

export class GoogleEmulator {
  readonly url: string;
  readonly serviceAccountEmail: string;
  readonly domain: string;
  readonly subjects: readonly string[];
  /** What the emulator answered, in order. */
  readonly calls: GoogleCallLog[] = [];
  /** Bodies of the notifications sent to channels. */
  readonly notifications: Array<{ channelId: string; state: string; token: string | null; status: number | null }> = [];
  /** Token requests answered (granted or not). */
  tokenRequests = 0;
  /** Wall-clock wait before answering each authorised API request (benchmarks; default 0). */
  latencyMs = 0;

  readonly #server: Server;
  readonly #clock: { now(): Date };
  readonly #tokenClock: { now(): Date };
  readonly #maxPage: number;
  readonly #privateKeyPem: string;
  readonly #publicKey: ReturnType<typeof createPublicKey>;
  readonly #keyId = randomBytes(20).toString("hex");
  readonly #calendars = new Map<string, Calendar>();
  readonly #tokens = new Map<string, TokenGrant>();
  readonly #channels = new Map<string, Channel>();
  readonly #faults: GoogleFault[] = [];
  #seq = 0;

  private constructor(server: Server, url: string, options: GoogleEmulatorOptions, keys: { privateKey: string; publicKey: string }) {
    this.#server = server;
    this.url = url;
    this.#clock = options.clock ?? { now: () => new Date() };
    this.#tokenClock = options.tokenClock ?? { now: () => new Date() };
    this.#maxPage = options.maxPageSize ?? 250;
    this.domain = options.domain ?? "acme.example";
    this.serviceAccountEmail = `otj-sync@acme-project.iam.gserviceaccount.com`;
    this.subjects = options.subjects ?? [`admin@${this.domain}`];
    this.#privateKeyPem = keys.privateKey;
    this.#publicKey = createPublicKey(keys.publicKey);
  }

  static async start(options: GoogleEmulatorOptions = {}): Promise<GoogleEmulator> {
    const keys = generateKeyPairSync("rsa", {
      modulusLength: 2048,
      publicKeyEncoding: { type: "spki", format: "pem" },
      privateKeyEncoding: { type: "pkcs8", format: "pem" },
    });
    let emulator: GoogleEmulator | null = null;
    const server = createServer((req, res) => {
      void emulator!.#handle(req, res);
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const { port } = server.address() as AddressInfo;
    emulator = new GoogleEmulator(server, `http://127.0.0.1:${port}`, options, keys);
    return emulator;
  }

  async stop(): Promise<void> {
    this.#server.closeAllConnections();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  /** The service account key as Google Cloud console downloads it (token_uri points here). */
  serviceAccountKey(): Record<string, string> {
    return {
      type: "service_account",
      project_id: "acme-project",
      private_key_id: this.#keyId,
      private_key: this.#privateKeyPem,
      client_email: this.serviceAccountEmail,
      client_id: "101234567890123456789",
      token_uri: `${this.url}/token`,
    };
  }

  get tokenUrl(): string {
    return `${this.url}/token`;
  }

  addRoom(room: { email: string; name: string; capacity?: number; building?: string; floor?: string }): void {
    this.#calendars.set(room.email.toLowerCase(), {
      email: room.email.toLowerCase(),
      name: room.name,
      capacity: room.capacity ?? null,
      building: room.building ?? null,
      floor: room.floor ?? null,
      events: new Map(),
      generation: 0,
    });
  }

  /** Adds a single event to a room's calendar; returns its id. */
  addEvent(room: string, input: NewEmulatedEvent): string {
    const cal = this.#calendar(room);
    const id = input.id ?? `e${randomBytes(8).toString("hex")}`;
    this.#put(cal, this.#build(cal, id, `${id}@google.com`, input));
    return id;
  }

  /** Adds a daily series of `count` instances; returns the series id and the instance ids. */
  addSeries(room: string, input: NewEmulatedEvent & { count: number }): { seriesId: string; instanceIds: string[] } {
    const cal = this.#calendar(room);
    const seriesId = input.id ?? `s${randomBytes(8).toString("hex")}`;
    const instanceIds: string[] = [];
    for (let i = 0; i < input.count; i++) {
      const start = new Date(Date.parse(input.start) + i * 86_400_000).toISOString();
      const end = new Date(Date.parse(input.end) + i * 86_400_000).toISOString();
      const id = `${seriesId}_${start.replace(/[-:]/g, "").replace(/\.\d{3}/, "")}`;
      const event = this.#build(cal, id, `${seriesId}@google.com`, { ...input, start, end });
      event.recurringEventId = seriesId;
      event.originalStartTime = { dateTime: start };
      this.#put(cal, event);
      instanceIds.push(id);
    }
    return { seriesId, instanceIds };
  }

  /** Changes an event (an instance becomes an exception when its times change). */
  updateEvent(
    room: string,
    id: string,
    change: Partial<Omit<EmulatedEvent, "id" | "start" | "end">> & { start?: string; end?: string; roomResponse?: NewEmulatedEvent["roomResponse"] },
  ): void {
    const cal = this.#calendar(room);
    const stored = cal.events.get(id);
    if (!stored) throw new Error(`no event ${id}`);
    const { start, end, roomResponse, ...rest } = change;
    const event: EmulatedEvent = { ...stored.event, ...rest };
    if (start) event.start = { dateTime: start };
    if (end) event.end = { dateTime: end };
    if (roomResponse) event.attendees = (event.attendees ?? []).map((a) => (a.email === cal.email ? { ...a, responseStatus: roomResponse } : a));
    this.#put(cal, event);
  }

  /** Cancels (deletes) an event or one instance: sync rounds then see it as `cancelled`. */
  cancelEvent(room: string, id: string): void {
    const cal = this.#calendar(room);
    const stored = cal.events.get(id);
    if (!stored) throw new Error(`no event ${id}`);
    this.#put(cal, { ...stored.event, status: "cancelled" });
  }

  /** Every sync token issued so far for the room is answered 410 from now on. */
  expireSyncTokens(room: string): void {
    this.#calendar(room).generation++;
  }

  /** The next calendar/directory requests fail with these faults, in order. */
  failNext(...faults: GoogleFault[]): void {
    this.#faults.push(...faults);
  }

  /** Forgets every token issued (their next use answers 401). */
  revokeTokens(): void {
    this.#tokens.clear();
  }

  channels(): Array<{ id: string; resourceId: string; calendar: string; expiration: number }> {
    return [...this.#channels.values()].map((c) => ({ id: c.id, resourceId: c.resourceId, calendar: c.calendar, expiration: c.expiration }));
  }

  // ------------------------------------------------------------------------------ internals

  #calendar(room: string): Calendar {
    const cal = this.#calendars.get(room.toLowerCase());
    if (!cal) throw new Error(`no room ${room}`);
    return cal;
  }

  #build(cal: Calendar, id: string, uid: string, input: NewEmulatedEvent): EmulatedEvent {
    const organizer = input.organizer ?? { email: `organizer@${this.domain}` };
    const time = (iso: string) => (input.allDay ? { date: iso.slice(0, 10) } : { dateTime: iso });
    const event: EmulatedEvent = {
      id,
      iCalUID: uid,
      status: "confirmed",
      start: time(input.start),
      end: time(input.end),
      organizer,
      attendees: [
        { email: organizer.email, organizer: true, responseStatus: "accepted" },
        { email: cal.email, displayName: cal.name, resource: true, responseStatus: input.roomResponse ?? "accepted" },
      ],
    };
    for (const key of ["summary", "description", "location", "visibility", "conferenceData", "hangoutLink"] as const) {
      if (input[key] !== undefined) (event as unknown as Record<string, unknown>)[key] = input[key];
    }
    return event;
  }

  #put(cal: Calendar, event: EmulatedEvent): void {
    const seq = ++this.#seq;
    const previous = cal.events.get(event.id);
    cal.events.set(event.id, { event, seq, etagN: (previous?.etagN ?? 0) + 1, updated: this.#clock.now().toISOString() });
    for (const channel of this.#channels.values()) {
      if (channel.calendar === cal.email) void this.#notify(channel, "exists");
    }
  }

  #render(stored: Stored): Record<string, unknown> {
    const e = stored.event;
    if (e.status === "cancelled") {
      const minimal: Record<string, unknown> = { kind: "calendar#event", etag: `"${stored.seq}${stored.etagN}"`, id: e.id, status: "cancelled" };
      if (e.recurringEventId) {
        minimal["recurringEventId"] = e.recurringEventId;
        minimal["originalStartTime"] = e.originalStartTime;
      }
      return minimal;
    }
    return { kind: "calendar#event", etag: `"${stored.seq}${stored.etagN}"`, updated: stored.updated, created: stored.updated, ...e };
  }

  async #handle(req: IncomingMessage, res: ServerResponse) {
    const url = new URL(req.url ?? "/", this.url);
    const body = await readBodyOr413(req, res);
    if (body === null) return;
    const query = Object.fromEntries(url.searchParams);
    const send = (status: number, payload: unknown, headers: Record<string, string> = {}) => {
      this.calls.push({ method: req.method ?? "GET", path: url.pathname, query, status });
      res.writeHead(status, { "Content-Type": "application/json; charset=UTF-8", ...headers });
      res.end(JSON.stringify(payload));
    };
    try {
      if (req.method === "POST" && url.pathname === "/token") return this.#token(body, send);
      const grant = this.#grant(req.headers.authorization);
      if (!grant) return send(401, googleError(401, "Invalid Credentials", "authError"), { "WWW-Authenticate": 'Bearer realm="https://accounts.google.com/"' });
      if (this.latencyMs > 0) await new Promise((resolve) => setTimeout(resolve, this.latencyMs));
      const fault = this.#faults.shift();
      if (fault) {
        if (fault === "drop") {
          this.calls.push({ method: req.method ?? "GET", path: url.pathname, query, status: 0 });
          req.socket.destroy();
          return;
        }
        return sendFault(fault, send);
      }
      const events = /^\/calendar\/v3\/calendars\/([^/]+)\/events(\/watch)?$/.exec(url.pathname);
      if (events) {
        if (!grant.scopes.has(CALENDAR_SCOPE)) return send(403, googleError(403, "Insufficient Permission", "insufficientPermissions"));
        const cal = this.#calendars.get(decodeURIComponent(events[1]!).toLowerCase());
        if (!cal) return send(404, googleError(404, "Not Found", "notFound"));
        if (events[2]) return req.method === "POST" ? this.#watch(cal, body, send) : send(405, googleError(405, "Method Not Allowed", "httpMethodNotAllowed"));
        return this.#list(cal, url.searchParams, send);
      }
      if (req.method === "POST" && url.pathname === "/calendar/v3/channels/stop") {
        const { id, resourceId } = JSON.parse(body || "{}") as { id?: string; resourceId?: string };
        const channel = id ? this.#channels.get(id) : undefined;
        if (!channel || channel.resourceId !== resourceId) return send(404, googleError(404, "Channel not found", "notFound"));
        this.#channels.delete(channel.id);
        this.calls.push({ method: "POST", path: url.pathname, query, status: 204 });
        res.writeHead(204).end();
        return;
      }
      if (/^\/admin\/directory\/v1\/customer\/[^/]+\/resources\/calendars$/.test(url.pathname)) {
        if (!grant.scopes.has(DIRECTORY_SCOPE)) return send(403, googleError(403, "Not Authorized to access this resource/api", "forbidden"));
        return this.#resources(url.searchParams, send);
      }
      return send(404, googleError(404, "Not Found", "notFound"));
    } catch (error) {
      return send(500, googleError(500, `emulator: ${(error as Error).message}`, "backendError"));
    }
  }

  #token(body: string, send: (status: number, payload: unknown) => void) {
    this.tokenRequests++;
    const form = new URLSearchParams(body);
    if (form.get("grant_type") !== "urn:ietf:params:oauth:grant-type:jwt-bearer") return send(400, { error: "unsupported_grant_type" });
    const parts = (form.get("assertion") ?? "").split(".");
    if (parts.length !== 3) return send(400, { error: "invalid_grant", error_description: "Invalid JWT" });
    const verify = createVerify("RSA-SHA256");
    verify.update(`${parts[0]}.${parts[1]}`);
    if (!verify.verify(this.#publicKey, Buffer.from(parts[2]!, "base64url")))
      return send(400, { error: "invalid_grant", error_description: "Invalid JWT Signature." });
    let claims: Record<string, unknown>;
    try {
      const header = JSON.parse(Buffer.from(parts[0]!, "base64url").toString("utf8")) as Record<string, unknown>;
      if (header["alg"] !== "RS256") return send(400, { error: "invalid_grant", error_description: "Invalid JWT algorithm" });
      claims = JSON.parse(Buffer.from(parts[1]!, "base64url").toString("utf8")) as Record<string, unknown>;
    } catch {
      return send(400, { error: "invalid_grant", error_description: "Invalid JWT" });
    }
    const now = Math.floor(this.#tokenClock.now().getTime() / 1000);
    if (claims["iss"] !== this.serviceAccountEmail) return send(400, { error: "invalid_grant", error_description: "Invalid issuer" });
    if (typeof claims["exp"] !== "number" || claims["exp"] < now - 300 || (typeof claims["iat"] === "number" && claims["iat"] > now + 300)) {
      return send(400, { error: "invalid_grant", error_description: "Invalid JWT: Token must be a short-lived token and in a reasonable timeframe." });
    }
    const subject = typeof claims["sub"] === "string" ? claims["sub"] : null;
    if (subject === null || !this.subjects.includes(subject.toLowerCase())) {
      return send(401, {
        error: "unauthorized_client",
        error_description: "Client is unauthorized to retrieve access tokens using this method, or client not authorized for any of the scopes requested.",
      });
    }
    const scopes = new Set(
      String(claims["scope"] ?? "")
        .split(" ")
        .filter(Boolean),
    );
    if (scopes.size === 0 || [...scopes].some((s) => s !== CALENDAR_SCOPE && s !== DIRECTORY_SCOPE)) {
      return send(400, { error: "invalid_scope", error_description: "Only read-only calendar and resource scopes are delegated." });
    }
    const token = `ya29.${randomBytes(24).toString("base64url")}`;
    this.#tokens.set(token, { subject, scopes, expiresAt: this.#tokenClock.now().getTime() + 3_600_000 });
    send(200, { access_token: token, expires_in: 3599, token_type: "Bearer" });
  }

  #grant(authorization: string | undefined): TokenGrant | null {
    const token = /^Bearer (\S+)$/.exec(authorization ?? "")?.[1];
    const grant = token ? this.#tokens.get(token) : undefined;
    if (!grant || grant.expiresAt <= this.#tokenClock.now().getTime()) return null;
    return grant;
  }

  #list(cal: Calendar, params: URLSearchParams, send: (status: number, payload: unknown) => void) {
    const size = Math.min(this.#maxPage, Math.max(1, Number(params.get("maxResults") ?? 250) || 250));
    const pageToken = params.get("pageToken");
    const syncToken = params.get("syncToken");
    let state: { since: number | null; timeMin: string | null; timeMax: string | null; upTo: number; offset: number };
    if (pageToken) {
      const decoded = decodeToken(pageToken, "p");
      if (!decoded) return send(400, googleError(400, "Invalid page token value.", "invalid"));
      state = decoded as typeof state;
    } else if (syncToken) {
      if (params.has("timeMin") || params.has("timeMax"))
        return send(400, googleError(400, "Sync token cannot be combined with timeMin or timeMax.", "invalid"));
      const decoded = decodeToken(syncToken, "s") as { calendar: string; seq: number; generation: number } | null;
      if (!decoded || decoded.calendar !== cal.email) return send(400, googleError(400, "Invalid sync token value.", "invalid"));
      if (decoded.generation !== cal.generation)
        return send(410, googleError(410, "Sync token is no longer valid, a full sync is required.", "fullSyncRequired"));
      state = { since: decoded.seq, timeMin: null, timeMax: null, upTo: this.#seq, offset: 0 };
    } else {
      if (params.get("singleEvents") !== "true") return send(400, googleError(400, "The emulator lists single events only.", "invalid"));
      state = { since: null, timeMin: params.get("timeMin"), timeMax: params.get("timeMax"), upTo: this.#seq, offset: 0 };
    }
    const min = state.timeMin ? Date.parse(state.timeMin) : Number.NEGATIVE_INFINITY;
    const max = state.timeMax ? Date.parse(state.timeMax) : Number.POSITIVE_INFINITY;
    const matching = [...cal.events.values()]
      .filter((s) => s.seq <= state.upTo)
      .filter((s) => {
        if (state.since !== null) return s.seq > state.since;
        if (s.event.status === "cancelled") return false;
        const start = Date.parse(s.event.start.dateTime ?? `${s.event.start.date}T00:00:00Z`);
        const end = Date.parse(s.event.end.dateTime ?? `${s.event.end.date}T00:00:00Z`);
        return end > min && start < max;
      })
      .sort((a, b) => a.seq - b.seq);
    const page = matching.slice(state.offset, state.offset + size);
    const out: Record<string, unknown> = {
      kind: "calendar#events",
      summary: cal.email,
      timeZone: "UTC",
      updated: this.#clock.now().toISOString(),
      items: page.map((s) => this.#render(s)),
    };
    if (state.offset + size < matching.length) out["nextPageToken"] = encodeToken("p", { ...state, offset: state.offset + size });
    else out["nextSyncToken"] = encodeToken("s", { calendar: cal.email, seq: state.upTo, generation: cal.generation });
    send(200, out);
  }

  #watch(cal: Calendar, body: string, send: (status: number, payload: unknown) => void) {
    const input = JSON.parse(body || "{}") as { id?: string; type?: string; address?: string; token?: string; expiration?: string };
    if (!input.id || input.type !== "web_hook" || !input.address) return send(400, googleError(400, "id, type web_hook and address are required", "required"));
    if (this.#channels.has(input.id)) return send(400, googleError(400, "Channel id not unique", "channelIdNotUnique"));
    const max = this.#clock.now().getTime() + 7 * 86_400_000;
    const asked = input.expiration ? Number(input.expiration) : max;
    const channel: Channel = {
      id: input.id,
      resourceId: randomUUID(),
      calendar: cal.email,
      address: input.address,
      token: input.token ?? null,
      expiration: Math.min(asked, max),
      messages: 0,
    };
    this.#channels.set(channel.id, channel);
    void this.#notify(channel, "sync");
    send(200, {
      kind: "api#channel",
      id: channel.id,
      resourceId: channel.resourceId,
      resourceUri: `${this.url}/calendar/v3/calendars/${encodeURIComponent(cal.email)}/events?alt=json`,
      ...(channel.token !== null ? { token: channel.token } : {}),
      expiration: String(channel.expiration),
    });
  }

  async #notify(channel: Channel, state: "sync" | "exists"): Promise<void> {
    if (channel.expiration <= this.#clock.now().getTime()) return;
    const headers: Record<string, string> = {
      "X-Goog-Channel-ID": channel.id,
      "X-Goog-Message-Number": String(++channel.messages),
      "X-Goog-Resource-ID": channel.resourceId,
      "X-Goog-Resource-State": state,
      "X-Goog-Resource-URI": `${this.url}/calendar/v3/calendars/${encodeURIComponent(channel.calendar)}/events?alt=json`,
      "X-Goog-Channel-Expiration": new Date(channel.expiration).toUTCString(),
    };
    if (channel.token !== null) headers["X-Goog-Channel-Token"] = channel.token;
    const record = { channelId: channel.id, state, token: channel.token, status: null as number | null };
    this.notifications.push(record);
    try {
      const response = await fetch(channel.address, { method: "POST", headers });
      record.status = response.status;
      await response.body?.cancel();
    } catch {
      record.status = 0;
    }
  }

  #resources(params: URLSearchParams, send: (status: number, payload: unknown) => void) {
    const size = Math.min(500, Math.max(1, Number(params.get("maxResults") ?? 100) || 100));
    const offset = params.get("pageToken") ? Number((decodeToken(params.get("pageToken")!, "r") as { offset?: number } | null)?.offset ?? Number.NaN) : 0;
    if (!Number.isInteger(offset)) return send(400, googleError(400, "Invalid page token", "invalid"));
    const all = [...this.#calendars.values()];
    const items = all.slice(offset, offset + size).map((c, i) => ({
      kind: "admin#directory#resources#calendars#CalendarResource",
      etags: `"r${offset + i}"`,
      resourceId: `res${offset + i}`,
      resourceName: c.name,
      resourceEmail: c.email,
      resourceCategory: "CONFERENCE_ROOM",
      generatedResourceName: `${c.building ?? "Main"}-${c.floor ?? "1"}-${c.name}`,
      ...(c.capacity !== null ? { capacity: c.capacity } : {}),
      ...(c.building !== null ? { buildingId: c.building } : {}),
      ...(c.floor !== null ? { floorName: c.floor } : {}),
    }));
    const out: Record<string, unknown> = { kind: "admin#directory#resources#calendars#calendarResourcesList", items };
    if (offset + size < all.length) out["nextPageToken"] = encodeToken("r", { offset: offset + size });
    send(200, out);
  }
}

function googleError(code: number, message: string, reason: string): Record<string, unknown> {
  const domain = reason === "rateLimitExceeded" || reason === "userRateLimitExceeded" || reason === "quotaExceeded" ? "usageLimits" : "global";
  return { error: { code, message, errors: [{ domain, reason, message }] } };
}

function sendFault(fault: GoogleFault, send: (status: number, payload: unknown, headers?: Record<string, string>) => void) {
  switch (fault) {
    case "rateLimitExceeded":
      return send(403, googleError(403, "Rate Limit Exceeded", "rateLimitExceeded"));
    case "userRateLimitExceeded":
      return send(403, googleError(403, "User Rate Limit Exceeded", "userRateLimitExceeded"));
    case "quotaExceeded":
      return send(403, googleError(403, "Calendar usage limits exceeded.", "quotaExceeded"));
    case "forbidden":
      return send(403, googleError(403, "Forbidden", "forbidden"));
    case "429":
      return send(429, googleError(429, "Too Many Requests", "rateLimitExceeded"));
    case "500":
      return send(500, googleError(500, "Backend Error", "backendError"));
    case "503":
      return send(503, googleError(503, "The service is currently unavailable.", "backendError"));
    default:
      return send(500, googleError(500, "unknown fault", "backendError"));
  }
}

function encodeToken(kind: string, value: unknown): string {
  return `${kind}${Buffer.from(JSON.stringify(value)).toString("base64url")}`;
}

function decodeToken(token: string, kind: string): Record<string, unknown> | null {
  if (!token.startsWith(kind)) return null;
  try {
    const value = JSON.parse(Buffer.from(token.slice(kind.length), "base64url").toString("utf8")) as unknown;
    return value !== null && typeof value === "object" ? (value as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}
