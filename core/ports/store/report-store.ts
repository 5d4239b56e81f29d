import type { StoreCallOptions } from "./options.ts";

/** A report's days: `from` (inclusive) to `to` (exclusive), days counted in `timeZone` (IANA). */
export interface ReportRange {
  from: Date;
  to: Date;
  timeZone: string;
}

/** Counts computed by the database (history is never loaded into memory for a report). */
export interface ReportStore {
  /** Bridge sessions due in the range, per local day (`YYYY-MM-DD`) and state. */
  sessionsPerDay(range: ReportRange, options?: StoreCallOptions): Promise<Array<{ day: string; state: string; count: number }>>;
  /** Meetings (not cancelled or declined) starting in the range, per local day and route. */
  meetingsPerDay(range: ReportRange, options?: StoreCallOptions): Promise<Array<{ day: string; route: string; count: number }>>;
  /**
   * The rooms with most failures in the range (failed, timed-out or denied bridge sessions and
   * logged poll errors), most first, at most `limit`.
   */
  roomFailures(
    range: ReportRange,
    limit: number,
    options?: StoreCallOptions,
  ): Promise<Array<{ roomId: string; mailbox: string; displayName: string; failedSessions: number; pollErrors: number }>>;
}
