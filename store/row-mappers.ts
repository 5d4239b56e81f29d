/**
 * The one place where snake_case rows become the Store port's camelCase records (and back).
 */
import type {
  BridgeState,
  CalendarSourceName,
  Delivery,
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
} from "../core/domain.ts";
import type {
  MeetingExplain,
  BridgeSession,
  BridgeSessionPatch,
  DeviceEntry,
  DeviceState,
  LoggedEvent,
  Meeting,
  MeetingUpsert,
  Provider,
  Room,
  SyncCursor,
} from "../core/ports/store.ts";
import type {
  BridgeSessionRow,
  BridgeSessionTable,
  DeviceStateRow,
  EventLogRow,
  MeetingRow,
  NewMeetingRow,
  ProviderRow,
  RoomRow,
  SyncCursorRow,
} from "./database.ts";

/** JSON columns may come back as text from some drivers; accept both. */
function parseJson<T>(value: unknown): T {
  return (typeof value === "string" ? JSON.parse(value) : value) as T;
}

export function toProvider(row: ProviderRow): Provider {
  return {
    id: row.id,
    name: row.name,
    partner: row.partner as Partner,
    tenantKey: row.tenant_key,
    sipDomain: row.sip_domain,
    ivrAddress: row.ivr_address,
    sgjEnabled: row.sgj_enabled,
    sgjTemplate: row.sgj_template,
    instructionUrl: row.instruction_url,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

export function toRoom(row: RoomRow & { provider_name: string | null }): Room {
  return {
    id: row.id,
    mailbox: row.mailbox,
    displayName: row.display_name,
    providerId: row.provider_id,
    providerName: row.provider_name,
    device: {
      family: row.device_family as DeviceFamily,
      address: row.device_address,
      username: row.device_username,
      hasPassword: row.device_password !== null,
      insecureTls: row.insecure_tls,
      allowInsecureHttp: row.allow_insecure_http,
      hasToken: row.device_token !== null,
    },
    sipUri: row.sip_uri,
    privacy: {
      privateMeetings: row.private_meetings as PrivateMeetings,
      subjectReplace: row.subject_replace as SubjectReplace,
      subjectTemplate: row.subject_template,
      privateJoin: row.private_join as PrivateJoin,
    },
    timeZone: row.time_zone,
    webrtc: row.webrtc === "" ? [] : (row.webrtc.split(",") as WebrtcPlatform[]),
    delivery: row.delivery as Delivery,
    source: row.source as CalendarSourceName,
    enabled: row.enabled,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

export function toSyncCursor(row: SyncCursorRow): SyncCursor {
  return {
    roomId: row.room_id,
    deltaLink: row.delta_link,
    windowStart: row.window_start,
    windowEnd: row.window_end,
    dueAt: row.due_at,
    lastSuccessAt: row.last_success_at,
    lastFailureAt: row.last_failure_at,
    lastErrorCode: row.last_error_code,
    lastError: row.last_error,
    consecutiveFailures: row.consecutive_failures,
    leaseOwner: row.lease_owner,
    leaseExpiresAt: row.lease_expires_at,
  };
}

export function toMeeting(row: MeetingRow): Meeting {
  return {
    occurrenceKey: row.occurrence_key,
    roomId: row.room_id,
    source: row.source as Meeting["source"],
    sourceEventId: row.source_event_id,
    seriesMasterId: row.series_master_id,
    icalUid: row.ical_uid,
    changeKey: row.change_key,
    start: row.start_at,
    end: row.end_at,
    subject: row.subject,
    organizerName: row.organizer_name,
    organizerEmail: row.organizer_email,
    sensitivity: row.sensitivity as Sensitivity,
    cancelled: row.cancelled,
    declined: row.declined,
    join: row.join_info === null ? null : parseJson<Join>(row.join_info),
    route: row.route as Route,
    dialString: row.dial_string,
    ivr: row.ivr === null ? null : parseJson<IvrFallback>(row.ivr),
    rule: row.rule,
    subjectShown: row.subject_shown,
    explain: row.explain === null || row.explain === undefined ? null : parseJson<MeetingExplain>(row.explain),
    contentHash: row.content_hash,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

export function fromMeeting(meeting: MeetingUpsert, now: Date): NewMeetingRow {
  return {
    occurrence_key: meeting.occurrenceKey,
    room_id: meeting.roomId,
    source: meeting.source,
    source_event_id: meeting.sourceEventId,
    series_master_id: meeting.seriesMasterId,
    ical_uid: meeting.icalUid,
    change_key: meeting.changeKey,
    start_at: meeting.start,
    end_at: meeting.end,
    subject: meeting.subject,
    organizer_name: meeting.organizerName,
    organizer_email: meeting.organizerEmail,
    sensitivity: meeting.sensitivity,
    cancelled: meeting.cancelled,
    declined: meeting.declined,
    join_info: meeting.join === null ? null : JSON.stringify(meeting.join),
    route: meeting.route,
    dial_string: meeting.dialString,
    ivr: meeting.ivr === null ? null : JSON.stringify(meeting.ivr),
    rule: meeting.rule,
    subject_shown: meeting.subjectShown,
    explain: meeting.explain ? JSON.stringify(meeting.explain) : null,
    content_hash: meeting.contentHash,
    created_at: now,
    updated_at: now,
  };
}

export function toDeviceState(row: DeviceStateRow): DeviceState {
  return {
    roomId: row.room_id,
    desiredHash: row.desired_hash,
    pushedHash: row.pushed_hash,
    entries: parseJson<DeviceEntry[]>(row.entries),
    pushedAt: row.pushed_at,
    dueAt: row.due_at,
    attempts: row.attempts,
    lastErrorCode: row.last_error_code,
    lastError: row.last_error,
    failingSince: row.failing_since,
    leaseOwner: row.lease_owner,
    leaseExpiresAt: row.lease_expires_at,
    updatedAt: row.updated_at,
  };
}

export function toBridgeSession(row: BridgeSessionRow): BridgeSession {
  return {
    occurrenceKey: row.occurrence_key,
    sessionId: row.session_id,
    roomId: row.room_id,
    state: row.state as BridgeState,
    dueAt: row.due_at,
    notAfter: row.not_after,
    lobbyDeadline: row.lobby_deadline,
    adapter: row.adapter,
    externalId: row.external_id,
    dialString: row.dial_string,
    attempts: row.attempts,
    lastErrorCode: row.last_error_code,
    lastError: row.last_error,
    lastCallbackAt: row.last_callback_at,
    lastCallbackState: row.last_callback_state,
    endedReason: row.ended_reason,
    leaseOwner: row.lease_owner,
    leaseExpiresAt: row.lease_expires_at,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

const PATCH_COLUMNS: { [K in keyof Required<BridgeSessionPatch>]: keyof BridgeSessionTable } = {
  dueAt: "due_at",
  notAfter: "not_after",
  lobbyDeadline: "lobby_deadline",
  adapter: "adapter",
  externalId: "external_id",
  dialString: "dial_string",
  attempts: "attempts",
  lastErrorCode: "last_error_code",
  lastError: "last_error",
  lastCallbackAt: "last_callback_at",
  lastCallbackState: "last_callback_state",
  endedReason: "ended_reason",
};

export function fromBridgeSessionPatch(patch: BridgeSessionPatch): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(patch)) {
    const column = PATCH_COLUMNS[key as keyof BridgeSessionPatch];
    if (column !== undefined && value !== undefined) out[column] = value;
  }
  return out;
}

export function toLoggedEvent(row: EventLogRow): LoggedEvent {
  return {
    id: Number(row.id),
    at: row.at,
    kind: row.kind,
    roomId: row.room_id,
    occurrenceKey: row.occurrence_key,
    message: row.message,
    data: row.data === null ? null : parseJson<Record<string, unknown>>(row.data),
  };
}
