/**
 * What every CalendarSource adapter checks the same way: the room's address, the sync window,
 * whether a cursor's window is the one asked for, and the guard error that stops a round.
 */
import { OtjError } from "../core/errors.ts";
import type { Logger } from "pino";
import type { FullRoundReason, RoomSyncResult, SourceOccurrence, SyncCursor, TimeWindow } from "../core/ports/calendar-source.ts";
import type { RoundState } from "./request-retry.ts";

/** The longest sync window an adapter accepts. */
export const MAX_WINDOW_DAYS = 1825;

const MAILBOX = /^[^\s@/\\?#%]+@[^\s@/\\?#%]+\.[^\s@/\\?#%]+$/;

/** Lowercased and trimmed; OTJ_ROOM_INVALID when it is not an address (it goes into request paths). */
export function normaliseMailbox(mailbox: string): string {
  const m = mailbox.trim().toLowerCase();
  if (!MAILBOX.test(m)) throw new OtjError("OTJ_ROOM_INVALID", `not a mailbox address: ${JSON.stringify(mailbox)}`);
  return m;
}

/** Both ends as ISO UTC ms; RangeError when empty, reversed, unreadable or too long. */
export function normaliseWindow(window: TimeWindow): TimeWindow {
  const start = Date.parse(window.start);
  const end = Date.parse(window.end);
  if (Number.isNaN(start) || Number.isNaN(end) || end <= start) {
    throw new RangeError(`invalid sync window ${window.start} .. ${window.end}`);
  }
  if (end - start > MAX_WINDOW_DAYS * 86_400_000) throw new RangeError(`sync window longer than ${MAX_WINDOW_DAYS} days`);
  return { start: new Date(start).toISOString(), end: new Date(end).toISOString() };
}

export function sameWindow(a: TimeWindow, b: TimeWindow): boolean {
  return Date.parse(a.start) === Date.parse(b.start) && Date.parse(a.end) === Date.parse(b.end);
}

export type RoundGuard = "page-cap" | "repeated-page" | "time-budget";

/** OTJ_CALENDAR_DELTA_LOOP: a guard stopped a round (the previous cursor stays valid). */
export function deltaLoop(mailbox: string, guard: RoundGuard, pages: number): OtjError {
  return new OtjError("OTJ_CALENDAR_DELTA_LOOP", `delta round for ${mailbox} stopped by the ${guard} guard after ${pages} pages`, {
    details: { mailbox, guard, pages },
  });
}

/** Why a round from `cursor` over `window` is a full one, or null when it continues the cursor. */
export function fullRoundReason(cursor: SyncCursor | null, window: TimeWindow): FullRoundReason | null {
  return cursor === null ? "initial" : sameWindow(cursor.window, window) ? null : "window-changed";
}

/** One source id's last state in a round: removed from the window view, or its occurrence. */
export type RoundItem = { removed: true } | { removed: false; occurrence: SourceOccurrence };

/** A round's items (in order of each id's last appearance) as the result's two lists. */
export function splitRoundItems(items: ReadonlyMap<string, RoundItem>): { changed: SourceOccurrence[]; removedIds: string[] } {
  const changed: SourceOccurrence[] = [];
  const removedIds: string[] = [];
  for (const [id, item] of items) {
    if (item.removed) removedIds.push(id);
    else changed.push(item.occurrence);
  }
  return { changed, removedIds };
}

/** What one walk of a delta round hands back: each id's last state, the next cursor token, warnings. */
export interface DeltaWalk {
  items: Map<string, RoundItem>;
  token: string;
  warnings: string[];
}

export interface DeltaRoundSteps {
  /** One walk: from the cursor's token, or from scratch over the window (null). */
  walk(token: string | null): Promise<DeltaWalk>;
  /** Whether a walk failed because the service no longer accepts the token. */
  expired(error: unknown): boolean;
  logger?: Logger | undefined;
}

/**
 * A delta round (Graph, Google): from the cursor's token when the cursor continues, else from
 * scratch; when the service no longer accepts the token, once more from scratch (`cursor-expired`).
 */
export async function deltaRound(state: RoundState, cursor: SyncCursor | null, window: TimeWindow, steps: DeltaRoundSteps): Promise<RoomSyncResult> {
  let reason = fullRoundReason(cursor, window);
  let walked: DeltaWalk;
  try {
    walked = await steps.walk(reason === null ? cursor!.token : null);
  } catch (error) {
    if (reason !== null || !steps.expired(error)) throw error;
    steps.logger?.info({ roomMailbox: state.mailbox }, "delta cursor expired; full resync");
    reason = "cursor-expired";
    walked = await steps.walk(null);
  }
  const { changed, removedIds } = splitRoundItems(walked.items);
  return {
    mailbox: state.mailbox,
    full: reason !== null,
    reason,
    changed,
    removedIds,
    cursor: { token: walked.token, window },
    warnings: walked.warnings,
    stats: roundStats(state),
  };
}

/** A round's counters as its result reports them. */
export function roundStats(state: RoundState): RoomSyncResult["stats"] {
  return { pages: state.pages, requests: state.requests, retries: state.retries, waitedMs: state.waitedMs };
}
