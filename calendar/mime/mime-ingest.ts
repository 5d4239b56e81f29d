/**
 * Raw invite mail into a room's meetings (docs/deploy-microsoft-365.md).
 *
 * The mail goes through the same parser as everything else. A single meeting merges with Graph's
 * copy by iCalUId: Graph keeps the identity and time, and when the room stripped its copy's body
 * (nothing joinable left) the mail's join fills it in. A single meeting Graph does not have is
 * stored from the mail (`source: mime`), replacing an older mail copy of the same UID. Series and
 * their occurrences come from Graph only (their per-occurrence iCalUIds differ from the mail's
 * UID), so they are planned and reported but not stored. The merge rules are the calendar round's
 * (../reconcile.ts reconcileMail); planning goes through the injected MeetingPlanner.
 */

import type { Clock } from "../../core/clock.ts";
import type { Person } from "../../core/domain.ts";
import type { PlanEntry } from "../../core/plan.ts";
import type { SourceOccurrence } from "../../core/ports/calendar-source.ts";
import type { MeetingPlanner } from "../../core/ports/meeting-planner.ts";
import { NO_OCCURRENCE_SINK, type OccurrenceSink } from "../../core/ports/occurrence-sink.ts";
import type { Meeting, MeetingUpsert, NewLoggedEvent, Room, Store, StoreCallOptions } from "../../core/ports/store.ts";
import { type InviteDetail, parseInviteDetailed } from "../../parser/index.ts";
import { mapParsedOccurrence, type PlanningContext } from "../occurrence-mapper.ts";
import { mailEvent, reconcileMail, replacedEvent } from "../reconcile.ts";

export interface MimeIngestDeps {
  readonly store: Pick<Store, "meetings" | "providers" | "eventLog">;
  readonly clock: Pick<Clock, "now">;
  /** Plans each invite for the room (join/ implements it with the compiled `join.rules`). */
  readonly planner: MeetingPlanner<InviteDetail>;
  readonly sink?: OccurrenceSink;
}

/** What happened to one invite of the mail. */
export type IngestChange =
  /** Stored from the mail (a meeting Graph does not have). */
  | "added"
  /** The stored mail copy changed; or Graph's copy got the mail's join. */
  | "updated"
  /** Already stored exactly so. */
  | "unchanged"
  /** Graph's copy stays as it is (it has a join of its own, or is the truth for time and state). */
  | "merged"
  /** Planned but not stored (a series, or no UID/time). */
  | "skipped";

/** One invite's plan entry (docs/cli.md PlanOutput item) plus where it went. */
export interface IngestedInvite extends PlanEntry {
  readonly occurrenceKey: string | null;
  readonly change: IngestChange;
  /** Why it was merged or skipped, else null. */
  readonly note: string | null;
}

export interface IngestResult {
  readonly invites: readonly IngestedInvite[];
  readonly warnings: readonly string[];
  /** Whether the room's stored meetings changed (the sink was called). */
  readonly changed: boolean;
}

/** Parses `mail` (MIME, or an .ics/Graph JSON file) and merges its invites into `room`'s meetings. */
export async function ingestMail(
  mail: Buffer | string,
  room: Room,
  deps: MimeIngestDeps,
  options: { filename?: string; signal?: AbortSignal } = {},
): Promise<IngestResult> {
  const parsed = await parseInviteDetailed(mail, { format: "auto", ...(options.filename ? { filename: options.filename } : {}) });
  const result = await mergeInvites(parsed.details, room, deps, options.signal);
  return { ...result, warnings: [...parsed.warnings, ...result.warnings] };
}

/** Merges already parsed invites into `room`'s meetings (see the module comment). */
export async function mergeInvites(details: readonly InviteDetail[], room: Room, deps: MimeIngestDeps, signal?: AbortSignal): Promise<IngestResult> {
  const options: StoreCallOptions = signal ? { signal } : {};
  const now = deps.clock.now();
  const ctx: PlanningContext = { room, providers: await deps.store.providers.list(options), planner: deps.planner, now };
  const invites: IngestedInvite[] = [];
  const log: NewLoggedEvent[] = [];
  let changed = false;
  for (const detail of details) {
    const inv = detail.invite;
    const skip = (note: string): void => {
      const plan = ctx.planner.plan(detail, room, ctx.providers, now);
      invites.push({ ...plan.entry, occurrenceKey: null, change: "skipped", note });
    };
    if (inv.recurring || inv.recurrenceId !== null) {
      skip("series occurrences come from Graph");
      continue;
    }
    if (inv.uid === null || inv.start === null || inv.end === null) {
      skip("no UID or no start/end: nothing to merge");
      continue;
    }
    const existing = await deps.store.meetings.findByIcalUid(room.id, inv.uid, options);
    const merge = reconcileMail(existing, { mailbox: room.mailbox, uid: inv.uid, start: inv.start, join: inv.join });
    const upserts: Array<{ upsert: MeetingUpsert; entry: PlanEntry }> = [];
    if (merge.kind === "calendar") {
      for (const { meeting: copy, fill } of merge.copies) {
        const mapped = mapParsedOccurrence(fromStored(copy), detail, ctx, null);
        const entry = { ...mapped.plan.entry };
        if (fill) {
          upserts.push({ upsert: mapped.upsert, entry });
        } else {
          invites.push({ ...storedEntry(copy, inv.uid), occurrenceKey: copy.occurrenceKey, change: "merged", note: "Graph's copy is kept" });
        }
      }
    } else {
      const occurrence = fromInvite(inv.uid, inv.start, inv.end, inv.subject, inv.organizer, inv.sensitivity, inv.cancelled);
      const mapped = mapParsedOccurrence(occurrence, detail, ctx, null);
      upserts.push({ upsert: mapped.upsert, entry: mapped.plan.entry });
      if (merge.replaces.length > 0) {
        for (const key of await deps.store.meetings.remove(merge.replaces, options)) {
          changed = true;
          log.push(replacedEvent(now, room.id, key));
        }
      }
    }
    if (upserts.length === 0) continue;
    const results = await deps.store.meetings.upsert(
      upserts.map((u) => u.upsert),
      now,
      options,
    );
    results.forEach((r, i) => {
      const { upsert, entry } = upserts[i]!;
      const mergedIntoGraph = upsert.source === "graph";
      invites.push({
        ...entry,
        occurrenceKey: r.occurrenceKey,
        change: r.change === "unchanged" ? "unchanged" : mergedIntoGraph ? "updated" : r.change,
        note: mergedIntoGraph ? "the mail's join fills Graph's stripped copy" : null,
      });
      if (r.change !== "unchanged") {
        changed = true;
        log.push(mailEvent(now, r.change, r.occurrenceKey, upsert));
      }
    });
  }
  if (log.length > 0) await deps.store.eventLog.append(log, options);
  if (changed) await (deps.sink ?? NO_OCCURRENCE_SINK).roomUpdated(room.id, now, signal);
  return { invites, warnings: [], changed };
}

function fromInvite(
  uid: string,
  start: string,
  end: string,
  subject: string | null,
  organizer: Person | null,
  sensitivity: SourceOccurrence["sensitivity"],
  cancelled: boolean,
): SourceOccurrence {
  return {
    sourceId: `mime:${uid}`,
    uid,
    seriesId: null,
    kind: "single",
    start,
    end,
    recurrenceId: null,
    allDay: false,
    subject,
    organizer,
    sensitivity,
    cancelled,
    roomResponse: "accepted",
    onlineMeetingUrl: null,
    hasBody: true,
    changeKey: null,
    lastModified: null,
    raw: { format: "eml", content: "" },
  };
}

/** Graph's stored copy as an occurrence: its identity, time and state win over the mail's. */
function fromStored(m: Meeting): SourceOccurrence {
  return {
    sourceId: m.sourceEventId ?? m.occurrenceKey,
    uid: m.icalUid,
    seriesId: m.seriesMasterId,
    kind: "single",
    start: m.start.toISOString(),
    end: m.end.toISOString(),
    recurrenceId: null,
    allDay: false,
    subject: m.subject,
    organizer: m.organizerName === null && m.organizerEmail === null ? null : { name: m.organizerName, email: m.organizerEmail },
    sensitivity: m.sensitivity,
    cancelled: m.cancelled,
    roomResponse: m.declined ? "declined" : "accepted",
    onlineMeetingUrl: null,
    hasBody: false,
    changeKey: m.changeKey,
    lastModified: null,
    raw: { format: "graph", content: "" },
  };
}

function storedEntry(m: Meeting, uid: string): PlanEntry {
  return { uid, route: m.route, dialString: m.dialString, ivr: m.ivr, rule: m.rule ?? "none", warnings: [], subjectShown: m.subjectShown };
}
