/**
 * Rooms a change notification made due (`requested_at` set by markDue) are leased ahead of a
 * round in progress (leaseRequested): a small partial index finds them without reading the due
 * rooms. Frozen: change the schema with a new migration.
 */
import { type Kysely, sql } from "kysely";

// biome-ignore lint/suspicious/noExplicitAny: migrations are frozen in time and typed loosely on purpose.
type AnyDb = Kysely<any>;

export async function up(db: AnyDb): Promise<void> {
  await sql`create index sync_cursor_requested_idx on sync_cursor (requested_at, room_id) where requested_at is not null`.execute(db);
}

export async function down(db: AnyDb): Promise<void> {
  await sql`drop index sync_cursor_requested_idx`.execute(db);
}
