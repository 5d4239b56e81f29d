/**
 * Console sign-outs, shared by every instance: a console session is a signed cookie that any
 * instance accepts until it expires, so a sign-out is written here for the others to see. Rows
 * are kept until the session would have expired. Frozen: change the schema with a new migration.
 */
import type { Kysely } from "kysely";

// biome-ignore lint/suspicious/noExplicitAny: migrations are frozen in time and typed loosely on purpose.
type AnyDb = Kysely<any>;

export async function up(db: AnyDb): Promise<void> {
  await db.schema
    .createTable("console_revocation")
    .addColumn("nonce", "text", (c) => c.primaryKey())
    .addColumn("expires_at", "timestamptz", (c) => c.notNull())
    .execute();
}

export async function down(db: AnyDb): Promise<void> {
  await db.schema.dropTable("console_revocation").execute();
}
