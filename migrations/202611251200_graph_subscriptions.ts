/**
 * Graph change-notification subscriptions: one row per room, leased like sync
 * cursors so one engine instance creates or renews it. The clientState is kept only as a SHA-256
 * hash. Frozen: change the schema with a new migration.
 */
import { type Kysely, sql } from "kysely";

// biome-ignore lint/suspicious/noExplicitAny: migrations are frozen in time and typed loosely on purpose.
type AnyDb = Kysely<any>;

const TS = "timestamptz";

export async function up(db: AnyDb): Promise<void> {
  await db.schema
    .createTable("graph_subscription")
    .addColumn("room_id", "text", (c) => c.primaryKey().references("room.id").onDelete("cascade"))
    .addColumn("subscription_id", "text", (c) => c.unique())
    .addColumn("client_state_hash", "text")
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
  await sql`create index graph_subscription_due_idx on graph_subscription (due_at)`.execute(db);
}

export async function down(db: AnyDb): Promise<void> {
  await db.schema.dropTable("graph_subscription").execute();
}
