/** An SGJ bridge session: one per occurrence, with its state and timers. */
import type { BridgeState } from "../domain.ts";

export const FINAL_BRIDGE_STATES: readonly BridgeState[] = ["ended", "denied", "timeout", "failed", "cancelled"];
export const LIVE_BRIDGE_STATES: readonly BridgeState[] = ["scheduled", "starting", "lobby", "admitted"];

export interface BridgeSession {
  /** Unique: one session per occurrence, ever. */
  occurrenceKey: string;
  /** `sgj_` + 12 hex (docs/formats.md), unique. */
  sessionId: string;
  roomId: string;
  state: BridgeState;
  /** When the scheduler must next act on it (start, lobby deadline, stop). */
  dueAt: Date;
  /** The bridge must have left by then. */
  notAfter: Date;
  lobbyDeadline: Date | null;
  adapter: string | null;
  /** The bridge's id of the session. */
  externalId: string | null;
  dialString: string | null;
  attempts: number;
  lastErrorCode: string | null;
  lastError: string | null;
  lastCallbackAt: Date | null;
  lastCallbackState: string | null;
  endedReason: string | null;
  leaseOwner: string | null;
  leaseExpiresAt: Date | null;
  createdAt: Date;
  updatedAt: Date;
}

export interface ScheduleBridgeSession {
  occurrenceKey: string;
  sessionId: string;
  roomId: string;
  dueAt: Date;
  notAfter: Date;
  dialString: string | null;
}

/** Fields a transition may set besides the state. */
export type BridgeSessionPatch = Partial<
  Pick<
    BridgeSession,
    | "dueAt"
    | "notAfter"
    | "lobbyDeadline"
    | "adapter"
    | "externalId"
    | "dialString"
    | "attempts"
    | "lastErrorCode"
    | "lastError"
    | "lastCallbackAt"
    | "lastCallbackState"
    | "endedReason"
  >
>;
