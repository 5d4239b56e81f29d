/**
 * SubscriptionStore on PostgreSQL / PGlite (table `graph_subscription`, migration
 * 202611251200_graph_subscriptions): one row per enabled Graph room (`source` graph), leased with SKIP LOCKED like sync
 * cursors so two engine instances never create or renew one room's subscription at once.
 */

import { type Kysely, sql } from "kysely";
import { addMs } from "../../core/clock.ts";
import type { StoreCallOptions } from "../../core/ports/store.ts";
import type { SubscriptionRecord, SubscriptionStore } from "../../core/ports/graph-subscription-store.ts";
import type { NotificationFailures } from "../../core/ports/notification-failures.ts";
import { guard } from "./guard.ts";
import { type FailingRow, toNotificationFailures } from "./notification-failures.ts";

interface SubscriptionTable {
  room_id: string;
  subscription_id: string | null;
  client_state_hash: string | null;
  expires_at: Date | null;
  due_at: Date;
  failures: number;
  last_error_code: string | null;
  last_error: string | null;
  lease_owner: string | null;
  lease_expires_at: Date | null;
  created_at: Date;
  updated_at: Date;
}

interface Tables {
  graph_subscription: SubscriptionTable;
  room: { id: string; mailbox: string; enabled: boolean; source: string };
}

type Row = SubscriptionTable & { mailbox: string };

function toRecord(row: Row): SubscriptionRecord {
  return {
    roomId: row.room_id,
    mailbox: row.mailbox,
    subscriptionId: row.subscription_id,
    clientStateHash: row.client_state_hash,
    expiresAt: row.expires_at,
    dueAt: row.due_at,
    failures: row.failures,
    lastErrorCode: row.last_error_code,
  };
}

export class PostgresSubscriptionStore implements SubscriptionStore {
  readonly #db: Kysely<Tables>;
  readonly #owner: string;

  /**
   * @param db a migrated database (any Kysely instance on it).
   * @param owner this engine instance's lease owner (`store.owner`).
   */
  // biome-ignore lint/suspicious/noExplicitAny: the table is not part of the store's typed schema.
  constructor(db: Kysely<any>, owner: string) {
    this.#db = db as Kysely<Tables>;
    this.#owner = owner;
  }

  ensureRooms(now: Date, options?: StoreCallOptions): Promise<number> {
    return guard(options, async () => {
      const result = await sql`insert into graph_subscription (room_id, due_at, created_at, updated_at)
        select r.id, ${now}::timestamptz, ${now}::timestamptz, ${now}::timestamptz from room r
        where r.enabled and r.source = 'graph' and not exists (select 1 from graph_subscription s where s.room_id = r.id)
        on conflict (room_id) do nothing`.execute(this.#db);
      return Number(result.numAffectedRows ?? 0);
    });
  }

  claimDue(now: Date, limit: number, leaseMs: number, options?: StoreCallOptions): Promise<SubscriptionRecord[]> {
    return this.#claim(now, limit, leaseMs, false, options);
  }

  claimOrphans(now: Date, limit: number, leaseMs: number, options?: StoreCallOptions): Promise<SubscriptionRecord[]> {
    return this.#claim(now, limit, leaseMs, true, options);
  }

  /**
   * Leases due records: of enabled Graph rooms (a room read from Google or Exchange Server has no
   * Graph mailbox to subscribe to), or with `orphans` of the other rooms whose subscription is
   * still open at Graph.
   */
  #claim(now: Date, limit: number, leaseMs: number, orphans: boolean, options?: StoreCallOptions): Promise<SubscriptionRecord[]> {
    return guard(options, async () => {
      if (limit <= 0) return [];
      const rows = await this.#db
        .updateTable("graph_subscription as s")
        .from("room as r")
        .set({ lease_owner: this.#owner, lease_expires_at: addMs(now, leaseMs), updated_at: now })
        .whereRef("r.id", "=", "s.room_id")
        .where("s.room_id", "in", (qb) =>
          qb
            .selectFrom("graph_subscription as d")
            .innerJoin("room as e", "e.id", "d.room_id")
            .select("d.room_id")
            .where((eb) =>
              orphans
                ? eb.and([eb("d.subscription_id", "is not", null), eb.or([eb("e.enabled", "=", false), eb("e.source", "!=", "graph")])])
                : eb.and([eb("e.enabled", "=", true), eb("e.source", "=", "graph")]),
            )
            // An orphan goes at once, unless deleting it failed: then after its backoff.
            .where((eb) => (orphans ? eb.or([eb("d.failures", "=", 0), eb("d.due_at", "<=", now)]) : eb("d.due_at", "<=", now)))
            .where((eb) => eb.or([eb("d.lease_expires_at", "is", null), eb("d.lease_expires_at", "<=", now)]))
            .orderBy("d.due_at")
            .orderBy("d.room_id")
            .limit(limit)
            .forUpdate("d")
            .skipLocked(),
        )
        .returningAll("s")
        .returning("r.mailbox")
        .execute();
      return (rows as Row[]).map(toRecord).sort((a, b) => a.dueAt.getTime() - b.dueAt.getTime() || a.roomId.localeCompare(b.roomId));
    });
  }

  remove(roomId: string, options?: StoreCallOptions): Promise<boolean> {
    return guard(options, async () => {
      const result = await this.#db.deleteFrom("graph_subscription").where("room_id", "=", roomId).where("lease_owner", "=", this.#owner).executeTakeFirst();
      return Number(result.numDeletedRows) > 0;
    });
  }

  saved(
    roomId: string,
    subscription: { subscriptionId: string; clientStateHash: string; expiresAt: Date; dueAt: Date },
    now: Date,
    options?: StoreCallOptions,
  ): Promise<boolean> {
    return guard(options, async () => {
      const result = await this.#db
        .updateTable("graph_subscription")
        .set({
          subscription_id: subscription.subscriptionId,
          client_state_hash: subscription.clientStateHash,
          expires_at: subscription.expiresAt,
          due_at: subscription.dueAt,
          failures: 0,
          last_error_code: null,
          last_error: null,
          lease_owner: null,
          lease_expires_at: null,
          updated_at: now,
        })
        .where("room_id", "=", roomId)
        .where("lease_owner", "=", this.#owner)
        .executeTakeFirst();
      return Number(result.numUpdatedRows) > 0;
    });
  }

  failed(roomId: string, failure: { code: string; message: string; dueAt: Date; forget: boolean }, now: Date, options?: StoreCallOptions): Promise<boolean> {
    return guard(options, async () => {
      const result = await this.#db
        .updateTable("graph_subscription")
        .set((eb) => ({
          due_at: failure.dueAt,
          failures: eb("failures", "+", 1),
          last_error_code: failure.code,
          last_error: failure.message,
          lease_owner: null,
          lease_expires_at: null,
          updated_at: now,
          ...(failure.forget ? { subscription_id: null, client_state_hash: null, expires_at: null } : {}),
        }))
        .where("room_id", "=", roomId)
        .where("lease_owner", "=", this.#owner)
        .executeTakeFirst();
      return Number(result.numUpdatedRows) > 0;
    });
  }

  bySubscriptionIds(subscriptionIds: readonly string[], options?: StoreCallOptions): Promise<SubscriptionRecord[]> {
    return guard(options, async () => {
      if (subscriptionIds.length === 0) return [];
      const rows = await this.#db
        .selectFrom("graph_subscription as s")
        .innerJoin("room as r", "r.id", "s.room_id")
        .selectAll("s")
        .select("r.mailbox")
        .where("s.subscription_id", "in", [...subscriptionIds])
        .execute();
      return rows.map((row) => toRecord(row as Row));
    });
  }

  markDue(roomId: string, now: Date, forget: boolean, options?: StoreCallOptions): Promise<void> {
    return guard(options, async () => {
      await this.#db
        .updateTable("graph_subscription")
        .set({
          due_at: sql<Date>`least(due_at, ${now}::timestamptz)`,
          updated_at: now,
          ...(forget ? { subscription_id: null, client_state_hash: null, expires_at: null } : {}),
        })
        .where("room_id", "=", roomId)
        .execute();
    });
  }

  list(options?: StoreCallOptions): Promise<SubscriptionRecord[]> {
    return guard(options, async () => {
      const rows = await this.#db
        .selectFrom("graph_subscription as s")
        .innerJoin("room as r", "r.id", "s.room_id")
        .selectAll("s")
        .select("r.mailbox")
        .orderBy("r.mailbox")
        .execute();
      return (rows as Row[]).map(toRecord);
    });
  }

  failing(minFailures: number, options?: StoreCallOptions): Promise<NotificationFailures> {
    return guard(options, async () => {
      // One row: the most recently touched failing record, with the count of all of them.
      const result = await sql<FailingRow>`
        select count(*) over () as rooms, s.last_error_code, s.last_error
        from graph_subscription s join room r on r.id = s.room_id
        where r.enabled and r.source = 'graph' and s.failures >= ${minFailures}
        order by s.updated_at desc, s.room_id
        limit 1`.execute(this.#db);
      return toNotificationFailures(result.rows[0]);
    });
  }

  releaseAll(now: Date, options?: StoreCallOptions): Promise<number> {
    return guard(options, async () => {
      const result = await this.#db
        .updateTable("graph_subscription")
        .set({ lease_owner: null, lease_expires_at: null, updated_at: now })
        .where("lease_owner", "=", this.#owner)
        .executeTakeFirst();
      return Number(result.numUpdatedRows);
    });
  }
}
