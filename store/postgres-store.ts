/**
 * PostgresStore: the Store port on kysely, for PostgreSQL (pg Pool) and PGlite alike: same
 * migrations, same queries. Sub-stores live in store/postgres/.
 */
import { type Kysely, sql } from "kysely";
import type { AlarmStore } from "../core/ports/alarm-store.ts";
import type {
  ConsoleRevocationStore,
  BridgeSessionStore,
  DeviceStateStore,
  EwsDeviceStore,
  EventLogStore,
  ReportStore,
  MeetingStore,
  ProviderStore,
  RetentionStore,
  RoomStore,
  Store,
  StoreCallOptions,
  SyncCursorStore,
} from "../core/ports/store.ts";
import type { Database } from "./database.ts";
import { newLeaseOwner } from "./ids.ts";
import { PostgresAlarmStore } from "./postgres/alarm-store.ts";
import { PostgresBridgeSessionStore } from "./postgres/bridge-session-store.ts";
import { PostgresConsoleRevocationStore } from "./postgres/console-revocation-store.ts";
import { PostgresDeviceStateStore } from "./postgres/device-state-store.ts";
import { PostgresEventLogStore } from "./postgres/event-log-store.ts";
import { PostgresEwsDeviceStore } from "./postgres/ews-device-store.ts";
import { type StoreContext, guard } from "./postgres/guard.ts";
import { PostgresMeetingStore } from "./postgres/meeting-store.ts";
import { PostgresProviderStore } from "./postgres/provider-store.ts";
import { PostgresReportStore } from "./postgres/report-store.ts";
import { PostgresRetentionStore } from "./postgres/retention-store.ts";
import { PostgresRoomStore } from "./postgres/room-store.ts";
import { PostgresSyncCursorStore } from "./postgres/sync-cursor-store.ts";
import { createSecretBox } from "./secret-box.ts";

export interface PostgresStoreOptions {
  /** Lease owner id of this instance; default host:pid:random. */
  owner?: string;
  /** `secrets.key`: device passwords and tokens are stored encrypted when set. */
  secretKey?: string | null;
}

export class PostgresStore implements Store {
  readonly owner: string;
  readonly providers: ProviderStore;
  readonly rooms: RoomStore;
  readonly syncCursors: SyncCursorStore;
  readonly meetings: MeetingStore;
  readonly deviceStates: DeviceStateStore;
  readonly bridgeSessions: BridgeSessionStore;
  readonly eventLog: EventLogStore;
  readonly consoleRevocations: ConsoleRevocationStore;
  readonly retention: RetentionStore;
  readonly ewsDevices: EwsDeviceStore;
  readonly alarms: AlarmStore;
  readonly reports: ReportStore;
  readonly #db: Kysely<Database>;

  /** The database must be migrated (store/migrate.ts) before use. */
  constructor(db: Kysely<Database>, options: PostgresStoreOptions = {}) {
    this.#db = db;
    this.owner = options.owner ?? newLeaseOwner();
    const ctx: StoreContext = { db, owner: this.owner, secrets: createSecretBox(options.secretKey) };
    this.providers = new PostgresProviderStore(ctx);
    this.rooms = new PostgresRoomStore(ctx);
    this.syncCursors = new PostgresSyncCursorStore(ctx);
    this.meetings = new PostgresMeetingStore(ctx);
    this.deviceStates = new PostgresDeviceStateStore(ctx);
    this.bridgeSessions = new PostgresBridgeSessionStore(ctx);
    this.eventLog = new PostgresEventLogStore(ctx);
    this.consoleRevocations = new PostgresConsoleRevocationStore(ctx);
    this.retention = new PostgresRetentionStore(ctx);
    this.ewsDevices = new PostgresEwsDeviceStore(ctx);
    this.alarms = new PostgresAlarmStore(ctx);
    this.reports = new PostgresReportStore(ctx);
  }

  ping(options?: StoreCallOptions): Promise<void> {
    return guard(options, async () => {
      await sql`select 1`.execute(this.#db);
    });
  }
}
