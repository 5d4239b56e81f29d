/**
 * Test databases. Each test file gets its own PostgreSQL database, created from the server named
 * by DATABASE_URL (default postgres://postgres@127.0.0.1:5432/test, trust auth) and dropped after;
 * or an in-memory PGlite. Both are migrated with the real migrations.
 */
import { randomBytes } from "node:crypto";
import pg from "pg";
import { type DatabaseHandle, createDatabase } from "../../store/create-database.ts";
import { migrateToLatest } from "../../store/migrate.ts";
import { PostgresStore, type PostgresStoreOptions } from "../../store/postgres-store.ts";

export type TestDatabaseKind = "postgres" | "pglite";

/** The server tests use; a URL without a user means the `postgres` superuser. */
export function adminDatabaseUrl(): string {
  const url = new URL(process.env["DATABASE_URL"] || "postgres://127.0.0.1:5432/test");
  if (url.username === "") url.username = "postgres";
  return url.toString();
}

export interface TestPostgres {
  /** URL of the fresh, empty database. */
  url: string;
  name: string;
  /** Drops the database (closing any connection still open to it). */
  drop(): Promise<void>;
}

async function withAdmin<T>(run: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: adminDatabaseUrl(), connectionTimeoutMillis: 5_000 });
  try {
    await client.connect();
  } catch (error) {
    throw new Error(`tests need PostgreSQL at ${adminDatabaseUrl()} (set DATABASE_URL): ${(error as Error).message}`, { cause: error });
  }
  try {
    return await run(client);
  } finally {
    await client.end();
  }
}

/** Creates an empty database for one test file. */
export async function createTestPostgres(label = "store"): Promise<TestPostgres> {
  const name = `otj_${label.replace(/[^a-z0-9]/g, "_")}_${process.pid}_${randomBytes(4).toString("hex")}`;
  await withAdmin((client) => client.query(`create database "${name}"`));
  const url = new URL(adminDatabaseUrl());
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    name,
    drop: () => withAdmin((client) => client.query(`drop database if exists "${name}" with (force)`)).then(() => undefined),
  };
}

export interface TestStore {
  kind: TestDatabaseKind;
  handle: DatabaseHandle;
  store: PostgresStore;
  /** The database URL (memory:// for PGlite). */
  url: string;
  /** Another store instance (another lease owner) on the same database, for race tests. */
  openAnother(options?: PostgresStoreOptions): Promise<{ store: PostgresStore; close(): Promise<void> }>;
  /** Empties every table (between tests of one file). */
  truncate(): Promise<void>;
  close(): Promise<void>;
}

/** A migrated database of the given kind with a store on it. */
export async function openTestStore(kind: TestDatabaseKind, options: PostgresStoreOptions = {}): Promise<TestStore> {
  const pgDb = kind === "postgres" ? await createTestPostgres() : null;
  const url = pgDb?.url ?? "memory://";
  const handle = await createDatabase(url, { cwd: process.cwd(), poolSize: 4 });
  await migrateToLatest(handle.db);
  const store = new PostgresStore(handle.db, options);
  const others: DatabaseHandle[] = [];
  return {
    kind,
    handle,
    store,
    url,
    async openAnother(anotherOptions = {}) {
      if (pgDb === null) return { store: new PostgresStore(handle.db, anotherOptions), close: async () => {} };
      const other = await createDatabase(pgDb.url, { cwd: process.cwd(), poolSize: 4 });
      others.push(other);
      return { store: new PostgresStore(other.db, anotherOptions), close: () => other.close() };
    },
    async truncate() {
      await handle.db.deleteFrom("event_log").execute();
      await handle.db.deleteFrom("bridge_session").execute();
      await handle.db.deleteFrom("device_state").execute();
      await handle.db.deleteFrom("meeting").execute();
      await handle.db.deleteFrom("sync_cursor").execute();
      await handle.db.deleteFrom("room").execute();
      await handle.db.deleteFrom("provider").execute();
      await handle.db.deleteFrom("console_revocation").execute();
      await handle.db.deleteFrom("job_lease").execute();
      await handle.db.deleteFrom("alarm").execute();
    },
    async close() {
      for (const other of others) await other.close();
      await handle.close();
      await pgDb?.drop();
    },
  };
}
