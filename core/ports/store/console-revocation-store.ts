/** Admin console sign-outs. */
import type { StoreCallOptions } from "./options.ts";

/** Admin console sign-outs, seen by every instance (the sessions themselves are signed cookies). */
export interface ConsoleRevocationStore {
  /** Records that the session `nonce` was signed out; kept until `expiresAt`. Idempotent. */
  revoke(nonce: string, expiresAt: Date, now: Date, options?: StoreCallOptions): Promise<void>;
  /** True when the session `nonce` was signed out (and would not have expired yet). */
  isRevoked(nonce: string, now: Date, options?: StoreCallOptions): Promise<boolean>;
}
