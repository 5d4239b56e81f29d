/**
 * RoundCompletions: records rooms' finished poll rounds in batches, one store statement for many
 * rooms (SyncCursorStore.completeRounds) instead of one per room.
 *
 * A batch is sent when `batchSize` rounds wait, when `delayMs` have passed on the clock since its
 * first round arrived, or on `flush()`. Until then each room keeps its lease, so no other
 * instance polls it; a change notification meanwhile is honoured by the store when the batch is
 * written (the room stays due).
 */

import { addMs, type CancelTimer, type Clock } from "../core/clock.ts";
import type { RoundCompletion, RoundOutcome, SyncCursorStore } from "../core/ports/store.ts";

export interface RoundCompletionsOptions {
  /** Rounds per store call (at least 1). */
  readonly batchSize: number;
  /** Longest wait of a round before its batch is sent, in clock milliseconds. */
  readonly delayMs: number;
}

interface Waiting {
  readonly completion: RoundCompletion;
  readonly resolve: (recorded: boolean) => void;
  readonly reject: (error: unknown) => void;
}

export class RoundCompletions {
  readonly #store: Pick<SyncCursorStore, "completeRounds">;
  readonly #clock: Clock;
  readonly #batchSize: number;
  readonly #delayMs: number;
  #waiting: Waiting[] = [];
  #cancelTimer: CancelTimer | null = null;
  readonly #sending = new Set<Promise<void>>();

  constructor(store: Pick<SyncCursorStore, "completeRounds">, clock: Clock, options: RoundCompletionsOptions) {
    if (!(options.batchSize >= 1)) throw new RangeError("RoundCompletions: batchSize must be at least 1");
    this.#store = store;
    this.#clock = clock;
    this.#batchSize = Math.floor(options.batchSize);
    this.#delayMs = Math.max(0, options.delayMs);
  }

  /**
   * Queues one room's finished round.
   * @returns whether it was recorded (false: this instance no longer held the lease and nothing
   *   was written); rejects with the store's failure (the whole batch then wrote nothing).
   */
  add(roomId: string, result: RoundOutcome): Promise<boolean> {
    return new Promise<boolean>((resolve, reject) => {
      this.#waiting.push({ completion: { roomId, result }, resolve, reject });
      if (this.#waiting.length >= this.#batchSize) this.#send();
      else this.#cancelTimer ??= this.#clock.setTimer(addMs(this.#clock.now(), this.#delayMs), () => this.#send());
    });
  }

  /** Sends what waits and resolves when every batch sent so far has been answered. Never rejects. */
  async flush(): Promise<void> {
    this.#send();
    while (this.#sending.size > 0) await Promise.all(this.#sending);
  }

  #send(): void {
    this.#cancelTimer?.();
    this.#cancelTimer = null;
    if (this.#waiting.length === 0) return;
    const batch = this.#waiting;
    this.#waiting = [];
    // Not the round's signal: rounds finished before a stop are still recorded on the way out.
    const sent = this.#store.completeRounds(
      batch.map((w) => w.completion),
      this.#clock.now(),
    ).then(
      (flags) => {
        for (const [i, w] of batch.entries()) w.resolve(flags[i] ?? false);
      },
      (error: unknown) => {
        for (const w of batch) w.reject(error);
      },
    );
    this.#sending.add(sent);
    void sent.finally(() => this.#sending.delete(sent));
  }
}
