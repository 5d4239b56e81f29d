/**
 * The Graph change-notification subscriptions' bookkeeping: one record per enabled Graph room, leased
 * like sync cursors so two engine instances never create or renew one room's subscription at once.
 * The subscription manager (calendar/graph/subscriptions.ts) uses it; store/ keeps it.
 */
import type { FailingNotifications } from "./notification-failures.ts";
import type { StoreCallOptions } from "./store/options.ts";

/** One room's subscription bookkeeping. */
export interface SubscriptionRecord {
  readonly roomId: string;
  /** Lowercased. */
  readonly mailbox: string;
  /** Graph's id, or null when none exists (yet, or any more). */
  readonly subscriptionId: string | null;
  /** SHA-256 (hex) of the clientState sent with the subscription; the secret itself is not kept. */
  readonly clientStateHash: string | null;
  readonly expiresAt: Date | null;
  /** When the manager must act next (create, renew). */
  readonly dueAt: Date;
  readonly failures: number;
  readonly lastErrorCode: string | null;
}

/** Where subscriptions are kept (store/postgres/graph-subscription-store.ts). */
export interface SubscriptionStore extends FailingNotifications {
  /** Adds a record, due at `now`, for every enabled room without one. Returns how many. */
  ensureRooms(now: Date, options?: StoreCallOptions): Promise<number>;
  /** Leases up to `limit` due records of enabled Graph rooms (SKIP LOCKED + lease), most overdue first. */
  claimDue(now: Date, limit: number, leaseMs: number, options?: StoreCallOptions): Promise<SubscriptionRecord[]>;
  /**
   * Leases up to `limit` due records whose room no longer wants a subscription (disabled, or read
   * from Google or Exchange Server now) while Graph still holds one, to delete it there.
   */
  claimOrphans(now: Date, limit: number, leaseMs: number, options?: StoreCallOptions): Promise<SubscriptionRecord[]>;
  /** Drops a leased record (its subscription is gone at Graph); false when the lease was lost. */
  remove(roomId: string, options?: StoreCallOptions): Promise<boolean>;
  /** Records a created or renewed subscription and releases the lease; false when the lease was lost. */
  saved(
    roomId: string,
    subscription: { subscriptionId: string; clientStateHash: string; expiresAt: Date; dueAt: Date },
    now: Date,
    options?: StoreCallOptions,
  ): Promise<boolean>;
  /** Records a failure (due again at `dueAt`; `forget` drops the subscription id) and releases the lease. */
  failed(roomId: string, failure: { code: string; message: string; dueAt: Date; forget: boolean }, now: Date, options?: StoreCallOptions): Promise<boolean>;
  /** The records holding any of these subscription ids, in one query; unknown ids are left out. */
  bySubscriptionIds(subscriptionIds: readonly string[], options?: StoreCallOptions): Promise<SubscriptionRecord[]>;
  /** Makes the record due at `now` (renew or, with `forget`, re-create at the next reconcile). */
  markDue(roomId: string, now: Date, forget: boolean, options?: StoreCallOptions): Promise<void>;
  list(options?: StoreCallOptions): Promise<SubscriptionRecord[]>;
  releaseAll(now: Date, options?: StoreCallOptions): Promise<number>;
}
