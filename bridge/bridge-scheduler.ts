/**
 * BridgeScheduler: runs SIP Guest Join sessions at meeting time.
 *
 * - `syncRoom` keeps one session per `sgj` occurrence: scheduled at `start - bridge.leadSeconds`,
 *   rescheduled while still scheduled when the meeting moves, cancelled (and stopped when live)
 *   when the occurrence is removed, cancelled, declined or no longer routed `sgj`.
 * - `tick` claims the live sessions due within the next window (SKIP LOCKED + lease) and arms an
 *   in-process timer on the Clock for each, so each fires at its exact instant: start, lobby
 *   deadline, or the meeting's end (`notAfter`).
 * - A start is a compare-and-set from `scheduled`: whatever races (two instances, a timer and a
 *   reclaim after a crash), one occurrence is started once. Starts due at the same instant are
 *   gathered and moved in one statement (store.startMany), then their start requests go out with
 *   bounded concurrency; the external ids they return and the claims released afterwards are
 *   written in batches too. Retryable bridge errors go back to `scheduled` with backoff until
 *   `notAfter`.
 * - `shutdown` releases claims and leaves live sessions running; the next instance reclaims
 *   them. A crashed instance's claims expire and are reclaimed the same way.
 *
 * Time comes only from the Clock; the store decides what is due from the `now` it is given.
 */
import { backoffMs } from "../core/backoff.ts";
import { addMs, type CancelTimer, type Clock } from "../core/clock.ts";
import { toOtjError } from "../core/errors.ts";
import type { BridgeStartRequest, MediaBridge } from "../core/ports/media-bridge.ts";
import {
  type BridgeExternalId,
  type BridgeSession,
  LIVE_BRIDGE_STATES,
  type Meeting,
  type Room,
  type ScheduleBridgeSession,
  type Store,
} from "../core/ports/store.ts";
import { sessionIdFor } from "../join/dial-string.ts";
import { type BridgeLogger, SessionActions, type SessionNotifier, SILENT_LOGGER } from "./session-actions.ts";
import { isFinal, type SessionEvent, transition } from "./session-machine.ts";
import { WriteBatcher } from "./write-batcher.ts";

/** The `bridge.*` and `join.*` settings the scheduler reads. */
export interface BridgeSchedulerSettings {
  leadSeconds: number;
  lobbyTimeoutSeconds: number;
  lateStartSeconds: number;
  endGraceSeconds: number;
  /** `join.endBufferMinutes`. */
  endBufferMinutes: number;
  /** Where an HTTP bridge reports: `http.publicUrl` + `/v1/callbacks/bridge`. */
  callbackUrl: string;
}

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
  /** First retry delay after a retryable bridge error (default 5 s), doubling up to maxBackoffMs (60 s). */
  baseBackoffMs?: number;
  maxBackoffMs?: number;
  /** See SessionActionsOptions.assumeLobbyAfterMs (the Graph adapter: 15 s). */
  assumeLobbyAfterMs?: number | null;
  /** See SessionActionsOptions.confirmStartMs (default 30 s, with an idempotent bridge only). */
  confirmStartMs?: number;
  /** Called when a start request leaves, with its lateness against the due instant (metrics). */
  onStartLateness?: (ms: number) => void;
}

export interface SyncRoomReport {
  created: number;
  rescheduled: number;
  cancelled: number;
}

export interface TickReport {
  claimed: number;
  /** Timers armed in this instance after the tick. */
  armed: number;
}

type Prepared = { ok: true; request: BridgeStartRequest } | { ok: false; reason: string };

interface Armed {
  /** The session as claimed. */
  session: BridgeSession;
  dueAt: number;
  leaseUntil: number;
  cancel: CancelTimer;
  /** The start request, read ahead (null: nothing to read, or the read failed). */
  prepared: Promise<Prepared | null> | null;
  /** What `prepared` gave, once it has (undefined until then, or when the read failed). */
  ready?: Prepared;
}

/** Why an occurrence no longer wants a session, or null when it does. */
function unwantedReason(meeting: Meeting | null): string | null {
  if (meeting === null) return "meeting removed from the calendar";
  if (meeting.cancelled) return "meeting cancelled";
  if (meeting.declined) return "the room declined the meeting";
  if (meeting.route !== "sgj") return `meeting no longer routed sgj (now ${meeting.route})`;
  return null;
}

/**
 * A semaphore over the store's connections with two lanes: due work (a compare-and-set at the
 * instant, deadlines) goes first; bookkeeping (reading ahead, recording ids, releasing claims)
 * runs only when no due work waits, so a burst of starts is not slowed by its own aftermath.
 */
class StoreLanes {
  private active = 0;
  private readonly urgent: Array<() => void> = [];
  private readonly later: Array<() => void> = [];
  constructor(private readonly max: number) {}

  /** Due work. */
  now<T>(work: () => Promise<T>): Promise<T> {
    return this.run(this.urgent, work);
  }

  /** Bookkeeping. */
  soon<T>(work: () => Promise<T>): Promise<T> {
    return this.run(this.later, work);
  }

  private async run<T>(queue: Array<() => void>, work: () => Promise<T>): Promise<T> {
    if (this.active >= this.max || this.urgent.length > 0 || (queue === this.later && this.later.length > 0)) {
      await new Promise<void>((resolve) => queue.push(resolve));
    } else this.active++;
    try {
      return await work();
    } finally {
      const next = this.urgent.shift() ?? this.later.shift();
      if (next) next();
      else this.active--;
    }
  }
}

/** A FIFO semaphore. */
class Limiter {
  private active = 0;
  private readonly waiting: Array<() => void> = [];
  private drained: Array<() => void> = [];
  constructor(private readonly max: number) {}
  async run<T>(work: () => Promise<T>): Promise<T> {
    if (this.active >= this.max) await new Promise<void>((resolve) => this.waiting.push(resolve));
    else this.active++;
    try {
      return await work();
    } finally {
      const next = this.waiting.shift();
      if (next) next();
      else this.active--;
      if (this.waiting.length === 0 && this.drained.length > 0) {
        for (const resolve of this.drained.splice(0)) resolve();
      }
    }
  }

  /** Resolves when no work waits for a slot (what runs may still be running). */
  noneWaiting(): Promise<void> {
    if (this.waiting.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.drained.push(resolve));
  }
}

export class BridgeScheduler {
  readonly actions: SessionActions;
  private readonly store: Store;
  private readonly clock: Clock;
  private readonly settings: BridgeSchedulerSettings;
  private readonly logger: BridgeLogger;
  private readonly horizonMs: number;
  private readonly leaseMs: number;
  private readonly batchSize: number;
  private readonly maxStartsInFlight: number;
  private readonly startLimiter: Limiter;
  /** Store work, kept below the connection pool's size, due work first. */
  private readonly lanes: StoreLanes;
  private readonly armed = new Map<string, Armed>();
  /** Sessions whose start instant came, waiting for the next start statement. */
  private startQueue: Armed[] = [];
  private startDrain: Promise<void> | null = null;
  private readonly externalIds: WriteBatcher<BridgeExternalId, BridgeSession | null>;
  private readonly releases: WriteBatcher<string, null>;
  private readonly inFlight = new Set<Promise<unknown>>();
  /** Fires at an instant already past, per session: a guard against a timer loop. */
  private readonly overdueFires = new Map<string, number>();
  private stopped = false;

  constructor(private readonly options: BridgeSchedulerOptions) {
    this.store = options.store;
    this.clock = options.clock;
    this.settings = options.settings;
    this.logger = options.logger ?? SILENT_LOGGER;
    this.horizonMs = options.horizonMs ?? 60_000;
    this.leaseMs = options.leaseMs ?? 180_000;
    if (this.leaseMs <= this.horizonMs) throw new RangeError("BridgeScheduler: leaseMs must exceed horizonMs");
    this.batchSize = options.batchSize ?? 500;
    this.maxStartsInFlight = options.maxStartsInFlight ?? 64;
    this.startLimiter = new Limiter(this.maxStartsInFlight);
    this.lanes = new StoreLanes(options.storeConcurrency ?? 8);
    // The batches bypass the lanes (a caller waiting in a lane for its batch would hold the lane):
    // each is one statement at a time on the pool. While start requests still wait for a slot
    // (a burst), they wait: the burst's bookkeeping then goes out in a few large statements
    // instead of many small ones competing with the starts for the CPU.
    const afterBurst = () => this.startLimiter.noneWaiting();
    this.externalIds = new WriteBatcher(async (ids) => {
      const rows = new Map((await this.store.bridgeSessions.recordExternalIds(ids, this.clock.now())).map((s) => [s.occurrenceKey, s]));
      return ids.map((i) => rows.get(i.occurrenceKey) ?? null);
    }, { before: afterBurst });
    this.releases = new WriteBatcher(async (keys) => {
      await this.store.bridgeSessions.releaseMany(keys, this.clock.now());
      return keys.map(() => null);
    }, { before: afterBurst });
    this.actions =
      options.actions ??
      new SessionActions({
        store: options.store,
        clock: options.clock,
        bridge: options.bridge,
        notifier: options.notifier ?? null,
        logger: this.logger,
        lobbyTimeoutSeconds: options.settings.lobbyTimeoutSeconds,
        assumeLobbyAfterMs: options.assumeLobbyAfterMs ?? null,
        ...(options.confirmStartMs !== undefined ? { confirmStartMs: options.confirmStartMs } : {}),
      });
  }

  // ---- calendar side ------------------------------------------------------------------------

  /**
   * Brings the room's sessions in line with its meetings as of `now`. Idempotent. A session
   * first seen after `start + bridge.lateStartSeconds` is cancelled with that cause; one first
   * seen after `start - lead` but before that is due at once. A session created or moved into
   * the claim window is claimed at once (this runs a tick), so it never waits for the next tick.
   */
  async syncRoom(roomId: string, now: Date = this.clock.now()): Promise<SyncRoomReport> {
    const report: SyncRoomReport = { created: 0, rescheduled: 0, cancelled: 0 };
    const { leadSeconds, lateStartSeconds, endBufferMinutes, endGraceSeconds } = this.settings;
    const meetings = await this.store.meetings.list(roomId, { from: addMs(now, -86_400_000), includeCancelled: true });
    const byKey = new Map(meetings.map((m) => [m.occurrenceKey, m]));
    let dueSoon = false;
    for (const meeting of meetings) {
      if (unwantedReason(meeting) !== null) continue;
      const notAfter = addMs(meeting.end, endBufferMinutes * 60_000 + endGraceSeconds * 1000);
      if (notAfter.getTime() <= now.getTime()) continue;
      const dueAt = addMs(meeting.start, -leadSeconds * 1000);
      const { session, change } = await this.schedule(
        { occurrenceKey: meeting.occurrenceKey, sessionId: sessionIdFor(meeting.occurrenceKey), roomId, dueAt, notAfter, dialString: meeting.dialString },
        now,
      );
      if (change === "created") {
        report.created++;
        this.event(session, now, "bridge.scheduled", `session scheduled for ${dueAt.toISOString()}`);
        const lateBy = now.getTime() - meeting.start.getTime();
        if (lateBy >= lateStartSeconds * 1000) {
          const reason = `first seen ${Math.round(lateBy / 1000)} s after the meeting started, later than bridge.lateStartSeconds (${lateStartSeconds} s): too late to join`;
          if ((await this.actions.apply(session, { type: "cancel", reason })).applied) report.cancelled++;
          continue;
        }
      } else if (change === "rescheduled") {
        report.rescheduled++;
        this.event(session, now, "bridge.rescheduled", `meeting moved: session now due ${dueAt.toISOString()}`);
        this.disarm(session.occurrenceKey);
        if (session.leaseOwner === this.store.owner) await this.store.bridgeSessions.release(session.occurrenceKey, now);
      } else if (!isFinal(session.state) && session.state !== "scheduled" && session.notAfter.getTime() !== notAfter.getTime()) {
        // The meeting's end moved while the bridge is in it: it now leaves at the new end.
        await this.actions.patchLive(session.occurrenceKey, (s) => {
          if (s.state === "scheduled") return null;
          const deadline = s.state === "admitted" || s.lobbyDeadline === null ? Number.POSITIVE_INFINITY : s.lobbyDeadline.getTime();
          const next = s.dueAt.getTime() === s.notAfter.getTime() ? deadline : s.dueAt.getTime();
          const dueAt = new Date(Math.min(next, notAfter.getTime()));
          return { notAfter, dueAt };
        });
      }
      // Created or moved into the claim window: claim it now rather than at the next tick.
      if (change !== "unchanged" && session.state === "scheduled" && dueAt.getTime() <= now.getTime() + this.horizonMs) dueSoon = true;
    }
    for (const session of await this.store.bridgeSessions.list({ roomId, states: LIVE_BRIDGE_STATES })) {
      const meeting = byKey.get(session.occurrenceKey) ?? (await this.store.meetings.get(session.occurrenceKey));
      const reason = unwantedReason(meeting);
      if (reason === null) continue;
      if ((await this.actions.apply(session, { type: "cancel", reason })).applied) report.cancelled++;
    }
    await this.actions.flush();
    if (dueSoon && !this.stopped) await this.tick();
    return report;
  }

  /**
   * store.schedule, once more after a unique-key conflict: when two instances create the same
   * session at once, PostgreSQL can report the session id's unique index instead of resolving the
   * occurrence key's ON CONFLICT; the second try finds the row and changes nothing.
   */
  private async schedule(input: ScheduleBridgeSession, now: Date): ReturnType<Store["bridgeSessions"]["schedule"]> {
    try {
      return await this.store.bridgeSessions.schedule(input, now);
    } catch (error) {
      if (toOtjError(error).code !== "OTJ_STORE_CONFLICT") throw error;
      return this.store.bridgeSessions.schedule(input, now);
    }
  }

  // ---- timers -------------------------------------------------------------------------------

  /**
   * Claims live sessions due by `now + horizon` and arms a timer for each at its due instant.
   * Also renews this instance's claims on sessions still waiting for their timer.
   */
  tick(signal?: AbortSignal): Promise<TickReport> {
    return this.track(this.claimAndArm(signal));
  }

  private async claimAndArm(signal?: AbortSignal): Promise<TickReport> {
    if (this.stopped) return { claimed: 0, armed: this.armed.size };
    const now = this.clock.now();
    await this.renewLeases(now);
    let claimed = 0;
    for (;;) {
      const batch = await this.store.bridgeSessions.claimDue(now, this.batchSize, { leaseMs: this.leaseMs, horizonMs: this.horizonMs, ...(signal ? { signal } : {}) });
      if (this.stopped) break;
      for (const session of batch) this.arm(session, now);
      claimed += batch.length;
      if (batch.length < this.batchSize) break;
    }
    return { claimed, armed: this.armed.size };
  }

  private async renewLeases(now: Date): Promise<void> {
    const half = now.getTime() + this.leaseMs / 2;
    for (const [key, entry] of [...this.armed]) {
      if (entry.leaseUntil > half) continue;
      if (await this.store.bridgeSessions.renewLease(key, now, { leaseMs: this.leaseMs })) entry.leaseUntil = now.getTime() + this.leaseMs;
      else if (this.armed.get(key) === entry) this.disarm(key);
    }
  }

  private arm(session: BridgeSession, now: Date): void {
    const key = session.occurrenceKey;
    this.disarm(key);
    const prepared = session.state === "scheduled" && this.options.bridge !== null ? this.prepareQuietly(session) : null;
    const entry: Armed = { session, dueAt: session.dueAt.getTime(), leaseUntil: now.getTime() + this.leaseMs, prepared, cancel: () => {} };
    void prepared?.then((ready) => {
      if (ready !== null) entry.ready = ready;
    });
    entry.cancel = this.clock.setTimer(session.dueAt, () => {
      if (this.armed.get(key) !== entry) return;
      this.armed.delete(key);
      if (this.startable(entry.session)) this.queueStart(entry);
      else void this.track(this.fire(entry));
    });
    this.armed.set(key, entry);
  }

  private disarm(key: string): void {
    const entry = this.armed.get(key);
    if (entry === undefined) return;
    entry.cancel();
    this.armed.delete(key);
  }

  /** A session to start now (from its claim snapshot): the start statement decides. */
  private startable(session: BridgeSession): boolean {
    return this.options.bridge !== null && session.state === "scheduled" && session.notAfter.getTime() > this.clock.now().getTime();
  }

  private async fire(entry: Armed): Promise<void> {
    if (this.stopped) return;
    const key = entry.session.occurrenceKey;
    try {
      let after: BridgeSession | null;
      if (this.options.bridge === null && entry.session.state === "scheduled" && entry.session.notAfter.getTime() > this.clock.now().getTime()) {
        after = await this.notConfigured(entry.session);
      } else {
        after = await this.lanes.now(async () => {
          const session = await this.store.bridgeSessions.get(key);
          // Lost the claim (it expired and another instance took it): that instance acts.
          if (session === null || session.leaseOwner !== this.store.owner) return null;
          await this.act(session);
          return this.store.bridgeSessions.get(key);
        });
      }
      if (after !== null) await this.afterAct(after);
    } catch (error) {
      this.stepFailed(key, error);
    }
  }

  private stepFailed(key: string, error: unknown): void {
    const e = toOtjError(error);
    this.logger.warn({ component: "bridge", occurrenceKey: key, code: e.code, error: e.message }, "bridge session step failed; the claim will be retried");
  }

  /** Does what is due for the session now (lobby deadline, the meeting's end, a late start). */
  private async act(session: BridgeSession): Promise<void> {
    const now = this.clock.now();
    if (isFinal(session.state) || session.dueAt.getTime() > now.getTime()) return;
    const over = now.getTime() >= session.notAfter.getTime();
    const apply = (event: SessionEvent) => this.actions.apply(session, event);
    switch (session.state) {
      case "scheduled":
        if (over) await apply({ type: "meeting-over" });
        return;
      case "starting":
      case "lobby":
        if (over) await apply({ type: "meeting-over" });
        else if (session.lobbyDeadline !== null && now.getTime() >= session.lobbyDeadline.getTime()) await apply({ type: "lobby-timeout" });
        else if (this.lacksId(session)) await this.startAgain(session);
        else if (session.state === "starting" && this.actions.assumeLobbyAfterMs !== null) {
          await apply({ type: "bridge", state: "lobby", detail: `still establishing after ${Math.round(this.actions.assumeLobbyAfterMs / 1000)} s` });
        } else await this.resetDue(session);
        return;
      case "admitted":
        if (over) await apply({ type: "meeting-over" });
        else if (this.lacksId(session)) await this.startAgain(session);
        else await this.resetDue(session);
        return;
      default:
        return;
    }
  }

  /** A due time came with nothing to do (a stale dueAt): move it to the next real deadline. */
  private async resetDue(session: BridgeSession): Promise<void> {
    await this.actions.patchLive(session.occurrenceKey, (s) => {
      const next = s.state === "admitted" || s.lobbyDeadline === null ? s.notAfter : new Date(Math.min(s.lobbyDeadline.getTime(), s.notAfter.getTime()));
      return next.getTime() === s.dueAt.getTime() ? null : { dueAt: next };
    });
  }

  /**
   * Keeps the claim and re-arms when the session is due again within the window; else releases it
   * (the release is batched with others).
   */
  private async afterAct(session: BridgeSession): Promise<void> {
    if (session.leaseOwner !== this.store.owner) return;
    const key = session.occurrenceKey;
    const now = this.clock.now();
    if (!isFinal(session.state) && !this.stopped && session.dueAt.getTime() <= now.getTime() + this.horizonMs) {
      const overdue = session.dueAt.getTime() <= now.getTime() ? (this.overdueFires.get(key) ?? 0) + 1 : 0;
      if (overdue <= 3) {
        if (overdue > 0) this.overdueFires.set(key, overdue);
        else this.overdueFires.delete(key);
        if (await this.lanes.soon(() => this.store.bridgeSessions.renewLease(key, now, { leaseMs: this.leaseMs }))) this.arm(session, now);
        return;
      }
      this.logger.warn({ component: "bridge", occurrenceKey: key, state: session.state }, "session stays due without progress; releasing it to the next tick");
    }
    this.overdueFires.delete(key);
    await this.releases.add(key);
  }

  // ---- starting -----------------------------------------------------------------------------

  /** Without a bridge adapter a due session fails (OTJ_BRIDGE_NOT_CONFIGURED). */
  private async notConfigured(session: BridgeSession): Promise<BridgeSession | null> {
    const message = "an SGJ session was due but bridge.adapter is not configured";
    const outcome = await this.lanes.now(() =>
      this.actions.apply(session, { type: "not-configured" }, { patch: () => ({ lastErrorCode: "OTJ_BRIDGE_NOT_CONFIGURED", lastError: message }), data: { code: "OTJ_BRIDGE_NOT_CONFIGURED" } }),
    );
    return outcome.session;
  }

  /** Queues a session whose start instant came; the queue is started after this turn of the event loop. */
  private queueStart(entry: Armed): void {
    this.startQueue.push(entry);
    if (this.startDrain === null) this.startDrain = this.track(this.drainStarts());
  }

  /**
   * Starts the queued sessions, `batchSize` per statement; the first statement of a burst moves
   * only as many as can be sent at once, so that requests leave as early as possible. The next
   * statement runs while the previous batch's requests go out, and no further ahead: a crash
   * leaves at most two batches moved to `starting` without their request: with an idempotent
   * bridge (http) the instance that reclaims them sends their start requests again (the same
   * sessionId, so never a second session); otherwise they time out in the lobby.
   */
  private async drainStarts(): Promise<void> {
    let previousLeft: Promise<unknown> = Promise.resolve();
    let size = Math.min(this.batchSize, this.maxStartsInFlight);
    try {
      // Timers due at one instant fire in one turn of the event loop: gather them all first.
      await new Promise<void>((resolve) => setImmediate(resolve));
      while (this.startQueue.length > 0 && !this.stopped) {
        const { left } = await this.startBatch(this.startQueue.splice(0, size));
        size = this.batchSize;
        await previousLeft;
        previousLeft = left;
      }
    } finally {
      if (this.stopped) this.startQueue = [];
      this.startDrain = null;
    }
  }

  /**
   * One start statement (the compare-and-set of every session, from its claim snapshot), then
   * the start requests of the sessions it moved; `left` resolves once every request has left.
   */
  private async startBatch(batch: Armed[]): Promise<{ left: Promise<unknown> }> {
    const go: Array<{ session: BridgeSession; request: BridgeStartRequest }> = [];
    const unread: Armed[] = [];
    for (const entry of batch) {
      const ready = entry.ready;
      if (ready === undefined) unread.push(entry);
      else if (!ready.ok) void this.track(this.cancelUnstartable(entry.session, ready.reason));
      else go.push({ session: entry.session, request: ready.request });
    }
    if (unread.length > 0) void this.track(this.prepareThenQueue(unread));
    const start = transition("scheduled", { type: "start" });
    if (go.length === 0 || !start.ok) return { left: Promise.resolve() };
    const now = this.clock.now();
    let started: BridgeSession[];
    try {
      started = await this.lanes.now(() =>
        this.store.bridgeSessions.startMany(
          go.map(({ session }) => ({ occurrenceKey: session.occurrenceKey, dueAt: session.dueAt })),
          { adapter: this.options.adapter, ...this.actions.startTimes(now), cause: start.transition.cause },
          now,
        ),
      );
    } catch (error) {
      const e = toOtjError(error);
      this.logger.warn({ component: "bridge", sessions: go.length, code: e.code, error: e.message }, "bridge start statement failed; the claims will be retried");
      return { left: Promise.resolve() };
    }
    const moved = new Map(started.map((s) => [s.occurrenceKey, s]));
    const left: Array<Promise<void>> = [];
    for (const { session: claimed, request } of go) {
      const session = moved.get(claimed.occurrenceKey);
      if (session === undefined) {
        void this.track(this.notStarted(claimed.occurrenceKey));
        continue;
      }
      this.actions.announce(session, start.transition);
      left.push(
        new Promise<void>((resolve) => {
          void this.track(this.startOne(session, request, claimed.dueAt.getTime(), resolve));
        }),
      );
    }
    return { left: Promise.all(left) };
  }

  /**
   * Sends the start request of a session just moved to `starting` (at most maxStartsInFlight at
   * once), then records the external id it returns, or the failure (retry with backoff or failed).
   */
  private async startOne(session: BridgeSession, request: BridgeStartRequest, dueAt: number, left: () => void): Promise<void> {
    const bridge = this.options.bridge!;
    const key = session.occurrenceKey;
    try {
      let externalId: string;
      try {
        const reply = await this.startLimiter.run(() => {
          left();
          this.options.onStartLateness?.(Math.max(0, this.clock.now().getTime() - dueAt));
          return bridge.start(request);
        });
        externalId = reply.externalId;
      } catch (error) {
        left();
        const after = await this.lanes.now(() => this.startFailed(session, error));
        if (after !== null) await this.afterAct(after);
        return;
      }
      // Usually still starting; a callback may have moved it on already, or it ended meanwhile.
      const after = await this.externalIds.add({ occurrenceKey: key, externalId, ...this.settledDue(session) });
      if (after === null) return;
      await this.replyRecorded(after, externalId);
      await this.afterAct(after);
    } catch (error) {
      this.stepFailed(key, error);
    }
  }

  /** The bridge's id is recorded: listeners learn it, and a session that ended while the start request was in flight leaves at once. */
  private async replyRecorded(after: BridgeSession, externalId: string): Promise<void> {
    this.actions.externalIdRecorded(after, externalId);
    if (isFinal(after.state)) await this.actions.stopBridge(after, externalId);
  }

  /** A live session otj has no bridge id for, with a bridge that can be asked again (idempotent start). */
  private lacksId(session: BridgeSession): boolean {
    return session.externalId === null && this.actions.confirmStartMs !== null && this.options.bridge !== null;
  }

  /**
   * With an idempotent bridge, a started session is looked at again soon (confirmStartMs) in case
   * its instance dies before the reply; once the reply is in, its next look is the lobby deadline.
   */
  private settledDue(session: BridgeSession): { dueAt?: Date } {
    if (this.actions.confirmStartMs === null) return {};
    return { dueAt: new Date(Math.min(session.lobbyDeadline?.getTime() ?? Number.POSITIVE_INFINITY, session.notAfter.getTime())) };
  }

  /**
   * A live session without the bridge's id (its instance died between the compare-and-set and
   * recording the reply: still `starting`, or already reported in the lobby or admitted by the
   * bridge's callbacks), with a bridge whose start is idempotent on sessionId: sends the same start
   * request again, which opens the session or finds the one the first request opened, and records
   * the id, so otj can hang up at the lobby deadline or the meeting's end.
   */
  private async startAgain(session: BridgeSession): Promise<void> {
    const bridge = this.options.bridge;
    const confirmMs = this.actions.confirmStartMs;
    if (bridge === null || confirmMs === null) return;
    const ready = await this.prepare(session);
    if (!ready.ok) {
      await this.actions.apply(session, { type: "cancel", reason: ready.reason });
      return;
    }
    this.actions.log({
      at: this.clock.now(),
      kind: "bridge.start-again",
      roomId: session.roomId,
      occurrenceKey: session.occurrenceKey,
      message: `${session.state} without the bridge's session id (an instance stopped mid-start): start request sent again`,
      data: { sessionId: session.sessionId, attempt: session.attempts },
    });
    let externalId: string;
    try {
      externalId = (await bridge.start(ready.request)).externalId;
    } catch (error) {
      if (session.state === "starting") {
        await this.startFailed(session, error);
        return;
      }
      // The bridge already reported the session: it stays as it is; ask again a little later.
      const e = toOtjError(error, "OTJ_BRIDGE_UNAVAILABLE");
      this.logger.warn({ component: "bridge", occurrenceKey: session.occurrenceKey, code: e.code }, "asking the bridge for a session id failed; trying again later");
      const retryAt = addMs(this.clock.now(), confirmMs).getTime();
      await this.actions.patchLive(session.occurrenceKey, (s) => (s.externalId === null ? { dueAt: new Date(Math.min(retryAt, s.notAfter.getTime())), lastErrorCode: e.code, lastError: e.message } : null));
      return;
    }
    // Written at once, not through the batch: this runs in a store lane, which a batch held back by a burst would block.
    const [after] = await this.store.bridgeSessions.recordExternalIds([{ occurrenceKey: session.occurrenceKey, externalId, ...this.settledDue(session) }], this.clock.now());
    if (after !== undefined) await this.replyRecorded(after, externalId);
  }

  /** A session the start statement left alone: started or changed meanwhile, or no longer ours. */
  private async notStarted(key: string): Promise<void> {
    try {
      const session = await this.lanes.soon(() => this.store.bridgeSessions.get(key));
      if (session !== null) await this.afterAct(session);
    } catch (error) {
      this.stepFailed(key, error);
    }
  }

  /**
   * Sessions due before their start request was read ahead (or whose read failed): waits for the
   * reads (again for a failed one), then queues them again all at once, for one statement.
   */
  private async prepareThenQueue(entries: Armed[]): Promise<void> {
    const read = await Promise.all(
      entries.map(async (entry) => {
        try {
          entry.ready = (entry.prepared ? await entry.prepared : null) ?? (await this.lanes.soon(() => this.prepare(entry.session)));
          return entry;
        } catch (error) {
          this.stepFailed(entry.session.occurrenceKey, error);
          return null;
        }
      }),
    );
    if (this.stopped) return;
    for (const entry of read) if (entry !== null) this.queueStart(entry);
  }

  /** A session that cannot start (no join information, meeting gone): cancelled with the reason. */
  private async cancelUnstartable(session: BridgeSession, reason: string): Promise<void> {
    try {
      const outcome = await this.lanes.now(() => this.actions.apply(session, { type: "cancel", reason }));
      if (outcome.session !== null) await this.afterAct(outcome.session);
    } catch (error) {
      this.stepFailed(session.occurrenceKey, error);
    }
  }

  private async startFailed(session: BridgeSession, error: unknown): Promise<BridgeSession | null> {
    const e = toOtjError(error, "OTJ_BRIDGE_UNAVAILABLE");
    const now = this.clock.now();
    const base = this.options.baseBackoffMs ?? 5_000;
    // No jitter: the retry must land before the session's notAfter, at a time the event log can state.
    const delay = backoffMs(session.attempts - 1, { baseMs: base, capMs: this.options.maxBackoffMs ?? 60_000, jitter: "none" });
    const retryAt = addMs(now, delay);
    const retry = e.retryable && retryAt.getTime() < session.notAfter.getTime();
    const reason = `${e.code}: ${e.message}${e.retryable && !retry ? " (no time left before notAfter)" : ""}`;
    const outcome = await this.actions.apply(session, { type: "start-failed", retryable: retry, reason }, {
      patch: () => ({ lastErrorCode: e.code, lastError: e.message, ...(retry ? { dueAt: retryAt, lobbyDeadline: null } : {}) }),
      data: { code: e.code, attempts: session.attempts, ...(retry ? { retryAt: retryAt.toISOString() } : {}) },
    });
    return outcome.session;
  }

  /** Reads what a start request needs ahead of the due instant (a failed read is retried at fire time). */
  private prepareQuietly(session: BridgeSession): Promise<Prepared | null> {
    return this.track(this.lanes.soon(() => this.prepare(session)).catch(() => null));
  }

  /** The start request for a session, from its meeting and room. */
  private async prepare(session: BridgeSession): Promise<Prepared> {
    const [meeting, room] = await Promise.all([this.store.meetings.get(session.occurrenceKey), this.store.rooms.get(session.roomId)]);
    const unwanted = unwantedReason(meeting);
    if (unwanted !== null || meeting === null) return { ok: false, reason: unwanted ?? "meeting removed from the calendar" };
    if (room === null) return { ok: false, reason: "room removed" };
    const teams = meeting.join?.teams ?? null;
    if (teams === null || (teams.joinUrl === null && teams.meetingId === null)) return { ok: false, reason: "cannot start: the invite has no Teams join link or meeting ID" };
    const dialString = session.dialString ?? meeting.dialString;
    if (dialString === null) return { ok: false, reason: "cannot start: the meeting has no SGJ dial string" };
    return { ok: true, request: this.request(session, meeting, room, dialString) };
  }

  private request(session: BridgeSession, meeting: Meeting, room: Room, dialString: string): BridgeStartRequest {
    const teams = meeting.join!.teams!;
    return {
      sessionId: session.sessionId,
      teams: {
        joinUrl: teams.joinUrl,
        meetingId: teams.meetingId,
        passcode: teams.passcode,
        tenantId: teams.tenantId,
        threadId: teams.threadId,
        organizerId: teams.organizerId,
      },
      guestDisplayName: room.displayName,
      dialString,
      vtcDialString: room.sipUri,
      notBefore: addMs(meeting.start, -this.settings.leadSeconds * 1000).toISOString(),
      notAfter: session.notAfter.toISOString(),
      callbackUrl: this.settings.callbackUrl,
    };
  }

  // ---- lifecycle ----------------------------------------------------------------------------

  /**
   * Resolves when no timer callback, start request, read-ahead or tick of this instance is running
   * and the event log is written.
   */
  async idle(): Promise<void> {
    for (;;) {
      while (this.inFlight.size > 0) await Promise.allSettled([...this.inFlight]);
      await this.actions.flush();
      if (this.inFlight.size === 0) return;
    }
  }

  /** Timers armed now (sessions claimed by this instance and waiting for their instant). */
  get armedCount(): number {
    return this.armed.size;
  }

  /**
   * Stops the timers, lets running steps finish, and releases every claim of this instance. Live
   * sessions keep running at the bridge (no stop request): the next instance resumes them.
   */
  async shutdown(): Promise<void> {
    this.stopped = true;
    for (const key of [...this.armed.keys()]) this.disarm(key);
    await this.idle();
    await this.store.bridgeSessions.releaseAll(this.clock.now());
  }

  /** Stops the timers and keeps the claims, as a crash would (tests; the claims expire). */
  abandon(): void {
    this.stopped = true;
    for (const key of [...this.armed.keys()]) this.disarm(key);
  }

  private event(session: BridgeSession, at: Date, kind: string, message: string): void {
    this.actions.log({ at, kind, roomId: session.roomId, occurrenceKey: session.occurrenceKey, message, data: { sessionId: session.sessionId } });
  }

  private track<T>(work: Promise<T>): Promise<T> {
    this.inFlight.add(work);
    const done = () => this.inFlight.delete(work);
    work.then(done, done);
    return work;
  }
}
