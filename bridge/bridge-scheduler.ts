/**
 * BridgeScheduler: runs SIP Guest Join sessions at meeting time. It builds, starts and stops
 * three parts, each with one job:
 *
 * - SessionSync (session-sync.ts), `syncRoom`: one session per `sgj` occurrence, kept in line
 *   with the calendar.
 * - SessionTimers (session-timers.ts), `tick`: claims the live sessions due within the next
 *   window and arms a Clock timer for each at its exact instant (start, lobby deadline, end).
 * - StartPipeline (start-pipeline.ts): the batched, bounded start of sessions due at one instant.
 *
 * Lifecycle (here): `shutdown` releases claims and leaves live sessions running; the next
 * instance reclaims them. A crashed instance's claims expire and are reclaimed the same way.
 *
 * Time comes only from the Clock; the store decides what is due from the `now` it is given.
 */
import type { Clock } from "../core/clock.ts";
import type { MediaBridge } from "../core/ports/media-bridge.ts";
import { sessionIdFor } from "../core/identities.ts";
import { Semaphore } from "../core/semaphore.ts";
import type { Store } from "../core/ports/store.ts";
import { type BridgeLogger, SessionActions, type SessionNotifier, SILENT_LOGGER } from "./session-actions.ts";
import type { BridgeSchedulerSettings, SchedulerContext } from "./scheduler-context.ts";
import { SessionSync, type SyncRoomReport } from "./session-sync.ts";
import { SessionTimers, type TickReport } from "./session-timers.ts";
import { StartPipeline } from "./start-pipeline.ts";
import { skipWhileBusy, type Ticker, type TickerFactory } from "../core/ticker.ts";

/** How often `start()` ticks (claims due sessions): well within the claim horizon. */
export const BRIDGE_TICK_MS = 5_000;

export type { BridgeSchedulerSettings } from "./scheduler-context.ts";
export type { SyncRoomReport } from "./session-sync.ts";
export type { TickReport } from "./session-timers.ts";

export interface BridgeSchedulerOptions {
  store: Store;
  clock: Clock;
  /** Null when `bridge.adapter` is unset: due sessions end `failed` (OTJ_BRIDGE_NOT_CONFIGURED). */
  bridge: MediaBridge | null;
  /** The adapter name recorded on each started session (`graph`, `http`, `emulator`). */
  adapter: string | null;
  settings: BridgeSchedulerSettings;
  /** Shared with the callback handlers; built from the options above when absent. */
  actions?: SessionActions;
  notifier?: SessionNotifier | null;
  logger?: BridgeLogger;
  /** Claim sessions due within this window (default 60 s: more than a tick interval). */
  horizonMs?: number;
  /** Claim lease (default 180 s; must exceed the horizon). */
  leaseMs?: number;
  /**
   * Sessions per claim statement, and per start statement when many are due at once (default
   * 500); a tick claims until none are left.
   */
  batchSize?: number;
  /** Start requests in flight at once (default 64). */
  maxStartsInFlight?: number;
  /**
   * Store operations at once for timers (default 8); keep it below the store's connection pool
   * (database.poolSize, default 10), which the callbacks and the event log also use.
   */
  storeConcurrency?: number;
  /** First retry delay after a retryable bridge error (default 5 s), doubling up to maxBackoffMs (60 s), with jitter (core/backoff.ts). */
  baseBackoffMs?: number;
  maxBackoffMs?: number;
  /** Draws the retry jitter (uniform in [0, 1)); default Math.random. Tests pinning retry times pass `() => 1` (no jitter). */
  random?: () => number;
  /** See SessionActionsOptions.assumeLobbyAfterMs (the Graph adapter: 15 s). */
  assumeLobbyAfterMs?: number | null;
  /** See SessionActionsOptions.confirmStartMs (default 30 s, with an idempotent bridge only). */
  confirmStartMs?: number;
  /** Called when a start request leaves, with its lateness against the due instant (metrics). */
  onStartLateness?: (ms: number) => void;
  /**
   * With a bridge whose start is idempotent (http): sessions are moved to `starting` this long
   * before their instant (default 2 s), so that only the start requests leave at the instant. 0
   * moves them at the instant.
   */
  preStartMs?: number;
  /**
   * With a bridge whose start is idempotent (http): start requests leave this long before their
   * instant (`notBefore`), and the bridge waits until `notBefore` to join (the bridge protocol's
   * MUST); the start statements run `preStartMs` before that. Default 0: at the instant.
   */
  sendAheadMs?: number;
}

export class BridgeScheduler {
  readonly actions: SessionActions;
  readonly #clock: Clock;
  readonly #store: Store;
  readonly #sync: SessionSync;
  readonly #timers: SessionTimers;
  readonly #starts: StartPipeline;
  readonly #inFlight = new Set<Promise<unknown>>();
  readonly #logger: BridgeLogger;
  #ticker: Ticker | null = null;
  #stopped = false;

  constructor(options: BridgeSchedulerOptions) {
    this.#store = options.store;
    this.#clock = options.clock;
    const logger = options.logger ?? SILENT_LOGGER;
    this.#logger = logger;
    const horizonMs = options.horizonMs ?? 60_000;
    const leaseMs = options.leaseMs ?? 180_000;
    if (leaseMs <= horizonMs) throw new RangeError("BridgeScheduler: leaseMs must exceed horizonMs");
    this.actions =
      options.actions ??
      new SessionActions({
        store: options.store,
        clock: options.clock,
        bridge: options.bridge,
        notifier: options.notifier ?? null,
        logger,
        lobbyTimeoutSeconds: options.settings.lobbyTimeoutSeconds,
        assumeLobbyAfterMs: options.assumeLobbyAfterMs ?? null,
        ...(options.confirmStartMs !== undefined ? { confirmStartMs: options.confirmStartMs } : {}),
      });
    const scheduler = this;
    const ctx: SchedulerContext = {
      store: options.store,
      clock: options.clock,
      bridge: options.bridge,
      adapter: options.adapter,
      settings: options.settings,
      actions: this.actions,
      logger,
      horizonMs,
      leaseMs,
      batchSize: options.batchSize ?? 500,
      lanes: new Semaphore(options.storeConcurrency ?? 8),
      get stopped() {
        return scheduler.#stopped;
      },
      track: (work) => this.#track(work),
    };
    this.#starts = new StartPipeline(ctx, {
      maxStartsInFlight: options.maxStartsInFlight ?? 64,
      baseBackoffMs: options.baseBackoffMs ?? 5_000,
      maxBackoffMs: options.maxBackoffMs ?? 60_000,
      random: options.random ?? Math.random,
      onStartLateness: options.onStartLateness,
      preStartMs: options.preStartMs ?? 2_000,
      sendAheadMs: options.sendAheadMs ?? 0,
      afterAct: (session) => this.#timers.afterAct(session),
    });
    this.#timers = new SessionTimers(ctx, this.#starts);
    this.#sync = new SessionSync(ctx, { sessionIdFor, disarm: (key) => this.#timers.disarm(key), tick: () => this.tick() });
  }

  /** Ticks every BRIDGE_TICK_MS on `ticker` until `shutdown()`; a tick still running skips the next. */
  start(ticker: TickerFactory): void {
    if (this.#ticker !== null || this.#stopped) return;
    const onError = (error: unknown) => this.#logger.warn({ err: (error as Error).message, tick: "bridge" }, "tick failed");
    this.#ticker = ticker(
      BRIDGE_TICK_MS,
      skipWhileBusy(() => this.tick(), onError),
    );
  }

  /** See SessionSync.syncRoom. */
  syncRoom(roomId: string, now: Date = this.#clock.now()): Promise<SyncRoomReport> {
    return this.#sync.syncRoom(roomId, now);
  }

  /**
   * Claims live sessions due by `now + horizon` and arms a timer for each at its due instant.
   * Also renews this instance's claims on sessions still waiting for their timer.
   */
  tick(signal?: AbortSignal): Promise<TickReport> {
    return this.#track(this.#timers.claimAndArm(signal));
  }

  /**
   * Resolves when no timer callback, start request, read-ahead or tick of this instance is running
   * and the event log is written.
   */
  async idle(): Promise<void> {
    for (;;) {
      while (this.#inFlight.size > 0) await Promise.allSettled([...this.#inFlight]);
      await this.actions.flush();
      if (this.#inFlight.size === 0) return;
    }
  }

  /** Timers armed now (sessions claimed by this instance and waiting for their instant). */
  get armedCount(): number {
    return this.#timers.size;
  }

  /**
   * Stops the timers, lets running steps finish, and releases every claim of this instance. Live
   * sessions keep running at the bridge (no stop request): the next instance resumes them.
   */
  async shutdown(): Promise<void> {
    this.#stopped = true;
    this.#ticker?.stop();
    this.#timers.disarmAll();
    // Sessions already moved to `starting` ahead of their instant (preStartMs) send their requests first.
    await this.#starts.whenInstantsPassed();
    await this.idle();
    await this.#store.bridgeSessions.releaseAll(this.#clock.now());
  }

  /** Stops the timers and keeps the claims, as a crash would (tests; the claims expire). */
  abandon(): void {
    this.#stopped = true;
    this.#ticker?.stop();
    this.#timers.disarmAll();
    this.#starts.abandon();
  }

  #track<T>(work: Promise<T>): Promise<T> {
    this.#inFlight.add(work);
    const done = () => this.#inFlight.delete(work);
    work.then(done, done);
    return work;
  }
}
