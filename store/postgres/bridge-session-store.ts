import { sql } from "kysely";
import { addMs } from "../../core/clock.ts";
import type { BridgeState } from "../../core/domain.ts";
import {
  type BridgeClaimOptions,
  type BridgeSession,
  type BridgeSessionPatch,
  type BridgeSessionStore,
  LIVE_BRIDGE_STATES,
  type LeaseOptions,
  type ScheduleBridgeSession,
  type StoreCallOptions,
} from "../../core/ports/store.ts";
import { fromBridgeSessionPatch, toBridgeSession } from "../row-mappers.ts";
import { DEFAULT_LEASE_MS, type StoreContext, guard, releaseOwnLeases, renewOwnLease } from "./guard.ts";

export class PostgresBridgeSessionStore implements BridgeSessionStore {
  constructor(private readonly ctx: StoreContext) {}

  schedule(
    session: ScheduleBridgeSession,
    now: Date,
    options?: StoreCallOptions,
  ): Promise<{ session: BridgeSession; change: "created" | "rescheduled" | "unchanged" }> {
    // Two instances inserting the same new session race on the session id's unique index, which
    // ON CONFLICT (occurrence_key) does not arbitrate; the loser retries and finds the row.
    return this.scheduleOnce(session, now, options).catch((error: unknown) => {
      if ((error as { code?: string }).code !== "OTJ_STORE_CONFLICT") throw error;
      return this.scheduleOnce(session, now, options);
    });
  }

  private scheduleOnce(
    session: ScheduleBridgeSession,
    now: Date,
    options?: StoreCallOptions,
  ): Promise<{ session: BridgeSession; change: "created" | "rescheduled" | "unchanged" }> {
    return guard(options, async () => {
      const row = await this.ctx.db
        .insertInto("bridge_session")
        .values({
          occurrence_key: session.occurrenceKey,
          session_id: session.sessionId,
          room_id: session.roomId,
          state: "scheduled",
          due_at: session.dueAt,
          not_after: session.notAfter,
          dial_string: session.dialString,
          attempts: 0,
          created_at: now,
          updated_at: now,
        })
        .onConflict((oc) =>
          oc
            .column("occurrence_key")
            .doUpdateSet({ due_at: session.dueAt, not_after: session.notAfter, dial_string: session.dialString, updated_at: now })
            .where("bridge_session.state", "=", "scheduled")
            .where((eb) =>
              eb.or([
                eb("bridge_session.due_at", "is distinct from", session.dueAt),
                eb("bridge_session.not_after", "is distinct from", session.notAfter),
                eb("bridge_session.dial_string", "is distinct from", session.dialString),
              ]),
            ),
        )
        .returningAll()
        .returning(sql<boolean>`(xmax = 0)`.as("inserted"))
        .executeTakeFirst();
      if (row !== undefined) return { session: toBridgeSession(row), change: row.inserted ? "created" : "rescheduled" };
      const existing = await this.ctx.db
        .selectFrom("bridge_session")
        .selectAll()
        .where("occurrence_key", "=", session.occurrenceKey)
        .executeTakeFirstOrThrow();
      return { session: toBridgeSession(existing), change: "unchanged" };
    });
  }

  claimDue(now: Date, limit: number, options?: BridgeClaimOptions): Promise<BridgeSession[]> {
    return guard(options, async () => {
      if (limit <= 0) return [];
      const dueBy = addMs(now, options?.horizonMs ?? 0);
      const rows = await this.ctx.db
        .updateTable("bridge_session")
        .set({ lease_owner: this.ctx.owner, lease_expires_at: addMs(now, options?.leaseMs ?? DEFAULT_LEASE_MS), updated_at: now })
        .where("occurrence_key", "in", (qb) =>
          qb
            .selectFrom("bridge_session")
            .select("occurrence_key")
            .where("state", "in", [...LIVE_BRIDGE_STATES])
            .where("due_at", "<=", dueBy)
            .where((eb) => eb.or([eb("lease_expires_at", "is", null), eb("lease_expires_at", "<=", now)]))
            .orderBy("due_at")
            .orderBy("occurrence_key")
            .limit(limit)
            .forUpdate()
            .skipLocked(),
        )
        .returningAll()
        .execute();
      return rows
        .map(toBridgeSession)
        .sort((a, b) => a.dueAt.getTime() - b.dueAt.getTime() || a.occurrenceKey.localeCompare(b.occurrenceKey));
    });
  }

  transition(
    occurrenceKey: string,
    change: { from?: readonly BridgeState[]; to: BridgeState; patch?: BridgeSessionPatch },
    now: Date,
    options?: StoreCallOptions,
  ): Promise<BridgeSession | null> {
    return guard(options, async () => {
      let query = this.ctx.db
        .updateTable("bridge_session")
        .set({ ...fromBridgeSessionPatch(change.patch ?? {}), state: change.to, updated_at: now })
        .where("occurrence_key", "=", occurrenceKey);
      if (change.from !== undefined) {
        if (change.from.length === 0) return null;
        query = query.where("state", "in", [...change.from]);
      }
      const row = await query.returningAll().executeTakeFirst();
      return row === undefined ? null : toBridgeSession(row);
    });
  }

  renewLease(occurrenceKey: string, now: Date, options?: LeaseOptions): Promise<boolean> {
    return guard(options, () => renewOwnLease(this.ctx, "bridge_session", occurrenceKey, now, options?.leaseMs));
  }


  release(occurrenceKey: string, now: Date, options?: StoreCallOptions): Promise<void> {
    return guard(options, async () => {
      await releaseOwnLeases(this.ctx, "bridge_session", now, occurrenceKey);
    });
  }


  get(occurrenceKey: string, options?: StoreCallOptions): Promise<BridgeSession | null> {
    return guard(options, async () => {
      const row = await this.ctx.db.selectFrom("bridge_session").selectAll().where("occurrence_key", "=", occurrenceKey).executeTakeFirst();
      return row === undefined ? null : toBridgeSession(row);
    });
  }

  getBySessionId(sessionId: string, options?: StoreCallOptions): Promise<BridgeSession | null> {
    return guard(options, async () => {
      const row = await this.ctx.db.selectFrom("bridge_session").selectAll().where("session_id", "=", sessionId).executeTakeFirst();
      return row === undefined ? null : toBridgeSession(row);
    });
  }

  list(filter: { states?: readonly BridgeState[]; roomId?: string } = {}, options?: StoreCallOptions): Promise<BridgeSession[]> {
    return guard(options, async () => {
      let query = this.ctx.db.selectFrom("bridge_session").selectAll();
      if (filter.states !== undefined) {
        if (filter.states.length === 0) return [];
        query = query.where("state", "in", [...filter.states]);
      }
      if (filter.roomId !== undefined) query = query.where("room_id", "=", filter.roomId);
      const rows = await query.orderBy("due_at").orderBy("occurrence_key").execute();
      return rows.map(toBridgeSession);
    });
  }

  releaseAll(now: Date, options?: StoreCallOptions): Promise<number> {
    return guard(options, () => releaseOwnLeases(this.ctx, "bridge_session", now));
  }

}
