/** The event log's entries (audit: what changed and why). */

/** An audit entry: what changed and why. Never secrets, never a private meeting's body. */
export interface NewLoggedEvent {
  at: Date;
  /** e.g. `meeting.added`, `bridge.lobby`, `device.push-failed`. */
  kind: string;
  roomId?: string | null;
  occurrenceKey?: string | null;
  message: string;
  data?: Record<string, unknown> | null;
}

export interface LoggedEvent extends Required<NewLoggedEvent> {
  /** Increasing. */
  id: number;
}
