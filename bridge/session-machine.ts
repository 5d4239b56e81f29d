/**
 * The SGJ session state machine (pure). States: scheduled -> starting -> lobby -> admitted ->
 * ended, or denied | timeout | failed | cancelled. Every transition names its cause; effects
 * tell the scheduler what to do (stop the bridge, update the room's notice). Never a second
 * start: only `scheduled` may start.
 */
import type { BridgeState } from "../core/domain.ts";
import type { BridgeReportedState } from "../core/ports/media-bridge.ts";

/** Recorded in the cause of `starting -> admitted`: the bridge never reported the lobby. */
export const NO_LOBBY_REPORTED = "admitted without a lobby report";

export const FINAL_STATES: ReadonlySet<BridgeState> = new Set(["ended", "denied", "timeout", "failed", "cancelled"]);

/** Progress order; a reported state that ranks below the stored one is stale. */
const RANK: Record<BridgeState, number> = { scheduled: 0, starting: 1, lobby: 2, admitted: 3, ended: 4, denied: 4, timeout: 4, failed: 4, cancelled: 4 };

export type SessionEvent =
  | { type: "start" }
  | { type: "start-failed"; retryable: boolean; reason: string }
  | { type: "bridge"; state: BridgeReportedState; detail?: string | null }
  | { type: "lobby-timeout" }
  | { type: "meeting-over" }
  | { type: "cancel"; reason: string }
  | { type: "not-configured" };

export type NoticeKind = "waiting" | "admitted" | "denied" | "timeout" | "clear";

export type SessionEffect = { kind: "stop-bridge" } | { kind: "notice"; notice: NoticeKind };

export interface Transition {
  from: BridgeState;
  to: BridgeState;
  cause: string;
  effects: SessionEffect[];
}

export type TransitionResult = { ok: true; transition: Transition } | { ok: false; reason: string };

function to(from: BridgeState, next: BridgeState, cause: string, effects: SessionEffect[] = []): TransitionResult {
  return { ok: true, transition: { from, to: next, cause, effects } };
}

function ignore(reason: string): TransitionResult {
  return { ok: false, reason };
}

const NOTICE_FOR: Partial<Record<BridgeState, NoticeKind>> = { lobby: "waiting", admitted: "admitted", denied: "denied", timeout: "timeout" };

export function isFinal(state: BridgeState): boolean {
  return FINAL_STATES.has(state);
}

/** Applies one event to a session in `state`. */
export function transition(state: BridgeState, event: SessionEvent): TransitionResult {
  if (isFinal(state)) return ignore(`session already ${state}`);
  switch (event.type) {
    case "start":
      return state === "scheduled" ? to(state, "starting", "start requested") : ignore(`cannot start from ${state}`);
    case "start-failed":
      if (state !== "starting") return ignore(`start failure while ${state}`);
      return event.retryable
        ? to(state, "scheduled", `start failed, will retry: ${event.reason}`)
        : to(state, "failed", `bridge refused: ${event.reason}`, [{ kind: "notice", notice: "clear" }]);
    case "not-configured":
      return to(state, "failed", "no bridge adapter configured (OTJ_BRIDGE_NOT_CONFIGURED)");
    case "cancel": {
      const live = state === "starting" || state === "lobby" || state === "admitted";
      return to(state, "cancelled", event.reason, live ? [{ kind: "stop-bridge" }, { kind: "notice", notice: "clear" }] : []);
    }
    case "lobby-timeout":
      return state === "lobby" || state === "starting"
        ? to(state, "timeout", "nobody admitted the room before the lobby timeout", [{ kind: "stop-bridge" }, { kind: "notice", notice: "timeout" }])
        : ignore(`lobby timeout while ${state}`);
    case "meeting-over":
      if (state === "scheduled") return to(state, "cancelled", "meeting over before the session started");
      if (state === "admitted") return to(state, "ended", "meeting over", [{ kind: "stop-bridge" }, { kind: "notice", notice: "clear" }]);
      return to(state, "timeout", "meeting over while waiting in the lobby", [{ kind: "stop-bridge" }, { kind: "notice", notice: "timeout" }]);
    case "bridge": {
      const next: BridgeState = event.state === "joining" ? "starting" : event.state;
      if (state === "scheduled") return ignore("report for a session that was not started");
      if (RANK[next] < RANK[state] || next === state) return ignore(`stale or duplicate report ${event.state} while ${state}`);
      if (next === "ended" && state !== "admitted") {
        // The bridge left before admission: the lobby ended without the room getting in.
        return to(state, state === "lobby" ? "denied" : "failed", `bridge ended the session while ${state}${event.detail ? `: ${event.detail}` : ""}`, [
          { kind: "notice", notice: state === "lobby" ? "denied" : "clear" },
        ]);
      }
      const notice = NOTICE_FOR[next] ?? (isFinal(next) ? "clear" : undefined);
      // Admitted straight from starting is allowed: when the meeting's lobby settings let guests
      // in, the bridge is admitted without ever waiting. The cause says that no lobby was reported.
      const skippedLobby = state === "starting" && next === "admitted" ? ` (${NO_LOBBY_REPORTED})` : "";
      return to(
        state,
        next,
        `bridge reported ${event.state}${skippedLobby}${event.detail ? `: ${event.detail}` : ""}`,
        notice ? [{ kind: "notice", notice }] : [],
      );
    }
  }
}

/** Text shown on the room's screen for each notice. */
export function noticeText(kind: NoticeKind, subject: string): { title: string; text: string; durationSeconds: number } | null {
  switch (kind) {
    case "waiting":
      return { title: subject, text: `Waiting to be admitted to ${subject}…`, durationSeconds: 0 };
    case "admitted":
      return { title: subject, text: "Admitted", durationSeconds: 10 };
    case "denied":
      return { title: subject, text: "Not admitted", durationSeconds: 30 };
    case "timeout":
      return { title: subject, text: "Nobody admitted the room", durationSeconds: 30 };
    default:
      return null;
  }
}
