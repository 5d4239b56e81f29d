/**
 * Retention: indexes the prune and the history-independent reads need (finished bridge sessions
 * by last change, event log entries by time, meetings by end), and a table of named leases so
 * that one instance at a time runs a periodic job such as the prune. Frozen: change the schema
 * with a new migration. Also: rooms record whether their device may be reached over plain
 * http:// (rooms that already use such an address keep working: they are marked so).
 */
import { type Kysely, sql } from "kysely";

// biome-ignore lint/suspicious/noExplicitAny: migrations are frozen in time and typed loosely on purpose.
type AnyDb = Kysely<any>;

export async function up(db: AnyDb): Promise<void> {
  await db.schema.createIndex("bridge_session_updated_idx").on("bridge_session").column("updated_at").execute();
  await db.schema.createIndex("event_log_at_idx").on("event_log").column("at").execute();
  await db.schema.createIndex("meeting_end_idx").on("meeting").column("end_at").execute();
  await db.schema
    .createTable("job_lease")
    .addColumn("name", "text", (c) => c.primaryKey())
    .addColumn("lease_owner", "text")
    .addColumn("lease_expires_at", "timestamptz")
    .addColumn("last_run_at", "timestamptz")
    .execute();
  await sql`insert into job_lease (name) values ('retention')`.execute(db);
  // A device reached over plain http:// (not loopback) only when the room opts in.
  await db.schema
    .alterTable("room")
    .addColumn("allow_insecure_http", "boolean", (c) => c.notNull().defaultTo(false))
    .execute();
  await sql`update room set allow_insecure_http = true where device_address like 'http://%'`.execute(db);
}

export async function down(db: AnyDb): Promise<void> {
  await db.schema.alterTable("room").dropColumn("allow_insecure_http").execute();
  await db.schema.dropTable("job_lease").execute();
  await db.schema.dropIndex("meeting_end_idx").execute();
  await db.schema.dropIndex("event_log_at_idx").execute();
  await db.schema.dropIndex("bridge_session_updated_idx").execute();
}
