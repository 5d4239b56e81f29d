/** Meetings (occurrences): the part of the store the calendar sync and the planners write. */
import type { StoreCallOptions } from "./options.ts";
import type { Meeting, MeetingPlan, MeetingUpsert } from "../../records/meeting.ts";

export interface MeetingUpsertResult {
  occurrenceKey: string;
  change: "added" | "updated" | "unchanged";
}

export interface MeetingStore {
  /**
   * Inserts or updates occurrences by occurrence key. A row whose content hash is unchanged is not
   * written. Items repeating a key in one call: the last wins. Results follow the input order.
   */
  upsert(meetings: readonly MeetingUpsert[], now: Date, options?: StoreCallOptions): Promise<MeetingUpsertResult[]>;
  /** Stores a new plan for an occurrence (rules or room settings changed); false when it is gone. */
  setPlan(occurrenceKey: string, plan: MeetingPlan, now: Date, options?: StoreCallOptions): Promise<boolean>;
  get(occurrenceKey: string, options?: StoreCallOptions): Promise<Meeting | null>;
  /** The occurrences with these keys (unknown keys are left out), in no particular order. */
  getMany(occurrenceKeys: readonly string[], options?: StoreCallOptions): Promise<Meeting[]>;
  /**
   * A room's occurrences overlapping `[from, to)` (either bound optional), ordered by start then
   * key; cancelled and declined ones only when `includeCancelled`.
   */
  list(roomId: string, range?: { from?: Date; to?: Date; includeCancelled?: boolean }, options?: StoreCallOptions): Promise<Meeting[]>;
  /**
   * Each room's next occurrence (neither cancelled nor declined) as of `now`: the first to start
   * at or after `now` and before `to`, else the earliest one in progress. At most one per room,
   * in no particular order.
   */
  nextForRooms(roomIds: readonly string[], now: Date, to: Date, options?: StoreCallOptions): Promise<Meeting[]>;
  /** Every room's occurrences overlapping `[from, to)`, ordered by room, start, key (status pages). */
  listAll(range: { from?: Date; to?: Date; includeCancelled?: boolean }, options?: StoreCallOptions): Promise<Meeting[]>;
  /** A room's occurrences with this iCalUId (merging a raw MIME invite with Graph's copy). */
  findByIcalUid(roomId: string, icalUid: string, options?: StoreCallOptions): Promise<Meeting[]>;
  /** Deletes occurrences by key; returns the keys that existed. */
  remove(occurrenceKeys: readonly string[], options?: StoreCallOptions): Promise<string[]>;
  /**
   * Deletes a room's occurrences whose source event or series master is one of `eventIds`
   * (Graph `@removed`); returns their keys.
   */
  removeBySourceEventIds(roomId: string, eventIds: readonly string[], options?: StoreCallOptions): Promise<string[]>;
  /** Deletes a room's occurrences not in `keep` (after a full resync); returns their keys. */
  removeAllExcept(roomId: string, keep: readonly string[], options?: StoreCallOptions): Promise<string[]>;
}
