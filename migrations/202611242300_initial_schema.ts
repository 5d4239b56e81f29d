/**
 * The initial schema: providers, rooms, sync cursors (room leases), meetings (occurrences),
 * device state, bridge sessions and the event log. Frozen: change the schema with a new migration.
 */
import { type Kysely, sql } from "kysely";

// biome-ignore lint/suspicious/noExplicitAny: migrations are frozen in time and typed loosely on purpose.
type AnyDb = Kysely<any>;

const TS = "timestamptz";

export async function up(db: AnyDb): Promise<void> {
  await db.schema
    .createTable("provider")
    .addColumn("id", "text", (c) => c.primaryKey())
    .addColumn("name", "text", (c) => c.notNull())
    .addColumn("partner", "text", (c) => c.notNull().check(sql`partner in ('pexip', 'cisco', 'poly', 'bluejeans', 'generic')`))
    .addColumn("tenant_key", "text")
    .addColumn("sip_domain", "text")
    .addColumn("ivr_address", "text")
    .addColumn("sgj_enabled", "boolean", (c) => c.notNull().defaultTo(true))
    .addColumn("sgj_template", "text")
    .addColumn("instruction_url", "text")
    .addColumn("created_at", TS, (c) => c.notNull())
    .addColumn("updated_at", TS, (c) => c.notNull())
    .execute();
  await sql`create unique index provider_name_key on provider (lower(name))`.execute(db);

  await db.schema
    .createTable("room")
    .addColumn("id", "text", (c) => c.primaryKey())
    .addColumn("mailbox", "text", (c) => c.notNull().unique().check(sql`mailbox = lower(mailbox)`))
    .addColumn("display_name", "text", (c) => c.notNull())
    .addColumn("provider_id", "text", (c) => c.references("provider.id").onDelete("set null"))
    .addColumn("device_family", "text", (c) => c.notNull().check(sql`device_family in ('xapi', 'xapi-legacy', 'webex-cloud', 'pull')`))
    .addColumn("device_address", "text")
    .addColumn("device_username", "text")
    .addColumn("device_password", "text")
    .addColumn("insecure_tls", "boolean", (c) => c.notNull().defaultTo(false))
    .addColumn("device_token", "text")
    .addColumn("sip_uri", "text")
    .addColumn("private_meetings", "text", (c) => c.notNull().defaultTo("process").check(sql`private_meetings in ('process', 'skip')`))
    .addColumn("subject_replace", "text", (c) => c.notNull().defaultTo("private").check(sql`subject_replace in ('never', 'private', 'all')`))
    .addColumn("subject_template", "text", (c) => c.notNull().defaultTo("Private meeting"))
    .addColumn("private_join", "text", (c) => c.notNull().defaultTo("enabled").check(sql`private_join in ('enabled', 'disabled')`))
    .addColumn("time_zone", "text")
    .addColumn("enabled", "boolean", (c) => c.notNull().defaultTo(true))
    .addColumn("created_at", TS, (c) => c.notNull())
    .addColumn("updated_at", TS, (c) => c.notNull())
    .execute();
  await db.schema.createIndex("room_provider_id_idx").on("room").column("provider_id").execute();

  await db.schema
    .createTable("sync_cursor")
    .addColumn("room_id", "text", (c) => c.primaryKey().references("room.id").onDelete("cascade"))
    .addColumn("delta_link", "text")
    .addColumn("window_start", TS)
    .addColumn("window_end", TS)
    .addColumn("due_at", TS, (c) => c.notNull())
    .addColumn("requested_at", TS)
    .addColumn("last_success_at", TS)
    .addColumn("last_failure_at", TS)
    .addColumn("last_error_code", "text")
    .addColumn("last_error", "text")
    .addColumn("consecutive_failures", "integer", (c) => c.notNull().defaultTo(0))
    .addColumn("lease_owner", "text")
    .addColumn("lease_expires_at", TS)
    .addColumn("updated_at", TS, (c) => c.notNull())
    .execute();
  await db.schema.createIndex("sync_cursor_due_at_idx").on("sync_cursor").column("due_at").execute();

  await db.schema
    .createTable("meeting")
    .addColumn("occurrence_key", "text", (c) => c.primaryKey())
    .addColumn("room_id", "text", (c) => c.notNull().references("room.id").onDelete("cascade"))
    .addColumn("source", "text", (c) => c.notNull().check(sql`source in ('graph', 'mime')`))
    .addColumn("source_event_id", "text")
    .addColumn("series_master_id", "text")
    .addColumn("ical_uid", "text")
    .addColumn("change_key", "text")
    .addColumn("start_at", TS, (c) => c.notNull())
    .addColumn("end_at", TS, (c) => c.notNull())
    .addColumn("subject", "text")
    .addColumn("organizer_name", "text")
    .addColumn("organizer_email", "text")
    .addColumn("sensitivity", "text", (c) => c.notNull().defaultTo("normal").check(sql`sensitivity in ('normal', 'private', 'personal', 'confidential')`))
    .addColumn("cancelled", "boolean", (c) => c.notNull().defaultTo(false))
    .addColumn("declined", "boolean", (c) => c.notNull().defaultTo(false))
    .addColumn("join_info", "jsonb")
    .addColumn("route", "text", (c) => c.notNull().defaultTo("none").check(sql`route in ('cvi', 'sgj', 'direct', 'none')`))
    .addColumn("dial_string", "text")
    .addColumn("ivr", "jsonb")
    .addColumn("rule", "text")
    .addColumn("subject_shown", "text")
    .addColumn("content_hash", "text", (c) => c.notNull())
    .addColumn("created_at", TS, (c) => c.notNull())
    .addColumn("updated_at", TS, (c) => c.notNull())
    .execute();
  await db.schema.createIndex("meeting_room_start_idx").on("meeting").columns(["room_id", "start_at"]).execute();
  await db.schema.createIndex("meeting_room_event_idx").on("meeting").columns(["room_id", "source_event_id"]).execute();
  await db.schema.createIndex("meeting_room_series_idx").on("meeting").columns(["room_id", "series_master_id"]).execute();
  await db.schema.createIndex("meeting_room_uid_idx").on("meeting").columns(["room_id", "ical_uid"]).execute();

  await db.schema
    .createTable("device_state")
    .addColumn("room_id", "text", (c) => c.primaryKey().references("room.id").onDelete("cascade"))
    .addColumn("desired_hash", "text")
    .addColumn("pushed_hash", "text")
    .addColumn("entries", "jsonb", (c) => c.notNull().defaultTo(sql`'[]'::jsonb`))
    .addColumn("pushed_at", TS)
    .addColumn("due_at", TS)
    .addColumn("attempts", "integer", (c) => c.notNull().defaultTo(0))
    .addColumn("last_error_code", "text")
    .addColumn("last_error", "text")
    .addColumn("failing_since", TS)
    .addColumn("lease_owner", "text")
    .addColumn("lease_expires_at", TS)
    .addColumn("updated_at", TS, (c) => c.notNull())
    .execute();
  await sql`create index device_state_due_idx on device_state (due_at) where due_at is not null`.execute(db);

  await db.schema
    .createTable("bridge_session")
    .addColumn("occurrence_key", "text", (c) => c.primaryKey())
    .addColumn("session_id", "text", (c) => c.notNull().unique())
    .addColumn("room_id", "text", (c) => c.notNull().references("room.id").onDelete("cascade"))
    .addColumn("state", "text", (c) =>
      c.notNull().check(sql`state in ('scheduled', 'starting', 'lobby', 'admitted', 'ended', 'denied', 'timeout', 'failed', 'cancelled')`),
    )
    .addColumn("due_at", TS, (c) => c.notNull())
    .addColumn("not_after", TS, (c) => c.notNull())
    .addColumn("lobby_deadline", TS)
    .addColumn("adapter", "text")
    .addColumn("external_id", "text")
    .addColumn("dial_string", "text")
    .addColumn("attempts", "integer", (c) => c.notNull().defaultTo(0))
    .addColumn("last_error_code", "text")
    .addColumn("last_error", "text")
    .addColumn("last_callback_at", TS)
    .addColumn("last_callback_state", "text")
    .addColumn("ended_reason", "text")
    .addColumn("lease_owner", "text")
    .addColumn("lease_expires_at", TS)
    .addColumn("created_at", TS, (c) => c.notNull())
    .addColumn("updated_at", TS, (c) => c.notNull())
    .execute();
  await sql`create index bridge_session_live_due_idx on bridge_session (due_at)
    where state in ('scheduled', 'starting', 'lobby', 'admitted')`.execute(db);
  await db.schema.createIndex("bridge_session_room_idx").on("bridge_session").column("room_id").execute();

  await db.schema
    .createTable("event_log")
    .addColumn("id", "bigint", (c) => c.primaryKey().generatedAlwaysAsIdentity())
    .addColumn("at", TS, (c) => c.notNull())
    .addColumn("kind", "text", (c) => c.notNull())
    .addColumn("room_id", "text")
    .addColumn("occurrence_key", "text")
    .addColumn("message", "text", (c) => c.notNull())
    .addColumn("data", "jsonb")
    .execute();
  await db.schema.createIndex("event_log_room_idx").on("event_log").columns(["room_id", "id"]).execute();
  await db.schema.createIndex("event_log_occurrence_idx").on("event_log").columns(["occurrence_key", "id"]).execute();
}

export async function down(db: AnyDb): Promise<void> {
  for (const table of ["event_log", "bridge_session", "device_state", "meeting", "sync_cursor", "room", "provider"]) {
    await db.schema.dropTable(table).execute();
  }
}
