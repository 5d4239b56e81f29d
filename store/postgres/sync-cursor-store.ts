import { sql } from "kysely";
import { addMs } from "../../core/clock.ts";
import type { LeaseOptions, RoomLease, RoundOutcome, StoreCallOptions, SyncCursor, SyncCursorStore } from "../../core/ports/store.ts";
import { toSyncCursor } from "../row-mappers.ts";
import { DEFAULT_LEASE_MS, type StoreContext, guard, releaseOwnLeases, renewOwnLease } from "./guard.ts";

export class PostgresSyncCursorStore implements SyncCursorStore {
  constructor(private readonly ctx: StoreContext) {}

  leaseDue(now: Date, limit: number, options?: LeaseOptions): Promise<RoomLease[]> {
    return guard(options, async () => {
      if (limit <= 0) return [];
      const until = addMs(now, options?.leaseMs ?? DEFAULT_LEASE_MS);
      // The inner SELECT locks the chosen cursor rows and skips rows another instance is leasing
      // right now; the UPDATE then stamps them with our lease in the same statement.
      const rows = await this.ctx.db
        .updateTable("sync_cursor as c")
        .from("room as r")
        .set({ lease_owner: this.ctx.owner, lease_expires_at: until, requested_at: null, updated_at: now })
        .whereRef("r.id", "=", "c.room_id")
        .where("c.room_id", "in", (qb) =>
          qb
            .selectFrom("sync_cursor as d")
            .innerJoin("room as e", "e.id", "d.room_id")
            .select("d.room_id")
            .where("e.enabled", "=", true)
            .where("d.due_at", "<=", now)
            .where((eb) => eb.or([eb("d.lease_expires_at", "is", null), eb("d.lease_expires_at", "<=", now)]))
            .orderBy("d.due_at")
            .orderBy("d.room_id")
            .limit(limit)
            .forUpdate("d")
            .skipLocked(),
        )
        .returningAll("c")
        .returning("r.mailbox")
        .execute();
      return rows
        .map((row) => ({ roomId: row.room_id, mailbox: row.mailbox, cursor: toSyncCursor(row) }))
        .sort((a, b) => a.cursor.dueAt.getTime() - b.cursor.dueAt.getTime() || a.roomId.localeCompare(b.roomId));
    });
  }

  renewLease(roomId: string, now: Date, options?: LeaseOptions): Promise<boolean> {
    return guard(options, () => renewOwnLease(this.ctx, "sync_cursor", roomId, now, options?.leaseMs));
  }


  completeRound(roomId: string, result: RoundOutcome, now: Date, options?: StoreCallOptions): Promise<boolean> {
    return guard(options, async () => {
      // A change notification during the round (requested_at) keeps the room due at once.
      const dueAt = sql<Date>`case when requested_at is null then ${result.nextDueAt}::timestamptz
        else least(${result.nextDueAt}::timestamptz, requested_at) end`;
      const common = { due_at: dueAt, requested_at: null, lease_owner: null, lease_expires_at: null, updated_at: now };
      const update =
        result.outcome === "ok"
          ? this.ctx.db.updateTable("sync_cursor").set({
              ...common,
              delta_link: result.deltaLink,
              window_start: result.windowStart,
              window_end: result.windowEnd,
              last_success_at: now,
              last_error_code: null,
              last_error: null,
              consecutive_failures: 0,
            })
          : this.ctx.db.updateTable("sync_cursor").set((eb) => ({
              ...common,
              last_failure_at: now,
              last_error_code: result.code,
              last_error: result.message,
              consecutive_failures: eb("consecutive_failures", "+", 1),
              ...(result.resetCursor ? { delta_link: null, window_start: null, window_end: null } : {}),
            }));
      const outcome = await update.where("room_id", "=", roomId).where("lease_owner", "=", this.ctx.owner).executeTakeFirst();
      return Number(outcome.numUpdatedRows) > 0;
    });
  }

  markDue(roomId: string, now: Date, options?: StoreCallOptions): Promise<void> {
    return guard(options, async () => {
      await this.ctx.db
        .updateTable("sync_cursor")
        .set({ due_at: sql<Date>`least(due_at, ${now}::timestamptz)`, requested_at: now, updated_at: now })
        .where("room_id", "=", roomId)
        .execute();
    });
  }

  resetCursor(roomId: string, now: Date, options?: StoreCallOptions): Promise<void> {
    return guard(options, async () => {
      await this.ctx.db
        .updateTable("sync_cursor")
        .set({ delta_link: null, window_start: null, window_end: null, updated_at: now })
        .where("room_id", "=", roomId)
        .execute();
    });
  }

  get(roomId: string, options?: StoreCallOptions): Promise<SyncCursor | null> {
    return guard(options, async () => {
      const row = await this.ctx.db.selectFrom("sync_cursor").selectAll().where("room_id", "=", roomId).executeTakeFirst();
      return row === undefined ? null : toSyncCursor(row);
    });
  }

  list(options?: StoreCallOptions): Promise<SyncCursor[]> {
    return guard(options, async () => (await this.ctx.db.selectFrom("sync_cursor").selectAll().execute()).map(toSyncCursor));
  }

  releaseAll(now: Date, options?: StoreCallOptions): Promise<number> {
    return guard(options, () => releaseOwnLeases(this.ctx, "sync_cursor", now));
  }

}
