/**
 * The start request of a session, read from its meeting and room, or why it cannot start.
 */
import { addMs } from "../core/clock.ts";
import type { BridgeStartRequest } from "../core/ports/media-bridge.ts";
import type { BridgeSession, Meeting, Room, Store } from "../core/ports/store.ts";
import { type BridgeSchedulerSettings, type Prepared, unwantedReason } from "./scheduler-context.ts";

/** The start request for a session, from its meeting and room. */
export async function prepareStart(store: Store, settings: BridgeSchedulerSettings, session: BridgeSession): Promise<Prepared> {
  const [meeting, room] = await Promise.all([store.meetings.get(session.occurrenceKey), store.rooms.get(session.roomId)]);
  const unwanted = unwantedReason(meeting);
  if (unwanted !== null || meeting === null) return { ok: false, reason: unwanted ?? "meeting removed from the calendar" };
  if (room === null) return { ok: false, reason: "room removed" };
  const teams = meeting.join?.teams ?? null;
  if (teams === null || (teams.joinUrl === null && teams.meetingId === null))
    return { ok: false, reason: "cannot start: the invite has no Teams join link or meeting ID" };
  const dialString = session.dialString ?? meeting.dialString;
  if (dialString === null) return { ok: false, reason: "cannot start: the meeting has no SGJ dial string" };
  return { ok: true, request: startRequest(settings, session, meeting, room, dialString) };
}

function startRequest(settings: BridgeSchedulerSettings, session: BridgeSession, meeting: Meeting, room: Room, dialString: string): BridgeStartRequest {
  const teams = meeting.join!.teams!;
  return {
    sessionId: session.sessionId,
    teams: {
      joinUrl: teams.joinUrl,
      meetingId: teams.meetingId,
      passcode: teams.passcode,
      tenantId: teams.tenantId,
      threadId: teams.threadId,
      organizerId: teams.organizerId,
    },
    guestDisplayName: room.displayName,
    dialString,
    vtcDialString: room.sipUri,
    notBefore: addMs(meeting.start, -settings.leadSeconds * 1000).toISOString(),
    notAfter: session.notAfter.toISOString(),
    callbackUrl: settings.callbackUrl,
  };
}
