/**
 * GoogleChannelStore on PostgreSQL / PGlite (table `google_channel`, migration
 * 202612070100_google_channels_request_budget): one row per Google room, leased with SKIP LOCKED
 * like sync cursors. The row has no foreign key on the room, so a removed room's row is still
 * there (an orphan) until its channel is stopped at Google.
 */
import { type Kysely, sql } from "kysely";
import { addMs } from "../../core/clock.ts";
import type { ChannelRecord, GoogleChannelStore, SavedChannel } from "../../core/ports/google-channel-store.ts";
import type { NotificationFailures } from "../../core/ports/notification-failures.ts";
import type { StoreCallOptions } from "../../core/ports/store.ts";
import { guard } from "./guard.ts";
import { type FailingRow, toNotificationFailures } from "./notification-failures.ts";

interface ChannelTable {
  room_id: string;
  mailbox: string;
  channel_id: string | null;
  resource_id: string | null;
  token_hash: string | null;
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
  google_channel: ChannelTable;
}

type Row = ChannelTable & { orphan: boolean };

/** Whether the row's room is gone, disabled or not a Google room (SQL over `c`). */
const ORPHAN = sql<boolean>`not exists (select 1 from room r where r.id = c.room_id and r.enabled and r.source = 'google')`;

function toRecord(row: Row): ChannelRecord {
  return {
    roomId: row.room_id,
    mailbox: row.mailbox,
    channelId: row.channel_id,
    resourceId: row.resource_id,
    tokenHash: row.token_hash,
    expiresAt: row.expires_at,
    dueAt: row.due_at,
    failures: row.failures,
    lastErrorCode: row.last_error_code,
    orphan: Boolean(row.orphan),
  };
}

export class PostgresGoogleChannelStore implements GoogleChannelStore {
  readonly #db: Kysely<Tables>;
  readonly #owner: string;

  /**
   * @param db a migrated database (any Kysely instance on it).
   * @param owner this engine instance's lease owner (`store.owner`).
   */
  constructor(
    // biome-ignore lint/suspicious/noExplicitAny: the table is not part of the store's typed schema.
    db: Kysely<any>,
    owner: string,
  ) {
    this.#owner = owner;
    this.#db = db as Kysely<Tables>;
  }

  ensureRooms(now: Date, options?: StoreCallOptions): Promise<number> {
    return guard(options, async () => {
      const result = await sql`insert into google_channel (room_id, mailbox, due_at, created_at, updated_at)
        select r.id, r.mailbox, ${now}::timestamptz, ${now}::timestamptz, ${now}::timestamptz from room r
        where r.enabled and r.source = 'google' and not exists (select 1 from google_channel c where c.room_id = r.id)
        on conflict (room_id) do nothing`.execute(this.#db);
      return Number(result.numAffectedRows ?? 0);
    });
  }

  claimDue(now: Date, limit: number, leaseMs: number, options?: StoreCallOptions): Promise<ChannelRecord[]> {
    return guard(options, async () => {
      if (limit <= 0) return [];
      const result = await sql<Row>`update google_channel c
        set lease_owner = ${this.#owner}, lease_expires_at = ${addMs(now, leaseMs)}::timestamptz, updated_at = ${now}::timestamptz
        where c.room_id in (
          select c.room_id from google_channel c
          where (c.due_at <= ${now}::timestamptz or (c.failures = 0 and ${ORPHAN}))
            and (c.lease_expires_at is null or c.lease_expires_at <= ${now}::timestamptz)
          order by c.due_at, c.room_id
          limit ${limit}
          for update skip locked)
        returning c.*, ${ORPHAN} as orphan`.execute(this.#db);
      return result.rows
        .map(toRecord)
        .sort((a, b) => Number(b.orphan) - Number(a.orphan) || a.dueAt.getTime() - b.dueAt.getTime() || a.roomId.localeCompare(b.roomId));
    });
  }

  saved(roomId: string, channel: SavedChannel, now: Date, options?: StoreCallOptions): Promise<boolean> {
    return this.#release(
      roomId,
      {
        channel_id: channel.channelId,
        resource_id: channel.resourceId,
        token_hash: channel.tokenHash,
        expires_at: channel.expiresAt,
        due_at: channel.dueAt,
        failures: 0,
        last_error_code: null,
        last_error: null,
        updated_at: now,
      },
      options,
    );
  }

  failed(roomId: string, failure: { code: string; message: string; dueAt: Date; forget: boolean }, now: Date, options?: StoreCallOptions): Promise<boolean> {
    return this.#release(
      roomId,
      {
        due_at: failure.dueAt,
        failures: sql<number>`failures + 1`,
        last_error_code: failure.code,
        last_error: failure.message,
        updated_at: now,
        ...(failure.forget ? { channel_id: null, resource_id: null, token_hash: null, expires_at: null } : {}),
      },
      options,
    );
  }

  /** Writes `values` and releases the lease, when this owner still holds it. */
  #release(roomId: string, values: Record<string, unknown>, options?: StoreCallOptions): Promise<boolean> {
    return guard(options, async () => {
      const result = await this.#db
        .updateTable("google_channel")
        .set({ ...values, lease_owner: null, lease_expires_at: null })
        .where("room_id", "=", roomId)
        .where("lease_owner", "=", this.#owner)
        .executeTakeFirst();
      return Number(result.numUpdatedRows) > 0;
    });
  }

  remove(roomId: string, options?: StoreCallOptions): Promise<boolean> {
    return guard(options, async () => {
      const result = await this.#db.deleteFrom("google_channel").where("room_id", "=", roomId).where("lease_owner", "=", this.#owner).executeTakeFirst();
      return Number(result.numDeletedRows) > 0;
    });
  }

  byChannelId(channelId: string, options?: StoreCallOptions): Promise<ChannelRecord | null> {
    return guard(options, async () => {
      const result = await sql<Row>`select c.*, ${ORPHAN} as orphan from google_channel c where c.channel_id = ${channelId}`.execute(this.#db);
      const row = result.rows[0];
      return row === undefined ? null : toRecord(row);
    });
  }

  list(options?: StoreCallOptions): Promise<ChannelRecord[]> {
    return guard(options, async () => {
      const result = await sql<Row>`select c.*, ${ORPHAN} as orphan from google_channel c order by c.mailbox, c.room_id`.execute(this.#db);
      return result.rows.map(toRecord);
    });
  }

  failing(minFailures: number, options?: StoreCallOptions): Promise<NotificationFailures> {
    return guard(options, async () => {
      // One row: the most recently touched failing record, with the count of all of them; orphans
      // (their room is gone) are not counted.
      const result = await sql<FailingRow>`
        select count(*) over () as rooms, c.last_error_code, c.last_error
        from google_channel c
        where c.failures >= ${minFailures} and not ${ORPHAN}
        order by c.updated_at desc, c.room_id
        limit 1`.execute(this.#db);
      return toNotificationFailures(result.rows[0]);
    });
  }

  releaseAll(now: Date, options?: StoreCallOptions): Promise<number> {
    return guard(options, async () => {
      const result = await this.#db
        .updateTable("google_channel")
        .set({ lease_owner: null, lease_expires_at: null, updated_at: now })
        .where("lease_owner", "=", this.#owner)
        .executeTakeFirst();
      return Number(result.numUpdatedRows);
    });
  }
}
