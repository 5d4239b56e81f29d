/**
 * Device family `macro`, route `webrtc`, and per-room WebRTC platforms and delivery: `webrtc` lists the platforms the room's device joins
 * natively (comma-separated `teams`, `meet`; empty for none) and `delivery` says whether otj
 * pushes bookings (`xapi`), the RoomOS macro pulls them (`macro`), or both. Existing push rooms
 * keep pushing; existing pull rooms are never pushed to, which `macro` states. Frozen: change the
 * schema with a new migration.
 */
import { type Kysely, sql } from "kysely";

// biome-ignore lint/suspicious/noExplicitAny: migrations are frozen in time and typed loosely on purpose.
type AnyDb = Kysely<any>;

export async function up(db: AnyDb): Promise<void> {
  await db.schema
    .alterTable("room")
    .addColumn("webrtc", "text", (c) => c.notNull().defaultTo(""))
    .execute();
  await db.schema
    .alterTable("room")
    .addColumn("delivery", "text", (c) => c.notNull().defaultTo("xapi"))
    .execute();
  await sql`UPDATE room SET delivery = 'macro' WHERE device_family = 'pull'`.execute(db);
  await sql`ALTER TABLE room ADD CONSTRAINT room_delivery_check CHECK (delivery in ('xapi', 'macro', 'both'))`.execute(db);
  await sql`ALTER TABLE room DROP CONSTRAINT IF EXISTS room_device_family_check`.execute(db);
  await sql`ALTER TABLE room ADD CONSTRAINT room_device_family_check CHECK (device_family in ('xapi', 'xapi-legacy', 'webex-cloud', 'pull', 'macro'))`.execute(
    db,
  );
  await sql`ALTER TABLE meeting DROP CONSTRAINT IF EXISTS meeting_route_check`.execute(db);
  await sql`ALTER TABLE meeting ADD CONSTRAINT meeting_route_check CHECK (route in ('cvi', 'sgj', 'direct', 'webrtc', 'none'))`.execute(db);
}

export async function down(db: AnyDb): Promise<void> {
  await sql`UPDATE meeting SET route = 'none', dial_string = null WHERE route = 'webrtc'`.execute(db);
  await sql`ALTER TABLE meeting DROP CONSTRAINT IF EXISTS meeting_route_check`.execute(db);
  await sql`ALTER TABLE meeting ADD CONSTRAINT meeting_route_check CHECK (route in ('cvi', 'sgj', 'direct', 'none'))`.execute(db);
  await sql`UPDATE room SET device_family = 'pull' WHERE device_family = 'macro'`.execute(db);
  await sql`ALTER TABLE room DROP CONSTRAINT IF EXISTS room_device_family_check`.execute(db);
  await sql`ALTER TABLE room ADD CONSTRAINT room_device_family_check CHECK (device_family in ('xapi', 'xapi-legacy', 'webex-cloud', 'pull'))`.execute(db);
  await db.schema.alterTable("room").dropColumn("delivery").execute();
  await db.schema.alterTable("room").dropColumn("webrtc").execute();
}
