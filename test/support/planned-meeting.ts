/**
 * A planned meeting as the store keeps it (a CVI Teams meeting by default), for tests that need
 * rows without running the poller.
 */
import type { MeetingUpsert, Room } from "../../core/ports/store.ts";

/** A 30-minute meeting of `room` starting `minutes` after `now`; `extra` overrides any field. */
export function plannedMeeting(room: Room, key: string, now: Date, minutes: number, extra: Partial<MeetingUpsert> = {}): MeetingUpsert {
  const start = new Date(now.getTime() + minutes * 60000);
  return {
    occurrenceKey: `${room.mailbox}|${key}|${start.toISOString()}`,
    roomId: room.id,
    source: "graph",
    sourceEventId: key,
    seriesMasterId: null,
    icalUid: key,
    changeKey: "1",
    start,
    end: new Date(start.getTime() + 30 * 60000),
    subject: "Supplier review",
    organizerName: "Ana Ruiz",
    organizerEmail: "ana@fabrikam.example",
    sensitivity: "normal",
    cancelled: false,
    declined: false,
    join: null,
    route: "cvi",
    dialString: "1198563286.contoso@m.webex.com",
    ivr: null,
    rule: "teams-cvi",
    subjectShown: "Supplier review",
    contentHash: `${key}-${minutes}`,
    ...extra,
  };
}
