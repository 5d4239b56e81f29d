/**
 * One record of when each device last fetched its meetings, whatever it read (pull API, ICS feed
 * or EWS feed): `device_fetch` gains what was read (`via`), the EWS feed's last reads move into it
 * from `ews_device`, and `ews_device` keeps only the device's password. Frozen: change the schema
 * with a new migration.
 */
import { type Kysely, sql } from "kysely";

// biome-ignore lint/suspicious/noExplicitAny: migrations are frozen in time and typed loosely on purpose.
type AnyDb = Kysely<any>;

export async function up(db: AnyDb): Promise<void> {
  await db.schema.alterTable("device_fetch").addColumn("via", "text").execute();
  await sql`insert into device_fetch (room_id, fetched_at, via)
    select room_id, last_fetch_at, 'ews:' || coalesce(last_operation, '') from ews_device where last_fetch_at is not null
    on conflict (room_id) do update set fetched_at = excluded.fetched_at, via = excluded.via
      where excluded.fetched_at > device_fetch.fetched_at`.execute(db);
  await db.schema.alterTable("ews_device").dropColumn("last_fetch_at").execute();
  await db.schema.alterTable("ews_device").dropColumn("last_operation").execute();
}

export async function down(db: AnyDb): Promise<void> {
  await db.schema.alterTable("ews_device").addColumn("last_fetch_at", "timestamptz").execute();
  await db.schema.alterTable("ews_device").addColumn("last_operation", "text").execute();
  await sql`update ews_device set last_fetch_at = f.fetched_at,
      last_operation = case when f.via like 'ews:%' then substr(f.via, 5) else f.via end
    from device_fetch f where f.room_id = ews_device.room_id`.execute(db);
  await db.schema.alterTable("device_fetch").dropColumn("via").execute();
}
