/**
 * Claiming and arming timers: a tick claims the live sessions due within the next window (SKIP
 * LOCKED + lease) and arms an in-process timer on the Clock for each, so each fires at its exact
 * instant: start, lobby deadline, or the meeting's end (`notAfter`). After a step the session is
 * re-armed when due again within the window, else its claim is released (in batches).
 */
import { Batcher } from "../core/batcher.ts";
import type { BridgeSession } from "../core/ports/store.ts";
import { type Armed, type SchedulerContext, stepFailed } from "./scheduler-context.ts";
import { isFinal, type SessionEvent } from "./session-machine.ts";
import type { StartPipeline } from "./start-pipeline.ts";

export interface TickReport {
  claimed: number;
  /** Timers armed in this instance after the tick. */
  armed: number;
}

export class SessionTimers {
  readonly #armed = new Map<string, Armed>();
  /** Fires at an instant already past, per session: a guard against a timer loop. */
  readonly #overdueFires = new Map<string, number>();
  readonly #releases: Batcher<string, null>;

  readonly #ctx: SchedulerContext;
  readonly #starts: StartPipeline;

  constructor(ctx: SchedulerContext, starts: StartPipeline) {
    this.#ctx = ctx;
    this.#starts = starts;

    this.#releases = new Batcher(
      async (keys) => {
        await ctx.store.bridgeSessions.releaseMany(keys, ctx.clock.now());
        return keys.map(() => null);
      },
      { serial: true, before: () => starts.afterBurst() },
    );
  }

  /** Timers armed now. */
  get size(): number {
    return this.#armed.size;
  }

  /**
   * Claims live sessions due by `now + horizon` and arms a timer for each at its due instant.
   * Also renews this instance's claims on sessions still waiting for their timer.
   */
  async claimAndArm(signal?: AbortSignal): Promise<TickReport> {
    const ctx = this.#ctx;
    if (ctx.stopped) return { claimed: 0, armed: this.#armed.size };
    const now = ctx.clock.now();
    await this.#renewLeases(now);
    let claimed = 0;
    for (;;) {
      const batch = await ctx.store.bridgeSessions.claimDue(now, ctx.batchSize, {
        leaseMs: ctx.leaseMs,
        horizonMs: ctx.horizonMs,
        ...(signal ? { signal } : {}),
      });
      if (ctx.stopped) break;
      for (const session of batch) this.#arm(session, now);
      claimed += batch.length;
      if (batch.length < ctx.batchSize) break;
    }
    return { claimed, armed: this.#armed.size };
  }

  async #renewLeases(now: Date): Promise<void> {
    const half = now.getTime() + this.#ctx.leaseMs / 2;
    for (const [key, entry] of [...this.#armed]) {
      if (entry.leaseUntil > half) continue;
      if (await this.#ctx.store.bridgeSessions.renewLease(key, now, { leaseMs: this.#ctx.leaseMs })) entry.leaseUntil = now.getTime() + this.#ctx.leaseMs;
      else if (this.#armed.get(key) === entry) this.disarm(key);
    }
  }

  #arm(session: BridgeSession, now: Date): void {
    const key = session.occurrenceKey;
    this.disarm(key);
    const prepared = session.state === "scheduled" && this.#ctx.bridge !== null ? this.#starts.prepareQuietly(session) : null;
    const entry: Armed = { session, dueAt: session.dueAt.getTime(), leaseUntil: now.getTime() + this.#ctx.leaseMs, prepared, cancel: () => {} };
    void prepared?.then((ready) => {
      if (ready !== null) entry.ready = ready;
    });
    // A session to start fires its lead ahead (StartPipeline.leadMs): its start statement runs before the instant.
    const lead = session.state === "scheduled" ? this.#starts.leadMs(session) : 0;
    entry.cancel = this.#ctx.clock.setTimer(new Date(session.dueAt.getTime() - lead), () => {
      if (this.#armed.get(key) !== entry) return;
      this.#armed.delete(key);
      if (this.#startable(entry.session)) this.#starts.queueStart(entry);
      else void this.#ctx.track(this.#fire(entry));
    });
    this.#armed.set(key, entry);
  }

  disarm(key: string): void {
    const entry = this.#armed.get(key);
    if (entry === undefined) return;
    entry.cancel();
    this.#armed.delete(key);
  }

  disarmAll(): void {
    for (const key of [...this.#armed.keys()]) this.disarm(key);
  }

  /** A session to start now (from its claim snapshot): the start statement decides. */
  #startable(session: BridgeSession): boolean {
    return this.#ctx.bridge !== null && session.state === "scheduled" && session.notAfter.getTime() > this.#ctx.clock.now().getTime();
  }

  async #fire(entry: Armed): Promise<void> {
    const ctx = this.#ctx;
    if (ctx.stopped) return;
    const key = entry.session.occurrenceKey;
    try {
      let after: BridgeSession | null;
      if (ctx.bridge === null && entry.session.state === "scheduled" && entry.session.notAfter.getTime() > ctx.clock.now().getTime()) {
        after = await this.#starts.notConfigured(entry.session);
      } else {
        after = await ctx.lanes.run(async () => {
          const session = await ctx.store.bridgeSessions.get(key);
          // Lost the claim (it expired and another instance took it): that instance acts.
          if (session === null || session.leaseOwner !== ctx.store.owner) return null;
          await this.#act(session);
          return ctx.store.bridgeSessions.get(key);
        }, "urgent");
      }
      if (after !== null) await this.afterAct(after);
    } catch (error) {
      stepFailed(ctx, key, error);
    }
  }

  /** Does what is due for the session now (lobby deadline, the meeting's end, a late start). */
  async #act(session: BridgeSession): Promise<void> {
    const { actions, clock } = this.#ctx;
    const now = clock.now();
    if (isFinal(session.state) || session.dueAt.getTime() > now.getTime()) return;
    const over = now.getTime() >= session.notAfter.getTime();
    const apply = (event: SessionEvent) => actions.apply(session, event);
    switch (session.state) {
      case "scheduled":
        if (over) await apply({ type: "meeting-over" });
        return;
      case "starting":
      case "lobby":
        if (over) await apply({ type: "meeting-over" });
        else if (session.lobbyDeadline !== null && now.getTime() >= session.lobbyDeadline.getTime()) await apply({ type: "lobby-timeout" });
        else if (this.#starts.lacksId(session)) await this.#starts.startAgain(session);
        else if (session.state === "starting" && actions.assumeLobbyAfterMs !== null) {
          await apply({ type: "bridge", state: "lobby", detail: `still establishing after ${Math.round(actions.assumeLobbyAfterMs / 1000)} s` });
        } else await this.#resetDue(session);
        return;
      case "admitted":
        if (over) await apply({ type: "meeting-over" });
        else if (this.#starts.lacksId(session)) await this.#starts.startAgain(session);
        else await this.#resetDue(session);
        return;
      default:
        return;
    }
  }

  /** A due time came with nothing to do (a stale dueAt): move it to the next real deadline. */
  async #resetDue(session: BridgeSession): Promise<void> {
    await this.#ctx.actions.patchLive(session.occurrenceKey, (s) => {
      const next = s.state === "admitted" || s.lobbyDeadline === null ? s.notAfter : new Date(Math.min(s.lobbyDeadline.getTime(), s.notAfter.getTime()));
      return next.getTime() === s.dueAt.getTime() ? null : { dueAt: next };
    });
  }

  /**
   * Keeps the claim and re-arms when the session is due again within the window; else releases it
   * (the release is batched with others).
   */
  async afterAct(session: BridgeSession): Promise<void> {
    const ctx = this.#ctx;
    if (session.leaseOwner !== ctx.store.owner) return;
    const key = session.occurrenceKey;
    const now = ctx.clock.now();
    if (!isFinal(session.state) && !ctx.stopped && session.dueAt.getTime() <= now.getTime() + ctx.horizonMs) {
      const overdue = session.dueAt.getTime() <= now.getTime() ? (this.#overdueFires.get(key) ?? 0) + 1 : 0;
      if (overdue <= 3) {
        if (overdue > 0) this.#overdueFires.set(key, overdue);
        else this.#overdueFires.delete(key);
        if (await ctx.lanes.run(() => ctx.store.bridgeSessions.renewLease(key, now, { leaseMs: ctx.leaseMs }))) this.#arm(session, now);
        return;
      }
      ctx.logger.warn({ component: "bridge", occurrenceKey: key, state: session.state }, "session stays due without progress; releasing it to the next tick");
    }
    this.#overdueFires.delete(key);
    await this.#releases.add(key);
  }
}
