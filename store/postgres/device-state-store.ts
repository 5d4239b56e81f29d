import { sql } from "kysely";
import { addMs } from "../../core/clock.ts";
import type { DeviceEntry, DeviceState, DeviceStateStore, LeaseOptions, StoreCallOptions } from "../../core/ports/store.ts";
import { toDeviceState } from "../row-mappers.ts";
import { DEFAULT_LEASE_MS, type StoreContext, guard, readByIds, releaseOwnLeases } from "./guard.ts";

export class PostgresDeviceStateStore implements DeviceStateStore {
  readonly #ctx: StoreContext;

  constructor(ctx: StoreContext) {
    this.#ctx = ctx;
  }

  setDesired(roomId: string, desiredHash: string, now: Date, options?: StoreCallOptions): Promise<void> {
    return guard(options, async () => {
      // Differs from what was pushed: due now, unless a retry is already scheduled (keep its
      // backoff). Equal: nothing is due.
      await this.#ctx.db
        .insertInto("device_state")
        .values({ room_id: roomId, desired_hash: desiredHash, due_at: now, entries: "[]", attempts: 0, updated_at: now })
        .onConflict((oc) =>
          oc
            .column("room_id")
            .doUpdateSet({
              desired_hash: desiredHash,
              due_at: sql<Date | null>`case when device_state.pushed_hash is not distinct from ${desiredHash}::text then null
                else coalesce(device_state.due_at, ${now}::timestamptz) end`,
              updated_at: now,
            })
            .where("device_state.desired_hash", "is distinct from", desiredHash),
        )
        .execute();
    });
  }

  pushAgain(roomId: string, now: Date, options?: StoreCallOptions): Promise<void> {
    return guard(options, async () => {
      await this.#ctx.db
        .updateTable("device_state")
        .set({ pushed_hash: null, due_at: now, attempts: 0, updated_at: now })
        .where("room_id", "=", roomId)
        .where("desired_hash", "is not", null)
        .execute();
    });
  }

  claimDue(now: Date, limit: number, options?: LeaseOptions): Promise<DeviceState[]> {
    return guard(options, async () => {
      if (limit <= 0) return [];
      const rows = await this.#ctx.db
        .updateTable("device_state")
        .set({ lease_owner: this.#ctx.owner, lease_expires_at: addMs(now, options?.leaseMs ?? DEFAULT_LEASE_MS), updated_at: now })
        .where("room_id", "in", (qb) =>
          qb
            .selectFrom("device_state")
            .select("room_id")
            .where("due_at", "<=", now)
            .where((eb) => eb.or([eb("lease_expires_at", "is", null), eb("lease_expires_at", "<=", now)]))
            .orderBy("due_at")
            .orderBy("room_id")
            .limit(limit)
            .forUpdate()
            .skipLocked(),
        )
        .returningAll()
        .execute();
      return rows.map(toDeviceState).sort((a, b) => (a.dueAt?.getTime() ?? 0) - (b.dueAt?.getTime() ?? 0) || a.roomId.localeCompare(b.roomId));
    });
  }

  recordPushed(roomId: string, pushed: { hash: string; entries: DeviceEntry[] }, now: Date, options?: StoreCallOptions): Promise<boolean> {
    return guard(options, async () => {
      const result = await this.#ctx.db
        .updateTable("device_state")
        .set({
          pushed_hash: pushed.hash,
          entries: JSON.stringify(pushed.entries),
          pushed_at: now,
          due_at: sql<Date | null>`case when desired_hash is distinct from ${pushed.hash}::text then ${now}::timestamptz else null end`,
          attempts: 0,
          last_error_code: null,
          last_error: null,
          failing_since: null,
          lease_owner: null,
          lease_expires_at: null,
          updated_at: now,
        })
        .where("room_id", "=", roomId)
        .where("lease_owner", "=", this.#ctx.owner)
        .executeTakeFirst();
      return Number(result.numUpdatedRows) > 0;
    });
  }

  recordFailed(roomId: string, failure: { code: string; message: string; retryAt: Date }, now: Date, options?: StoreCallOptions): Promise<boolean> {
    return guard(options, async () => {
      const result = await this.#ctx.db
        .updateTable("device_state")
        .set((eb) => ({
          attempts: eb("attempts", "+", 1),
          last_error_code: failure.code,
          last_error: failure.message,
          failing_since: sql<Date>`coalesce(failing_since, ${now}::timestamptz)`,
          due_at: failure.retryAt,
          lease_owner: null,
          lease_expires_at: null,
          updated_at: now,
        }))
        .where("room_id", "=", roomId)
        .where("lease_owner", "=", this.#ctx.owner)
        .executeTakeFirst();
      return Number(result.numUpdatedRows) > 0;
    });
  }

  get(roomId: string, options?: StoreCallOptions): Promise<DeviceState | null> {
    return guard(options, async () => {
      const row = await this.#ctx.db.selectFrom("device_state").selectAll().where("room_id", "=", roomId).executeTakeFirst();
      return row === undefined ? null : toDeviceState(row);
    });
  }

  getMany(roomIds: readonly string[], options?: StoreCallOptions): Promise<DeviceState[]> {
    return guard(options, () =>
      readByIds(roomIds, async (batch) =>
        (await this.#ctx.db.selectFrom("device_state").selectAll().where("room_id", "in", batch).execute()).map(toDeviceState),
      ),
    );
  }

  list(options?: StoreCallOptions): Promise<DeviceState[]> {
    return guard(options, async () => {
      const rows = await this.#ctx.db.selectFrom("device_state").selectAll().orderBy("room_id").execute();
      return rows.map(toDeviceState);
    });
  }

  releaseAll(now: Date, options?: StoreCallOptions): Promise<number> {
    return guard(options, () => releaseOwnLeases(this.#ctx, "device_state", now));
  }
}
