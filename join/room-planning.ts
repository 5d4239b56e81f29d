/**
 * Planning for a stored room: maps Room and Provider records onto the pure planner's inputs, and
 * turns a plan into what the store keeps (MeetingPlan) and what the bridge needs (an SGJ session).
 */
import type { Provider, Room } from "../core/ports/store.ts";
import type { InviteDetail } from "../parser/index.ts";
import type { ProviderDialInfo } from "./dial-string.ts";
import { type PlanResult, planJoin, type PlanSettings } from "./join-planner.ts";

export function providerDialInfo(p: Provider): ProviderDialInfo {
  return {
    name: p.name,
    partner: p.partner,
    tenantKey: p.tenantKey,
    sipDomain: p.sipDomain,
    ivrAddress: p.ivrAddress,
    sgjEnabled: p.sgjEnabled,
    sgjTemplate: p.sgjTemplate,
  };
}

/** Plans one parsed occurrence for a stored room. `providers` are all configured providers. */
export function planForRoom(detail: InviteDetail, room: Room, providers: readonly Provider[], settings: Omit<PlanSettings, "providers">): PlanResult {
  const own = providers.find((p) => p.id === room.providerId) ?? null;
  return planJoin(detail, { mailbox: room.mailbox, privacy: room.privacy, provider: own ? providerDialInfo(own) : null }, { ...settings, providers: providers.map(providerDialInfo) });
}
