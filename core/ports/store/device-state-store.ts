/** Device state (what each device holds) and push claims. */
import type { LeaseOptions, StoreCallOptions } from "./options.ts";
import type { DeviceEntry, DeviceState } from "../../records/device-state.ts";

export interface DeviceStateStore {
  /**
   * Records the hash of the list the device should hold. When it differs from what was pushed, a
   * push becomes due at `now`; when equal, nothing is due. Idempotent.
   */
  setDesired(roomId: string, desiredHash: string, now: Date, options?: StoreCallOptions): Promise<void>;
  /** Claims up to `limit` due pushes (SKIP LOCKED + lease), most overdue first. */
  claimDue(now: Date, limit: number, options?: LeaseOptions): Promise<DeviceState[]>;
  /**
   * Records a successful push of `hash` and releases the claim; the push stays due when the
   * desired hash moved meanwhile. False when this owner lost the claim.
   */
  recordPushed(roomId: string, pushed: { hash: string; entries: DeviceEntry[] }, now: Date, options?: StoreCallOptions): Promise<boolean>;
  /** Records a failed push, due again at `retryAt`, and releases the claim. */
  recordFailed(roomId: string, failure: { code: string; message: string; retryAt: Date }, now: Date, options?: StoreCallOptions): Promise<boolean>;
  /**
   * The room's device changed (address, credentials, family) or an admin asked: what it holds is
   * unknown, so the whole list is pushed again now, without waiting for a backoff. No effect
   * before a desired list exists.
   */
  pushAgain(roomId: string, now: Date, options?: StoreCallOptions): Promise<void>;
  get(roomId: string, options?: StoreCallOptions): Promise<DeviceState | null>;
  /** The device states of these rooms (rooms without one are left out), in no particular order. */
  getMany(roomIds: readonly string[], options?: StoreCallOptions): Promise<DeviceState[]>;
  list(options?: StoreCallOptions): Promise<DeviceState[]>;
  /** Releases every claim this owner holds (shutdown). */
  releaseAll(now: Date, options?: StoreCallOptions): Promise<number>;
}
