/**
 * Google change-notification channels (`events.watch`): one row per Google room while it has a
 * channel or needs one, leased like sync cursors so one engine instance creates, renews or stops
 * it. The row has no foreign key on the room: when a room is removed or leaves Google, its row
 * stays until its channel is stopped at Google. The channel token is kept only as a SHA-256 hash.
 *
 * Request budgets shared by all instances: requests used per budget and UTC day, reserved in
 * blocks. Frozen: change the schema with a new migration.
 */
import { type Kysely, sql } from "kysely";

// biome-ignore lint/suspicious/noExplicitAny: migrations are frozen in time and typed loosely on purpose.
type AnyDb = Kysely<any>;

const TS = "timestamptz";

export async function up(db: AnyDb): Promise<void> {
  await db.schema
    .createTable("google_channel")
    .addColumn("room_id", "text", (c) => c.primaryKey())
    .addColumn("mailbox", "text", (c) => c.notNull())
    .addColumn("channel_id", "text", (c) => c.unique())
    .addColumn("resource_id", "text")
    .addColumn("token_hash", "text")
    .addColumn("expires_at", TS)
    .addColumn("due_at", TS, (c) => c.notNull())
    .addColumn("failures", "integer", (c) => c.notNull().defaultTo(0))
    .addColumn("last_error_code", "text")
    .addColumn("last_error", "text")
    .addColumn("lease_owner", "text")
    .addColumn("lease_expires_at", TS)
    .addColumn("created_at", TS, (c) => c.notNull())
    .addColumn("updated_at", TS, (c) => c.notNull())
    .execute();
  await sql`create index google_channel_due_idx on google_channel (due_at)`.execute(db);
  await db.schema
    .createTable("request_budget")
    .addColumn("name", "text", (c) => c.notNull())
    .addColumn("day", "text", (c) => c.notNull())
    .addColumn("used", "bigint", (c) => c.notNull().defaultTo(0))
    .addPrimaryKeyConstraint("request_budget_pk", ["name", "day"])
    .execute();
}

export async function down(db: AnyDb): Promise<void> {
  await db.schema.dropTable("request_budget").execute();
  await db.schema.dropTable("google_channel").execute();
}
