/**
 * The Store port: everything otj keeps, in domain words.
 *
 * Rules every implementation follows:
 * - Time comes from the caller: methods that decide anything by time take `now` (a Date from the
 *   Clock); an implementation never asks the database for its time.
 * - Leases and claims belong to the store's `owner` (one engine instance). A lease expires at
 *   `now + leaseMs`; any instance may take over an expired one, so a crashed instance's work is
 *   picked up again. Claims never hand the same row to two owners at once (row locks with
 *   SKIP LOCKED on PostgreSQL).
 * - Unique keys (mailbox, occurrence key, session id) make every write idempotent: repeating a
 *   call changes nothing more.
 * - Batch writes validate everything first and then apply all or nothing in one transaction.
 * - Failures are OtjErrors: OTJ_STORE_CONFLICT (unique key taken), OTJ_STORE_NOT_FOUND,
 *   OTJ_ROOM_INVALID / OTJ_PROVIDER_INVALID (bad input), OTJ_PROVIDER_IN_USE,
 *   OTJ_STORE_UNREACHABLE (the database is gone).
 * - `options.signal` is checked before each statement; a running statement is not interrupted.
 * - Passwords and device tokens never appear in records; dedicated methods return them.
 *
 * The records live in core/records/, each sub-store's port in core/ports/store/; this file
 * re-exports them and declares the `Store` aggregate. New code imports the specific files.
 */
import type { StoreCallOptions } from "./store/options.ts";
import type { ProviderStore } from "./store/provider-store.ts";
import type { RoomStore } from "./store/room-store.ts";
import type { SyncCursorStore } from "./store/sync-cursor-store.ts";
import type { MeetingStore } from "./store/meeting-store.ts";
import type { DeviceStateStore } from "./store/device-state-store.ts";
import type { BridgeSessionStore } from "./store/bridge-session-store.ts";
import type { EventLogStore } from "./store/event-log-store.ts";
import type { ConsoleRevocationStore } from "./store/console-revocation-store.ts";
import type { RetentionStore } from "./store/retention-store.ts";
import type { EwsDeviceStore } from "./store/ews-device-store.ts";
import type { AlarmStore } from "./alarm-store.ts";
import type { ReportStore } from "./store/report-store.ts";

export * from "../records/provider.ts";
export * from "../records/room.ts";
export * from "../records/sync-cursor.ts";
export * from "../records/meeting.ts";
export * from "../records/device-state.ts";
export * from "../records/bridge-session.ts";
export * from "../records/logged-event.ts";
export * from "./store/options.ts";
export * from "./store/provider-store.ts";
export * from "./store/room-store.ts";
export * from "./store/sync-cursor-store.ts";
export * from "./store/meeting-store.ts";
export * from "./store/device-state-store.ts";
export * from "./store/bridge-session-store.ts";
export * from "./store/event-log-store.ts";
export * from "./store/console-revocation-store.ts";
export * from "./store/retention-store.ts";
export * from "./store/ews-device-store.ts";
export * from "./store/report-store.ts";

export interface Store {
  /** This instance's lease owner id (unique per process and store). */
  readonly owner: string;
  readonly providers: ProviderStore;
  readonly rooms: RoomStore;
  readonly syncCursors: SyncCursorStore;
  readonly meetings: MeetingStore;
  readonly deviceStates: DeviceStateStore;
  readonly bridgeSessions: BridgeSessionStore;
  readonly eventLog: EventLogStore;
  readonly consoleRevocations: ConsoleRevocationStore;
  /** Job leases and the pruning of old history. */
  readonly retention: RetentionStore;
  /** Credentials and last fetch of `ews` rooms. */
  readonly ewsDevices: EwsDeviceStore;
  /** Alarm history and when pulling devices last fetched. */
  readonly alarms: AlarmStore;
  /** Usage and failure counts for the console's reports. */
  readonly reports: ReportStore;
  /** Resolves when the database answers; throws OTJ_STORE_UNREACHABLE otherwise (readiness). */
  ping(options?: StoreCallOptions): Promise<void>;
}
