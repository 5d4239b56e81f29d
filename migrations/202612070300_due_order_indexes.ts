/**
 * The lease queries take the rows due first in (due_at, key) order, `limit` at a time. With an
 * index on due_at alone, rows due at the same instant (every room after a round, every session of
 * one meeting hour) were all read and sorted on every call: at 50,000 rooms one lease of 200 rooms
 * cost about 45 ms of PostgreSQL time instead of 5. Each due index now carries the tie-breaker
 * too, so the lease reads only the rows it takes. Frozen: change the schema with a new migration.
 */
import { type Kysely, sql } from "kysely";

// biome-ignore lint/suspicious/noExplicitAny: migrations are frozen in time and typed loosely on purpose.
type AnyDb = Kysely<any>;

const LIVE = "state in ('scheduled', 'starting', 'lobby', 'admitted')";

export async function up(db: AnyDb): Promise<void> {
  await sql`drop index sync_cursor_due_at_idx`.execute(db);
  await sql`create index sync_cursor_due_idx on sync_cursor (due_at, room_id)`.execute(db);
  await sql`drop index device_state_due_idx`.execute(db);
  await sql`create index device_state_due_idx on device_state (due_at, room_id) where due_at is not null`.execute(db);
  await sql`drop index bridge_session_live_due_idx`.execute(db);
  await sql.raw(`create index bridge_session_live_due_idx on bridge_session (due_at, occurrence_key) where ${LIVE}`).execute(db);
  await sql`drop index graph_subscription_due_idx`.execute(db);
  await sql`create index graph_subscription_due_idx on graph_subscription (due_at, room_id)`.execute(db);
  await sql`drop index google_channel_due_idx`.execute(db);
  await sql`create index google_channel_due_idx on google_channel (due_at, room_id)`.execute(db);
}

export async function down(db: AnyDb): Promise<void> {
  await sql`drop index google_channel_due_idx`.execute(db);
  await sql`create index google_channel_due_idx on google_channel (due_at)`.execute(db);
  await sql`drop index graph_subscription_due_idx`.execute(db);
  await sql`create index graph_subscription_due_idx on graph_subscription (due_at)`.execute(db);
  await sql`drop index bridge_session_live_due_idx`.execute(db);
  await sql.raw(`create index bridge_session_live_due_idx on bridge_session (due_at) where ${LIVE}`).execute(db);
  await sql`drop index device_state_due_idx`.execute(db);
  await sql`create index device_state_due_idx on device_state (due_at) where due_at is not null`.execute(db);
  await sql`drop index sync_cursor_due_idx`.execute(db);
  await sql`create index sync_cursor_due_at_idx on sync_cursor (due_at)`.execute(db);
}
