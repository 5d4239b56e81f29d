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
  /**
   * Lobby waits of the sessions that entered the lobby in the range, per local day of entering:
   * the seconds from entering to being admitted, denied or timing out (p50 and p95), from the
   * event log's `bridge.*` entries. Sessions still in the lobby are left out.
   */
  lobbyWaitsPerDay(range: ReportRange, options?: StoreCallOptions): Promise<Array<{ day: string; sessions: number; p50Seconds: number; p95Seconds: number }>>;
  /** Device pushes in the range per local day: `ok` (bookings written) and `failed` attempts. */
  pushesPerDay(range: ReportRange, options?: StoreCallOptions): Promise<Array<{ day: string; outcome: string; count: number }>>;
}
