/**
 * What every CalendarSource adapter checks the same way: the room's address, the sync window,
 * whether a cursor's window is the one asked for, and the guard error that stops a round.
 */
import { OtjError } from "../core/errors.ts";
import type { FullRoundReason, SourceOccurrence, SyncCursor, TimeWindow } from "../core/ports/calendar-source.ts";

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
