/**
 * From what a calendar says to what otj stores: one occurrence (a Graph event, or an invite read
 * from raw mail) is parsed, planned for its room and turned into a MeetingUpsert with a content
 * hash; and the sync window a room's cursor covers. Pure apart from the
 * parser's own work; no I/O, no clock (callers pass `now`).
 */

import { createHash } from "node:crypto";
import { stripControlCharacters, stripPersonControls } from "../core/control-characters.ts";
import type { Invite, Join } from "../core/domain.ts";
import { occurrenceKey } from "../core/identities.ts";
import type { PlanResult } from "../core/plan.ts";
import type { SourceOccurrence, TimeWindow } from "../core/ports/calendar-source.ts";
import type { MeetingPlanner } from "../core/ports/meeting-planner.ts";
import type { Meeting, MeetingUpsert, Provider, Room, RoomPrivacy } from "../core/ports/store.ts";
import { isPrivate } from "../core/privacy.ts";
import { EMPTY_META, type InviteDetail, parseGoogleEvent, parseGraphEvent, parseInviteDetailed } from "../parser/index.ts";

const DAY_MS = 86_400_000;
const HOUR_MS = 3_600_000;

/** The `poll.*` keys that shape the window. */
export interface WindowSettings {
  readonly windowPastHours: number;
  readonly windowFutureDays: number;
}

/** The range otj shows: `[now - windowPastHours, now + windowFutureDays]`. */
export function liveWindow(now: Date, settings: WindowSettings): { from: Date; to: Date } {
  return {
    from: new Date(now.getTime() - settings.windowPastHours * HOUR_MS),
    to: new Date(now.getTime() + settings.windowFutureDays * DAY_MS),
  };
}

/**
 * The fixed window a room's cursor should cover at `now`: the stored one while it still covers the
 * live window (so the cursor stays valid), else a new one seeded on today's UTC midnight D:
 * `[D - windowPastHours, D + windowFutureDays + 1 day]`. A new window means a full round.
 */
export function syncWindowFor(now: Date, settings: WindowSettings, stored: { start: Date | null; end: Date | null } | null): TimeWindow {
  const live = liveWindow(now, settings);
  if (stored?.start && stored.end && stored.start.getTime() <= live.from.getTime() && stored.end.getTime() >= live.to.getTime()) {
    return { start: stored.start.toISOString(), end: stored.end.toISOString() };
  }
  const day = Math.floor(now.getTime() / DAY_MS) * DAY_MS;
  return {
    start: new Date(day - settings.windowPastHours * HOUR_MS).toISOString(),
    end: new Date(day + (settings.windowFutureDays + 1) * DAY_MS).toISOString(),
  };
}

/** What planning a room's occurrences needs besides the occurrence. */
export interface PlanningContext {
  readonly room: Room;
  /** Every configured provider. */
  readonly providers: readonly Provider[];
  /** Plans the occurrence for the room (join/, with the compiled `join.rules`). */
  readonly planner: MeetingPlanner<InviteDetail>;
  readonly now: Date;
}

export interface MappedOccurrence {
  readonly upsert: MeetingUpsert;
  readonly plan: PlanResult;
  /** Parser warnings (never secrets). */
  readonly warnings: readonly string[];
}

/**
 * The subject otj may store: a private meeting's subject only when the room's privacy shows it
 * (subjects never replaced, or a template that prints `{subject}`).
 */
export function storedSubject(invite: Pick<Invite, "subject" | "sensitivity">, privacy: RoomPrivacy): string | null {
  if (!isPrivate(invite)) return invite.subject;
  if (privacy.privateMeetings === "skip") return null;
  if (privacy.subjectReplace === "never" || privacy.subjectTemplate.includes("{subject}")) return invite.subject;
  return null;
}

const EMPTY_CONTEXT: InviteDetail["context"] = {
  text: "",
  location: "",
  printedVideoAddresses: [],
  providerLink: null,
  providerPasscode: null,
  providerMeetingNumber: null,
};

async function parseRaw(occurrence: SourceOccurrence): Promise<{ detail: InviteDetail | null; warnings: string[] }> {
  const { raw } = occurrence;
  if (raw.format === "graph" || raw.format === "google") {
    const name = raw.format === "graph" ? "Graph" : "Google";
    let event: unknown;
    try {
      event = JSON.parse(raw.content);
    } catch {
      return { detail: null, warnings: [`the raw ${name} event is not JSON`] };
    }
    if (event === null || typeof event !== "object" || Array.isArray(event)) return { detail: null, warnings: [`the raw ${name} event is not an object`] };
    const parsed = (raw.format === "graph" ? parseGraphEvent : parseGoogleEvent)(event as Record<string, unknown>);
    return { detail: parsed.details[0] ?? null, warnings: parsed.warnings };
  }
  const parsed = await parseInviteDetailed(raw.content, { format: raw.format });
  const detail = parsed.details.find((d) => d.invite.uid === occurrence.uid) ?? parsed.details[0] ?? null;
  return { detail, warnings: parsed.warnings };
}

/**
 * Parses and plans one occurrence for its room (see mapParsedOccurrence).
 */
export async function mapOccurrence(occurrence: SourceOccurrence, ctx: PlanningContext, previous: Meeting | null = null): Promise<MappedOccurrence> {
  const { detail, warnings } = await parseRaw(occurrence);
  const mapped = mapParsedOccurrence(occurrence, detail, ctx, previous);
  return { ...mapped, warnings: [...warnings, ...mapped.warnings] };
}

/**
 * Plans one occurrence whose raw form is already parsed (`detail`; null when unreadable).
 *
 * The occurrence's own identity and time (uid, recurrence id, start, end, sensitivity, cancelled)
 * win over what the parser reads, so the plan's occurrence key and SGJ session id are the stored
 * ones. When the room stripped the body and nothing joinable is left, the join of `previous`
 * (e.g. merged from the raw invite mail) is kept. `raw.format` decides the stored `source`
 * (`graph`, else `mime`).
 */
export function mapParsedOccurrence(
  occurrence: SourceOccurrence,
  parsed: InviteDetail | null,
  ctx: PlanningContext,
  previous: Meeting | null = null,
): MappedOccurrence {
  const base: Invite = parsed?.invite ?? { ...EMPTY_META, join: null, alternatives: [] };
  let invite: Invite = {
    ...base,
    uid: occurrence.uid,
    recurrenceId: occurrence.recurrenceId,
    start: occurrence.start,
    end: occurrence.end,
    subject: stripControlCharacters(occurrence.subject),
    organizer: stripPersonControls(occurrence.organizer ?? base.organizer),
    sensitivity: occurrence.sensitivity,
    cancelled: occurrence.cancelled || base.cancelled,
  };
  if (invite.join === null && previous?.join && !occurrence.hasBody) invite = { ...invite, join: previous.join };
  const detail: InviteDetail = { invite, context: parsed?.context ?? EMPTY_CONTEXT };
  const key = occurrenceKey(ctx.room.mailbox, occurrence.uid, occurrence.recurrenceId, occurrence.start);
  const plan = ctx.planner.plan(detail, ctx.room, ctx.providers, ctx.now);
  // Read from a calendar API (not from mail): the store names that `graph` whichever API it was.
  const graph = occurrence.raw.format === "graph" || occurrence.raw.format === "google";
  const fields = {
    occurrenceKey: key,
    roomId: ctx.room.id,
    source: graph ? ("graph" as const) : ("mime" as const),
    sourceEventId: graph ? occurrence.sourceId : null,
    seriesMasterId: occurrence.seriesId,
    icalUid: occurrence.uid,
    changeKey: occurrence.changeKey,
    start: new Date(occurrence.start),
    end: new Date(occurrence.end),
    subject: storedSubject(invite, ctx.room.privacy),
    organizerName: invite.organizer?.name ?? null,
    organizerEmail: invite.organizer?.email ?? null,
    sensitivity: invite.sensitivity,
    cancelled: invite.cancelled,
    declined: occurrence.roomResponse === "declined",
    join: invite.join,
    route: plan.entry.route,
    dialString: plan.entry.dialString,
    ivr: plan.entry.ivr,
    rule: plan.entry.rule,
    subjectShown: plan.entry.subjectShown,
  };
  // The account is derived from the same inputs as the plan: kept, but not part of the hash.
  const explain = { matchedText: plan.matchedText, trace: plan.trace };
  return { upsert: { ...fields, explain, contentHash: meetingHash(fields) }, plan, warnings: [] };
}

/**
 * The content hash of a stored occurrence: everything the source said that otj keeps, plus the
 * plan. The change key is left out, so an edit that changes nothing otj keeps (an agenda line)
 * writes nothing and wakes nobody.
 */
export function meetingHash(m: Omit<MeetingUpsert, "contentHash">): string {
  const material = [
    m.occurrenceKey,
    m.roomId,
    m.source,
    m.sourceEventId,
    m.seriesMasterId,
    m.icalUid,
    m.start.toISOString(),
    m.end.toISOString(),
    m.subject,
    m.organizerName,
    m.organizerEmail,
    m.sensitivity,
    m.cancelled,
    m.declined,
    joinMaterial(m.join),
    m.route,
    m.dialString,
    m.ivr,
    m.rule,
    m.subjectShown,
  ];
  return createHash("sha256").update(JSON.stringify(material)).digest("base64url").slice(0, 32);
}

function joinMaterial(join: Join | null): unknown {
  return join === null ? null : [join.provider, join.url, join.sipUri, join.teams];
}
