import { sql } from "kysely";
import type { EventLogStore, LoggedEvent, NewLoggedEvent, StoreCallOptions } from "../../core/ports/store.ts";
import { toLoggedEvent } from "../row-mappers.ts";
import { type StoreContext, chunks, guard } from "./guard.ts";

const MAX_LIST = 1_000;

export class PostgresEventLogStore implements EventLogStore {
  readonly #ctx: StoreContext;

  constructor(ctx: StoreContext) {
    this.#ctx = ctx;
  }

  append(entries: readonly NewLoggedEvent[], options?: StoreCallOptions): Promise<void> {
    return guard(options, async () => {
      if (entries.length === 0) return;
      const rows = entries.map((e) => ({
        at: e.at,
        kind: e.kind,
        room_id: e.roomId ?? null,
        occurrence_key: e.occurrenceKey ?? null,
        message: e.message,
        data: e.data === undefined || e.data === null ? null : JSON.stringify(e.data),
      }));
      if (rows.length <= 1_000) {
        await this.#ctx.db.insertInto("event_log").values(rows).execute();
        return;
      }
      await this.#ctx.db.transaction().execute(async (trx) => {
        for (const batch of chunks(rows, 1_000)) await trx.insertInto("event_log").values(batch).execute();
      });
    });
  }

  list(
    filter: { roomId?: string; occurrenceKey?: string; kind?: string; beforeId?: number; limit?: number; since?: Date; sessionId?: string } = {},
    options?: StoreCallOptions,
  ): Promise<LoggedEvent[]> {
    return guard(options, async () => {
      let query = this.#ctx.db.selectFrom("event_log").selectAll();
      if (filter.roomId !== undefined) query = query.where("room_id", "=", filter.roomId);
      if (filter.occurrenceKey !== undefined) query = query.where("occurrence_key", "=", filter.occurrenceKey);
      if (filter.kind !== undefined) query = query.where("kind", "=", filter.kind);
      if (filter.beforeId !== undefined) query = query.where("id", "<", filter.beforeId);
      if (filter.since !== undefined) query = query.where("at", ">=", filter.since);
      if (filter.sessionId !== undefined) query = query.where(sql<string>`data->>'sessionId'`, "=", filter.sessionId);
      const limit = Math.max(1, Math.min(filter.limit ?? 100, MAX_LIST));
      const rows = await query.orderBy("id", "desc").limit(limit).execute();
      return rows.map(toLoggedEvent);
    });
  }
}
