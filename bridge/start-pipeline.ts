/**
 * The batched start pipeline. A start is a compare-and-set from `scheduled`: whatever races (two
 * instances, a timer and a reclaim after a crash), one occurrence is started once. Starts due at
 * the same instant are gathered and moved in one statement (store.startMany), then their start
 * requests go out with bounded concurrency; the external ids they return are written in batches
 * too. Retryable bridge errors go back to `scheduled` with backoff until `notAfter`.
 */
import { backoffMs } from "../core/backoff.ts";
import { Batcher } from "../core/batcher.ts";
import { addMs } from "../core/clock.ts";
import { toOtjError } from "../core/errors.ts";
import type { BridgeStartRequest } from "../core/ports/media-bridge.ts";
import type { BridgeExternalId, BridgeSession } from "../core/ports/store.ts";
import { Semaphore } from "../core/semaphore.ts";
import { type Armed, type Prepared, type SchedulerContext, stepFailed } from "./scheduler-context.ts";
import { isFinal, transition } from "./session-machine.ts";
import { HeldStarts } from "./held-starts.ts";
import { prepareStart } from "./start-request.ts";

export interface StartPipelineOptions {
  /** Start requests in flight at once. */
  maxStartsInFlight: number;
  /** First retry delay after a retryable bridge error, doubling up to maxBackoffMs. */
  baseBackoffMs: number;
  maxBackoffMs: number;
  /** Draws the retry's jitter (core/backoff.ts); tests that pin retry times fix it. */
  random: () => number;
  /** Called when a start request leaves, with its lateness against the due instant (metrics). */
  onStartLateness?: ((ms: number) => void) | undefined;
  /**
   * With a bridge whose start is idempotent: how long before their instant sessions are moved to
   * `starting` (the start statements), so that at the instant only the requests leave (0: at the
   * instant).
   */
  preStartMs: number;
  /**
   * With a bridge whose start is idempotent: how long before their instant the start requests
   * leave (the bridge waits until `notBefore`); the statements run `preStartMs` before that.
   */
  sendAheadMs: number;
  /** What follows a step of a session: re-arm or release its claim (the timers). */
  afterAct(session: BridgeSession): Promise<void>;
}

export class StartPipeline {
  readonly #startLimiter: Semaphore;
  /** Sessions whose start instant came, waiting for the next start statement. */
  #startQueue: Armed[] = [];
  #startDrain: Promise<void> | null = null;
  readonly #externalIds: Batcher<BridgeExternalId, BridgeSession | null>;
  /** The requests of sessions already moved to `starting`, held until their instant (held-starts.ts). */
  readonly #held: HeldStarts;

  readonly #ctx: SchedulerContext;
  readonly #options: StartPipelineOptions;

  constructor(ctx: SchedulerContext, options: StartPipelineOptions) {
    this.#ctx = ctx;
    this.#options = options;

    this.#startLimiter = new Semaphore(options.maxStartsInFlight);
    // The batches bypass the lanes (a caller waiting in a lane for its batch would hold the lane):
    // each is one statement at a time on the pool. While start requests still wait for a slot
    // (a burst), they wait: the burst's bookkeeping then goes out in a few large statements
    // instead of many small ones competing with the starts for the CPU.
    this.#externalIds = new Batcher(
      async (ids) => {
        const rows = new Map((await ctx.store.bridgeSessions.recordExternalIds(ids, ctx.clock.now())).map((s) => [s.occurrenceKey, s]));
        return ids.map((i) => rows.get(i.occurrenceKey) ?? null);
      },
      { serial: true, before: () => this.afterBurst() },
    );
    this.#held = new HeldStarts(ctx, { firstBatch: options.maxStartsInFlight, dropped: (key) => void ctx.track(this.#notStarted(key)) });
    // A session this instance ends while its request is held: the request never leaves, and the
    // claim goes (the session is final).
    ctx.actions.onFinished((session) => {
      if (this.#held.withhold(session.occurrenceKey)) void ctx.track(this.#options.afterAct(session).catch((e) => stepFailed(ctx, session.occurrenceKey, e)));
    });
  }

  /** Resolves when no start request waits for a slot (hold bookkeeping batches until then). */
  afterBurst(): Promise<void> {
    return this.#startLimiter.noneWaiting();
  }

  /**
   * How long before its instant a scheduled session is queued for its start statement: the
   * statements then run ahead and the requests leave at the instant. Only with a bridge whose start
   * is idempotent: a session moved to `starting` whose request never left (a crash in between) is
   * started again by the instance that reclaims it.
   */
  leadMs(session: BridgeSession): number {
    if (this.#ctx.actions.confirmStartMs === null || this.#ctx.bridge === null) return 0;
    // A session whose meeting is over before its instant is not started: it fires at the instant.
    return session.notAfter.getTime() > session.dueAt.getTime() ? this.#options.preStartMs + this.#options.sendAheadMs : 0;
  }

  /** When the start request of a session moved ahead of its instant leaves (its instant less sendAheadMs). */
  #sendAt(session: BridgeSession): number {
    const dueAt = session.dueAt.getTime();
    return this.leadMs(session) > 0 ? dueAt - this.#options.sendAheadMs : dueAt;
  }

  /** Drops the requests still waiting for their instant (a crash, as BridgeScheduler.abandon). */
  abandon(): void {
    this.#held.abandon();
  }

  /** Resolves once every request waiting for its instant has been let go (at most preStartMs); BridgeScheduler.idle waits for them to leave. */
  whenInstantsPassed(): Promise<void> {
    return this.#held.whenPassed();
  }

  /** Without a bridge adapter a due session fails (OTJ_BRIDGE_NOT_CONFIGURED). */
  async notConfigured(session: BridgeSession): Promise<BridgeSession | null> {
    const message = "an SGJ session was due but bridge.adapter is not configured";
    const outcome = await this.#ctx.lanes.run(
      () =>
        this.#ctx.actions.apply(
          session,
          { type: "not-configured" },
          { patch: () => ({ lastErrorCode: "OTJ_BRIDGE_NOT_CONFIGURED", lastError: message }), data: { code: "OTJ_BRIDGE_NOT_CONFIGURED" } },
        ),
      "urgent",
    );
    return outcome.session;
  }

  /** Queues a session whose start instant came; the queue is started after this turn of the event loop. */
  queueStart(entry: Armed): void {
    this.#startQueue.push(entry);
    if (this.#startDrain === null) this.#startDrain = this.#ctx.track(this.#drainStarts());
  }

  /**
   * Starts the queued sessions, `batchSize` per statement; the first statement of a burst moves
   * only as many as can be sent at once, so that requests leave as early as possible. At the
   * instant, the next statement runs while the previous batch's requests go out, and no further
   * ahead: a crash leaves at most two batches moved to `starting` without their request. Ahead
   * of the instant (preStartMs, idempotent bridges only) every statement runs before it, and a
   * crash before the instant leaves all of them so. With an idempotent bridge (http) the instance
   * that reclaims such sessions sends their start requests again (the same sessionId, so never a
   * second session); otherwise they time out in the lobby.
   */
  async #drainStarts(): Promise<void> {
    let previousLeft: Promise<unknown> = Promise.resolve();
    let size = Math.min(this.#ctx.batchSize, this.#options.maxStartsInFlight);
    try {
      // Timers due at one instant fire in one turn of the event loop: gather them all first.
      await new Promise<void>((resolve) => setImmediate(resolve));
      while (this.#startQueue.length > 0 && !this.#ctx.stopped) {
        const { left } = await this.#startBatch(this.#startQueue.splice(0, size));
        size = this.#ctx.batchSize;
        await previousLeft;
        previousLeft = left;
      }
    } finally {
      if (this.#ctx.stopped) this.#startQueue = [];
      this.#startDrain = null;
    }
  }

  /**
   * One start statement (the compare-and-set of every session, from its claim snapshot), then
   * the start requests of the sessions it moved; `left` resolves once every request has left.
   */
  async #startBatch(batch: Armed[]): Promise<{ left: Promise<unknown> }> {
    const ctx = this.#ctx;
    const go: Array<{ session: BridgeSession; request: BridgeStartRequest }> = [];
    const unread: Armed[] = [];
    for (const entry of batch) {
      const ready = entry.ready;
      if (ready === undefined) unread.push(entry);
      else if (!ready.ok) void ctx.track(this.#cancelUnstartable(entry.session, ready.reason));
      else go.push({ session: entry.session, request: ready.request });
    }
    if (unread.length > 0) void ctx.track(this.#prepareThenQueue(unread));
    const start = transition("scheduled", { type: "start" });
    if (go.length === 0 || !start.ok) return { left: Promise.resolve() };
    const now = ctx.clock.now();
    // Moved ahead of the instant: the times (lobby deadline, next look) count from the instant.
    const instant = go.reduce((latest, { session }) => Math.max(latest, session.dueAt.getTime()), now.getTime());
    let started: BridgeSession[];
    try {
      started = await ctx.lanes.run(
        () =>
          ctx.store.bridgeSessions.startMany(
            go.map(({ session }) => ({ occurrenceKey: session.occurrenceKey, dueAt: session.dueAt })),
            { adapter: ctx.adapter, ...ctx.actions.startTimes(new Date(instant)), cause: start.transition.cause },
            now,
          ),
        "urgent",
      );
    } catch (error) {
      const e = toOtjError(error);
      ctx.logger.warn(
        { component: "bridge", sessions: go.length, code: e.code, error: e.message },
        "bridge start statement failed; the claims will be retried",
      );
      return { left: Promise.resolve() };
    }
    const moved = new Map(started.map((s) => [s.occurrenceKey, s]));
    const left: Array<Promise<void>> = [];
    // The process log lines wait until the burst's requests have left.
    void ctx.track(
      this.afterBurst().then(() => {
        for (const session of started) ctx.actions.announce(session, start.transition);
      }),
    );
    for (const { session: claimed, request } of go) {
      const session = moved.get(claimed.occurrenceKey);
      if (session === undefined) {
        void ctx.track(this.#notStarted(claimed.occurrenceKey));
        continue;
      }
      const dueAt = claimed.dueAt.getTime();
      const sendAt = this.#sendAt(claimed);
      // Moved ahead of its instant: the request waits for its send instant (the instant, or
      // sendAheadMs before it; not as work in progress: idle() does not wait for it), and leaves
      // only if the session is still starting then (held-starts.ts).
      if (sendAt > ctx.clock.now().getTime())
        this.#held.hold(sendAt, session.occurrenceKey, () => void ctx.track(this.#startOne(session, request, dueAt, () => {})));
      else left.push(new Promise<void>((resolve) => void ctx.track(this.#startOne(session, request, dueAt, resolve))));
    }
    return { left: Promise.all(left) };
  }

  /**
   * Sends the start request of a session just moved to `starting` (at most maxStartsInFlight at
   * once), then records the external id it returns, or the failure (retry with backoff or failed).
   */
  async #startOne(session: BridgeSession, request: BridgeStartRequest, dueAt: number, left: () => void): Promise<void> {
    const ctx = this.#ctx;
    const bridge = ctx.bridge!;
    const key = session.occurrenceKey;
    try {
      let externalId: string;
      try {
        const reply = await this.#startLimiter.run(() => {
          left();
          this.#options.onStartLateness?.(Math.max(0, ctx.clock.now().getTime() - dueAt));
          return bridge.start(request);
        });
        externalId = reply.externalId;
      } catch (error) {
        left();
        const after = await ctx.lanes.run(() => this.#startFailed(session, error), "urgent");
        if (after !== null) await this.#options.afterAct(after);
        return;
      }
      // Usually still starting; a callback may have moved it on already, or it ended meanwhile.
      const after = await this.#externalIds.add({ occurrenceKey: key, externalId, ...this.#settledDue(session) });
      if (after === null) return;
      await this.#replyRecorded(after, externalId);
      await this.#options.afterAct(after);
    } catch (error) {
      stepFailed(ctx, key, error);
    }
  }

  /** The bridge's id is recorded: listeners learn it, and a session that ended while the start request was in flight leaves at once. */
  async #replyRecorded(after: BridgeSession, externalId: string): Promise<void> {
    this.#ctx.actions.externalIdRecorded(after, externalId);
    if (isFinal(after.state)) await this.#ctx.actions.stopBridge(after, externalId);
  }

  /** A live session otj has no bridge id for, with a bridge that can be asked again (idempotent start). */
  lacksId(session: BridgeSession): boolean {
    return session.externalId === null && this.#ctx.actions.confirmStartMs !== null && this.#ctx.bridge !== null;
  }

  /**
   * With an idempotent bridge, a started session is looked at again soon (confirmStartMs) in case
   * its instance dies before the reply; once the reply is in, its next look is the lobby deadline.
   */
  #settledDue(session: BridgeSession): { dueAt?: Date } {
    if (this.#ctx.actions.confirmStartMs === null) return {};
    return { dueAt: new Date(Math.min(session.lobbyDeadline?.getTime() ?? Number.POSITIVE_INFINITY, session.notAfter.getTime())) };
  }

  /**
   * A live session without the bridge's id (its instance died between the compare-and-set and
   * recording the reply: still `starting`, or already reported in the lobby or admitted by the
   * bridge's callbacks), with a bridge whose start is idempotent on sessionId: sends the same start
   * request again, which opens the session or finds the one the first request opened, and records
   * the id, so otj can hang up at the lobby deadline or the meeting's end.
   */
  async startAgain(session: BridgeSession): Promise<void> {
    const ctx = this.#ctx;
    const bridge = ctx.bridge;
    const confirmMs = ctx.actions.confirmStartMs;
    if (bridge === null || confirmMs === null) return;
    const ready = await this.#prepare(session);
    if (!ready.ok) {
      await ctx.actions.apply(session, { type: "cancel", reason: ready.reason });
      return;
    }
    ctx.actions.log({
      at: ctx.clock.now(),
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
        await this.#startFailed(session, error);
        return;
      }
      // The bridge already reported the session: it stays as it is; ask again a little later.
      const e = toOtjError(error, "OTJ_BRIDGE_UNAVAILABLE");
      ctx.logger.warn(
        { component: "bridge", occurrenceKey: session.occurrenceKey, code: e.code },
        "asking the bridge for a session id failed; trying again later",
      );
      const retryAt = addMs(ctx.clock.now(), confirmMs).getTime();
      await ctx.actions.patchLive(session.occurrenceKey, (s) =>
        s.externalId === null ? { dueAt: new Date(Math.min(retryAt, s.notAfter.getTime())), lastErrorCode: e.code, lastError: e.message } : null,
      );
      return;
    }
    // Written at once, not through the batch: this runs in a store lane, which a batch held back by a burst would block.
    const [after] = await ctx.store.bridgeSessions.recordExternalIds(
      [{ occurrenceKey: session.occurrenceKey, externalId, ...this.#settledDue(session) }],
      ctx.clock.now(),
    );
    if (after !== undefined) await this.#replyRecorded(after, externalId);
  }

  /** A session the start statement left alone: started or changed meanwhile, or no longer ours. */
  async #notStarted(key: string): Promise<void> {
    try {
      const session = await this.#ctx.lanes.run(() => this.#ctx.store.bridgeSessions.get(key));
      if (session !== null) await this.#options.afterAct(session);
    } catch (error) {
      stepFailed(this.#ctx, key, error);
    }
  }

  /**
   * Sessions due before their start request was read ahead (or whose read failed): waits for the
   * reads (again for a failed one), then queues them again all at once, for one statement.
   */
  async #prepareThenQueue(entries: Armed[]): Promise<void> {
    const read = await Promise.all(
      entries.map(async (entry) => {
        try {
          entry.ready = (entry.prepared ? await entry.prepared : null) ?? (await this.#ctx.lanes.run(() => this.#prepare(entry.session)));
          return entry;
        } catch (error) {
          stepFailed(this.#ctx, entry.session.occurrenceKey, error);
          return null;
        }
      }),
    );
    if (this.#ctx.stopped) return;
    for (const entry of read) if (entry !== null) this.queueStart(entry);
  }

  /** A session that cannot start (no join information, meeting gone): cancelled with the reason. */
  async #cancelUnstartable(session: BridgeSession, reason: string): Promise<void> {
    try {
      const outcome = await this.#ctx.lanes.run(() => this.#ctx.actions.apply(session, { type: "cancel", reason }), "urgent");
      if (outcome.session !== null) await this.#options.afterAct(outcome.session);
    } catch (error) {
      stepFailed(this.#ctx, session.occurrenceKey, error);
    }
  }

  async #startFailed(session: BridgeSession, error: unknown): Promise<BridgeSession | null> {
    const e = toOtjError(error, "OTJ_BRIDGE_UNAVAILABLE");
    const now = this.#ctx.clock.now();
    const base = this.#options.baseBackoffMs;
    // Jittered, so sessions failing together do not retry in step; the retry time is stated in the event log.
    const delay = backoffMs(session.attempts - 1, { baseMs: base, capMs: this.#options.maxBackoffMs }, this.#options.random);
    const retryAt = addMs(now, delay);
    const retry = e.retryable && retryAt.getTime() < session.notAfter.getTime();
    const reason = `${e.code}: ${e.message}${e.retryable && !retry ? " (no time left before notAfter)" : ""}`;
    const outcome = await this.#ctx.actions.apply(
      session,
      { type: "start-failed", retryable: retry, reason },
      {
        patch: () => ({ lastErrorCode: e.code, lastError: e.message, ...(retry ? { dueAt: retryAt, lobbyDeadline: null } : {}) }),
        data: { code: e.code, attempts: session.attempts, ...(retry ? { retryAt: retryAt.toISOString() } : {}) },
      },
    );
    return outcome.session;
  }

  /** Reads what a start request needs ahead of the due instant (a failed read is retried at fire time). */
  prepareQuietly(session: BridgeSession): Promise<Prepared | null> {
    return this.#ctx.track(this.#ctx.lanes.run(() => this.#prepare(session)).catch(() => null));
  }

  /** The start request (encoded and signed ahead by a bridge that can: MediaBridge.prepareStart). */
  async #prepare(session: BridgeSession): Promise<Prepared> {
    const ready = await prepareStart(this.#ctx.store, this.#ctx.settings, session);
    if (ready.ok) this.#ctx.bridge?.prepareStart?.(ready.request);
    return ready;
  }
}
