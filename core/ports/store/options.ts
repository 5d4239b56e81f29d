/** Options every store call takes, and those of leasing calls. */

export interface StoreCallOptions {
  signal?: AbortSignal;
}

export interface LeaseOptions extends StoreCallOptions {
  /** Lease length in milliseconds (default 60 000). */
  leaseMs?: number;
}
