/**
 * Request budgets shared by every engine instance on one database (e.g. `google.dailyRequestBudget`):
 * each instance reserves blocks of requests of a budget's UTC day and spends them in memory, so
 * the instances together never go past the limit, at one store call per block.
 */
import type { StoreCallOptions } from "./store/options.ts";

export interface RequestBudgetStore {
  /**
   * Takes up to `want` requests of budget `name` on `day` (YYYY-MM-DD, UTC) whose limit is
   * `limit`, atomically across instances. Returns how many were granted: `want`, fewer when the
   * day's budget is nearly used up, 0 when it is used up.
   */
  reserve(name: string, day: string, want: number, limit: number, options?: StoreCallOptions): Promise<number>;
}
