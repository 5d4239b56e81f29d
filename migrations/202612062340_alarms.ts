/**
 * Alarms: a row per alarm from the moment it is raised until (and after) it clears, with who
 * acknowledged it and who muted it until when; and when each pulling device (pull, macro) last
 * fetched its meetings, so a device that stopped fetching raises an alarm. Frozen: change the
 * schema with a new migration.
 */
import { type Kysely, sql } from "kysely";

// biome-ignore lint/suspicious/noExplicitAny: migrations are frozen in time and typed loosely on purpose.
type AnyDb = Kysely<any>;

export async function up(db: AnyDb): Promise<void> {
  await db.schema
    .createTable("alarm")
    .addColumn("id", "bigserial", (c) => c.primaryKey())
    .addColumn("alarm_key", "text", (c) => c.notNull())
    .addColumn("code", "text", (c) => c.notNull())
    .addColumn("room_id", "text")
    .addColumn("subject", "text", (c) => c.notNull())
    .addColumn("message", "text", (c) => c.notNull())
    .addColumn("raised_at", "timestamptz", (c) => c.notNull())
    .addColumn("cleared_at", "timestamptz")
    .addColumn("acked_by", "text")
    .addColumn("acked_at", "timestamptz")
    .addColumn("muted_by", "text")
    .addColumn("muted_until", "timestamptz")
    .execute();
  // At most one open alarm per key: two evaluators racing cannot raise it twice.
  await sql`create unique index alarm_open_key_idx on alarm (alarm_key) where cleared_at is null`.execute(db);
  await db.schema.createIndex("alarm_raised_idx").on("alarm").column("raised_at").execute();
  await db.schema
    .createTable("device_fetch")
    .addColumn("room_id", "text", (c) => c.primaryKey().references("room.id").onDelete("cascade"))
    .addColumn("fetched_at", "timestamptz", (c) => c.notNull())
    .execute();
  await sql`insert into job_lease (name) values ('alarms') on conflict do nothing`.execute(db);
}

export async function down(db: AnyDb): Promise<void> {
  await sql`delete from job_lease where name = 'alarms'`.execute(db);
  await db.schema.dropTable("device_fetch").execute();
  await db.schema.dropTable("alarm").execute();
}
