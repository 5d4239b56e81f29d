/**
 * StatusOutput (docs/cli.md): per room its last poll, device push state, alarms and meetings in
 * the live window, and the bridge sessions. Shared by `otj status --json` and GET /v1/status.
 */
import type { BridgeState, Route } from "../core/domain.ts";
import { ERROR_CODES } from "../core/errors.ts";
import type { DeviceFetch } from "../core/ports/alarm-store.ts";
import type { DeviceState, Room, Store, SyncCursor } from "../core/ports/store.ts";
import { pushesTo } from "../join/device-bookings.ts";
import { sgjDomainProblem } from "../join/join-planner.ts";
import { pullsMeetings, staleFetchAlarm } from "./alarms/device-fetch.ts";

export interface StatusOutput {
  rooms: Array<{
    mailbox: string;
    displayName: string;
    alarms: Array<{ code: string; since: string; message: string }>;
    lastPoll: { at: string | null; outcome: "ok" | "error" | "never"; error: string | null };
    device: {
      family: string;
      state: "ok" | "pending" | "error";
      lastPushAt: string | null;
      lastError: string | null;
      /** Rooms whose device reads its meetings from otj (pull, macro, ews): when it last fetched. */
      lastFetchAt?: string | null;
    };
    meetings: Array<{ occurrenceKey: string; subject: string | null; start: string; end: string; route: Route; dialString: string | null; onDevice: boolean }>;
  }>;
  bridgeSessions: Array<{
    occurrenceKey: string;
    mailbox: string;
    sessionId: string;
    externalId: string | null;
    dueAt: string;
    updatedAt: string;
    state: BridgeState;
  }>;
  /**
   * Open engine-wide alarms (not tied to a room: no bridge configured, Graph consent lacking a
   * permission, secrets.key unset, a provider without SIP domain, failed notifications, change
   * notifications that keep failing), oldest
   * first, as the alarm evaluator last recorded them. Always present in buildStatus's output.
   */
  engineAlarms?: Array<{ code: string; subject: string; since: string; message: string }>;
}

export interface StatusSettings {
  endBufferMinutes: number;
  windowFutureDays: number;
  /** Failed polls in a row (retryable errors) before a poll failure becomes an alarm. */
  pollFailuresBeforeAlarm: number;
  /** Failed pushes in a row (retryable errors) before a device failure becomes an alarm. */
  pushFailuresBeforeAlarm: number;
  /** `alarms.ewsFetchStaleMinutes`: an ews device silent this long raises OTJ_DEVICE_NOT_FETCHING (0 or absent: off). */
  ewsFetchStaleMinutes?: number;
  /** `alarms.pullStaleMinutes`: another pulling device silent this long raises OTJ_DEVICE_PULL_STALE (absent: off). */
  pullStaleMinutes?: number;
  /** When the engine started: a pulling device that never fetched counts from here (absent: only from a fetch or a password). */
  startedAt?: Date;
}

/** Bridge sessions a status lists at most (the first by due time): a day of a large estate. */
export const MAX_STATUS_SESSIONS = 10_000;

const iso = (d: Date | null) => (d === null ? null : d.toISOString());

export function lastPoll(c: SyncCursor | null): StatusOutput["rooms"][number]["lastPoll"] {
  if (!c || (c.lastSuccessAt === null && c.lastFailureAt === null)) return { at: null, outcome: "never", error: null };
  const failedLast = c.lastFailureAt !== null && (c.lastSuccessAt === null || c.lastFailureAt > c.lastSuccessAt);
  return failedLast
    ? { at: iso(c.lastFailureAt), outcome: "error", error: c.lastErrorCode ? `${c.lastErrorCode}: ${c.lastError ?? ""}`.trim() : c.lastError }
    : { at: iso(c.lastSuccessAt), outcome: "ok", error: null };
}

export function deviceStatus(room: Room, d: DeviceState | null): StatusOutput["rooms"][number]["device"] {
  const state =
    d === null || d.desiredHash === null ? (pushesTo(room) ? "pending" : "ok") : d.lastErrorCode ? "error" : d.desiredHash === d.pushedHash ? "ok" : "pending";
  return {
    family: room.device.family,
    state,
    lastPushAt: iso(d?.pushedAt ?? null),
    lastError: d?.lastErrorCode ? `${d.lastErrorCode}: ${d.lastError ?? ""}`.trim() : null,
  };
}

type Alarm = StatusOutput["rooms"][number]["alarms"][number];

/**
 * Whether a failure with this code can go away by itself on a later attempt. An unknown code
 * counts as retryable (it waits for the failure count like a timeout would).
 */
function retryable(code: string): boolean {
  return (ERROR_CODES as Record<string, { retryable: boolean } | undefined>)[code]?.retryable ?? true;
}

/**
 * A room's device and poll alarms: a failure no retry can fix (mailbox not found, access denied,
 * bad device credentials, TLS refused) at once; a retryable one after enough failures in a row.
 */
export function roomAlarms(
  device: DeviceState | null,
  cursor: SyncCursor | null,
  s: Pick<StatusSettings, "pollFailuresBeforeAlarm" | "pushFailuresBeforeAlarm">,
): Alarm[] {
  const alarms: Alarm[] = [];
  if (device?.lastErrorCode && device.failingSince && (device.attempts >= s.pushFailuresBeforeAlarm || !retryable(device.lastErrorCode))) {
    alarms.push({ code: device.lastErrorCode, since: device.failingSince.toISOString(), message: device.lastError ?? "device push failing" });
  }
  if (cursor?.lastErrorCode && cursor.lastFailureAt && (cursor.consecutiveFailures >= s.pollFailuresBeforeAlarm || !retryable(cursor.lastErrorCode))) {
    alarms.push({ code: cursor.lastErrorCode, since: cursor.lastFailureAt.toISOString(), message: cursor.lastError ?? "calendar poll failing" });
  }
  return alarms;
}

export async function buildStatus(store: Store, now: Date, s: StatusSettings): Promise<StatusOutput> {
  // A handful of queries for any number of rooms (10,000 rooms: one pass, no query per room).
  const rooms = await store.rooms.list();
  // A provider that enables SGJ without a SIP domain: its rooms' Teams meetings without CVI get
  // no join (planned `none`), an alarm on each of its rooms.
  const providerAlarms = new Map<string, Alarm>();
  for (const p of await store.providers.list()) {
    const problem = sgjDomainProblem(p);
    if (problem !== null) providerAlarms.set(p.id, { code: "OTJ_PROVIDER_INVALID", since: p.updatedAt.toISOString(), message: problem });
  }
  const devices = new Map((await store.deviceStates.list()).map((d) => [d.roomId, d]));
  const cursors = new Map((await store.syncCursors.list()).map((c) => [c.roomId, c]));
  const meetingsByRoom = new Map<string, Awaited<ReturnType<Store["meetings"]["listAll"]>>>();
  const window = {
    from: new Date(now.getTime() - s.endBufferMinutes * 60000),
    to: new Date(now.getTime() + s.windowFutureDays * 86_400_000),
    includeCancelled: true,
  };
  for (const m of await store.meetings.listAll(window)) {
    const list = meetingsByRoom.get(m.roomId) ?? [];
    list.push(m);
    meetingsByRoom.set(m.roomId, list);
  }
  // One query for every device's last fetch; one for the ews passwords, only when there are ews rooms.
  const fetches = rooms.some(pullsMeetings) ? await store.alarms.lastFetches() : new Map<string, DeviceFetch>();
  const issued = rooms.some((r) => r.device.family === "ews") ? await store.ewsDevices.passwordsIssued() : new Map<string, Date>();
  const engineAlarms = (await store.alarms.listOpen())
    .filter((a) => a.roomId === null)
    .map((a) => ({ code: a.code, subject: a.subject, since: a.raisedAt.toISOString(), message: a.message }));
  const out: StatusOutput = { rooms: [], bridgeSessions: [], engineAlarms };
  for (const room of rooms) {
    const cursor = cursors.get(room.id) ?? null;
    const device = devices.get(room.id) ?? null;
    const alarms = roomAlarms(device, cursor, s);
    const providerAlarm = room.providerId === null ? undefined : providerAlarms.get(room.providerId);
    const stale = staleFetchAlarm(room, fetches.get(room.id), now, s, { startedAt: s.startedAt ?? null, credentialIssuedAt: issued.get(room.id) ?? null });
    if (stale) alarms.push(stale);
    if (providerAlarm) alarms.push(providerAlarm);
    const meetings = meetingsByRoom.get(room.id) ?? [];
    const onDevice = new Set((device?.entries ?? []).map((e) => e.key));
    out.rooms.push({
      mailbox: room.mailbox,
      displayName: room.displayName,
      alarms,
      lastPoll: lastPoll(cursor),
      device: pullsMeetings(room) ? { ...deviceStatus(room, device), lastFetchAt: iso(fetches.get(room.id)?.at ?? null) } : deviceStatus(room, device),
      meetings: meetings.map((m) => ({
        occurrenceKey: m.occurrenceKey,
        subject: m.subjectShown,
        start: m.start.toISOString(),
        end: m.end.toISOString(),
        route: m.cancelled || m.declined ? "none" : m.route,
        dialString: m.cancelled || m.declined ? null : m.dialString,
        onDevice: onDevice.has(m.occurrenceKey),
      })),
    });
  }
  const byId = new Map(rooms.map((r) => [r.id, r.mailbox]));
  const entryById = new Map(rooms.map((r, i) => [r.id, out.rooms[i]]));
  // Live sessions and those that changed in the last day, never the history of finished ones
  // (months of it would make every status read as slow as the history is long).
  const since = now.getTime() - 86_400_000;
  const sessions = await store.bridgeSessions.list({ liveOrUpdatedSince: new Date(since), limit: MAX_STATUS_SESSIONS });
  // A guest join that could not happen is an alarm on its room (e.g. no bridge configured).
  for (const b of sessions) {
    if (b.state !== "failed" || !b.lastErrorCode || b.updatedAt.getTime() < since) continue;
    const entry = entryById.get(b.roomId);
    if (entry && !entry.alarms.some((a) => a.code === b.lastErrorCode)) {
      entry.alarms.push({ code: b.lastErrorCode, since: b.updatedAt.toISOString(), message: b.lastError ?? "SIP Guest Join session failed" });
    }
  }
  for (const b of sessions) {
    if (b.notAfter.getTime() < since) continue;
    out.bridgeSessions.push({
      occurrenceKey: b.occurrenceKey,
      mailbox: byId.get(b.roomId) ?? "",
      sessionId: b.sessionId,
      externalId: b.externalId,
      dueAt: b.dueAt.toISOString(),
      updatedAt: b.updatedAt.toISOString(),
      state: b.state,
    });
  }
  return out;
}
