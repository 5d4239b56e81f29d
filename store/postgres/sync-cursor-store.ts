import { sql } from "kysely";
import { addMs } from "../../core/clock.ts";
import type { CalendarSourceName } from "../../core/domain.ts";
import type { LeaseOptions, RoomLease, RoundCompletion, RoundOutcome, StoreCallOptions, SyncCursor, SyncCursorStore } from "../../core/ports/store.ts";
import { toSyncCursor } from "../row-mappers.ts";
import { DEFAULT_LEASE_MS, type StoreContext, guard, readByIds, releaseOwnLeases, renewOwnLease } from "./guard.ts";

export class PostgresSyncCursorStore implements SyncCursorStore {
  readonly #ctx: StoreContext;

  constructor(ctx: StoreContext) {
    this.#ctx = ctx;
  }

  leaseDue(now: Date, limit: number, options?: LeaseOptions): Promise<RoomLease[]> {
    return this.#lease(now, limit, false, options);
  }

  leaseRequested(now: Date, limit: number, options?: LeaseOptions): Promise<RoomLease[]> {
    return this.#lease(now, limit, true, options);
  }

  #lease(now: Date, limit: number, requested: boolean, options?: LeaseOptions): Promise<RoomLease[]> {
    return guard(options, async () => {
      if (limit <= 0) return [];
      const until = addMs(now, options?.leaseMs ?? DEFAULT_LEASE_MS);
      // The inner SELECT locks the chosen cursor rows and skips rows another instance is leasing
      // right now; the UPDATE then stamps them with our lease in the same statement.
      const rows = await this.#ctx.db
        .updateTable("sync_cursor as c")
        .from("room as r")
        .set({ lease_owner: this.#ctx.owner, lease_expires_at: until, requested_at: null, updated_at: now })
        .whereRef("r.id", "=", "c.room_id")
        .where("c.room_id", "in", (qb) =>
          qb
            .selectFrom("sync_cursor as d")
            .innerJoin("room as e", "e.id", "d.room_id")
            .select("d.room_id")
            .where("e.enabled", "=", true)
            .where("d.due_at", "<=", now)
            .where((eb) => eb.or([eb("d.lease_expires_at", "is", null), eb("d.lease_expires_at", "<=", now)]))
            .$if(requested, (qb) => qb.where("d.requested_at", "is not", null).orderBy("d.requested_at"))
            .orderBy("d.due_at")
            .orderBy("d.room_id")
            .limit(limit)
            .forUpdate("d")
            .skipLocked(),
        )
        .returningAll("c")
        .returning(["r.mailbox", "r.source"])
        .execute();
      return rows
        .map((row) => ({ roomId: row.room_id, mailbox: row.mailbox, source: row.source as CalendarSourceName, cursor: toSyncCursor(row) }))
        .sort((a, b) => a.cursor.dueAt.getTime() - b.cursor.dueAt.getTime() || a.roomId.localeCompare(b.roomId));
    });
  }

  renewLease(roomId: string, now: Date, options?: LeaseOptions): Promise<boolean> {
    return guard(options, () => renewOwnLease(this.#ctx, "sync_cursor", roomId, now, options?.leaseMs));
  }

  async completeRound(roomId: string, result: RoundOutcome, now: Date, options?: StoreCallOptions): Promise<boolean> {
    const [recorded] = await this.completeRounds([{ roomId, result }], now, options);
    return recorded ?? false;
  }

  completeRounds(rounds: readonly RoundCompletion[], now: Date, options?: StoreCallOptions): Promise<boolean[]> {
    return guard(options, async () => {
      if (rounds.length === 0) return [];
      const rows = rounds.map(({ roomId, result: r }) =>
        r.outcome === "ok"
          ? {
              room: roomId,
              ok: true,
              link: r.deltaLink,
              ws: r.windowStart?.toISOString() ?? null,
              we: r.windowEnd?.toISOString() ?? null,
              due: r.nextDueAt.toISOString(),
            }
          : { room: roomId, ok: false, due: r.nextDueAt.toISOString(), code: r.code, msg: r.message, reset: r.resetCursor === true },
      );
      if (new Set(rows.map((r) => r.room)).size !== rows.length) throw new RangeError("completeRounds: a room appears more than once");
      // One UPDATE for every room; a success clears the error and the failure count, a failure
      // keeps the cursor unless told to reset it. A change notification during the round
      // (requested_at) keeps the room due at once. The rooms are found by `room_id = any(...)`, a
      // primary-key index scan even on a table never analyzed; a bare join to the recordset was
      // then planned as a nested loop over every cursor.
      const { rows: recorded } = await sql<{ room_id: string }>`
        with wanted as (
          select * from jsonb_to_recordset(${JSON.stringify(rows)}::jsonb)
            as w(room text, ok boolean, link text, ws timestamptz, we timestamptz, due timestamptz, code text, msg text, reset boolean)
        )
        update sync_cursor c
           set due_at = case when c.requested_at is null then w.due else least(w.due, c.requested_at) end,
               requested_at = null,
               lease_owner = null,
               lease_expires_at = null,
               updated_at = ${now}::timestamptz,
               delta_link = case when w.ok then w.link when w.reset then null else c.delta_link end,
               window_start = case when w.ok then w.ws when w.reset then null else c.window_start end,
               window_end = case when w.ok then w.we when w.reset then null else c.window_end end,
               last_success_at = case when w.ok then ${now}::timestamptz else c.last_success_at end,
               last_failure_at = case when w.ok then c.last_failure_at else ${now}::timestamptz end,
               last_error_code = case when w.ok then null else w.code end,
               last_error = case when w.ok then null else w.msg end,
               consecutive_failures = case when w.ok then 0 else c.consecutive_failures + 1 end
          from wanted w
         where c.room_id = any(array(select jsonb_array_elements_text(${JSON.stringify(rows.map((r) => r.room))}::jsonb)))
           and c.room_id = w.room and c.lease_owner = ${this.#ctx.owner}::text
        returning c.room_id`.execute(this.#ctx.db);
      const done = new Set(recorded.map((r) => r.room_id));
      return rounds.map((r) => done.has(r.roomId));
    });
  }

  markDue(roomId: string, now: Date, options?: StoreCallOptions): Promise<void> {
    return guard(options, async () => {
      await this.#ctx.db
        .updateTable("sync_cursor")
        .set({ due_at: sql<Date>`least(due_at, ${now}::timestamptz)`, requested_at: now, updated_at: now })
        .where("room_id", "=", roomId)
        .execute();
    });
  }

  resetCursor(roomId: string, now: Date, options?: StoreCallOptions): Promise<void> {
    return guard(options, async () => {
      await this.#ctx.db
        .updateTable("sync_cursor")
        .set({ delta_link: null, window_start: null, window_end: null, updated_at: now })
        .where("room_id", "=", roomId)
        .execute();
    });
  }

  get(roomId: string, options?: StoreCallOptions): Promise<SyncCursor | null> {
    return guard(options, async () => {
      const row = await this.#ctx.db.selectFrom("sync_cursor").selectAll().where("room_id", "=", roomId).executeTakeFirst();
      return row === undefined ? null : toSyncCursor(row);
    });
  }

  getMany(roomIds: readonly string[], options?: StoreCallOptions): Promise<SyncCursor[]> {
    return guard(options, () =>
      readByIds(roomIds, async (batch) => (await this.#ctx.db.selectFrom("sync_cursor").selectAll().where("room_id", "in", batch).execute()).map(toSyncCursor)),
    );
  }

  list(options?: StoreCallOptions): Promise<SyncCursor[]> {
    return guard(options, async () => (await this.#ctx.db.selectFrom("sync_cursor").selectAll().execute()).map(toSyncCursor));
  }

  releaseAll(now: Date, options?: StoreCallOptions): Promise<number> {
    return guard(options, () => releaseOwnLeases(this.#ctx, "sync_cursor", now));
  }
}
