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
 */
import type {
  BridgeState,
  Delivery,
  CalendarSourceName,
  DeviceFamily,
  IvrFallback,
  Join,
  Partner,
  PrivateJoin,
  PrivateMeetings,
  Route,
  Sensitivity,
  SubjectReplace,
  WebrtcPlatform,
} from "../domain.ts";

export interface StoreCallOptions {
  signal?: AbortSignal;
}

// ---------------------------------------------------------------------------------------------
// Providers
// ---------------------------------------------------------------------------------------------

/** A CVI provider record, like the Teams video interop service provider cmdlets' objects. */
export interface Provider {
  /** Opaque, `pv_` + 10 characters. */
  id: string;
  /** Unique, case-insensitive. */
  name: string;
  partner: Partner;
  /** The partner's SIP address for the tenant (`contoso@m.webex.com`), as printed in invites. */
  tenantKey: string | null;
  /** Lowercase DNS name; the SGJ `{domain}` and Pexip direct-dial domain. */
  sipDomain: string | null;
  /** Replaces the tenant key as the IVR address (docs/formats.md). */
  ivrAddress: string | null;
  sgjEnabled: boolean;
  /** SGJ dial string template (docs/formats.md); null means the default template. */
  sgjTemplate: string | null;
  /** Like the cmdlets' InstructionUri. */
  instructionUrl: string | null;
  createdAt: Date;
  updatedAt: Date;
}

/** Input of `providers add`; absent optional fields are null, `sgjEnabled` defaults to true. */
export interface NewProvider {
  name: string;
  partner: string;
  tenantKey?: string | null;
  sipDomain?: string | null;
  ivrAddress?: string | null;
  sgjEnabled?: boolean;
  sgjTemplate?: string | null;
  instructionUrl?: string | null;
}

/** Input of `providers set`: only the fields present change; null clears an optional field. */
export type ProviderChanges = Partial<NewProvider>;

export interface ProviderStore {
  /** Adds a provider. Throws OTJ_PROVIDER_INVALID, or OTJ_STORE_CONFLICT when the name is taken. */
  add(input: NewProvider, now: Date, options?: StoreCallOptions): Promise<Provider>;
  /** Changes a provider named by name or id. Throws OTJ_STORE_NOT_FOUND, OTJ_PROVIDER_INVALID, OTJ_STORE_CONFLICT. */
  update(nameOrId: string, changes: ProviderChanges, now: Date, options?: StoreCallOptions): Promise<Provider>;
  /** The provider with this name (case-insensitive) or id, or null. */
  get(nameOrId: string, options?: StoreCallOptions): Promise<Provider | null>;
  /** Every provider, ordered by name. */
  list(options?: StoreCallOptions): Promise<Provider[]>;
  /**
   * Removes a provider. While rooms use it this throws OTJ_PROVIDER_IN_USE, unless `force`, which
   * detaches those rooms (they fall back to the built-in defaults) in the same transaction.
   */
  remove(
    nameOrId: string,
    force: boolean,
    now: Date,
    options?: StoreCallOptions,
  ): Promise<{ provider: Provider; detachedRooms: number }>;
}

// ---------------------------------------------------------------------------------------------
// Rooms
// ---------------------------------------------------------------------------------------------

export interface RoomPrivacy {
  privateMeetings: PrivateMeetings;
  subjectReplace: SubjectReplace;
  /** Placeholders `{organizerName}`, `{subject}`. */
  subjectTemplate: string;
  privateJoin: PrivateJoin;
}

export interface RoomDevice {
  family: DeviceFamily;
  /** `https://host[:port]`, `http://host[:port]`, `webex://<deviceId>`, or null for `pull`. */
  address: string | null;
  username: string | null;
  hasPassword: boolean;
  /** TLS verification turned off for this device (self-signed certificate). */
  insecureTls: boolean;
  /** The device may be reached over plain `http://` (off: only https, or http on loopback). */
  allowInsecureHttp: boolean;
  /** Whether the room has a pull/feed device token. */
  hasToken: boolean;
}

/** A room mailbox mapped to its video device. */
export interface Room {
  /** Opaque, `rm_` + 10 characters. */
  id: string;
  /** Lowercase, unique. */
  mailbox: string;
  displayName: string;
  /** Null after its provider was removed with --force (built-in defaults apply). */
  providerId: string | null;
  providerName: string | null;
  device: RoomDevice;
  /** The room's own SIP address without scheme (the bridge's `vtcDialString`). */
  sipUri: string | null;
  privacy: RoomPrivacy;
  /** IANA time zone hint, or null. */
  timeZone: string | null;
  /** Platforms the room's device joins natively over WebRTC (`--webrtc`); [] for none. */
  webrtc: WebrtcPlatform[];
  /** Who brings meetings to the device: otj's push (`xapi`), the RoomOS macro (`macro`), or both. */
  delivery: Delivery;
  /** The calendar system the room's calendar is read from. */
  source: CalendarSourceName;
  enabled: boolean;
  createdAt: Date;
  updatedAt: Date;
}

/** Input of `rooms add` / `rooms import` / `POST /v1/rooms`, before validation. */
export interface NewRoom {
  mailbox: string;
  displayName: string;
  /** Provider name (or id). */
  provider: string;
  deviceFamily: string;
  deviceAddress?: string | null;
  deviceUsername?: string | null;
  devicePassword?: string | null;
  insecureTls?: boolean;
  /** Opt-in to a plain `http://` device address (not needed on loopback). */
  allowInsecureHttp?: boolean;
  sipUri?: string | null;
  /** A token to use instead of a generated one. */
  deviceToken?: string | null;
  privateMeetings?: string;
  subjectReplace?: string;
  subjectTemplate?: string;
  privateJoin?: string;
  timeZone?: string | null;
  /** `teams`, `meet`, as a list or comma-separated text; absent or empty: none. */
  webrtc?: string | readonly string[] | null;
  /** `xapi` (default for push families), `macro` (default and only value for pull/macro), `both`. */
  delivery?: string;
  /** `graph` (default), `google` or `ews`. */
  source?: string;
}

/**
 * Changes to a room (the mailbox stays: it names the room's meetings). Absent fields keep their
 * value; `devicePassword: null` clears the password, absent keeps it, except when the device
 * address changes: then a password must be given again (OTJ_ROOM_INVALID otherwise). Moving a room to a family
 * without credentials (pull, webex-cloud) drops its username and password.
 */
export type RoomChanges = Partial<Omit<NewRoom, "mailbox" | "deviceToken">>;

/** One page of rooms and how many match in all. */
export interface RoomPage {
  rooms: Room[];
  total: number;
}

/** A room just added; `deviceToken` is set for `pull` rooms (and when one was given). */
export interface AddedRoom {
  room: Room;
  deviceToken: string | null;
}

/** Outcome of a batch add: per item problems, and whether anything was written. */
export type AddRoomsResult =
  | { applied: true; rooms: AddedRoom[] }
  | { applied: false; problems: Array<{ index: number; messages: string[] }> };

export interface AddRoomsOptions extends StoreCallOptions {
  /** Called as work advances: `phase` `validate` then `write`, `done` of `total` items. */
  onProgress?: (phase: "validate" | "write", done: number, total: number) => void;
  /** Validate only: report every problem (possibly none) and write nothing (`applied: false`). */
  dryRun?: boolean;
  /** How an item is named in messages (default `item N`, 1-based), e.g. `line 12`. */
  describeItem?: (index: number) => string;
}

export interface RoomStore {
  /**
   * Adds a room (and its sync cursor, due at `now`). Throws OTJ_ROOM_INVALID (bad field),
   * OTJ_STORE_NOT_FOUND (unknown provider), OTJ_STORE_CONFLICT (mailbox taken).
   */
  add(input: NewRoom, now: Date, options?: StoreCallOptions): Promise<AddedRoom>;
  /**
   * Validates every item (fields, providers, duplicates in the batch and in the store), then adds
   * all of them in one transaction, or none when any item is bad. Never writes half a batch.
   */
  addMany(inputs: readonly NewRoom[], now: Date, options?: AddRoomsOptions): Promise<AddRoomsResult>;
  /** The room with this id or mailbox (case-insensitive), or null. */
  get(idOrMailbox: string, options?: StoreCallOptions): Promise<Room | null>;
  /** The rooms with these ids (unknown ids are left out), in no particular order. */
  getMany(ids: readonly string[], options?: StoreCallOptions): Promise<Room[]>;
  /** Rooms ordered by mailbox. */
  list(filter?: { providerId?: string; enabled?: boolean }, options?: StoreCallOptions): Promise<Room[]>;
  /** How many rooms use each provider (by provider id; providers without rooms are left out). */
  countByProvider(options?: StoreCallOptions): Promise<Map<string, number>>;
  /**
   * Rooms ordered by mailbox whose mailbox or display name contains `search` (case-insensitive),
   * `limit` from `offset`, with the total count (the console's server-side paging).
   */
  page(query: { search?: string; offset: number; limit: number }, options?: StoreCallOptions): Promise<RoomPage>;
  /**
   * Applies changes after the same checks as `add`. Throws OTJ_STORE_NOT_FOUND (no such room or
   * provider), OTJ_ROOM_INVALID.
   */
  update(idOrMailbox: string, changes: RoomChanges, now: Date, options?: StoreCallOptions): Promise<Room>;
  /**
   * The console's import: adds `adds` (checked as `addMany`) and applies each of `changes` (as
   * `update`) in one transaction, so either every row is written or none. Throws
   * OTJ_STORE_CONFLICT when an add is refused (the rooms changed since the check), else what
   * `update` throws; nothing is written then.
   */
  applyImport(
    adds: readonly NewRoom[],
    changes: ReadonlyArray<{ room: string; changes: RoomChanges }>,
    now: Date,
    options?: StoreCallOptions,
  ): Promise<{ added: AddedRoom[]; changed: Room[] }>;
  /** Removes a room and everything kept for it. Throws OTJ_STORE_NOT_FOUND. */
  remove(idOrMailbox: string, options?: StoreCallOptions): Promise<Room>;
  /** The device's credentials (password decrypted), or null when it has none. */
  deviceCredentials(roomId: string, options?: StoreCallOptions): Promise<{ username: string | null; password: string | null } | null>;
  /** The room's device token, or null when it has none. Throws OTJ_STORE_NOT_FOUND. */
  deviceToken(idOrMailbox: string, options?: StoreCallOptions): Promise<string | null>;
  /** Replaces (or creates) the room's device token and returns it. Throws OTJ_STORE_NOT_FOUND. */
  rotateDeviceToken(idOrMailbox: string, now: Date, options?: StoreCallOptions): Promise<string>;
  /** The room when `token` is its device token (constant-time comparison), else null. */
  verifyDeviceToken(idOrMailbox: string, token: string, options?: StoreCallOptions): Promise<Room | null>;
}

// ---------------------------------------------------------------------------------------------
// Sync cursors and room leases
// ---------------------------------------------------------------------------------------------

/** A room's calendar sync position and poll schedule. */
export interface SyncCursor {
  roomId: string;
  /** The Graph deltaLink of the last completed round, or null (next round is an initial sync). */
  deltaLink: string | null;
  windowStart: Date | null;
  windowEnd: Date | null;
  /** When the room should be polled next (backoff included). */
  dueAt: Date;
  lastSuccessAt: Date | null;
  lastFailureAt: Date | null;
  lastErrorCode: string | null;
  lastError: string | null;
  consecutiveFailures: number;
  leaseOwner: string | null;
  leaseExpiresAt: Date | null;
}

/** A room leased to this instance for one poll round. */
export interface RoomLease {
  roomId: string;
  mailbox: string;
  cursor: SyncCursor;
}

export type RoundOutcome =
  | { outcome: "ok"; deltaLink: string | null; windowStart: Date | null; windowEnd: Date | null; nextDueAt: Date }
  | { outcome: "error"; code: string; message: string; nextDueAt: Date; resetCursor?: boolean };

export interface LeaseOptions extends StoreCallOptions {
  /** Lease length in milliseconds (default 60 000). */
  leaseMs?: number;
}

/** One room's finished round, for {@link SyncCursorStore.completeRounds}. */
export interface RoundCompletion {
  roomId: string;
  result: RoundOutcome;
}

export interface SyncCursorStore {
  /**
   * Leases up to `limit` enabled rooms whose poll is due (`dueAt <= now`) and whose lease is free
   * or expired, most overdue first. Two instances calling at once get disjoint rooms.
   */
  leaseDue(now: Date, limit: number, options?: LeaseOptions): Promise<RoomLease[]>;
  /** Extends this owner's lease; false when the lease was lost (expired and taken over). */
  renewLease(roomId: string, now: Date, options?: LeaseOptions): Promise<boolean>;
  /**
   * Records a finished round and releases the lease. Returns false (and writes nothing) when this
   * owner no longer holds the lease: the round's results must then be discarded.
   */
  completeRound(roomId: string, result: RoundOutcome, now: Date, options?: StoreCallOptions): Promise<boolean>;
  /**
   * {@link completeRound} for many rooms in one statement (one transaction): each room is
   * recorded and released exactly as `completeRound` would, independently of the others.
   * @returns one flag per entry, in the order given: false (nothing written for that room) when
   *   this owner no longer holds its lease.
   * @throws OTJ_INTERNAL when a room appears twice; a database failure writes nothing.
   */
  completeRounds(rounds: readonly RoundCompletion[], now: Date, options?: StoreCallOptions): Promise<boolean[]>;
  /** Makes a room due at `now` (a change notification arrived). */
  markDue(roomId: string, now: Date, options?: StoreCallOptions): Promise<void>;
  /** Forgets the delta link so the next round is a full sync. */
  resetCursor(roomId: string, now: Date, options?: StoreCallOptions): Promise<void>;
  get(roomId: string, options?: StoreCallOptions): Promise<SyncCursor | null>;
  /** The cursors of these rooms (unknown rooms are left out), in no particular order. */
  getMany(roomIds: readonly string[], options?: StoreCallOptions): Promise<SyncCursor[]>;
  /** Every room's cursor (status pages: one query for all rooms). */
  list(options?: StoreCallOptions): Promise<SyncCursor[]>;
  /** Releases every room lease this owner holds (shutdown). Returns how many. */
  releaseAll(now: Date, options?: StoreCallOptions): Promise<number>;
}

// ---------------------------------------------------------------------------------------------
// Meetings (occurrences)
// ---------------------------------------------------------------------------------------------

/** The planner's account of one decision (`otj explain`), kept for the admin console. */
export interface MeetingExplain {
  /** The text the deciding rule matched (a URL, coordinates, an address). */
  matchedText: string | null;
  /** Every rule in order: matched, not matched (and why), or not reached. */
  trace: Array<{ rule: string; outcome: "matched" | "not matched" | "not reached"; reason: string }>;
}

/** The plan of one occurrence: how the room joins it. */
export interface MeetingPlan {
  route: Route;
  dialString: string | null;
  ivr: IvrFallback | null;
  /** Id of the rule that decided (docs/formats.md), e.g. `teams-cvi`, `custom:<id>`. */
  rule: string | null;
  /** Subject after the room's privacy rules. */
  subjectShown: string | null;
  /** The planner's account; absent or null when not recorded (rows planned before it was kept). */
  explain?: MeetingExplain | null;
}

/** One meeting occurrence in one room's calendar. */
export interface Meeting extends MeetingPlan {
  /** `lower(mailbox) | iCalUId | (recurrenceId ?? start)`, unique (docs/formats.md). */
  occurrenceKey: string;
  roomId: string;
  source: "graph" | "mime";
  sourceEventId: string | null;
  seriesMasterId: string | null;
  icalUid: string | null;
  /** Graph changeKey of the source event, if any. */
  changeKey: string | null;
  start: Date;
  end: Date;
  /** Null for a private meeting unless the room's privacy flags show it. */
  subject: string | null;
  organizerName: string | null;
  organizerEmail: string | null;
  sensitivity: Sensitivity;
  cancelled: boolean;
  /** The room declined it (withdrawn like a cancelled one). */
  declined: boolean;
  /** The parsed join (passcodes are kept only here, never logged). */
  join: Join | null;
  /** Hash of everything the source said; an upsert with the same hash changes nothing. */
  contentHash: string;
  createdAt: Date;
  updatedAt: Date;
}

export type MeetingUpsert = Omit<Meeting, "createdAt" | "updatedAt">;

export interface MeetingUpsertResult {
  occurrenceKey: string;
  change: "added" | "updated" | "unchanged";
}

export interface MeetingStore {
  /**
   * Inserts or updates occurrences by occurrence key. A row whose content hash is unchanged is not
   * written. Items repeating a key in one call: the last wins. Results follow the input order.
   */
  upsert(meetings: readonly MeetingUpsert[], now: Date, options?: StoreCallOptions): Promise<MeetingUpsertResult[]>;
  /** Stores a new plan for an occurrence (rules or room settings changed); false when it is gone. */
  setPlan(occurrenceKey: string, plan: MeetingPlan, now: Date, options?: StoreCallOptions): Promise<boolean>;
  get(occurrenceKey: string, options?: StoreCallOptions): Promise<Meeting | null>;
  /** The occurrences with these keys (unknown keys are left out), in no particular order. */
  getMany(occurrenceKeys: readonly string[], options?: StoreCallOptions): Promise<Meeting[]>;
  /**
   * A room's occurrences overlapping `[from, to)` (either bound optional), ordered by start then
   * key; cancelled and declined ones only when `includeCancelled`.
   */
  list(
    roomId: string,
    range?: { from?: Date; to?: Date; includeCancelled?: boolean },
    options?: StoreCallOptions,
  ): Promise<Meeting[]>;
  /**
   * Each room's next occurrence (neither cancelled nor declined) as of `now`: the first to start
   * at or after `now` and before `to`, else the earliest one in progress. At most one per room,
   * in no particular order.
   */
  nextForRooms(roomIds: readonly string[], now: Date, to: Date, options?: StoreCallOptions): Promise<Meeting[]>;
  /** Every room's occurrences overlapping `[from, to)`, ordered by room, start, key (status pages). */
  listAll(range: { from?: Date; to?: Date; includeCancelled?: boolean }, options?: StoreCallOptions): Promise<Meeting[]>;
  /** A room's occurrences with this iCalUId (merging a raw MIME invite with Graph's copy). */
  findByIcalUid(roomId: string, icalUid: string, options?: StoreCallOptions): Promise<Meeting[]>;
  /** Deletes occurrences by key; returns the keys that existed. */
  remove(occurrenceKeys: readonly string[], options?: StoreCallOptions): Promise<string[]>;
  /**
   * Deletes a room's occurrences whose source event or series master is one of `eventIds`
   * (Graph `@removed`); returns their keys.
   */
  removeBySourceEventIds(roomId: string, eventIds: readonly string[], options?: StoreCallOptions): Promise<string[]>;
  /** Deletes a room's occurrences not in `keep` (after a full resync); returns their keys. */
  removeAllExcept(roomId: string, keep: readonly string[], options?: StoreCallOptions): Promise<string[]>;
}

// ---------------------------------------------------------------------------------------------
// Device state (what each device holds) and push claims
// ---------------------------------------------------------------------------------------------

export interface DeviceEntry {
  /** Occurrence key of the booking. */
  key: string;
  /** Hash of what was pushed for it. */
  hash: string;
}

export interface DeviceState {
  roomId: string;
  /** Hash of the list the device should hold. */
  desiredHash: string | null;
  /** Hash of the list last pushed successfully. */
  pushedHash: string | null;
  /** What the device holds, as of the last successful push. */
  entries: DeviceEntry[];
  pushedAt: Date | null;
  /** When a push is due (null: nothing to do). */
  dueAt: Date | null;
  /** Failed attempts since the last success. */
  attempts: number;
  lastErrorCode: string | null;
  lastError: string | null;
  /** First failure of the current failure streak (alarm since), or null. */
  failingSince: Date | null;
  leaseOwner: string | null;
  leaseExpiresAt: Date | null;
  updatedAt: Date;
}

export interface DeviceStateStore {
  /**
   * Records the hash of the list the device should hold. When it differs from what was pushed, a
   * push becomes due at `now`; when equal, nothing is due. Idempotent.
   */
  setDesired(roomId: string, desiredHash: string, now: Date, options?: StoreCallOptions): Promise<void>;
  /** Claims up to `limit` due pushes (SKIP LOCKED + lease), most overdue first. */
  claimDue(now: Date, limit: number, options?: LeaseOptions): Promise<DeviceState[]>;
  /**
   * Records a successful push of `hash` and releases the claim; the push stays due when the
   * desired hash moved meanwhile. False when this owner lost the claim.
   */
  recordPushed(roomId: string, pushed: { hash: string; entries: DeviceEntry[] }, now: Date, options?: StoreCallOptions): Promise<boolean>;
  /** Records a failed push, due again at `retryAt`, and releases the claim. */
  recordFailed(
    roomId: string,
    failure: { code: string; message: string; retryAt: Date },
    now: Date,
    options?: StoreCallOptions,
  ): Promise<boolean>;
  /**
   * The room's device changed (address, credentials, family) or an admin asked: what it holds is
   * unknown, so the whole list is pushed again now, without waiting for a backoff. No effect
   * before a desired list exists.
   */
  pushAgain(roomId: string, now: Date, options?: StoreCallOptions): Promise<void>;
  get(roomId: string, options?: StoreCallOptions): Promise<DeviceState | null>;
  /** The device states of these rooms (rooms without one are left out), in no particular order. */
  getMany(roomIds: readonly string[], options?: StoreCallOptions): Promise<DeviceState[]>;
  list(options?: StoreCallOptions): Promise<DeviceState[]>;
  /** Releases every claim this owner holds (shutdown). */
  releaseAll(now: Date, options?: StoreCallOptions): Promise<number>;
}

// ---------------------------------------------------------------------------------------------
// Bridge sessions (SGJ)
// ---------------------------------------------------------------------------------------------

export const FINAL_BRIDGE_STATES: readonly BridgeState[] = ["ended", "denied", "timeout", "failed", "cancelled"];
export const LIVE_BRIDGE_STATES: readonly BridgeState[] = ["scheduled", "starting", "lobby", "admitted"];

export interface BridgeSession {
  /** Unique: one session per occurrence, ever. */
  occurrenceKey: string;
  /** `sgj_` + 12 hex (docs/formats.md), unique. */
  sessionId: string;
  roomId: string;
  state: BridgeState;
  /** When the scheduler must next act on it (start, lobby deadline, stop). */
  dueAt: Date;
  /** The bridge must have left by then. */
  notAfter: Date;
  lobbyDeadline: Date | null;
  adapter: string | null;
  /** The bridge's id of the session. */
  externalId: string | null;
  dialString: string | null;
  attempts: number;
  lastErrorCode: string | null;
  lastError: string | null;
  lastCallbackAt: Date | null;
  lastCallbackState: string | null;
  endedReason: string | null;
  leaseOwner: string | null;
  leaseExpiresAt: Date | null;
  createdAt: Date;
  updatedAt: Date;
}

export interface ScheduleBridgeSession {
  occurrenceKey: string;
  sessionId: string;
  roomId: string;
  dueAt: Date;
  notAfter: Date;
  dialString: string | null;
}

/** Fields a transition may set besides the state. */
export type BridgeSessionPatch = Partial<
  Pick<
    BridgeSession,
    | "dueAt"
    | "notAfter"
    | "lobbyDeadline"
    | "adapter"
    | "externalId"
    | "dialString"
    | "attempts"
    | "lastErrorCode"
    | "lastError"
    | "lastCallbackAt"
    | "lastCallbackState"
    | "endedReason"
  >
>;

export interface BridgeClaimOptions extends LeaseOptions {
  /** Also claim sessions due within this many ms after `now` (timers fire them exactly). */
  horizonMs?: number;
}

/** A session to start, as the caller last read it. */
export interface BridgeStartItem {
  occurrenceKey: string;
  /** The due time read: a session whose `dueAt` moved since (the meeting moved) is not started. */
  dueAt: Date;
}

/** What {@link BridgeSessionStore.startMany} writes on every session it starts. */
export interface BridgeStart {
  /** The adapter recorded on the session (`http`, `graph`, `emulator`). */
  adapter: string | null;
  lobbyDeadline: Date;
  /** When the scheduler looks next; each session gets the earlier of this and its `notAfter`. */
  nextDueAt: Date;
  /** The transition's cause (the state machine's), the message of its event log entry. */
  cause: string;
}

/** An external id a start request's reply gave a session. */
export interface BridgeExternalId {
  occurrenceKey: string;
  externalId: string;
  /** The session's next due time once the bridge has answered, if it is still `starting` (see recordExternalIds). */
  dueAt?: Date;
}

export interface BridgeSessionStore {
  /**
   * Creates the occurrence's session in state `scheduled`, or, while it is still `scheduled`,
   * moves its times (the meeting moved). A session past `scheduled` is left as it is. Idempotent.
   */
  schedule(
    session: ScheduleBridgeSession,
    now: Date,
    options?: StoreCallOptions,
  ): Promise<{ session: BridgeSession; change: "created" | "rescheduled" | "unchanged" }>;
  /**
   * Claims up to `limit` live sessions due by `now + horizonMs` whose lease is free or expired
   * (SKIP LOCKED + lease), soonest first. Two instances calling at once get disjoint sessions.
   */
  claimDue(now: Date, limit: number, options?: BridgeClaimOptions): Promise<BridgeSession[]>;
  /**
   * Compare-and-set: moves the session to `to` (with `patch`) only if its state is one of `from`
   * (any state when `from` is omitted). Returns the updated session, or null when the state did
   * not match or the session does not exist. Does not touch the lease.
   */
  transition(
    occurrenceKey: string,
    change: { from?: readonly BridgeState[]; to: BridgeState; patch?: BridgeSessionPatch },
    now: Date,
    options?: StoreCallOptions,
  ): Promise<BridgeSession | null>;
  /**
   * The batched start: moves each given session `scheduled` -> `starting` in one statement, but
   * only those still `scheduled`, still due at the `dueAt` given and claimed by this owner (the
   * compare-and-set of {@link transition}, per session). Each moved session gets one more attempt,
   * the adapter, the lobby deadline and its next due time, and loses its last error; each gets an
   * event log entry `bridge.starting` with the cause, written in the same transaction. Returns the
   * sessions it moved (any order); a session started meanwhile by anyone is never moved twice.
   */
  startMany(sessions: readonly BridgeStartItem[], start: BridgeStart, now: Date, options?: StoreCallOptions): Promise<BridgeSession[]>;
  /**
   * Records the external ids start requests returned, in one statement: a live session takes the
   * id, a final one only when it has none yet (so the bridge can still be told to leave). When an
   * item has a `dueAt`, the session's next due time settles too: a session still `starting` takes
   * that `dueAt`; one the bridge already reported in the lobby or admitted without its id (looked
   * at early to ask for it) goes back to its lobby deadline or its `notAfter`. Returns every given
   * session that exists, as it is afterwards.
   */
  recordExternalIds(ids: readonly BridgeExternalId[], now: Date, options?: StoreCallOptions): Promise<BridgeSession[]>;
  /** Extends this owner's claim; false when lost. */
  renewLease(occurrenceKey: string, now: Date, options?: LeaseOptions): Promise<boolean>;
  /** Releases this owner's claim on one session. */
  release(occurrenceKey: string, now: Date, options?: StoreCallOptions): Promise<void>;
  /** Releases this owner's claims on these sessions (one statement); returns how many it held. */
  releaseMany(occurrenceKeys: readonly string[], now: Date, options?: StoreCallOptions): Promise<number>;
  get(occurrenceKey: string, options?: StoreCallOptions): Promise<BridgeSession | null>;
  getBySessionId(sessionId: string, options?: StoreCallOptions): Promise<BridgeSession | null>;
  /**
   * Sessions ordered by due time, optionally only these states or this room, only the live ones
   * and those changed since a time, and at most `limit` of them (the first by due time).
   */
  list(
    filter?: { states?: readonly BridgeState[]; roomId?: string; liveOrUpdatedSince?: Date; limit?: number },
    options?: StoreCallOptions,
  ): Promise<BridgeSession[]>;
  /**
   * How many sessions are in each state (states with none are absent), counted in the database:
   * every live session, and the finished ones changed since `finishedSince` (all when omitted).
   */
  countByState(filter?: { finishedSince?: Date }, options?: StoreCallOptions): Promise<Record<string, number>>;
  /** Releases every claim this owner holds (shutdown); live sessions stay as they are. */
  releaseAll(now: Date, options?: StoreCallOptions): Promise<number>;
}

// ---------------------------------------------------------------------------------------------
// Event log
// ---------------------------------------------------------------------------------------------

/** An audit entry: what changed and why. Never secrets, never a private meeting's body. */
export interface NewLoggedEvent {
  at: Date;
  /** e.g. `meeting.added`, `bridge.lobby`, `device.push-failed`. */
  kind: string;
  roomId?: string | null;
  occurrenceKey?: string | null;
  message: string;
  data?: Record<string, unknown> | null;
}

export interface LoggedEvent extends Required<NewLoggedEvent> {
  /** Increasing. */
  id: number;
}

export interface EventLogStore {
  /** Appends entries in order (one statement). */
  append(entries: readonly NewLoggedEvent[], options?: StoreCallOptions): Promise<void>;
  /**
   * Newest first, optionally filtered; `beforeId` pages backwards, `since` keeps entries at or
   * after it, `sessionId` keeps a bridge session's entries.
   */
  list(
    filter?: { roomId?: string; occurrenceKey?: string; kind?: string; beforeId?: number; limit?: number; since?: Date; sessionId?: string },
    options?: StoreCallOptions,
  ): Promise<LoggedEvent[]>;
}

/** Admin console sign-outs, seen by every instance (the sessions themselves are signed cookies). */
export interface ConsoleRevocationStore {
  /** Records that the session `nonce` was signed out; kept until `expiresAt`. Idempotent. */
  revoke(nonce: string, expiresAt: Date, now: Date, options?: StoreCallOptions): Promise<void>;
  /** True when the session `nonce` was signed out (and would not have expired yet). */
  isRevoked(nonce: string, now: Date, options?: StoreCallOptions): Promise<boolean>;
}

// ---------------------------------------------------------------------------------------------
// Retention
// ---------------------------------------------------------------------------------------------

/** What the prune removes: everything of its kind older than its cutoff. */
export interface PruneCutoffs {
  /** Finished bridge sessions last changed before this. Live sessions are never pruned. */
  bridgeSessionsBefore: Date;
  /** Event log entries written before this. */
  eventLogBefore: Date;
  /** Meetings that ended before this. */
  meetingsEndedBefore: Date;
}

export interface PruneCounts {
  bridgeSessions: number;
  eventLog: number;
  meetings: number;
}

export interface RetentionStore {
  /**
   * Takes the named job lease for `leaseMs` when it is free, expired or already this owner's;
   * false when another instance holds it. Two instances calling at once: one gets it.
   */
  claimJob(name: string, now: Date, leaseMs: number, options?: StoreCallOptions): Promise<boolean>;
  /** Gives the job lease back (this owner's only) and records when the job last ran. */
  releaseJob(name: string, now: Date, options?: StoreCallOptions): Promise<void>;
  /** Deletes what is older than the cutoffs, in batches (no long lock on any table). */
  prune(cutoffs: PruneCutoffs, options?: StoreCallOptions): Promise<PruneCounts>;
}

// ---------------------------------------------------------------------------------------------
// The store
// ---------------------------------------------------------------------------------------------

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
  /** Resolves when the database answers; throws OTJ_STORE_UNREACHABLE otherwise (readiness). */
  ping(options?: StoreCallOptions): Promise<void>;
}
