/**
 * Writes one room's calendar round: parses and plans what changed (occurrence-mapper.ts), asks the
 * reconciliation rules (reconcile.ts) what to write and remove, applies that through the store
 * and appends the audit entries. The CalendarPoller calls it once per room and round.
 */

import type { RoomSyncResult } from "../core/ports/calendar-source.ts";
import type { MeetingPlanner } from "../core/ports/meeting-planner.ts";
import type { Provider, Room, Store, StoreCallOptions } from "../core/ports/store.ts";
import type { InviteDetail } from "../parser/index.ts";
import { mapOccurrence, type PlanningContext } from "./occurrence-mapper.ts";
import { type Applied, fullRoundKeep, previousOf, type RemovalReason, type RoundChange, reconcileRound, roundAccount } from "./reconcile.ts";

export interface ApplyRoundContext {
  readonly room: Room;
  readonly providers: readonly Provider[];
  readonly planner: MeetingPlanner<InviteDetail>;
  readonly now: Date;
}

/** Writes `result` into `room`'s meetings: upserts, removals (moved, merged, removed, left the window) and the event log. */
export async function applyRoomRound(
  store: Pick<Store, "meetings" | "eventLog">,
  result: RoomSyncResult,
  ctx: ApplyRoundContext,
  options: StoreCallOptions,
): Promise<Applied> {
  const { room, now } = ctx;
  const planning: PlanningContext = { room, providers: ctx.providers, planner: ctx.planner, now };
  const existing = await store.meetings.list(room.id, { includeCancelled: true }, options);
  const byKey = new Map(existing.map((m) => [m.occurrenceKey, m]));
  const changes: RoundChange[] = [];
  for (const occurrence of result.changed) {
    const mapped = await mapOccurrence(occurrence, planning, previousOf(existing, byKey, room.mailbox, occurrence));
    changes.push({ occurrence, upsert: mapped.upsert });
  }
  const plan = reconcileRound({ existing, changes, removedIds: result.removedIds, full: result.full, windowStart: new Date(result.cursor.window.start) });

  const results = plan.upserts.length > 0 ? await store.meetings.upsert(plan.upserts, now, options) : [];
  const removed = new Map<string, RemovalReason>();
  if (plan.stale.size > 0) for (const key of await store.meetings.remove([...plan.stale.keys()], options)) removed.set(key, plan.stale.get(key)!);
  if (plan.removedSourceIds.length > 0) {
    for (const key of await store.meetings.removeBySourceEventIds(room.id, plan.removedSourceIds, options)) removed.set(key, "source-removed");
  }
  if (plan.fullRound !== null) {
    // What a full round did not list is gone; raw-mail meetings the calendar never had stay while current.
    for (const key of await store.meetings.removeAllExcept(room.id, fullRoundKeep(plan.fullRound, removed), options)) removed.set(key, "not-in-full-round");
  }
  const { log, applied } = roundAccount(now, room.id, existing, plan.upserts, results, removed);
  if (log.length > 0) await store.eventLog.append(log, options);
  return applied;
}
