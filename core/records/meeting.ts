/** One meeting occurrence in one room's calendar, and the plan of how the room joins it. */
import type { IvrFallback, Join, Route, Sensitivity } from "../domain.ts";

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
