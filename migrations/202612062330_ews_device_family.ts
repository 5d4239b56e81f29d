/**
 * Device family `ews`: room systems (Poly and others) that read an Exchange-compatible calendar
 * from otj itself. Each such room gets device credentials: its mailbox as the user name and a
 * password stored as an scrypt hash (never the password), plus when the device last read its
 * calendar. Frozen: change the schema with a new migration.
 */
import { type Kysely, sql } from "kysely";

// biome-ignore lint/suspicious/noExplicitAny: migrations are frozen in time and typed loosely on purpose.
type AnyDb = Kysely<any>;

export async function up(db: AnyDb): Promise<void> {
  await sql`ALTER TABLE room DROP CONSTRAINT IF EXISTS room_device_family_check`.execute(db);
  await sql`ALTER TABLE room ADD CONSTRAINT room_device_family_check CHECK (device_family in ('xapi', 'xapi-legacy', 'webex-cloud', 'pull', 'macro', 'ews'))`.execute(
    db,
  );
  await db.schema
    .createTable("ews_device")
    .addColumn("room_id", "text", (c) => c.primaryKey().references("room.id").onDelete("cascade"))
    .addColumn("password_hash", "text", (c) => c.notNull())
    .addColumn("last_fetch_at", "timestamptz")
    .addColumn("last_operation", "text")
    .addColumn("updated_at", "timestamptz", (c) => c.notNull())
    .execute();
}

export async function down(db: AnyDb): Promise<void> {
  await db.schema.dropTable("ews_device").execute();
  await sql`UPDATE room SET device_family = 'pull' WHERE device_family = 'ews'`.execute(db);
  await sql`ALTER TABLE room DROP CONSTRAINT IF EXISTS room_device_family_check`.execute(db);
  await sql`ALTER TABLE room ADD CONSTRAINT room_device_family_check CHECK (device_family in ('xapi', 'xapi-legacy', 'webex-cloud', 'pull', 'macro'))`.execute(
    db,
  );
}
