/**
 * Planning for a stored room: maps Room and Provider records onto the pure planner's inputs, and
 * turns a plan into what the store keeps (MeetingPlan) and what the bridge needs (an SGJ session).
 */
import type { Provider, Room } from "../core/ports/store.ts";
import type { InviteDetail } from "../parser/index.ts";
import { type PlanResult, planJoin, type PlanSettings } from "./join-planner.ts";

/** Plans one parsed occurrence for a stored room. `providers` are all configured providers. */
export function planForRoom(detail: InviteDetail, room: Room, providers: readonly Provider[], settings: Omit<PlanSettings, "providers">): PlanResult {
  const own = providers.find((p) => p.id === room.providerId) ?? null;
  return planJoin(detail, { mailbox: room.mailbox, privacy: room.privacy, provider: own, webrtc: room.webrtc, stored: true }, { ...settings, providers });
}
