/**
 * The composition root: config -> logger -> store (+ migrations) -> Graph source -> poller ->
 * dispatcher -> bridge scheduler -> HTTP server -> ticks. Nothing else in otj wires components.
 * `Engine.start()` serves until `stop()` (SIGTERM/SIGINT in `otj run`); the demo drives the same
 * engine on a fast clock with `step()`.
 */
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import cron from "node-cron";
import type { FastifyInstance } from "fastify";
import { GraphMediaBridge } from "../bridge/adapters/graph-media-bridge.ts";
import { OtjError } from "../core/errors.ts";
import { HttpMediaBridge } from "../bridge/adapters/http-media-bridge.ts";
import { BridgeScheduler } from "../bridge/bridge-scheduler.ts";
import { BridgeCallbacks } from "../bridge/callbacks.ts";
import { DeviceNotifier } from "../bridge/device-notice.ts";
import { DEFAULT_GRAPH_CALL_ISSUER, DEFAULT_GRAPH_CALL_OPENID_URL, GraphCallJwtVerifier } from "../bridge/graph-call-jwt.ts";
import type { GraphClient } from "../calendar/graph/graph-client.ts";
import { graphFromConfig, hasGraphCredentials } from "../calendar/graph/graph-from-config.ts";
import { CalendarPoller } from "../calendar/calendar-poller.ts";
import { GraphSubscriptionManager, graphNotificationRoute } from "../calendar/graph/subscriptions.ts";
import type { GoogleChannelManager } from "../calendar/google/google-channels.ts";
import type { GoogleClient } from "../calendar/google/google-client.ts";
import { googleChannelsFor } from "./google-channels.ts";
import type { GoogleNotificationHandler } from "./http/google-notifications.ts";
import { PostgresRequestBudgetStore } from "../store/postgres/request-budget-store.ts";
import { PostgresSubscriptionStore } from "../store/postgres/graph-subscription-store.ts";
import type { Clock } from "../core/clock.ts";
import { clockTicker } from "../core/ticker.ts";
import type { Config } from "../core/config.ts";
import type { Logger } from "../core/logger.ts";
import type { CalendarSource } from "../core/ports/calendar-source.ts";
import type { DevicePusher } from "../core/ports/device-pusher.ts";
import type { MediaBridge } from "../core/ports/media-bridge.ts";
import type { OccurrenceSink } from "../core/ports/occurrence-sink.ts";
import type { PruneCounts } from "../core/ports/store.ts";
import { DEFAULT_BOOKING_SETTINGS } from "../join/device-bookings.ts";
import { JoinDispatcher } from "../join/join-dispatcher.ts";
import { XapiDevicePusher } from "../join/pushers/xapi-device-pusher.ts";
import { roomPlanner } from "../join/room-planning.ts";
import { compileRules } from "../join/rules.ts";
import { createDatabase, type DatabaseHandle } from "../store/create-database.ts";
import { migrateToLatest } from "../store/migrate.ts";
import { PostgresStore } from "../store/postgres-store.ts";
import { AlarmEvaluator } from "./alarms/evaluator.ts";
import { AlarmNotifier, channelsFromConfig } from "./alarms/notifier.ts";
import { tokenRoles } from "./doctor.ts";
import type { OidcSettings } from "./http/admin/oidc.ts";
import { buildHttpServer, type CallbackReply } from "./http/server.ts";
import { EngineMetrics } from "./metrics.ts";
import { combineCalendarSources, hasGoogleCredentials, StoreRoomSources } from "./calendar-sources.ts";
import { ewsCalendarSourceFromConfig, hasEwsCredentials } from "../calendar/ews/ews-from-config.ts";

/** The SGJ scheduler as the engine drives it (bridge/bridge-scheduler.ts). */
export interface SgjScheduler {
  syncRoom(roomId: string, now: Date): Promise<unknown>;
  tick(signal?: AbortSignal): Promise<unknown>;
  /** Releases claims; live sessions keep running (the next instance resumes them). */
  shutdown(): Promise<void>;
  /** Resolves when no start, stop or callback work is in flight (tests, the demo). */
  idle(): Promise<void>;
}

/** How long one prune may hold the `retention` lease before another instance may take it over. */
const PRUNE_LEASE_MS = 30 * 60_000;

/** Callback handlers; each gets the raw body bytes and checks its sender before parsing them. */
export interface EngineCallbacks {
  bridge?: (rawBody: Buffer, signature: string | undefined) => Promise<CallbackReply>;
  graphCalls?: (headers: Record<string, string | string[] | undefined>, rawBody: Buffer) => Promise<CallbackReply>;
  notifications?: (query: Record<string, string | undefined>, rawBody: Buffer) => Promise<CallbackReply>;
  /** `POST /v1/notifications/google` (app/http/google-notifications.ts). */
  googleNotifications?: GoogleNotificationHandler;
}

export interface EngineOptions {
  config: Config;
  clock: Clock;
  logger: Logger;
  cwd: string;
  /** Replace adapters (tests and the demo aim them at emulators). */
  source?: CalendarSource | null;
  pusher?: DevicePusher;
  bridge?: MediaBridge | null;
  /** Builds the SGJ scheduler once the store and bridge exist. */
  makeScheduler?: (parts: EngineParts) => { scheduler: SgjScheduler; callbacks: EngineCallbacks } | null;
  /** Run the periodic ticks on the clock (otj run); the demo steps by hand. */
  ticks?: boolean;
}

export interface EngineParts {
  config: Config;
  clock: Clock;
  logger: Logger;
  store: PostgresStore;
  pusher: DevicePusher;
  bridge: MediaBridge | null;
  metrics: EngineMetrics;
  publicUrl: () => string;
  /** The Graph client when Graph is configured (the graph bridge adapter uses it). */
  graphClient: GraphClient | null;
}

export class Engine {
  store!: PostgresStore;
  dispatcher!: JoinDispatcher;
  poller: CalendarPoller | null = null;
  scheduler: SgjScheduler | null = null;
  http: FastifyInstance | null = null;
  port = 0;
  readonly metrics = new EngineMetrics();
  private db: DatabaseHandle | null = null;
  private source: CalendarSource | null = null;
  private graphClient: GraphClient | null = null;
  private subscriptions: GraphSubscriptionManager | null = null;
  private googleClient: GoogleClient | null = null;
  /** Google's change-notification channels (google.notifications.enabled). */
  googleChannels: GoogleChannelManager | null = null;
  private roomSources: StoreRoomSources | null = null;
  private readonly tasks: Array<{ stop(): void }> = [];
  private graphReady: true | string = "not checked";
  /** Alarm history and notifications (app/alarms/); evaluated on the ticks. */
  alarms: AlarmEvaluator | null = null;
  notifier: AlarmNotifier | null = null;
  /** When each device's fetch was last written (a write per device and minute at most). */
  private readonly fetchWrites = new Map<string, number>();
  /** The HTTP bridge this engine built (its connection pool closes at stop). */
  private ownBridge: HttpMediaBridge | null = null;

  constructor(private readonly options: EngineOptions) {}

  private get log(): Logger {
    return this.options.logger;
  }

  /** Opens the store (migrating it), builds every component and, with `listen`, serves HTTP. */
  async start(listen = true): Promise<void> {
    const { config, clock } = this.options;
    const rules = compileRules(config.join.rules as unknown[]);
    this.db = await createDatabase(config.database.url, { cwd: this.options.cwd, poolSize: config.database.poolSize });
    const { applied } = await migrateToLatest(this.db.db);
    if (applied.length > 0) this.log.info({ applied }, "migrations applied");
    this.store = new PostgresStore(this.db.db, { secretKey: config.secrets.key });

    const pusher =
      this.options.pusher ??
      new XapiDevicePusher({
        ca: config.devices.caFile ? readFileSync(resolve(this.options.cwd, config.devices.caFile), "utf8") : null,
        webex: { token: config.devices.webex.token, baseUrl: "https://webexapis.com" },
        timeoutMs: 10_000,
      });
    const settings = {
      ...DEFAULT_BOOKING_SETTINGS,
      startBufferMinutes: config.join.startBufferMinutes,
      endBufferMinutes: config.join.endBufferMinutes,
      windowFutureDays: config.poll.windowFutureDays,
      webrtcBookings: config.devices.webrtcBookings,
    };
    this.dispatcher = new JoinDispatcher({
      store: this.store,
      pusher,
      clock,
      settings,
      logger: this.log,
      onPush: (result) => this.metrics.pushes.inc({ result }),
    });
    this.metrics.watchStore(this.store, () => clock.now());

    this.source = this.options.source !== undefined ? this.options.source : await this.defaultSource();
    const bridge = this.options.bridge !== undefined ? this.options.bridge : this.defaultBridge();
    if (bridge instanceof HttpMediaBridge && this.options.bridge === undefined) this.ownBridge = bridge;
    const parts: EngineParts = {
      config,
      clock,
      logger: this.log,
      store: this.store,
      pusher,
      bridge,
      metrics: this.metrics,
      publicUrl: () => config.http.publicUrl ?? `http://127.0.0.1:${this.port}`,
      graphClient: this.graphClient,
    };
    const built = this.options.makeScheduler?.(parts) ?? null;
    this.scheduler = built?.scheduler ?? null;

    const sink: OccurrenceSink = {
      roomUpdated: async (roomId, now, signal) => {
        await this.dispatcher.refreshRoom(roomId);
        signal?.throwIfAborted();
        await this.scheduler?.syncRoom(roomId, now);
        // Push at once rather than at the next dispatch tick: a change reaches the device in
        // one poll round.
        if (this.options.ticks !== false) this.kickDispatch();
      },
    };
    if (this.source) {
      this.poller = new CalendarPoller(
        { poll: config.poll, planner: roomPlanner(rules) },
        {
          store: this.store,
          source: this.source,
          clock,
          sink,
          logger: this.log.child({ component: "poller" }),
          onRound: (report) => {
            this.metrics.pollRounds.inc({ outcome: "ok" }, report.ok);
            this.metrics.pollRounds.inc({ outcome: "error" }, report.failed);
          },
        },
      );
    } else {
      this.graphReady = "graph.tenantId, graph.clientId and graph.clientSecret (or graph.certificate) are not configured";
      this.log.warn({}, "no calendar source configured (graph.*, google.* or ews.*): calendars are not polled");
    }

    const callbacks: EngineCallbacks = { ...(built?.callbacks ?? {}) };
    if (config.graph.notifications.enabled && this.graphClient && this.db && this.poller) {
      const poller = this.poller;
      this.subscriptions = new GraphSubscriptionManager(
        { notificationUrl: `${parts.publicUrl()}/v1/notifications/graph` },
        {
          client: this.graphClient,
          store: new PostgresSubscriptionStore(this.db.db, this.store.owner),
          cursors: this.store.syncCursors,
          clock,
          wake: () => poller.poke(),
          logger: this.log.child({ component: "subscriptions" }),
        },
      );
      const route = graphNotificationRoute(this.subscriptions);
      callbacks.notifications = (query, rawBody) => route(query, rawBody);
    }
    this.googleChannels =
      this.poller && this.db ? googleChannelsFor({ ...parts, client: this.googleClient, db: this.db.db, wake: this.poller.poke.bind(this.poller) }) : null;
    if (this.googleChannels) callbacks.googleNotifications = this.googleChannels;

    const channels = channelsFromConfig(config.alerts);
    this.notifier =
      channels.length === 0
        ? null
        : new AlarmNotifier({
            channels,
            clock,
            logger: this.log.child({ component: "alerts" }),
            maxAttempts: config.alerts.maxAttempts,
            retryBaseMs: config.alerts.retryBaseSeconds * 1000,
            onOutcome: (channel, outcome) => this.metrics.alertNotifications.inc({ channel, outcome }),
          });
    const graphClient = this.graphClient;
    this.alarms = new AlarmEvaluator({
      store: this.store,
      clock,
      logger: this.log.child({ component: "alarms" }),
      notifier: this.notifier,
      settings: { ...settings, ...config.alarms },
      bridgeConfigured: config.bridge.adapter !== null,
      secretsKeySet: config.secrets.key !== null,
      ...(graphClient ? { graphRoles: async () => tokenRoles(await graphClient.tokens.getToken(AbortSignal.timeout(30_000))) } : {}),
      graphBridge: config.bridge.adapter === "graph",
      startedAt: clock.now(),
    });

    if (listen) {
      if (!config.http.adminToken) this.log.warn({}, "http.adminToken is not set: admin routes answer 401");
      this.http = await buildHttpServer({
        store: this.store,
        clock,
        logger: this.log,
        metrics: this.metrics,
        adminToken: config.http.adminToken,
        metricsToken: config.http.metricsToken,
        settings: { ...settings, ...config.alarms },
        readiness: () => this.readiness(),
        callbacks,
        onRoomAdded: (room) => void this.store.syncCursors.markDue(room.id, clock.now()).catch(() => {}),
        onRoomChanged: (room) => void this.roomChanged(room.id),
        onPollNow: () => this.poller?.poke(),
        onDeviceFetch: (room) => this.deviceFetched(room.id),
        publicUrl: config.http.publicUrl,
        timeZone: config.http.timeZone,
        oidc: oidcSettings(config),
        trustProxy: config.http.trustProxy,
        ewsFeed: { rateLimit: config.http.ewsRateLimit, dialStringIn: config.http.ewsDialStringIn },
        limits: {
          requestTimeoutMs: config.http.requestTimeoutSeconds * 1000,
          headersTimeoutMs: config.http.headersTimeoutSeconds * 1000,
          keepAliveTimeoutMs: config.http.keepAliveTimeoutSeconds * 1000,
          maxHeaderBytes: config.http.maxHeaderBytes,
          maxConnections: config.http.maxConnections,
        },
      });
      try {
        await this.http.listen({ host: config.http.host, port: config.http.port });
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code;
        if (code === "EADDRINUSE" || code === "EACCES" || code === "EADDRNOTAVAIL") {
          await this.stop().catch(() => undefined);
          throw new OtjError(
            "OTJ_CONFIG_INVALID",
            `cannot listen on ${config.http.host}:${config.http.port} (${code === "EADDRINUSE" ? "the port is in use" : code === "EACCES" ? "permission denied" : "no such address"}); set http.port / http.host (otj demo: --port)`,
            { cause: error },
          );
        }
        throw error;
      }
      const address = this.http.server.address();
      this.port = typeof address === "object" && address ? address.port : config.http.port;
      this.log.info({ port: this.port }, "listening");
    }
    if (this.options.ticks !== false) this.startTicks();
    void this.checkGraph();
  }

  /**
   * A room was added or changed from the console: read its calendar again from scratch (its
   * privacy rules or provider may change every plan), then recompute what its device should hold.
   */
  private async roomChanged(roomId: string): Promise<void> {
    const now = this.options.clock.now();
    try {
      await this.store.syncCursors.resetCursor(roomId, now);
      await this.store.syncCursors.markDue(roomId, now);
      await this.dispatcher.refreshRoom(roomId);
      // Its device may be another one now (address, credentials): push the whole list again.
      await this.store.deviceStates.pushAgain(roomId, now);
      this.poller?.poke();
      if (this.options.ticks !== false) this.kickDispatch();
    } catch (error) {
      this.log.warn({ err: (error as Error).message, room: roomId }, "could not refresh a changed room");
    }
  }

  /** Graph, Google and Exchange Server (EWS) as configured, each room sent to the adapter of its `source`. */
  private async defaultSource(): Promise<CalendarSource | null> {
    const config = this.options.config;
    // Loaded only when configured: the Google client libraries are large and every CLI command imports this file.
    const google = hasGoogleCredentials(config)
      ? (await import("../calendar/google/google-from-config.ts")).googleFromConfig(config, this.options.clock, {
          cwd: this.options.cwd,
          logger: this.log,
          // The daily budget is the instances' together, counted in the store.
          ...(this.db ? { sharedBudget: { store: new PostgresRequestBudgetStore(this.db.db) } } : {}),
        })
      : null;
    this.googleClient = google?.client ?? null;
    this.roomSources = new StoreRoomSources(this.store);
    const ews = hasEwsCredentials(config) ? ewsCalendarSourceFromConfig(config, { clock: this.options.clock, logger: this.log }).source : null;
    return combineCalendarSources({ graph: this.defaultGraphSource(), google: google?.source ?? null, ews }, this.roomSources);
  }

  private defaultGraphSource(): CalendarSource | null {
    if (!hasGraphCredentials(this.options.config)) return null;
    const { client, source } = graphFromConfig(this.options.config, this.options.clock, {
      logger: this.log,
      // Counts every Graph answer by status, and the waits Graph asks for when it throttles.
      fetch: async (input, init) => {
        const response = await globalThis.fetch(input, init);
        this.metrics.graphRequests.inc({ status: String(response.status) });
        const retryAfter = Number(response.headers.get("retry-after"));
        if ((response.status === 429 || response.status === 503) && retryAfter > 0) this.metrics.throttleWaits.inc(retryAfter);
        return response;
      },
    });
    this.graphClient = client;
    return source;
  }

  private defaultBridge(): MediaBridge | null {
    const b = this.options.config.bridge;
    if ((b.adapter === "http" || b.adapter === "emulator") && b.http.baseUrl && b.http.hmacSecret) {
      return new HttpMediaBridge({
        baseUrl: b.http.baseUrl,
        token: b.http.token ?? "",
        hmacSecret: b.http.hmacSecret,
        timeoutMs: 10_000,
        maxConnections: b.maxStartsInFlight,
      });
    }
    return null;
  }

  private async checkGraph(): Promise<void> {
    if (!this.source) return;
    try {
      await this.source.connect(AbortSignal.timeout(30_000));
      this.graphReady = true;
    } catch (error) {
      this.graphReady = `Graph token not obtainable: ${(error as Error).message}`;
      this.log.warn({ err: (error as Error).message }, "Graph token not obtainable");
    }
  }

  async readiness(): Promise<Record<string, true | string>> {
    const checks: Record<string, true | string> = {};
    try {
      await this.store.ping();
      checks.database = true;
    } catch (error) {
      checks.database = (error as Error).message;
    }
    if (this.graphReady !== true && this.source) await this.checkGraph();
    checks.graph = this.graphReady;
    return checks;
  }

  private startTicks(): void {
    this.poller?.start();
    // Interval work runs on the clock, each ticker at its own random phase (core/ticker.ts).
    const ticker = clockTicker(this.options.clock);
    this.subscriptions?.start(ticker);
    this.googleChannels?.start(ticker);
    // A tick that comes while the last one of its kind still runs is skipped.
    const guarded = (name: string, run: () => Promise<unknown>) => {
      let busy = false;
      return () => {
        if (busy) return;
        busy = true;
        run()
          .catch((error: unknown) => this.log.warn({ err: (error as Error).message, tick: name }, "tick failed"))
          .finally(() => {
            busy = false;
          });
      };
    };
    const every = (intervalMs: number, name: string, run: () => Promise<unknown>) => {
      this.tasks.push(ticker(intervalMs, guarded(name, run)));
    };
    every(5_000, "dispatch", async () => this.kickDispatch());
    every(15 * 60_000, "refresh", async () => {
      await this.dispatcher.refreshAll();
      this.kickDispatch();
    });
    if (this.scheduler) every(5_000, "bridge", () => this.scheduler!.tick());
    // The prune runs on the configured cron expression (retention.schedule), so node-cron stays here.
    const prune = cron.schedule(
      this.options.config.retention.schedule,
      guarded("prune", () => this.prune()),
    );
    this.tasks.push({ stop: () => void prune.destroy() });
    every(30_000, "alarms", async () => this.alarms?.evaluate());
  }

  /**
   * Deletes the history past its retention (retention.*): finished bridge sessions, event log
   * entries, ended meetings. Runs under the `retention` job lease, so of several instances one
   * prunes and the others skip (null).
   */
  async prune(): Promise<PruneCounts | null> {
    const { config, clock } = this.options;
    const now = clock.now();
    if (!(await this.store.retention.claimJob("retention", now, PRUNE_LEASE_MS))) return null;
    try {
      const daysAgo = (days: number) => new Date(now.getTime() - days * 86_400_000);
      const counts = await this.store.retention.prune({
        bridgeSessionsBefore: daysAgo(config.retention.bridgeSessionsDays),
        eventLogBefore: daysAgo(config.retention.eventLogDays),
        meetingsEndedBefore: daysAgo(config.retention.meetingsDays),
      });
      this.log.info({ ...counts }, "history pruned");
      return counts;
    } finally {
      await this.store.retention.releaseJob("retention", clock.now()).catch(() => undefined);
    }
  }

  /** A device fetched with its token: recorded for the staleness alarm, once a minute at most. */
  private deviceFetched(roomId: string): void {
    const now = this.options.clock.now();
    const last = this.fetchWrites.get(roomId);
    if (last !== undefined && now.getTime() - last < 60_000) return;
    this.fetchWrites.set(roomId, now.getTime());
    this.store.alarms.recordFetch(roomId, now).catch((error: unknown) => {
      this.fetchWrites.delete(roomId);
      this.log.warn({ err: (error as Error).message }, "device fetch not recorded");
    });
  }

  private dispatching: Promise<void> | null = null;
  private dispatchAgain = false;

  /** Runs a dispatch tick now, or once more after the running one. */
  kickDispatch(): void {
    if (this.dispatching) {
      this.dispatchAgain = true;
      return;
    }
    this.dispatching = this.dispatcher
      .tick()
      .then(() => undefined)
      .catch((error: unknown) => this.log.warn({ err: (error as Error).message }, "dispatch failed"))
      .finally(() => {
        this.dispatching = null;
        if (this.dispatchAgain) {
          this.dispatchAgain = false;
          this.kickDispatch();
        }
      });
  }

  private lastRefresh = 0;

  /** One pass of everything (the demo's fast clock): poll round, bridge tick, device pushes. */
  async step(): Promise<void> {
    const now = this.options.clock.now().getTime();
    if (now - this.lastRefresh >= 15 * 60_000) {
      this.lastRefresh = now;
      await this.dispatcher.refreshAll();
    }
    if (this.poller) await this.poller.runRound();
    if (this.scheduler) await this.scheduler.tick();
    await this.dispatcher.tick();
    await this.alarms?.evaluate().catch((error: unknown) => this.log.warn({ err: (error as Error).message }, "alarm evaluation failed"));
  }

  private stopped = false;

  /**
   * Stops ticks, drains in-flight work within the grace period, releases leases, closes.
   * Idempotent: a second call does nothing.
   */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    const now = () => this.options.clock.now();
    for (const t of this.tasks.splice(0)) t.stop();
    this.notifier?.stop();
    await this.dispatching;
    await this.http?.close();
    await this.subscriptions?.stop();
    await this.googleChannels?.stop();
    await this.poller?.stop(this.options.config.shutdown.graceSeconds * 1000);
    await this.scheduler?.shutdown();
    this.ownBridge?.close();
    if (this.store) {
      await this.store.deviceStates.releaseAll(now()).catch(() => 0);
      await this.store.bridgeSessions.releaseAll(now()).catch(() => 0);
      await this.store.syncCursors.releaseAll(now()).catch(() => 0);
    }
    await this.db?.close();
    this.db = null;
  }
}

/**
 * The SGJ scheduler and its callback handlers for the configured bridge: the HTTP protocol
 * (`http`, `emulator`), Graph calls (`graph`), or none (sessions end failed, not configured).
 */
export function defaultScheduler(parts: EngineParts): { scheduler: SgjScheduler; callbacks: EngineCallbacks } {
  const { config, clock, store, logger } = parts;
  const b = config.bridge;
  let bridge = parts.bridge;
  if (b.adapter === "graph" && !bridge && parts.graphClient && config.graph.tenantId) {
    bridge = new GraphMediaBridge(parts.graphClient, { tenantId: config.graph.tenantId, callbackUri: `${parts.publicUrl()}/v1/callbacks/graph-calls` });
  }
  const scheduler = new BridgeScheduler({
    store,
    clock,
    bridge,
    adapter: bridge ? b.adapter : null,
    settings: {
      leadSeconds: b.leadSeconds,
      lobbyTimeoutSeconds: b.lobbyTimeoutSeconds,
      lateStartSeconds: b.lateStartSeconds,
      endGraceSeconds: b.endGraceSeconds,
      endBufferMinutes: config.join.endBufferMinutes,
      get callbackUrl() {
        return `${parts.publicUrl()}/v1/callbacks/bridge`;
      },
    },
    notifier: new DeviceNotifier({ store, pusher: parts.pusher, clock, logger: logger.child({ component: "device-notice" }) }),
    logger: logger.child({ component: "bridge" }),
    assumeLobbyAfterMs: b.adapter === "graph" ? 15_000 : null,
    maxStartsInFlight: b.maxStartsInFlight,
    onStartLateness: (ms) => parts.metrics.lateness.observe(ms / 1000),
  });
  const graphJwt =
    b.adapter === "graph" && config.graph.clientId
      ? new GraphCallJwtVerifier(
          {
            issuer: b.graph.jwtIssuer ?? DEFAULT_GRAPH_CALL_ISSUER,
            audience: config.graph.clientId,
            openIdConfigUrl: b.graph.openIdConfigUrl ?? DEFAULT_GRAPH_CALL_OPENID_URL,
          },
          { clock },
        )
      : null;
  const handlers = new BridgeCallbacks({ actions: scheduler.actions, hmacSecret: b.http.hmacSecret, graphJwt });
  return {
    scheduler,
    callbacks: {
      bridge: (raw, signature) => handlers.handleBridgeCallback(raw, signature),
      // The JWT is checked first; the handler parses the body once, after it.
      graphCalls: (headers, raw) => handlers.handleGraphCallsCallback(headers, raw),
    },
  };
}

/** The console's named sign-in from `http.oidc.*`, or null when no issuer is set. */
function oidcSettings(config: Config): OidcSettings | null {
  const o = config.http.oidc;
  if (o.issuer === null) return null;
  if (o.clientId === null) throw new OtjError("OTJ_CONFIG_INVALID", "http.oidc.clientId: expected a client id when http.oidc.issuer is set");
  return { issuer: o.issuer, clientId: o.clientId, clientSecret: o.clientSecret, rolesClaim: o.rolesClaim, roles: { ...o.roles } };
}
