/**
 * The work that spans features once the engine is built: what a poll round's changes set off
 * (device lists, SGJ sessions), what a console change sets off (a re-poll, a push of the whole
 * list), the periodic ticks, the retention prune and `step()` (one
 * pass of everything by hand, for the demo's fast clock and the tests). Each feature's own loop
 * lives with it: the poller's rounds (calendar/calendar-poller.ts), the dispatch ticks
 * (join/dispatch-loop.ts), the bridge ticks (bridge/bridge-scheduler.ts).
 */
import cron from "node-cron";
import type { BridgeScheduler } from "../bridge/bridge-scheduler.ts";
import type { CalendarPoller } from "../calendar/calendar-poller.ts";
import type { GoogleChannelManager } from "../calendar/google/google-channels.ts";
import type { GraphSubscriptionManager } from "../calendar/graph/subscriptions.ts";
import type { Clock } from "../core/clock.ts";
import type { Config } from "../core/config.ts";
import type { Logger } from "../core/logger.ts";
import type { OccurrenceSink } from "../core/ports/occurrence-sink.ts";
import type { PruneCounts, Store } from "../core/ports/store.ts";
import { clockTicker, skipWhileBusy, type Ticker } from "../core/ticker.ts";
import type { DispatchLoop } from "../join/dispatch-loop.ts";
import type { JoinDispatcher } from "../join/join-dispatcher.ts";
import type { AlarmEvaluator } from "./alarms/evaluator.ts";

/** How long one prune may hold the `retention` lease before another instance may take it over. */
const PRUNE_LEASE_MS = 30 * 60_000;
/** How often the alarms are evaluated. */
const ALARMS_INTERVAL_MS = 30_000;

export interface EngineWorkflowParts {
  config: Config;
  clock: Clock;
  logger: Logger;
  store: Store;
  dispatcher: JoinDispatcher;
  dispatch: DispatchLoop;
  scheduler: BridgeScheduler;
  poller: CalendarPoller | null;
  subscriptions: GraphSubscriptionManager | null;
  googleChannels: GoogleChannelManager | null;
  alarms: AlarmEvaluator;
  /** Forgets the rooms' remembered calendar sources (a room's source may have changed). */
}

/** Where a source's occurrences go: the room's device list, then its SGJ sessions, then a push now. */
export function occurrenceSink(parts: Pick<EngineWorkflowParts, "dispatcher" | "dispatch" | "scheduler">): OccurrenceSink {
  return {
    roomUpdated: async (roomId, now, signal) => {
      await parts.dispatcher.refreshRoom(roomId);
      signal?.throwIfAborted();
      await parts.scheduler.syncRoom(roomId, now);
      // Push at once rather than at the next dispatch tick: a change reaches the device in one poll round.
      parts.dispatch.kick();
    },
  };
}

export class EngineWorkflows {
  readonly #p: EngineWorkflowParts;
  readonly #tasks: Ticker[] = [];
  /** When each device's fetch was last written. */

  constructor(parts: EngineWorkflowParts) {
    this.#p = parts;
  }

  /** Starts every periodic tick on the clock, each at its own random phase (core/ticker.ts). */
  start(): void {
    const { clock, config, logger } = this.#p;
    const ticker = clockTicker(clock);
    const onError = (tick: string) => (error: unknown) => logger.warn({ err: (error as Error).message, tick }, "tick failed");
    this.#p.poller?.start();
    this.#p.subscriptions?.start(ticker);
    this.#p.googleChannels?.start(ticker);
    this.#p.dispatch.start(ticker);
    this.#p.scheduler.start(ticker);
    // The prune runs on the configured cron expression (retention.schedule), so node-cron stays here.
    const prune = cron.schedule(
      config.retention.schedule,
      skipWhileBusy(() => this.prune(), onError("prune")),
    );
    this.#tasks.push({ stop: () => void prune.destroy() });
    this.#tasks.push(
      ticker(
        ALARMS_INTERVAL_MS,
        skipWhileBusy(() => this.#p.alarms.evaluate(), onError("alarms")),
      ),
    );
  }

  /** Stops the ticks this module started (the features stop their own in the engine's stop). */
  stop(): void {
    for (const t of this.#tasks.splice(0)) t.stop();
  }

  /**
   * A room was added or changed from the console: its calendar is read again from scratch (its
   * privacy rules or provider may change every plan), and its device gets its whole list again.
   */
  async roomChanged(roomId: string): Promise<void> {
    try {
      await this.#p.poller?.repoll(roomId);
      await this.#p.dispatch.deviceChanged(roomId);
    } catch (error) {
      this.#p.logger.warn({ err: (error as Error).message, room: roomId }, "could not refresh a changed room");
    }
  }

  /** One pass of everything (the demo's fast clock, tests): poll round, bridge tick, device pushes, alarms. */
  async step(): Promise<void> {
    await this.#p.dispatch.refreshIfDue();
    if (this.#p.poller) await this.#p.poller.runRound();
    await this.#p.scheduler.tick();
    await this.#p.dispatcher.tick();
    await this.#p.alarms.evaluate().catch((error: unknown) => this.#p.logger.warn({ err: (error as Error).message }, "alarm evaluation failed"));
  }

  /**
   * Deletes the history past its retention (retention.*): finished bridge sessions, event log
   * entries, ended meetings. Runs under the `retention` job lease, so of several instances one
   * prunes and the others skip (null).
   */
  async prune(): Promise<PruneCounts | null> {
    const { config, clock, store } = this.#p;
    const now = clock.now();
    if (!(await store.retention.claimJob("retention", now, PRUNE_LEASE_MS))) return null;
    try {
      const daysAgo = (days: number) => new Date(now.getTime() - days * 86_400_000);
      const counts = await store.retention.prune({
        bridgeSessionsBefore: daysAgo(config.retention.bridgeSessionsDays),
        eventLogBefore: daysAgo(config.retention.eventLogDays),
        meetingsEndedBefore: daysAgo(config.retention.meetingsDays),
        alarmsClearedBefore: daysAgo(config.retention.alarmsDays),
      });
      this.#p.logger.info({ ...counts }, "history pruned");
      return counts;
    } finally {
      await store.retention.releaseJob("retention", clock.now()).catch(() => undefined);
    }
  }
}
