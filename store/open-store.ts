/**
 * Config -> database -> migrations -> Store, for the CLI's store commands (and any caller that
 * wants the same steps). Precedence of the database URL: the `databaseUrl` option (the
 * --database-url flag) > OTJ_DATABASE__URL > DATABASE_URL > the config file > embedded PGlite.
 */
import { type Config, loadConfig } from "../core/config.ts";
import { type DatabaseHandle, createDatabase } from "./create-database.ts";
import { migrateToLatest } from "./migrate.ts";
import { PostgresStore } from "./postgres-store.ts";

export interface OpenStoreOptions {
  /** --config FILE (else OTJ_CONFIG, else none). */
  configFile?: string | undefined;
  /** --database-url URL. */
  databaseUrl?: string | undefined;
  env: Readonly<Record<string, string | undefined>>;
  cwd: string;
  /** Apply pending migrations first (default true; idempotent, under the advisory lock). */
  migrate?: boolean;
  owner?: string;
}

export interface OpenedStore {
  config: Config;
  handle: DatabaseHandle;
  store: PostgresStore;
  /** Migrations this open applied. */
  migrated: string[];
  close(): Promise<void>;
}

export async function openStore(options: OpenStoreOptions): Promise<OpenedStore> {
  const config = await loadConfig({
    file: options.configFile,
    env: options.env,
    cwd: options.cwd,
    overrides: { databaseUrl: options.databaseUrl },
  });
  const handle = await createDatabase(config.database.url, { cwd: options.cwd, poolSize: config.database.poolSize });
  try {
    const migrated = options.migrate === false ? [] : (await migrateToLatest(handle.db)).applied;
    const store = new PostgresStore(handle.db, { secretKey: config.secrets.key, ...(options.owner ? { owner: options.owner } : {}) });
    return { config, handle, store, migrated, close: () => handle.close() };
  } catch (error) {
    await handle.close();
    throw error;
  }
}

/** Opens the store, runs `work`, and always closes it. */
export async function withStore<T>(options: OpenStoreOptions, work: (opened: OpenedStore) => Promise<T>): Promise<T> {
  const opened = await openStore(options);
  try {
    return await work(opened);
  } finally {
    await opened.close();
  }
}
