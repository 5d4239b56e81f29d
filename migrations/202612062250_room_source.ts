/**
 * Each room names the calendar system its calendar lives in: `graph` (Exchange Online, the only
 * one before), `google` (a Google Workspace resource calendar) or `ews` (Exchange Server).
 * Existing rooms are Graph rooms. Frozen: change the schema with a new migration.
 */
import { type Kysely, sql } from "kysely";

// biome-ignore lint/suspicious/noExplicitAny: migrations are frozen in time and typed loosely on purpose.
type AnyDb = Kysely<any>;

export async function up(db: AnyDb): Promise<void> {
  await db.schema
    .alterTable("room")
    .addColumn("source", "text", (c) => c.notNull().defaultTo("graph").check(sql`source in ('graph', 'google', 'ews')`))
    .execute();
}

export async function down(db: AnyDb): Promise<void> {
  await db.schema.alterTable("room").dropColumn("source").execute();
}
