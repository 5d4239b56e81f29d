/**
 * The meeting reconciliation rules (calendar/reconcile.ts) as a pure step: which rows a calendar
 * round or an invite mail writes and removes, and the audit account of it.
 */
import { describe, expect, it } from "vitest";
import { fullRoundKeep, mailCopiesOf, previousOf, reconcileMail, reconcileRound, type RemovalReason, roundAccount } from "../../calendar/reconcile.ts";
import type { Join } from "../../core/domain.ts";
import { occurrenceKey } from "../../core/identities.ts";
import type { SourceOccurrence } from "../../core/ports/calendar-source.ts";
import type { Meeting, MeetingUpsert } from "../../core/ports/store.ts";

const MAILBOX = "Room-1@contoso.example";
const NOW = new Date("2025-03-04T08:00:00.000Z");
const JOIN: Join = { provider: "sip", url: null, sipUri: "sip:1234@video.example", teams: null };

function occurrence(extra: Partial<SourceOccurrence> = {}): SourceOccurrence {
  return {
    sourceId: "AAMk1",
    uid: "uid-1",
    seriesId: null,
    kind: "single",
    start: "2025-03-05T10:00:00.000Z",
    end: "2025-03-05T10:30:00.000Z",
    recurrenceId: null,
    allDay: false,
    subject: "Planning",
    organizer: null,
    sensitivity: "normal",
    cancelled: false,
    roomResponse: "accepted",
    onlineMeetingUrl: null,
    hasBody: true,
    changeKey: null,
    lastModified: null,
    raw: { format: "graph", content: "{}" },
    ...extra,
  };
}

function upsertOf(o: SourceOccurrence, extra: Partial<MeetingUpsert> = {}): MeetingUpsert {
  const graph = o.raw.format === "graph";
  return {
    occurrenceKey: occurrenceKey(MAILBOX, o.uid, o.recurrenceId, o.start),
    roomId: "room-1",
    source: graph ? "graph" : "mime",
    sourceEventId: graph ? o.sourceId : null,
    seriesMasterId: o.seriesId,
    icalUid: o.uid,
    changeKey: null,
    start: new Date(o.start),
    end: new Date(o.end),
    subject: o.subject,
    organizerName: null,
    organizerEmail: null,
    sensitivity: o.sensitivity,
    cancelled: o.cancelled,
    declined: false,
    join: null,
    route: "direct",
    dialString: "1234@video.example",
    ivr: null,
    rule: "sip-direct",
    subjectShown: o.subject,
    contentHash: "h",
    ...extra,
  };
}

function stored(o: SourceOccurrence, extra: Partial<Meeting> = {}): Meeting {
  return { ...upsertOf(o), createdAt: NOW, updatedAt: NOW, ...extra };
}

describe("reconcileRound", () => {
  it("removes a moved single meeting's old row and merges raw-mail copies of the same UID", () => {
    const before = occurrence({ start: "2025-03-05T09:00:00.000Z", end: "2025-03-05T09:30:00.000Z" });
    const mailCopy = stored(occurrence({ start: "2025-03-05T08:00:00.000Z", raw: { format: "eml", content: "" } }));
    const other = stored(occurrence({ sourceId: "AAMk2", uid: "uid-2" }));
    const existing = [stored(before), mailCopy, other];
    const moved = occurrence();
    const plan = reconcileRound({ existing, changes: [{ occurrence: moved, upsert: upsertOf(moved) }], removedIds: [], full: false, windowStart: NOW });
    expect(plan.upserts.map((u) => u.occurrenceKey)).toEqual([upsertOf(moved).occurrenceKey]);
    expect([...plan.stale]).toEqual([
      [existing[0]!.occurrenceKey, "moved"],
      [mailCopy.occurrenceKey, "merged"],
    ]);
    expect(plan.fullRound).toBeNull();
  });

  it("never removes a row the round writes again", () => {
    const o = occurrence();
    const plan = reconcileRound({
      existing: [stored(o)],
      changes: [{ occurrence: o, upsert: upsertOf(o) }],
      removedIds: ["AAMk9"],
      full: false,
      windowStart: NOW,
    });
    expect(plan.stale.size).toBe(0);
    expect(plan.removedSourceIds).toEqual(["AAMk9"]);
  });

  it("a full round keeps what it listed and current raw-mail meetings, unless removed before", () => {
    const listed = occurrence();
    const currentMail = stored(
      occurrence({ uid: "mail-1", start: "2025-03-06T10:00:00.000Z", end: "2025-03-06T11:00:00.000Z", raw: { format: "eml", content: "" } }),
    );
    const pastMail = stored(
      occurrence({ uid: "mail-2", start: "2025-03-01T10:00:00.000Z", end: "2025-03-01T11:00:00.000Z", raw: { format: "eml", content: "" } }),
    );
    const unlisted = stored(occurrence({ sourceId: "AAMk3", uid: "uid-3" }));
    const plan = reconcileRound({
      existing: [currentMail, pastMail, unlisted],
      changes: [{ occurrence: listed, upsert: upsertOf(listed) }],
      removedIds: [],
      full: true,
      windowStart: new Date("2025-03-03T00:00:00.000Z"),
    });
    expect(plan.fullRound).toEqual({ keep: [upsertOf(listed).occurrenceKey], keepUnlessRemoved: [currentMail.occurrenceKey] });
    expect(fullRoundKeep(plan.fullRound!, new Map())).toEqual([upsertOf(listed).occurrenceKey, currentMail.occurrenceKey]);
    expect(fullRoundKeep(plan.fullRound!, new Map([[currentMail.occurrenceKey, "source-removed" as RemovalReason]]))).toEqual([upsertOf(listed).occurrenceKey]);
  });

  it("plans an occurrence against its stored row, else a raw-mail copy of it; series occurrences never take a mail copy", () => {
    const o = occurrence();
    const mailCopy = stored(occurrence({ start: "2025-03-05T08:00:00.000Z", raw: { format: "eml", content: "" } }), { join: JOIN });
    const byKey = new Map([[mailCopy.occurrenceKey, mailCopy]]);
    expect(previousOf([mailCopy], byKey, MAILBOX, o)).toBe(mailCopy);
    const own = stored(o);
    expect(previousOf([mailCopy, own], new Map([...byKey, [own.occurrenceKey, own]]), MAILBOX, o)).toBe(own);
    expect(mailCopiesOf([mailCopy], occurrence({ kind: "occurrence", recurrenceId: "2025-03-05T10:00:00.000Z" }))).toEqual([]);
  });
});

describe("roundAccount", () => {
  it("counts and logs what the store did, never a private meeting's subject", () => {
    const open = occurrence();
    const secret = occurrence({ sourceId: "AAMk2", uid: "uid-2", subject: "Layoffs", sensitivity: "private" });
    const same = occurrence({ sourceId: "AAMk3", uid: "uid-3" });
    const gone = stored(occurrence({ sourceId: "AAMk4", uid: "uid-4" }));
    const upserts = [upsertOf(open), upsertOf(secret), upsertOf(same)];
    const { log, applied } = roundAccount(
      NOW,
      "room-1",
      [gone],
      upserts,
      [
        { occurrenceKey: upserts[0]!.occurrenceKey, change: "added" },
        { occurrenceKey: upserts[1]!.occurrenceKey, change: "updated" },
        { occurrenceKey: upserts[2]!.occurrenceKey, change: "unchanged" },
      ],
      new Map([[gone.occurrenceKey, "source-removed" as RemovalReason]]),
    );
    expect(applied).toEqual({ added: 1, updated: 1, removed: 1, unchanged: 1 });
    expect(log.map((e) => e.kind)).toEqual(["meeting.added", "meeting.updated", "meeting.removed"]);
    expect(log[0]!.data).toMatchObject({ subjectShown: "Planning" });
    expect(JSON.stringify(log[1])).not.toContain("Layoffs");
    expect(log[2]).toMatchObject({ message: "removed (source-removed)", data: { reason: "source-removed", route: "direct" } });
  });
});

describe("reconcileMail", () => {
  it("leaves the calendar's copy alone unless it lost its join", () => {
    const stripped = stored(occurrence());
    const withJoin = stored(occurrence({ sourceId: "AAMk2", start: "2025-03-05T12:00:00.000Z" }), { join: JOIN });
    const cancelled = stored(occurrence({ sourceId: "AAMk3", start: "2025-03-05T14:00:00.000Z", cancelled: true }));
    const merge = reconcileMail([stripped, withJoin, cancelled], { mailbox: MAILBOX, uid: "uid-1", start: "2025-03-05T10:00:00.000Z", join: JOIN });
    expect(merge).toEqual({
      kind: "calendar",
      copies: [
        { meeting: stripped, fill: true },
        { meeting: withJoin, fill: false },
        { meeting: cancelled, fill: false },
      ],
    });
    const noJoin = reconcileMail([stripped], { mailbox: MAILBOX, uid: "uid-1", start: "2025-03-05T10:00:00.000Z", join: null });
    expect(noJoin).toEqual({ kind: "calendar", copies: [{ meeting: stripped, fill: false }] });
  });

  it("stores a meeting the calendar lacks from the mail, replacing older mail copies of the UID", () => {
    const older = stored(occurrence({ start: "2025-03-05T09:00:00.000Z", raw: { format: "eml", content: "" } }));
    const series = stored(occurrence({ seriesId: "AAMkMaster", kind: "occurrence" }));
    const merge = reconcileMail([older, series], { mailbox: MAILBOX, uid: "uid-1", start: "2025-03-05T10:00:00.000Z", join: JOIN });
    expect(merge).toEqual({ kind: "mail", key: occurrenceKey(MAILBOX, "uid-1", null, "2025-03-05T10:00:00.000Z"), replaces: [older.occurrenceKey] });
  });
});
