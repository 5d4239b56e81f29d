/** The providers' part of the store. */
import type { StoreCallOptions } from "./options.ts";
import type { NewProvider, Provider, ProviderChanges } from "../../records/provider.ts";

export interface ProviderStore {
  /** Adds a provider. Throws OTJ_PROVIDER_INVALID, or OTJ_STORE_CONFLICT when the name is taken. */
  add(input: NewProvider, now: Date, options?: StoreCallOptions): Promise<Provider>;
  /** Changes a provider named by name or id. Throws OTJ_STORE_NOT_FOUND, OTJ_PROVIDER_INVALID, OTJ_STORE_CONFLICT. */
  update(nameOrId: string, changes: ProviderChanges, now: Date, options?: StoreCallOptions): Promise<Provider>;
  /** The provider with this name (case-insensitive) or id, or null. */
  get(nameOrId: string, options?: StoreCallOptions): Promise<Provider | null>;
  /** Every provider, ordered by name. */
  list(options?: StoreCallOptions): Promise<Provider[]>;
  /**
   * Removes a provider. While rooms use it this throws OTJ_PROVIDER_IN_USE, unless `force`, which
   * detaches those rooms (they fall back to the built-in defaults) in the same transaction.
   */
  remove(nameOrId: string, force: boolean, now: Date, options?: StoreCallOptions): Promise<{ provider: Provider; detachedRooms: number }>;
}
