/**
 * What planning one occurrence for one room yields (docs/cli.md PlanOutput item, plus the account
 * `explain` shows). Produced by join/ (the planner), consumed by calendar/ through the
 * MeetingPlanner port and by app/ for the CLI.
 */
import type { IvrFallback, Route } from "./domain.ts";

export interface PlanEntry {
  uid: string | null;
  route: Route;
  dialString: string | null;
  ivr: IvrFallback | null;
  rule: string;
  warnings: string[];
  subjectShown: string | null;
}

export interface RuleTrace {
  rule: string;
  outcome: "matched" | "not matched" | "not reached";
  reason: string;
}

export interface PlanResult {
  entry: PlanEntry;
  occurrenceKey: string;
  sessionId: string;
  /** The text the deciding rule matched (a URL, coordinates, an address), for explain. */
  matchedText: string | null;
  trace: RuleTrace[];
}
