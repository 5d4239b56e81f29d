/**
 * Kysely types of otj's tables (snake_case, as the migrations create them). Rows are mapped to the
 * Store port's camelCase records in one place: store/row-mappers.ts.
 *
 * Timestamps are `timestamptz`, read as Date. JSON columns are written as JSON text (node-pg would
 * turn a JS array into a PostgreSQL array) and read back parsed.
 */
import type { ColumnType, Generated, Insertable, Selectable } from "kysely";

type Timestamp = ColumnType<Date, Date, Date>;
type Json<T> = ColumnType<T, string, string>;

export interface ProviderTable {
  id: string;
  name: string;
  partner: string;
  tenant_key: string | null;
  sip_domain: string | null;
  ivr_address: string | null;
  sgj_enabled: boolean;
  sgj_template: string | null;
  instruction_url: string | null;
  created_at: Timestamp;
  updated_at: Timestamp;
}

export interface RoomTable {
  id: string;
  mailbox: string;
  display_name: string;
  provider_id: string | null;
  device_family: string;
  device_address: string | null;
  device_username: string | null;
  /** Plain, or `enc:v1:…` when secrets.key is set (store/secret-box.ts). */
  device_password: string | null;
  insecure_tls: boolean;
  allow_insecure_http: boolean;
  /** Plain, or `enc:v1:…` when secrets.key is set. */
  device_token: string | null;
  sip_uri: string | null;
  private_meetings: string;
  subject_replace: string;
  subject_template: string;
  private_join: string;
  time_zone: string | null;
  /** Comma-separated WebRTC platforms (`teams,meet`), "" for none. */
  webrtc: Generated<string>;
  /** `xapi` | `macro` | `both`. */
  delivery: Generated<string>;
  /** `graph`, `google` or `ews` (CalendarSourceName). */
  source: Generated<string>;
  enabled: boolean;
  created_at: Timestamp;
  updated_at: Timestamp;
}

export interface SyncCursorTable {
  room_id: string;
  delta_link: string | null;
  window_start: Date | null;
  window_end: Date | null;
  due_at: Timestamp;
  /** Last markDue (a change notification) not yet served by a round. */
  requested_at: Date | null;
  last_success_at: Date | null;
  last_failure_at: Date | null;
  last_error_code: string | null;
  last_error: string | null;
  consecutive_failures: number;
  lease_owner: string | null;
  lease_expires_at: Date | null;
  updated_at: Timestamp;
}

export interface MeetingTable {
  occurrence_key: string;
  room_id: string;
  source: string;
  source_event_id: string | null;
  series_master_id: string | null;
  ical_uid: string | null;
  change_key: string | null;
  start_at: Timestamp;
  end_at: Timestamp;
  subject: string | null;
  organizer_name: string | null;
  organizer_email: string | null;
  sensitivity: string;
  cancelled: boolean;
  declined: boolean;
  join_info: Json<unknown> | null;
  route: string;
  dial_string: string | null;
  ivr: Json<unknown> | null;
  rule: string | null;
  subject_shown: string | null;
  /** The planner's account (MeetingExplain), or null. */
  explain: Json<unknown> | null;
  content_hash: string;
  created_at: Timestamp;
  updated_at: Timestamp;
}

export interface DeviceStateTable {
  room_id: string;
  desired_hash: string | null;
  pushed_hash: string | null;
  entries: Json<unknown>;
  pushed_at: Date | null;
  due_at: Date | null;
  attempts: number;
  last_error_code: string | null;
  last_error: string | null;
  failing_since: Date | null;
  lease_owner: string | null;
  lease_expires_at: Date | null;
  updated_at: Timestamp;
}

export interface BridgeSessionTable {
  occurrence_key: string;
  session_id: string;
  room_id: string;
  state: string;
  due_at: Timestamp;
  not_after: Timestamp;
  lobby_deadline: Date | null;
  adapter: string | null;
  external_id: string | null;
  dial_string: string | null;
  attempts: number;
  last_error_code: string | null;
  last_error: string | null;
  last_callback_at: Date | null;
  last_callback_state: string | null;
  ended_reason: string | null;
  lease_owner: string | null;
  lease_expires_at: Date | null;
  created_at: Timestamp;
  updated_at: Timestamp;
}

export interface EventLogTable {
  /** bigint identity; node-pg reads int8 as a string, PGlite as a number. */
  id: ColumnType<string | number, never, never>;
  at: Timestamp;
  kind: string;
  room_id: string | null;
  occurrence_key: string | null;
  message: string;
  data: Json<unknown> | null;
}

export interface ConsoleRevocationTable {
  nonce: string;
  expires_at: Timestamp;
}

/** A named lease on a periodic job (one instance runs it at a time). */
export interface JobLeaseTable {
  name: string;
  lease_owner: string | null;
  lease_expires_at: Timestamp | null;
  last_run_at: Timestamp | null;
}

/** Device credentials and last fetch of an `ews` room (the EWS feed at /EWS/Exchange.asmx). */
export interface EwsDeviceTable {
  room_id: string;
  /** `scrypt$N$r$p$salt$hash` (base64); never the password itself. */
  password_hash: string;
  /** When the password was last issued (a device that never read counts from here). */
  updated_at: Timestamp;
}

export interface AlarmTable {
  id: Generated<string>;
  alarm_key: string;
  code: string;
  room_id: string | null;
  subject: string;
  message: string;
  raised_at: Timestamp;
  cleared_at: Date | null;
  acked_by: string | null;
  acked_at: Date | null;
  muted_by: string | null;
  muted_until: Date | null;
}

export interface DeviceFetchTable {
  room_id: string;
  fetched_at: Timestamp;
  /** What the device read: `pull`, `ics` or `ews:<operation>`; null before it was recorded. */
  via: string | null;
}

export interface Database {
  alarm: AlarmTable;
  device_fetch: DeviceFetchTable;
  console_revocation: ConsoleRevocationTable;
  ews_device: EwsDeviceTable;
  job_lease: JobLeaseTable;
  provider: ProviderTable;
  room: RoomTable;
  sync_cursor: SyncCursorTable;
  meeting: MeetingTable;
  device_state: DeviceStateTable;
  bridge_session: BridgeSessionTable;
  event_log: EventLogTable;
}

export type ProviderRow = Selectable<ProviderTable>;
export type RoomRow = Selectable<RoomTable>;
export type SyncCursorRow = Selectable<SyncCursorTable>;
export type MeetingRow = Selectable<MeetingTable>;
export type DeviceStateRow = Selectable<DeviceStateTable>;
export type BridgeSessionRow = Selectable<BridgeSessionTable>;
export type EventLogRow = Selectable<EventLogTable>;
export type NewRoomRow = Insertable<RoomTable>;
export type NewMeetingRow = Insertable<MeetingTable>;
