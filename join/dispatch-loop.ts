/**
 * DispatchLoop: when the JoinDispatcher runs. A dispatch tick every few seconds and a refresh of
 * every room's list every 15 minutes (meetings enter the shown window as time passes), on the
 * Clock's ticker; `kick()` runs a dispatch now (a calendar or console change reaches the device
 * without waiting for the next tick), coalesced: a kick while one runs runs once more after it.
 */
import type { Clock } from "../core/clock.ts";
import type { ComponentLogger } from "../core/logger.ts";
import { skipWhileBusy, type Ticker, type TickerFactory } from "../core/ticker.ts";
import type { Store } from "../core/ports/store.ts";
import type { JoinDispatcher } from "./join-dispatcher.ts";

/** How often due pushes are claimed. */
export const DISPATCH_INTERVAL_MS = 5_000;
/** How often every room's wanted list is recomputed. */
export const REFRESH_INTERVAL_MS = 15 * 60_000;

export interface DispatchLoopDeps {
  dispatcher: JoinDispatcher;
  store: Pick<Store, "deviceStates">;
  clock: Pick<Clock, "now">;
  logger: ComponentLogger;
  /** false: `kick()` does nothing (the demo and tests step by hand). */
  kicks: boolean;
}

export class DispatchLoop {
  readonly #deps: DispatchLoopDeps;
  readonly #tickers: Ticker[] = [];
  #running: Promise<void> | null = null;
  #again = false;
  #lastRefresh = Number.NEGATIVE_INFINITY;

  constructor(deps: DispatchLoopDeps) {
    this.#deps = deps;
  }

  /** Starts the dispatch and refresh ticks. */
  start(ticker: TickerFactory): void {
    const onError = (tick: string) => (error: unknown) => this.#deps.logger.warn({ err: (error as Error).message, tick }, "tick failed");
    this.#tickers.push(
      ticker(
        DISPATCH_INTERVAL_MS,
        skipWhileBusy(async () => this.kick(), onError("dispatch")),
      ),
    );
    this.#tickers.push(
      ticker(
        REFRESH_INTERVAL_MS,
        skipWhileBusy(async () => {
          await this.#deps.dispatcher.refreshAll();
          this.kick();
        }, onError("refresh")),
      ),
    );
  }

  /** Runs a dispatch tick now, or once more after the running one. */
  kick(): void {
    if (!this.#deps.kicks) return;
    if (this.#running) {
      this.#again = true;
      return;
    }
    this.#running = this.#deps.dispatcher
      .tick()
      .then(() => undefined)
      .catch((error: unknown) => this.#deps.logger.warn({ err: (error as Error).message }, "dispatch failed"))
      .finally(() => {
        this.#running = null;
        if (this.#again) {
          this.#again = false;
          this.kick();
        }
      });
  }

  /** The room's device may be another one (address, credentials): push the whole list again now. */
  async deviceChanged(roomId: string): Promise<void> {
    await this.#deps.dispatcher.refreshRoom(roomId);
    await this.#deps.store.deviceStates.pushAgain(roomId, this.#deps.clock.now());
    this.kick();
  }

  /** By hand (the demo's fast clock, tests): every room's list is recomputed when 15 clock minutes have passed since the last time. */
  async refreshIfDue(): Promise<void> {
    const now = this.#deps.clock.now().getTime();
    if (now - this.#lastRefresh < REFRESH_INTERVAL_MS) return;
    this.#lastRefresh = now;
    await this.#deps.dispatcher.refreshAll();
  }

  /** Stops the ticks and waits for a running dispatch. */
  async stop(): Promise<void> {
    for (const t of this.#tickers.splice(0)) t.stop();
    this.#again = false;
    while (this.#running) await this.#running;
  }
}
