/**
 * The meeting reconciliation rules: which stored occurrences a calendar round or an invite mail
 * writes, which it removes and why, and the audit entries that account for it. Pure: no I/O, no
 * clock (callers pass `now`). The CalendarPoller and raw-mail ingest (mime/mime-ingest.ts) both
 * apply these rules through the store; a new calendar source reuses them as they are.
 *
 * The rules:
 * - one single meeting has one row per UID in a room. Graph's copy (any calendar API's) wins: a
 *   raw-mail copy of the same single meeting merges into it (`merged`), and lends it its join when
 *   the room stripped the body; an invite mail for a meeting the calendar already has leaves the
 *   calendar's copy alone unless that copy lost its join.
 * - a single meeting that moved gets a new key; its old row goes (`moved`).
 * - what the source reports removed goes (`source-removed`); a full round removes everything it
 *   did not list (`not-in-full-round`), except raw-mail meetings the calendar never had while they
 *   are current.
 * - a newer invite mail for a UID replaces the older mail copy (`replaced`).
 */

import type { Join } from "../core/domain.ts";
import { occurrenceKey } from "../core/identities.ts";
import type { SourceOccurrence } from "../core/ports/calendar-source.ts";
import type { Meeting, MeetingUpsert, MeetingUpsertResult, NewLoggedEvent } from "../core/ports/store.ts";
import { isPrivate } from "../core/privacy.ts";

/** Why a stored occurrence is removed. */
export type RemovalReason = "moved" | "merged" | "source-removed" | "not-in-full-round" | "replaced";

/** Counts of one room's round. */
export interface Applied {
  added: number;
  updated: number;
  removed: number;
  unchanged: number;
}

// ------------------------------------------------------------------------ calendar rounds

/** The raw-mail copies of a single occurrence (same UID) that its calendar copy absorbs. */
export function mailCopiesOf(existing: readonly Meeting[], occurrence: SourceOccurrence): Meeting[] {
  return occurrence.kind === "single" && occurrence.uid !== null ? existing.filter((m) => m.source === "mime" && m.icalUid === occurrence.uid) : [];
}

/**
 * What an occurrence of a round is planned against: its stored row, else a raw-mail copy of it
 * (whose join fills a stripped body), else nothing.
 */
export function previousOf(existing: readonly Meeting[], byKey: ReadonlyMap<string, Meeting>, mailbox: string, occurrence: SourceOccurrence): Meeting | null {
  const key = occurrenceKey(mailbox, occurrence.uid, occurrence.recurrenceId, occurrence.start);
  return byKey.get(key) ?? mailCopiesOf(existing, occurrence)[0] ?? null;
}

/** One changed occurrence of a round and what it maps to. */
export interface RoundChange {
  readonly occurrence: SourceOccurrence;
  readonly upsert: MeetingUpsert;
}

export interface RoundInput {
  /** The room's stored meetings before the round (cancelled ones included). */
  readonly existing: readonly Meeting[];
  readonly changes: readonly RoundChange[];
  /** Source event ids the source reported removed. */
  readonly removedIds: readonly string[];
  /** Whether the round listed the whole window starting at `windowStart`. */
  readonly full: boolean;
  readonly windowStart: Date;
}

/** What a round writes, in the order the store applies it. */
export interface RoundPlan {
  readonly upserts: readonly MeetingUpsert[];
  /** Rows the round's occurrences replace (`moved`, `merged`), by key; removed after the upserts. */
  readonly stale: ReadonlyMap<string, RemovalReason>;
  /** Source event ids whose rows go (`source-removed`). */
  readonly removedSourceIds: readonly string[];
  /**
   * A full round: the room keeps only `keep`, and `keepUnlessRemoved` (current raw-mail meetings)
   * when the steps before did not remove them; the rest goes (`not-in-full-round`). Null otherwise.
   */
  readonly fullRound: { readonly keep: readonly string[]; readonly keepUnlessRemoved: readonly string[] } | null;
}

/** The reconciliation of one room's round (see the module comment). */
export function reconcileRound(input: RoundInput): RoundPlan {
  const { existing } = input;
  const upserts: MeetingUpsert[] = [];
  const stale = new Map<string, RemovalReason>();
  for (const { occurrence, upsert } of input.changes) {
    const key = upsert.occurrenceKey;
    upserts.push(upsert);
    for (const m of existing) {
      if (m.occurrenceKey === key) continue;
      if (m.sourceEventId === occurrence.sourceId) stale.set(m.occurrenceKey, "moved");
    }
    for (const m of mailCopiesOf(existing, occurrence)) if (m.occurrenceKey !== key) stale.set(m.occurrenceKey, "merged");
  }
  const keys = new Set(upserts.map((u) => u.occurrenceKey));
  for (const key of keys) stale.delete(key);
  let fullRound: RoundPlan["fullRound"] = null;
  if (input.full) {
    const windowStart = input.windowStart.getTime();
    const keepUnlessRemoved = existing
      .filter((m) => m.source === "mime" && !stale.has(m.occurrenceKey) && m.end.getTime() > windowStart)
      .map((m) => m.occurrenceKey);
    fullRound = { keep: [...keys], keepUnlessRemoved };
  }
  return { upserts, stale, removedSourceIds: input.removedIds, fullRound };
}

/** The keys a full round keeps, given what the round removed before. */
export function fullRoundKeep(fullRound: NonNullable<RoundPlan["fullRound"]>, removed: ReadonlyMap<string, RemovalReason>): string[] {
  const keep = new Set(fullRound.keep);
  for (const key of fullRound.keepUnlessRemoved) if (!removed.has(key)) keep.add(key);
  return [...keep];
}

/**
 * The audit entries and counts of a round, from what the store reported: one entry per added or
 * updated occurrence and one per removed row (with the reason and, when known, its start and route).
 */
export function roundAccount(
  now: Date,
  roomId: string,
  existing: readonly Meeting[],
  upserts: readonly MeetingUpsert[],
  results: readonly MeetingUpsertResult[],
  removed: ReadonlyMap<string, RemovalReason>,
): { log: NewLoggedEvent[]; applied: Applied } {
  const log: NewLoggedEvent[] = [];
  const applied: Applied = { added: 0, updated: 0, removed: removed.size, unchanged: 0 };
  const byUpsertKey = new Map(upserts.map((u) => [u.occurrenceKey, u]));
  for (const r of results) {
    if (r.change === "unchanged") {
      applied.unchanged++;
      continue;
    }
    applied[r.change]++;
    log.push(meetingEvent(`meeting.${r.change}`, now, byUpsertKey.get(r.occurrenceKey)!));
  }
  const byKey = new Map(existing.map((m) => [m.occurrenceKey, m]));
  for (const [key, reason] of removed) {
    const before = byKey.get(key);
    log.push({
      at: now,
      kind: "meeting.removed",
      roomId,
      occurrenceKey: key,
      message: `removed (${reason})`,
      data: { reason, ...(before ? { start: before.start.toISOString(), route: before.route } : {}) },
    });
  }
  return { log, applied };
}

/** An audit entry for an added or updated occurrence: never a private meeting's subject, never a passcode. */
function meetingEvent(kind: string, now: Date, m: MeetingUpsert): NewLoggedEvent {
  const shown = isPrivate(m) ? null : m.subjectShown;
  return {
    at: now,
    kind,
    roomId: m.roomId,
    occurrenceKey: m.occurrenceKey,
    message: `${kind === "meeting.added" ? "added" : "updated"}: ${m.start.toISOString()} route ${m.route} (${m.rule ?? "none"})${m.cancelled ? ", cancelled" : ""}${m.declined ? ", declined" : ""}`,
    data: {
      start: m.start.toISOString(),
      end: m.end.toISOString(),
      route: m.route,
      rule: m.rule,
      cancelled: m.cancelled,
      declined: m.declined,
      source: m.source,
      ...(shown !== null ? { subjectShown: shown } : {}),
    },
  };
}

// ------------------------------------------------------------------------ invite mail

/** How an invite mail for a single meeting (`uid` at `start`) merges into the room's stored copies of that UID. */
export type MailMerge =
  /** The calendar has the meeting: each of its copies either takes the mail's join (`fill`) or stays as it is. */
  | { readonly kind: "calendar"; readonly copies: ReadonlyArray<{ readonly meeting: Meeting; readonly fill: boolean }> }
  /** The calendar does not: the mail is stored under `key`, replacing older mail copies (`replaces`). */
  | { readonly kind: "mail"; readonly key: string; readonly replaces: readonly string[] };

/** The merge of one invite mail for a single meeting (see the module comment). `sameUid`: the room's stored rows of that UID. */
export function reconcileMail(
  sameUid: readonly Meeting[],
  mail: { readonly mailbox: string; readonly uid: string; readonly start: string; readonly join: Join | null },
): MailMerge {
  const calendar = sameUid.filter((m) => m.source === "graph" && m.seriesMasterId === null);
  if (calendar.length > 0) {
    return { kind: "calendar", copies: calendar.map((meeting) => ({ meeting, fill: meeting.join === null && mail.join !== null && !meeting.cancelled })) };
  }
  const key = occurrenceKey(mail.mailbox, mail.uid, null, mail.start);
  return { kind: "mail", key, replaces: sameUid.filter((m) => m.source === "mime" && m.occurrenceKey !== key).map((m) => m.occurrenceKey) };
}

/** The audit entry of a mail copy replaced by a newer invite mail. */
export function replacedEvent(now: Date, roomId: string, key: string): NewLoggedEvent {
  return { at: now, kind: "meeting.removed", roomId, occurrenceKey: key, message: "removed (replaced by a newer invite mail)", data: { reason: "replaced" } };
}

/** The audit entry of an occurrence added or updated from an invite mail: never a private meeting's subject. */
export function mailEvent(now: Date, change: "added" | "updated", key: string, upsert: MeetingUpsert): NewLoggedEvent {
  return {
    at: now,
    kind: `meeting.${change}`,
    roomId: upsert.roomId,
    occurrenceKey: key,
    message: `${change} from invite mail: ${upsert.start.toISOString()} route ${upsert.route} (${upsert.rule ?? "none"})`,
    data: {
      source: "mime",
      start: upsert.start.toISOString(),
      route: upsert.route,
      rule: upsert.rule,
      cancelled: upsert.cancelled,
      ...(isPrivate(upsert) ? {} : { subjectShown: upsert.subjectShown }),
    },
  };
}
