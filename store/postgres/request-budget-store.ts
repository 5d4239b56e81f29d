/**
 * RequestBudgetStore on PostgreSQL / PGlite (table `request_budget`, migration
 * 202612070100_google_channels_request_budget): one row per budget and UTC day; a reservation is
 * one statement that locks the row, so instances reserving at once never grant more than the limit.
 */
import { type Kysely, sql } from "kysely";
import type { RequestBudgetStore } from "../../core/ports/request-budget-store.ts";
import type { StoreCallOptions } from "../../core/ports/store.ts";
import { guard } from "./guard.ts";

export class PostgresRequestBudgetStore implements RequestBudgetStore {
  // biome-ignore lint/suspicious/noExplicitAny: the table is not part of the store's typed schema.
  readonly #db: Kysely<any>;

  // biome-ignore lint/suspicious/noExplicitAny: the table is not part of the store's typed schema.
  constructor(db: Kysely<any>) {
    this.#db = db;
  }

  reserve(name: string, day: string, want: number, limit: number, options?: StoreCallOptions): Promise<number> {
    return guard(options, async () => {
      if (!(want >= 1) || !(limit >= 1)) return 0;
      await sql`insert into request_budget (name, day, used) values (${name}, ${day}, 0) on conflict do nothing`.execute(this.#db);
      const result = await sql<{ granted: string }>`
        with before as (select used from request_budget where name = ${name} and day = ${day} for update)
        update request_budget b set used = least(b.used + ${want}, greatest(b.used, ${limit}))
        from before where b.name = ${name} and b.day = ${day}
        returning b.used - before.used as granted`.execute(this.#db);
      return Number(result.rows[0]?.granted ?? 0);
    });
  }
}
