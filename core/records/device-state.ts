/** What a room's device holds and whether a push is due. */

export interface DeviceEntry {
  /** Occurrence key of the booking. */
  key: string;
  /** Hash of what was pushed for it. */
  hash: string;
}

export interface DeviceState {
  roomId: string;
  /** Hash of the list the device should hold. */
  desiredHash: string | null;
  /** Hash of the list last pushed successfully. */
  pushedHash: string | null;
  /** What the device holds, as of the last successful push. */
  entries: DeviceEntry[];
  pushedAt: Date | null;
  /** When a push is due (null: nothing to do). */
  dueAt: Date | null;
  /** Failed attempts since the last success. */
  attempts: number;
  lastErrorCode: string | null;
  lastError: string | null;
  /** First failure of the current failure streak (alarm since), or null. */
  failingSince: Date | null;
  leaseOwner: string | null;
  leaseExpiresAt: Date | null;
  updatedAt: Date;
}
