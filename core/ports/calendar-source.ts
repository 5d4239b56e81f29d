/**
 * CalendarSource: where room calendars come from.
 *
 * Glossary (in addition to core/domain.ts)
 * - window: the fixed time range `[start, end)` one sync cursor covers; moving it means a new
 *   full round.
 * - round: one synchronisation of one room: every page up to a new cursor.
 * - cursor: an opaque continuation handed back by the source after a complete round; the next
 *   round for the same window starts from it and returns only what changed since.
 * - full round: a round that started from nothing (first sync, new window, or a cursor the
 *   calendar system no longer accepts). It lists every occurrence of the window, so anything the
 *   caller stored for the room and the round did not return is gone.
 * - source id: the calendar system's id of one occurrence (case-sensitive, stable).
 *
 * Nothing of the calendar system's own types crosses this port; adapters live under
 * calendar/<tech>/ (calendar/graph/ for Microsoft Graph).
 */

import type { OtjError } from "../errors.ts";
import type { CalendarSourceName, Person, Sensitivity } from "../domain.ts";

/** A time range `[start, end)`, both ISO 8601 UTC with milliseconds. */
export interface TimeWindow {
  readonly start: string;
  readonly end: string;
}

/**
 * Where the next round of one room continues. Opaque to everything but the source that made it;
 * store it as is (both fields) and hand it back unchanged.
 */
export interface SyncCursor {
  /** Opaque continuation; may be long (a URL of a few hundred characters). */
  readonly token: string;
  /** The window the cursor is bound to. */
  readonly window: TimeWindow;
}

/** `single` meeting, `occurrence` of a series as scheduled, or `exception` (a moved/edited occurrence). */
export type OccurrenceKind = "single" | "occurrence" | "exception";

/** The room's own answer to the meeting. `declined` means the room is not booked. */
export type RoomResponse = "accepted" | "tentative" | "declined" | "none";

/** The raw form of one occurrence as the calendar system delivered it, for the parser. */
export interface RawInvite {
  /** The parser format to read `content` with (`graph` = one Graph event as JSON, `google` = one Google Calendar event as JSON). */
  readonly format: "graph" | "google" | "ics" | "eml";
  /** The event exactly as received, serialised (UTF-8 text). */
  readonly content: string;
}

/** One occurrence in one room's calendar, as the source reports it. */
export interface SourceOccurrence {
  /** The source's id of this occurrence (case-sensitive). Removals name this id. */
  readonly sourceId: string;
  /** The invitation's UID (Graph iCalUId: one per occurrence of a series). */
  readonly uid: string | null;
  /** Source id of the series this occurrence belongs to, null for a single meeting. */
  readonly seriesId: string | null;
  readonly kind: OccurrenceKind;
  /** ISO 8601 UTC with milliseconds. */
  readonly start: string;
  readonly end: string;
  /** For `occurrence`/`exception`: its original slot in the series (ISO UTC ms); else null. */
  readonly recurrenceId: string | null;
  readonly allDay: boolean;
  /** As stored in the room's copy (may be the organiser's name when the room rewrites subjects). */
  readonly subject: string | null;
  readonly organizer: Person | null;
  readonly sensitivity: Sensitivity;
  readonly cancelled: boolean;
  readonly roomResponse: RoomResponse;
  /** The online meeting's join URL when the calendar system carries one outside the body. */
  readonly onlineMeetingUrl: string | null;
  /** Whether the room's copy still has a non-empty body (rooms may strip it). */
  readonly hasBody: boolean;
  /** Changes whenever the occurrence changes; equal values mean nothing changed. */
  readonly changeKey: string | null;
  /** ISO UTC ms, or null when unknown. */
  readonly lastModified: string | null;
  readonly raw: RawInvite;
}

/** Why a round was a full one. */
export type FullRoundReason = "initial" | "window-changed" | "cursor-expired";

/** The outcome of one complete round for one room. */
export interface RoomSyncResult {
  /** Lowercased mailbox address. */
  readonly mailbox: string;
  /** The round listed the whole window (see the glossary); `reason` says why. */
  readonly full: boolean;
  readonly reason: FullRoundReason | null;
  /**
   * Occurrences added or changed (everything, for a full round). Each source id appears once
   * (the last state seen in the round); an unchanged `changeKey` means a replay.
   */
  readonly changed: readonly SourceOccurrence[];
  /**
   * Source ids that left the window view (deleted, or moved/changed outside the window). Not a
   * proof of cancellation; ids the caller does not know are to be ignored. Never also in `changed`.
   */
  readonly removedIds: readonly string[];
  /** Store it; the next round starts from it. */
  readonly cursor: SyncCursor;
  /** Entries skipped as unreadable and similar oddities, human-readable, never secrets. */
  readonly warnings: readonly string[];
  readonly stats: SyncStats;
}

export interface SyncStats {
  /** Pages read in this round (a restarted round counts both). */
  readonly pages: number;
  /** HTTP requests sent, retries included. */
  readonly requests: number;
  /** Requests repeated after throttling or a transient failure. */
  readonly retries: number;
  /** Milliseconds spent waiting before retries (Retry-After or backoff). */
  readonly waitedMs: number;
}

/** A room the directory knows about (a discovery aid, not the authoritative room list). */
export interface DiscoveredRoom {
  /** Lowercased mailbox address; the `mailbox` of `otj rooms add`. */
  readonly mailbox: string;
  readonly displayName: string;
  readonly capacity: number | null;
  readonly building: string | null;
  readonly floor: string | null;
  /** The room lists that contain the room (mailbox lowercased). */
  readonly roomLists: readonly { readonly mailbox: string; readonly displayName: string }[];
}

/** The result of probing one mailbox. */
export type RoomCheck = { readonly mailbox: string; readonly ok: true } | { readonly mailbox: string; readonly ok: false; readonly error: OtjError };

/** What the caller already knows of the room (from its lease), so a source need not look it up. */
export interface RoomHints {
  /** The room's calendar system (a source serving several systems picks its adapter by it). */
  readonly source?: CalendarSourceName;
}

export interface CalendarSource {
  /**
   * Runs one complete round for one room.
   *
   * - `cursor` null, or bound to another window than `window`: a full round for `window`.
   * - A cursor the calendar system no longer accepts: a full round for `window`, reason
   *   `cursor-expired` (the caller then removes what the round did not return).
   * - Throttling and transient failures are retried a bounded number of times, waiting as the
   *   service asks; waits never exceed the round's time budget.
   *
   * Idempotent: running it twice with the same cursor returns the same (or a superset of the)
   * changes. Commits nothing anywhere; the caller stores the result.
   *
   * @throws OtjError `OTJ_GRAPH_THROTTLED` / `OTJ_GRAPH_UNAVAILABLE` (retryable; `details.retryAfterMs`
   *   when the service named a wait), `OTJ_GRAPH_ACCESS_DENIED`, `OTJ_GRAPH_NOT_FOUND`,
   *   `OTJ_GRAPH_AUTH`, `OTJ_GRAPH_BAD_RESPONSE`, `OTJ_GRAPH_REQUEST_INVALID`, or
   *   `OTJ_CALENDAR_DELTA_LOOP` when a guard (page cap, repeated page, time budget) stopped the
   *   round; in every case the previous cursor stays valid. Aborting `signal` rejects with its reason.
   */
  syncRoom(mailbox: string, cursor: SyncCursor | null, window: TimeWindow, signal: AbortSignal, hints?: RoomHints): Promise<RoomSyncResult>;

  /**
   * Lists the rooms of the directory with the room lists that hold them. Rooms hidden from the
   * address book are not listed.
   * @throws OtjError as `syncRoom` (not the delta ones).
   */
  listRooms(signal: AbortSignal): Promise<DiscoveredRoom[]>;

  /**
   * Probes whether each mailbox can be read. Never throws for one mailbox's failure: each gets
   * its own result, in the order given. Rejects only when `signal` aborts or credentials fail
   * for all (`OTJ_GRAPH_AUTH`).
   */
  checkRooms(mailboxes: readonly string[], signal: AbortSignal): Promise<RoomCheck[]>;

  /**
   * Obtains credentials for the calendar system (readiness).
   * @throws OtjError `OTJ_GRAPH_AUTH` (not retryable) or `OTJ_GRAPH_UNAVAILABLE`.
   */
  connect(signal: AbortSignal): Promise<void>;
}
