import type { ConsoleRevocationStore, StoreCallOptions } from "../../core/ports/store.ts";
import { type StoreContext, guard } from "./guard.ts";

/** Console sign-outs; expired rows are pruned as new ones are written. */
export class PostgresConsoleRevocationStore implements ConsoleRevocationStore {
  readonly #ctx: StoreContext;

  constructor(ctx: StoreContext) {
    this.#ctx = ctx;
  }

  revoke(nonce: string, expiresAt: Date, now: Date, options?: StoreCallOptions): Promise<void> {
    return guard(options, async () => {
      await this.#ctx.db.deleteFrom("console_revocation").where("expires_at", "<=", now).execute();
      await this.#ctx.db
        .insertInto("console_revocation")
        .values({ nonce, expires_at: expiresAt })
        .onConflict((oc) => oc.column("nonce").doNothing())
        .execute();
    });
  }

  isRevoked(nonce: string, now: Date, options?: StoreCallOptions): Promise<boolean> {
    return guard(options, async () => {
      const row = await this.#ctx.db
        .selectFrom("console_revocation")
        .select("nonce")
        .where("nonce", "=", nonce)
        .where("expires_at", ">", now)
        .executeTakeFirst();
      return row !== undefined;
    });
  }
}
