/**
 * MediaBridge: starts and stops a guest-mode bridge session that joins a Teams meeting for a
 * room (SIP Guest Join). Never with lobby bypass: requests carry a guest identity only.
 * Implementations: bridge/adapters/ (generic HTTP protocol, Graph calls).
 */

/** Teams coordinates of the meeting to join; at least joinUrl or meetingId is set. */
export interface BridgeTeamsTarget {
  joinUrl: string | null;
  meetingId: string | null;
  passcode: string | null;
  tenantId: string | null;
  threadId: string | null;
  organizerId: string | null;
}

export interface BridgeStartRequest {
  /** Deterministic `sgj_<12 hex>` (docs/formats.md); idempotency key at the bridge. */
  sessionId: string;
  teams: BridgeTeamsTarget;
  /** The room's name; the guest's display name in the lobby. */
  guestDisplayName: string;
  /** The SGJ alias pushed to the room. */
  dialString: string;
  /** The room's own SIP address for dial-out, or null (the room dials in). */
  vtcDialString: string | null;
  /** ISO UTC: start - lead. */
  notBefore: string;
  /** ISO UTC: end + end buffer + grace; the bridge leaves by then. */
  notAfter: string;
  /** Where the bridge reports state changes. */
  callbackUrl: string;
}

export interface MediaBridge {
  /**
   * True when a repeated start with the same sessionId can never open a second session (the
   * http protocol, docs/bridge-protocol.md). otj then starts again a session that a crashed instance
   * left in `starting` without the bridge's reply; without it, such a session waits for its
   * lobby deadline (a second create could join the meeting twice).
   */
  readonly idempotentStart?: boolean;
  /**
   * Optional: does the work of a start request that does not depend on the moment it is sent
   * (encoding, signing) ahead of its instant, so that `start` with the same request object only
   * sends it. Never throws; calling `start` without it works the same.
   */
  prepareStart?(request: BridgeStartRequest): void;
  /**
   * Starts (or finds, for the same sessionId) a session. Idempotent per sessionId.
   * Throws OtjError OTJ_BRIDGE_REJECTED (final) or OTJ_BRIDGE_UNAVAILABLE (retryable).
   */
  start(request: BridgeStartRequest, signal?: AbortSignal): Promise<{ externalId: string }>;
  /** Leaves the meeting. Idempotent; an unknown session counts as stopped. */
  stop(externalId: string, signal?: AbortSignal): Promise<void>;
}

/** Bridge-reported states (docs/bridge-protocol.md). */
export type BridgeReportedState = "joining" | "lobby" | "admitted" | "denied" | "timeout" | "ended" | "failed";
