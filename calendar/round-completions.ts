/**
 * RoundCompletions: records rooms' finished poll rounds in batches, one store statement for many
 * rooms (SyncCursorStore.completeRounds) instead of one per room.
 *
 * A batch is sent when `batchSize` rounds wait, when `delayMs` have passed on the clock since its
 * first round arrived, or on `flush()`. Until then each room keeps its lease, so no other
 * instance polls it; a change notification meanwhile is honoured by the store when the batch is
 * written (the room stays due).
 */

import { Batcher } from "../core/batcher.ts";
import { addMs, type Clock } from "../core/clock.ts";
import type { RoundCompletion, RoundOutcome, SyncCursorStore } from "../core/ports/store.ts";

export interface RoundCompletionsOptions {
  /** Rounds per store call (at least 1). */
  readonly batchSize: number;
  /** Longest wait of a round before its batch is sent, in clock milliseconds. */
  readonly delayMs: number;
}

export class RoundCompletions {
  readonly #batcher: Batcher<RoundCompletion, boolean>;

  constructor(store: Pick<SyncCursorStore, "completeRounds">, clock: Clock, options: RoundCompletionsOptions) {
    if (!(options.batchSize >= 1)) throw new RangeError("RoundCompletions: batchSize must be at least 1");
    const delayMs = Math.max(0, options.delayMs);
    // Not the round's signal: rounds finished before a stop are still recorded on the way out.
    const write = async (completions: RoundCompletion[]) => {
      const flags = await store.completeRounds(completions, clock.now());
      return completions.map((_, i) => flags[i] ?? false);
    };
    this.#batcher = new Batcher(write, {
      maxBatch: Math.floor(options.batchSize),
      wait: (fire) => clock.setTimer(addMs(clock.now(), delayMs), fire),
    });
  }

  /**
   * Queues one room's finished round.
   * @returns whether it was recorded (false: this instance no longer held the lease and nothing
   *   was written); rejects with the store's failure (the whole batch then wrote nothing).
   */
  add(roomId: string, result: RoundOutcome): Promise<boolean> {
    return this.#batcher.add({ roomId, result });
  }

  /** Sends what waits and resolves when every batch sent so far has been answered. Never rejects. */
  flush(): Promise<void> {
    return this.#batcher.flush();
  }
}
