/**
 * MeetingPlanner: plans one parsed occurrence for a stored room (route, dial string, IVR, the
 * subject it shows). The calendar sync and raw-mail ingest call it for every occurrence they store;
 * join/ implements it (with the compiled `join.rules`), app/ wires it.
 *
 * `Parsed` is what the parser produced for the occurrence (parser/ InviteDetail: the invite and
 * the body context the routing rules read). core/ names no parser type, so the port is generic
 * over it; calendar/ and join/ both use `MeetingPlanner<InviteDetail>`.
 */
import type { PlanResult } from "../plan.ts";
import type { Provider, Room } from "./store.ts";

export interface MeetingPlanner<Parsed = unknown> {
  /**
   * Plans `parsed` for `room`. `providers` are all configured providers (the room's own, and the
   * others for CVI partner detection); `now` dates expiry warnings. Pure: no I/O, never throws on
   * a bad invite (a plan of route `none` with warnings instead).
   */
  plan(parsed: Parsed, room: Room, providers: readonly Provider[], now: Date): PlanResult;
}
