import { sql } from "kysely";
import { OtjError } from "../../core/errors.ts";
import type { NewProvider, Provider, ProviderChanges, ProviderStore, StoreCallOptions } from "../../core/ports/store.ts";
import { newProviderId } from "../ids.ts";
import { toProvider } from "../row-mappers.ts";
import { type ValidProvider, validateProvider } from "../validation.ts";
import { type StoreContext, guard, toStoreError } from "./guard.ts";

function invalid(problems: string[]): OtjError {
  return new OtjError("OTJ_PROVIDER_INVALID", problems.join("; "), { details: { problems } });
}

function taken(name: string): OtjError {
  return new OtjError("OTJ_STORE_CONFLICT", `a provider named "${name}" already exists`);
}

function isConflict(error: unknown): boolean {
  return toStoreError(error).code === "OTJ_STORE_CONFLICT";
}

/** The provider table's columns for a validated record. */
function columnsOf(v: ValidProvider) {
  return {
    name: v.name,
    partner: v.partner,
    tenant_key: v.tenantKey,
    sip_domain: v.sipDomain,
    ivr_address: v.ivrAddress,
    sgj_enabled: v.sgjEnabled,
    sgj_template: v.sgjTemplate,
    instruction_url: v.instructionUrl,
  };
}

export class PostgresProviderStore implements ProviderStore {
  readonly #ctx: StoreContext;

  constructor(ctx: StoreContext) {
    this.#ctx = ctx;
  }

  add(input: NewProvider, now: Date, options?: StoreCallOptions): Promise<Provider> {
    return guard(options, async () => {
      const checked = validateProvider(input);
      if (!checked.ok) throw invalid(checked.problems);
      const v = checked.value;
      try {
        const row = await this.#ctx.db
          .insertInto("provider")
          .values({ id: newProviderId(), ...columnsOf(v), created_at: now, updated_at: now })
          .returningAll()
          .executeTakeFirstOrThrow();
        return toProvider(row);
      } catch (error) {
        throw isConflict(error) ? taken(v.name) : error;
      }
    });
  }

  update(nameOrId: string, changes: ProviderChanges, now: Date, options?: StoreCallOptions): Promise<Provider> {
    return guard(options, async () => {
      const current = await this.get(nameOrId);
      if (current === null) throw new OtjError("OTJ_STORE_NOT_FOUND", `no provider named "${nameOrId}"`);
      const { id: _id, createdAt: _created, updatedAt: _updated, ...merged } = current;
      for (const [key, value] of Object.entries(changes)) {
        if (value !== undefined) (merged as Record<string, unknown>)[key] = value;
      }
      const checked = validateProvider(merged);
      if (!checked.ok) throw invalid(checked.problems);
      const v = checked.value;
      try {
        const row = await this.#ctx.db
          .updateTable("provider")
          .set({ ...columnsOf(v), updated_at: now })
          .where("id", "=", current.id)
          .returningAll()
          .executeTakeFirst();
        if (row === undefined) throw new OtjError("OTJ_STORE_NOT_FOUND", `no provider named "${nameOrId}"`);
        return toProvider(row);
      } catch (error) {
        throw isConflict(error) ? taken(v.name) : error;
      }
    });
  }

  get(nameOrId: string, options?: StoreCallOptions): Promise<Provider | null> {
    return guard(options, async () => {
      const row = await this.#ctx.db
        .selectFrom("provider")
        .selectAll()
        .where((eb) => eb.or([eb("id", "=", nameOrId), eb(sql`lower(name)`, "=", nameOrId.trim().toLowerCase())]))
        .executeTakeFirst();
      return row === undefined ? null : toProvider(row);
    });
  }

  list(options?: StoreCallOptions): Promise<Provider[]> {
    return guard(options, async () => {
      const rows = await this.#ctx.db.selectFrom("provider").selectAll().orderBy(sql`lower(name)`).execute();
      return rows.map(toProvider);
    });
  }

  remove(nameOrId: string, force: boolean, now: Date, options?: StoreCallOptions): Promise<{ provider: Provider; detachedRooms: number }> {
    return guard(options, () =>
      this.#ctx.db.transaction().execute(async (trx) => {
        const row = await trx
          .selectFrom("provider")
          .selectAll()
          .where((eb) => eb.or([eb("id", "=", nameOrId), eb(sql`lower(name)`, "=", nameOrId.trim().toLowerCase())]))
          .forUpdate()
          .executeTakeFirst();
        if (row === undefined) throw new OtjError("OTJ_STORE_NOT_FOUND", `no provider named "${nameOrId}"`);
        const users = await trx.selectFrom("room").select("mailbox").where("provider_id", "=", row.id).orderBy("mailbox").execute();
        if (users.length > 0 && !force) {
          const sample = users
            .slice(0, 3)
            .map((u) => u.mailbox)
            .join(", ");
          throw new OtjError(
            "OTJ_PROVIDER_IN_USE",
            `provider "${row.name}" is used by ${users.length} room(s) (${sample}${users.length > 3 ? ", …" : ""}); ` +
              "move them to another provider or use --force (they fall back to the built-in defaults)",
            { details: { rooms: users.length } },
          );
        }
        if (users.length > 0) {
          await trx.updateTable("room").set({ provider_id: null, updated_at: now }).where("provider_id", "=", row.id).execute();
        }
        await trx.deleteFrom("provider").where("id", "=", row.id).execute();
        return { provider: toProvider(row), detachedRooms: users.length };
      }),
    );
  }
}
