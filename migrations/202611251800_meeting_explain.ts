/**
 * The planner's account of each meeting (which rule decided, the text it matched, why the others
 * did not), kept for the admin console's room page. Derived data: null on rows planned before
 * this migration until their next change. Frozen: change the schema with a new migration.
 */
import type { Kysely } from "kysely";

// biome-ignore lint/suspicious/noExplicitAny: migrations are frozen in time and typed loosely on purpose.
type AnyDb = Kysely<any>;

export async function up(db: AnyDb): Promise<void> {
  await db.schema.alterTable("meeting").addColumn("explain", "jsonb").execute();
}

export async function down(db: AnyDb): Promise<void> {
  await db.schema.alterTable("meeting").dropColumn("explain").execute();
}
