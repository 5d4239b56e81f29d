import { sql } from "kysely";
import { addMs } from "../../core/clock.ts";
import type { BridgeState } from "../../core/domain.ts";
import {
  type BridgeClaimOptions,
  type BridgeExternalId,
  type BridgeSession,
  type BridgeSessionPatch,
  type BridgeSessionStore,
  type BridgeStart,
  type BridgeStartItem,
  LIVE_BRIDGE_STATES,
  type LeaseOptions,
  type ScheduleBridgeSession,
  type StoreCallOptions,
} from "../../core/ports/store.ts";
import type { BridgeSessionRow } from "../database.ts";
import { fromBridgeSessionPatch, toBridgeSession } from "../row-mappers.ts";
import { DEFAULT_LEASE_MS, type StoreContext, guard, releaseOwnLeases, renewOwnLease } from "./guard.ts";

/** A JSON object keyed by occurrence key, written directly (a later duplicate key wins, as in jsonb). */
function jsonObject(entries: ReadonlyArray<readonly [string, unknown]>): string {
  return `{${entries.map(([key, value]) => `${JSON.stringify(key)}:${JSON.stringify(value)}`).join(",")}}`;
}

/**
 * Bridge sessions on PostgreSQL and PGlite. The batched statements (startMany, recordExternalIds,
 * unansweredStarts, releaseMany) pass their rows as one JSON parameter (an object keyed by
 * occurrence key, or an array of keys): one shape for node-pg and PGlite alike, and no limit on
 * the number of parameters. They find their rows with `occurrence_key = any(array(...))`, a primary-key index
 * scan whatever the table's statistics say, and read each row's value from the object by key:
 * joined to a recordset instead, a table never analyzed (autovacuum off, or just filled) was
 * planned as a nested loop over every session, 0.5 s for 500 of 5,000 sessions.
 */
export class PostgresBridgeSessionStore implements BridgeSessionStore {
  readonly #ctx: StoreContext;

  constructor(ctx: StoreContext) {
    this.#ctx = ctx;
  }

  schedule(
    session: ScheduleBridgeSession,
    now: Date,
    options?: StoreCallOptions,
  ): Promise<{ session: BridgeSession; change: "created" | "rescheduled" | "unchanged" }> {
    // Two instances inserting the same new session race on the session id's unique index, which
    // ON CONFLICT (occurrence_key) does not arbitrate; the loser retries and finds the row.
    return this.#scheduleOnce(session, now, options).catch((error: unknown) => {
      if ((error as { code?: string }).code !== "OTJ_STORE_CONFLICT") throw error;
      return this.#scheduleOnce(session, now, options);
    });
  }

  #scheduleOnce(
    session: ScheduleBridgeSession,
    now: Date,
    options?: StoreCallOptions,
  ): Promise<{ session: BridgeSession; change: "created" | "rescheduled" | "unchanged" }> {
    return guard(options, async () => {
      const row = await this.#ctx.db
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
      const existing = await this.#ctx.db
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
      const rows = await this.#ctx.db
        .updateTable("bridge_session")
        .set({ lease_owner: this.#ctx.owner, lease_expires_at: addMs(now, options?.leaseMs ?? DEFAULT_LEASE_MS), updated_at: now })
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
      return rows.map(toBridgeSession).sort((a, b) => a.dueAt.getTime() - b.dueAt.getTime() || a.occurrenceKey.localeCompare(b.occurrenceKey));
    });
  }

  transition(
    occurrenceKey: string,
    change: { from?: readonly BridgeState[]; to: BridgeState; patch?: BridgeSessionPatch },
    now: Date,
    options?: StoreCallOptions,
  ): Promise<BridgeSession | null> {
    return guard(options, async () => {
      let query = this.#ctx.db
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

  startMany(sessions: readonly BridgeStartItem[], start: BridgeStart, now: Date, options?: StoreCallOptions): Promise<BridgeSession[]> {
    return guard(options, async () => {
      if (sessions.length === 0) return [];
      const wanted = jsonObject(sessions.map((s) => [s.occurrenceKey, s.dueAt.toISOString()]));
      // One statement: the compare-and-set of every session, and the event log entry of each one
      // it moved, in the same transaction. The due time is compared as the caller read it (ms).
      const { rows } = await sql<BridgeSessionRow>`
        with wanted as (
          select ${wanted}::jsonb as due
        ), moved as (
          update bridge_session b
             set state = 'starting',
                 attempts = b.attempts + 1,
                 adapter = ${start.adapter}::text,
                 lobby_deadline = ${start.lobbyDeadline}::timestamptz,
                 due_at = least(${start.nextDueAt}::timestamptz, b.not_after),
                 last_error_code = null,
                 last_error = null,
                 updated_at = ${now}::timestamptz
           where b.occurrence_key = any(array(select jsonb_object_keys((select due from wanted))))
             and date_trunc('milliseconds', b.due_at) = ((select due from wanted) ->> b.occurrence_key)::timestamptz
             and b.state = 'scheduled' and b.lease_owner = ${this.#ctx.owner}::text
          returning b.*
        ), logged as (
          insert into event_log (at, kind, room_id, occurrence_key, message, data)
          select ${now}::timestamptz, 'bridge.starting', m.room_id, m.occurrence_key, ${start.cause}::text,
                 jsonb_build_object('sessionId', m.session_id, 'from', 'scheduled', 'to', 'starting', 'attempt', m.attempts)
                   || case when m.external_id is null then '{}'::jsonb else jsonb_build_object('externalId', m.external_id) end
            from moved m
           order by m.occurrence_key
        )
        select * from moved`.execute(this.#ctx.db);
      return rows.map(toBridgeSession);
    });
  }

  recordExternalIds(ids: readonly BridgeExternalId[], now: Date, options?: StoreCallOptions): Promise<BridgeSession[]> {
    return guard(options, async () => {
      if (ids.length === 0) return [];
      const wanted = jsonObject(ids.map((i) => [i.occurrenceKey, { x: i.externalId, d: i.dueAt?.toISOString() ?? null }]));
      // The sessions it leaves alone (the id already stored) come from the statement's snapshot,
      // which they did not change in.
      const { rows } = await sql<BridgeSessionRow>`
        with wanted as (
          select ${wanted}::jsonb as id
        ), recorded as (
          update bridge_session b
             set external_id = (select id from wanted) -> b.occurrence_key ->> 'x',
                 due_at = case
                   when ((select id from wanted) -> b.occurrence_key ->> 'd') is null then b.due_at
                   when b.state = 'starting' then ((select id from wanted) -> b.occurrence_key ->> 'd')::timestamptz
                   when b.external_id is null and b.state = 'lobby' then coalesce(least(b.lobby_deadline, b.not_after), b.due_at)
                   when b.external_id is null and b.state = 'admitted' then b.not_after
                   else b.due_at end,
                 updated_at = ${now}::timestamptz
           where b.occurrence_key = any(array(select jsonb_object_keys((select id from wanted))))
             and b.external_id is distinct from ((select id from wanted) -> b.occurrence_key ->> 'x')
             and (b.state in (${sql.join([...LIVE_BRIDGE_STATES])}) or b.external_id is null)
          returning b.*
        )
        select * from recorded
        union all
        select b.* from bridge_session b
         where b.occurrence_key = any(array(select jsonb_object_keys((select id from wanted))))
           and b.occurrence_key not in (select occurrence_key from recorded)`.execute(this.#ctx.db);
      return rows.map(toBridgeSession);
    });
  }

  unansweredStarts(occurrenceKeys: readonly string[], options?: StoreCallOptions): Promise<string[]> {
    return guard(options, async () => {
      if (occurrenceKeys.length === 0) return [];
      const { rows } = await sql<{ occurrence_key: string }>`
        select occurrence_key from bridge_session
         where occurrence_key = any(array(select jsonb_array_elements_text(${JSON.stringify(occurrenceKeys)}::jsonb)))
           and state = 'starting' and external_id is null`.execute(this.#ctx.db);
      return rows.map((r) => r.occurrence_key);
    });
  }

  renewLease(occurrenceKey: string, now: Date, options?: LeaseOptions): Promise<boolean> {
    return guard(options, () => renewOwnLease(this.#ctx, "bridge_session", occurrenceKey, now, options?.leaseMs));
  }

  release(occurrenceKey: string, now: Date, options?: StoreCallOptions): Promise<void> {
    return guard(options, async () => {
      await releaseOwnLeases(this.#ctx, "bridge_session", now, occurrenceKey);
    });
  }

  releaseMany(occurrenceKeys: readonly string[], now: Date, options?: StoreCallOptions): Promise<number> {
    return guard(options, async () => {
      if (occurrenceKeys.length === 0) return 0;
      const result = await sql`
        update bridge_session set lease_owner = null, lease_expires_at = null, updated_at = ${now}::timestamptz
         where lease_owner = ${this.#ctx.owner}::text
           and occurrence_key = any(array(select jsonb_array_elements_text(${JSON.stringify(occurrenceKeys)}::jsonb)))`.execute(this.#ctx.db);
      return Number(result.numAffectedRows ?? 0);
    });
  }

  get(occurrenceKey: string, options?: StoreCallOptions): Promise<BridgeSession | null> {
    return guard(options, async () => {
      const row = await this.#ctx.db.selectFrom("bridge_session").selectAll().where("occurrence_key", "=", occurrenceKey).executeTakeFirst();
      return row === undefined ? null : toBridgeSession(row);
    });
  }

  getBySessionId(sessionId: string, options?: StoreCallOptions): Promise<BridgeSession | null> {
    return guard(options, async () => {
      const row = await this.#ctx.db.selectFrom("bridge_session").selectAll().where("session_id", "=", sessionId).executeTakeFirst();
      return row === undefined ? null : toBridgeSession(row);
    });
  }

  list(
    filter: { states?: readonly BridgeState[]; roomId?: string; liveOrUpdatedSince?: Date; limit?: number } = {},
    options?: StoreCallOptions,
  ): Promise<BridgeSession[]> {
    return guard(options, async () => {
      let query = this.#ctx.db.selectFrom("bridge_session").selectAll();
      if (filter.states !== undefined) {
        if (filter.states.length === 0) return [];
        query = query.where("state", "in", [...filter.states]);
      }
      if (filter.roomId !== undefined) query = query.where("room_id", "=", filter.roomId);
      const since = filter.liveOrUpdatedSince;
      if (since !== undefined) query = query.where((eb) => eb.or([eb("state", "in", [...LIVE_BRIDGE_STATES]), eb("updated_at", ">", since)]));
      query = query.orderBy("due_at").orderBy("occurrence_key");
      if (filter.limit !== undefined) query = query.limit(Math.max(0, Math.floor(filter.limit)));
      const rows = await query.execute();
      return rows.map(toBridgeSession);
    });
  }

  countByState(filter: { finishedSince?: Date } = {}, options?: StoreCallOptions): Promise<Record<string, number>> {
    return guard(options, async () => {
      // Live sessions come from the live partial index and the recent finished ones from the
      // updated_at index: the history of finished sessions is never read.
      const since = filter.finishedSince;
      const rows =
        since === undefined
          ? await this.#ctx.db
              .selectFrom("bridge_session")
              .select(["state", (eb) => eb.fn.countAll<string>().as("n")])
              .groupBy("state")
              .execute()
          : (
              await sql<{ state: string; n: string }>`
                select state, count(*) as n from (
                  select state from bridge_session where state in ('scheduled', 'starting', 'lobby', 'admitted')
                  union all
                  select state from bridge_session where updated_at > ${since} and state not in ('scheduled', 'starting', 'lobby', 'admitted')
                ) s group by state`.execute(this.#ctx.db)
            ).rows;
      const counts: Record<string, number> = {};
      for (const row of rows) counts[row.state] = Number(row.n);
      return counts;
    });
  }

  releaseAll(now: Date, options?: StoreCallOptions): Promise<number> {
    return guard(options, () => releaseOwnLeases(this.#ctx, "bridge_session", now));
  }
}
