/**
 * The Google change-notification channels' bookkeeping (`events.watch`): one record per Google
 * room, leased like sync cursors so two engine instances never create, renew or stop one room's
 * channel at once. A record outlives its room: when the room is removed, disabled or moved to
 * another source, the record turns `orphan` and stays until its channel is stopped at Google.
 * The channel manager (calendar/google/google-channels.ts) uses it; store/ keeps it.
 */
import type { FailingNotifications } from "./notification-failures.ts";
import type { StoreCallOptions } from "./store/options.ts";

/** One room's channel bookkeeping. */
export interface ChannelRecord {
  readonly roomId: string;
  /** Lowercased: the calendar id the channel watches. */
  readonly mailbox: string;
  /** Our id of the channel at Google, or null when none exists (yet, or any more). */
  readonly channelId: string | null;
  /** Google's id of the watched resource (needed to stop the channel). */
  readonly resourceId: string | null;
  /** SHA-256 (hex) of the channel token; the token itself is not kept. */
  readonly tokenHash: string | null;
  readonly expiresAt: Date | null;
  /** When the manager must act next (create, renew). */
  readonly dueAt: Date;
  readonly failures: number;
  readonly lastErrorCode: string | null;
  /** The room is gone, disabled or no longer a Google room: the channel is to be stopped. */
  readonly orphan: boolean;
}

/** The channel the manager created, as saved. */
export interface SavedChannel {
  readonly channelId: string;
  readonly resourceId: string;
  readonly tokenHash: string;
  readonly expiresAt: Date;
  readonly dueAt: Date;
}

/** `failing` counts non-orphan records only (rooms still enabled Google rooms). */
export interface GoogleChannelStore extends FailingNotifications {
  /** Adds a record, due at `now`, for every enabled Google room without one. Returns how many. */
  ensureRooms(now: Date, options?: StoreCallOptions): Promise<number>;
  /**
   * Leases up to `limit` records that are due, or orphans not waiting for a retry (SKIP LOCKED +
   * lease), orphans and the most overdue first.
   */
  claimDue(now: Date, limit: number, leaseMs: number, options?: StoreCallOptions): Promise<ChannelRecord[]>;
  /** Records a created channel and releases the lease; false when the lease was lost. */
  saved(roomId: string, channel: SavedChannel, now: Date, options?: StoreCallOptions): Promise<boolean>;
  /** Records a failure (due again at `dueAt`; `forget` drops the channel) and releases the lease. */
  failed(roomId: string, failure: { code: string; message: string; dueAt: Date; forget: boolean }, now: Date, options?: StoreCallOptions): Promise<boolean>;
  /** Deletes a record this owner leases (its channel was stopped); false when the lease was lost. */
  remove(roomId: string, options?: StoreCallOptions): Promise<boolean>;
  /** The record holding this channel id, or null. */
  byChannelId(channelId: string, options?: StoreCallOptions): Promise<ChannelRecord | null>;
  list(options?: StoreCallOptions): Promise<ChannelRecord[]>;
  releaseAll(now: Date, options?: StoreCallOptions): Promise<number>;
}
