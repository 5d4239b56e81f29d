/**
 * The composition root: config -> logger -> store (+ migrations) -> calendar sources -> poller ->
 * dispatcher -> bridge scheduler -> HTTP server -> ticks. Nothing else in otj wires components.
 * The Engine builds, starts and stops; the work that spans features once it runs lives in
 * app/engine-workflows.ts (ticks, console changes, prune, `step()`), the SGJ wiring in
 * app/bridge-wiring.ts, each feature's own loop with the feature. `otj run` serves until
 * SIGTERM/SIGINT; the demo steps the same engine by hand on a fast clock (`workflows.step()`).
 */
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import type { FastifyInstance } from "fastify";
import type { BridgeScheduler } from "../bridge/bridge-scheduler.ts";
import { CalendarPoller } from "../calendar/calendar-poller.ts";
import type { GraphClient } from "../calendar/graph/graph-client.ts";
import { GraphSubscriptionManager, graphNotificationRoute } from "../calendar/graph/subscriptions.ts";
import type { GoogleChannelManager } from "../calendar/google/google-channels.ts";
import type { GoogleClient } from "../calendar/google/google-client.ts";
import { googleChannelsFor } from "./google-channels.ts";
import type { Clock } from "../core/clock.ts";
import type { Config } from "../core/config.ts";
import { OtjError } from "../core/errors.ts";
import type { Logger } from "../core/logger.ts";
import type { CalendarSource } from "../core/ports/calendar-source.ts";
import type { DevicePusher } from "../core/ports/device-pusher.ts";
import type { MediaBridge } from "../core/ports/media-bridge.ts";
import { DEFAULT_BOOKING_SETTINGS } from "../join/device-bookings.ts";
import { DispatchLoop } from "../join/dispatch-loop.ts";
import { JoinDispatcher } from "../join/join-dispatcher.ts";
import { XapiDevicePusher } from "../join/pushers/xapi-device-pusher.ts";
import { roomPlanner } from "../join/room-planning.ts";
import { compileRules } from "../join/rules.ts";
import { createDatabase, type DatabaseHandle } from "../store/create-database.ts";
import { PostgresGoogleChannelStore } from "../store/postgres/google-channel-store.ts";
import { PostgresSubscriptionStore } from "../store/postgres/graph-subscription-store.ts";
import { migrateToLatest } from "../store/migrate.ts";
import { PostgresStore } from "../store/postgres-store.ts";
import { AlarmEvaluator } from "./alarms/evaluator.ts";
import { AlarmNotifier, channelsFromConfig } from "./alarms/notifier.ts";
import { type BridgeWiring, type EngineCallbacks, wireBridge } from "./bridge-wiring.ts";
import { buildCalendarSources } from "./calendar-sources.ts";
import { tokenRoles } from "./doctor.ts";
import { EngineWorkflows, occurrenceSink } from "./engine-workflows.ts";
import { oidcSettings } from "./http/admin/oidc-settings.ts";
import { buildHttpServer } from "./http/server.ts";
import { EngineMetrics } from "./metrics.ts";

export type { EngineCallbacks } from "./bridge-wiring.ts";

export interface EngineOptions {
  config: Config;
  clock: Clock;
  logger: Logger;
  cwd: string;
  /** Replace adapters (tests and the demo aim them at emulators); undefined: the configured ones. */
  source?: CalendarSource | null;
  pusher?: DevicePusher;
  bridge?: MediaBridge | null;
  /** Run the periodic ticks on the clock (otj run); the demo and tests step by hand (`workflows.step()`). */
  ticks?: boolean;
  /** Draws the retry jitter of device pushes and bridge starts (default Math.random); tests pinning retry times fix it. */
  random?: () => number;
}

/** What a started engine is made of. */
interface Running {
  store: PostgresStore;
  dispatch: DispatchLoop;
  poller: CalendarPoller | null;
  bridge: BridgeWiring;
  subscriptions: GraphSubscriptionManager | null;
  googleChannels: GoogleChannelManager | null;
  notifier: AlarmNotifier | null;
  workflows: EngineWorkflows;
}

export class Engine {
  readonly metrics = new EngineMetrics();
  #running: Running | null = null;
  #db: DatabaseHandle | null = null;
  #http: FastifyInstance | null = null;
  #port = 0;
  #source: CalendarSource | null = null;
  #graphClient: GraphClient | null = null;
  #googleClient: GoogleClient | null = null;
  #closeSources: () => Promise<void> = async () => {};
  #graphReady: true | string = "not checked";
  #stopped = false;
  readonly #options: EngineOptions;

  constructor(options: EngineOptions) {
    this.#options = options;
  }

  get #log(): Logger {
    return this.#options.logger;
  }

  #parts(): Running {
    if (!this.#running) throw new Error("the engine is not started");
    return this.#running;
  }

  /** The store (started engines only). */
  get store(): PostgresStore {
    return this.#parts().store;
  }

  /** The HTTP port it listens on (0 before `start(true)`). */
  get port(): number {
    return this.#port;
  }

  /** The calendar poller, or null when no calendar source is configured. */
  get poller(): CalendarPoller | null {
    return this.#parts().poller;
  }

  /** The SGJ scheduler. */
  get scheduler(): BridgeScheduler {
    return this.#parts().bridge.scheduler;
  }

  /** Google's change-notification channels (google.notifications.enabled), or null. */
  get googleChannels(): GoogleChannelManager | null {
    return this.#parts().googleChannels;
  }

  /** The cross-feature work: `step()` (one pass by hand), `prune()`, console changes. */
  get workflows(): EngineWorkflows {
    return this.#parts().workflows;
  }

  /** Opens the store (migrating it), builds every component and, with `listen`, serves HTTP. */
  async start(listen = true): Promise<void> {
    const { config, clock } = this.#options;
    const ticks = this.#options.ticks !== false;
    const rules = compileRules(config.join.rules as unknown[]);
    this.#db = await createDatabase(config.database.url, { cwd: this.#options.cwd, poolSize: config.database.poolSize });
    const { applied } = await migrateToLatest(this.#db.db);
    if (applied.length > 0) this.#log.info({ applied }, "migrations applied");
    const store = new PostgresStore(this.#db.db, { secretKey: config.secrets.key });

    const pusher =
      this.#options.pusher ??
      new XapiDevicePusher({
        ca: config.devices.caFile ? readFileSync(resolve(this.#options.cwd, config.devices.caFile), "utf8") : null,
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
    const random = this.#options.random;
    const dispatcher = new JoinDispatcher({
      store,
      pusher,
      clock,
      settings,
      logger: this.#log,
      onPush: (result) => this.metrics.pushes.inc({ result }),
      ...(random ? { random } : {}),
    });
    const dispatch = new DispatchLoop({ dispatcher, store, clock, logger: this.#log, kicks: ticks });
    this.metrics.watchStore(store, () => clock.now());

    if (this.#options.source !== undefined) this.#source = this.#options.source;
    else {
      const built = await buildCalendarSources({
        config,
        clock,
        cwd: this.#options.cwd,
        logger: this.#log,
        store,
        db: this.#db?.db ?? null,
        metrics: this.metrics,
      });
      this.#source = built.source;
      this.#graphClient = built.graphClient;
      this.#googleClient = built.googleClient;
      this.#closeSources = built.close;
    }
    const publicUrl = () => config.http.publicUrl ?? `http://127.0.0.1:${this.#port}`;
    const bridge = wireBridge({
      config,
      clock,
      logger: this.#log,
      store,
      pusher,
      bridge: this.#options.bridge,
      metrics: this.metrics,
      publicUrl,
      graphClient: this.#graphClient,
      ...(random ? { random } : {}),
    });
    const scheduler = bridge.scheduler;

    let poller: CalendarPoller | null = null;
    if (this.#source) {
      poller = new CalendarPoller(
        { poll: config.poll, planner: roomPlanner(rules) },
        {
          store,
          source: this.#source,
          clock,
          sink: occurrenceSink({ dispatcher, dispatch, scheduler }),
          logger: this.#log.child({ component: "poller" }),
          onRound: (report) => {
            this.metrics.pollRounds.inc({ outcome: "ok" }, report.ok);
            this.metrics.pollRounds.inc({ outcome: "error" }, report.failed);
            if (report.rooms.length > 0) this.metrics.pollRoundSeconds.observe((report.finishedAt.getTime() - report.startedAt.getTime()) / 1000);
          },
        },
      );
    } else {
      this.#graphReady = "graph.tenantId, graph.clientId and graph.clientSecret (or graph.certificate) are not configured";
      this.#log.warn({}, "no calendar source configured (graph.*, google.* or ews.*): calendars are not polled");
    }

    const callbacks: EngineCallbacks = { ...bridge.callbacks };
    let subscriptions: GraphSubscriptionManager | null = null;
    let subscriptionStore: PostgresSubscriptionStore | null = null;
    if (config.graph.notifications.enabled && this.#graphClient && poller) {
      const polling = poller;
      subscriptionStore = new PostgresSubscriptionStore(this.#db.db, store.owner);
      subscriptions = new GraphSubscriptionManager(
        { notificationUrl: `${publicUrl()}/v1/notifications/graph` },
        {
          client: this.#graphClient,
          store: subscriptionStore,
          cursors: store.syncCursors,
          clock,
          wake: () => polling.poke(),
          logger: this.#log.child({ component: "subscriptions" }),
        },
      );
      const route = graphNotificationRoute(subscriptions);
      callbacks.notifications = (query, rawBody) => route(query, rawBody);
    }
    const googleChannels =
      poller && this.#db
        ? googleChannelsFor({ config, clock, store, publicUrl, logger: this.#log, client: this.#googleClient, db: this.#db.db, wake: () => poller.poke() })
        : null;
    if (googleChannels) callbacks.googleNotifications = googleChannels;

    const channels = channelsFromConfig(config.alerts);
    const notifier =
      channels.length === 0
        ? null
        : new AlarmNotifier({
            channels,
            clock,
            logger: this.#log.child({ component: "alerts" }),
            maxAttempts: config.alerts.maxAttempts,
            retryBaseMs: config.alerts.retryBaseSeconds * 1000,
            onOutcome: (channel, outcome) => this.metrics.alertNotifications.inc({ channel, outcome }),
          });
    const graphClient = this.#graphClient;
    const alarms = new AlarmEvaluator({
      store,
      clock,
      logger: this.#log.child({ component: "alarms" }),
      notifier,
      settings: { ...settings, ...config.alarms },
      bridgeConfigured: config.bridge.adapter !== null,
      secretsKeySet: config.secrets.key !== null,
      ...(graphClient ? { graphRoles: async () => tokenRoles(await graphClient.tokens.getToken(AbortSignal.timeout(30_000))) } : {}),
      graphBridge: config.bridge.adapter === "graph",
      startedAt: clock.now(),
      notifications: {
        pollIntervalSeconds: config.poll.intervalSeconds,
        graph: subscriptionStore,
        google: googleChannels && this.#db ? new PostgresGoogleChannelStore(this.#db.db, store.owner) : null,
      },
    });
    const workflows = new EngineWorkflows({
      config,
      clock,
      logger: this.#log,
      store,
      dispatcher,
      dispatch,
      scheduler,
      poller,
      subscriptions,
      googleChannels,
      alarms,
    });
    this.#running = { store, dispatch, poller, bridge, subscriptions, googleChannels, notifier, workflows };

    if (listen) await this.#listen(store, settings, callbacks, workflows, poller, pusher);
    if (ticks) workflows.start();
    void this.#checkGraph();
  }

  async #listen(
    store: PostgresStore,
    settings: typeof DEFAULT_BOOKING_SETTINGS,
    callbacks: EngineCallbacks,
    workflows: EngineWorkflows,
    poller: CalendarPoller | null,
    pusher: DevicePusher,
  ): Promise<void> {
    const { config, clock } = this.#options;
    if (!config.http.adminToken) this.#log.warn({}, "http.adminToken is not set: admin routes answer 401");
    this.#http = await buildHttpServer({
      store,
      clock,
      logger: this.#log,
      metrics: this.metrics,
      adminToken: config.http.adminToken,
      metricsToken: config.http.metricsToken,
      settings: { ...settings, ...config.alarms },
      readiness: () => this.readiness(),
      callbacks,
      onRoomAdded: (room) => void store.syncCursors.markDue(room.id, clock.now()).catch(() => {}),
      onRoomChanged: (room) => void workflows.roomChanged(room.id),
      onPollNow: () => poller?.poke(),
      publicUrl: config.http.publicUrl,
      timeZone: config.http.timeZone,
      oidc: oidcSettings(config),
      devicePusher: pusher,
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
      await this.#http.listen({ host: config.http.host, port: config.http.port });
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
    const address = this.#http.server.address();
    this.#port = typeof address === "object" && address ? address.port : config.http.port;
    this.#log.info({ port: this.#port }, "listening");
  }

  async #checkGraph(): Promise<void> {
    if (!this.#source) return;
    try {
      await this.#source.connect(AbortSignal.timeout(30_000));
      this.#graphReady = true;
    } catch (error) {
      this.#graphReady = `Graph token not obtainable: ${(error as Error).message}`;
      this.#log.warn({ err: (error as Error).message }, "Graph token not obtainable");
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
    if (this.#graphReady !== true && this.#source) await this.#checkGraph();
    checks.graph = this.#graphReady;
    return checks;
  }

  /**
   * Stops ticks, drains in-flight work within the grace period, releases leases, closes.
   * Idempotent: a second call does nothing.
   */
  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    const now = () => this.#options.clock.now();
    const r = this.#running;
    r?.workflows.stop();
    r?.notifier?.stop();
    await r?.dispatch.stop();
    await this.#http?.close();
    await r?.subscriptions?.stop();
    await r?.googleChannels?.stop();
    await r?.poller?.stop(this.#options.config.shutdown.graceSeconds * 1000);
    await r?.bridge.scheduler.shutdown();
    r?.bridge.close();
    if (r) {
      await r.store.deviceStates.releaseAll(now()).catch(() => 0);
      await r.store.bridgeSessions.releaseAll(now()).catch(() => 0);
      await r.store.syncCursors.releaseAll(now()).catch(() => 0);
    }
    await this.#closeSources().catch(() => undefined);
    await this.#db?.close();
    this.#db = null;
  }
}
