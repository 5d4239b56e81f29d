/**
 * Planning for a stored room: maps Room and Provider records onto the pure planner's inputs, and
 * turns a plan into what the store keeps (MeetingPlan) and what the bridge needs (an SGJ session).
 * `roomPlanner` is the MeetingPlanner port (core/ports/meeting-planner.ts) the calendar sync and
 * raw-mail ingest receive from app/.
 */
import type { PlanResult } from "../core/plan.ts";
import type { MeetingPlanner } from "../core/ports/meeting-planner.ts";
import type { Provider, Room } from "../core/ports/store.ts";
import type { InviteDetail } from "../parser/index.ts";
import { planJoin, type PlanSettings } from "./join-planner.ts";
import type { CompiledRule } from "./rules.ts";

/** Plans one parsed occurrence for a stored room. `providers` are all configured providers. */
export function planForRoom(detail: InviteDetail, room: Room, providers: readonly Provider[], settings: Omit<PlanSettings, "providers">): PlanResult {
  const own = providers.find((p) => p.id === room.providerId) ?? null;
  return planJoin(detail, { mailbox: room.mailbox, privacy: room.privacy, provider: own, webrtc: room.webrtc, stored: true }, { ...settings, providers });
}

/** The MeetingPlanner of `join.rules` (compiled, join/rules.ts compileRules). */
export function roomPlanner(rules: readonly CompiledRule[]): MeetingPlanner<InviteDetail> {
  return { plan: (detail, room, providers, now) => planForRoom(detail, room, providers, { rules, now }) };
}
