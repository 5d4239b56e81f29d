/**
 * Runs the migrations in migrations/ (YYYYMMDDHHMM_snake_name.ts, `up`/`down` over Kysely<any>)
 * with kysely's Migrator, on one connection holding a PostgreSQL advisory lock, so any number of
 * processes may migrate at once: the first applies, the others wait and find nothing to do.
 * All pending migrations run in one transaction: a failure applies none of them.
 */
import { readdir } from "node:fs/promises";
import { type Kysely, type Migration, type MigrationResultSet, Migrator, NO_MIGRATIONS, sql } from "kysely";
import { OtjError } from "../core/errors.ts";

/** File names the migrator accepts: the TypeScript sources, or the compiled JavaScript in dist/. */
export const MIGRATION_FILE_PATTERN = /^(\d{12})_([a-z0-9]+(?:_[a-z0-9]+)*)\.(?:ts|js)$/;

/** A migration module file, not a declaration or a source map. */
function isMigrationModule(file: string): boolean {
  return (file.endsWith(".ts") && !file.endsWith(".d.ts")) || file.endsWith(".js");
}

/** Advisory lock key of otj's migrations ("otjmigra" in ASCII). */
const MIGRATION_LOCK_KEY = "8031161053660803681";

const MIGRATIONS_DIR = new URL("../migrations/", import.meta.url);

/** The migration modules, by file name without extension, in order. */
export async function loadMigrations(): Promise<Record<string, Migration>> {
  const files = (await readdir(MIGRATIONS_DIR)).filter(isMigrationModule).sort();
  const migrations: Record<string, Migration> = {};
  for (const file of files) {
    if (!MIGRATION_FILE_PATTERN.test(file)) {
      throw new OtjError("OTJ_STORE_MIGRATION_FAILED", `migrations/${file} is not named YYYYMMDDHHMM_snake_name.ts (or .js when compiled)`);
    }
    const module = (await import(new URL(file, MIGRATIONS_DIR).href)) as Partial<Migration>;
    if (typeof module.up !== "function" || typeof module.down !== "function") {
      throw new OtjError("OTJ_STORE_MIGRATION_FAILED", `migrations/${file} must export up() and down()`);
    }
    migrations[file.slice(0, -3)] = { up: module.up, down: module.down };
  }
  return migrations;
}

export interface MigrationReport {
  /** Names of the migrations this call applied (or reverted), in order. */
  applied: string[];
}

// biome-ignore lint/suspicious/noExplicitAny: the migrator works below the typed schema.
type AnyDb = Kysely<any>;

async function withMigrator(db: AnyDb, run: (migrator: Migrator) => Promise<MigrationResultSet>): Promise<MigrationReport> {
  const migrations = await loadMigrations();
  const outcome = await db.connection().execute(async (connection) => {
    await sql`select pg_advisory_lock(${sql.raw(MIGRATION_LOCK_KEY)})`.execute(connection);
    try {
      const migrator = new Migrator({ db: connection, provider: { getMigrations: async () => migrations } });
      return await run(migrator);
    } finally {
      await sql`select pg_advisory_unlock(${sql.raw(MIGRATION_LOCK_KEY)})`.execute(connection);
    }
  });
  if (outcome.error !== undefined) {
    const failed = outcome.results?.find((result) => result.status === "Error")?.migrationName;
    const reason = outcome.error instanceof Error ? outcome.error.message : String(outcome.error);
    const message = /corrupted migrations/.test(reason)
      ? `the database holds migrations this otj does not know (${reason}); was it migrated by a newer version?`
      : `migration ${failed ?? "(setup)"} failed: ${reason}; nothing of this run was applied`;
    throw new OtjError("OTJ_STORE_MIGRATION_FAILED", message, { cause: outcome.error });
  }
  return { applied: (outcome.results ?? []).filter((r) => r.status === "Success").map((r) => r.migrationName) };
}

/** Applies every pending migration. Idempotent; safe to run from several processes at once. */
export function migrateToLatest(db: AnyDb): Promise<MigrationReport> {
  return withMigrator(db, (migrator) => migrator.migrateToLatest());
}

/** Reverts the last `steps` migrations, or all of them with `"all"` (tests and operators). */
export function migrateDown(db: AnyDb, steps: number | "all"): Promise<MigrationReport> {
  if (steps === "all") return withMigrator(db, (migrator) => migrator.migrateTo(NO_MIGRATIONS));
  return withMigrator(db, async (migrator) => {
    const results: NonNullable<MigrationResultSet["results"]> = [];
    for (let i = 0; i < steps; i++) {
      const step = await migrator.migrateDown();
      if (step.error !== undefined) return { error: step.error, results: [...results, ...(step.results ?? [])] };
      if ((step.results ?? []).length === 0) break;
      results.push(...(step.results ?? []));
    }
    return { results };
  });
}

/** Every known migration and when it was applied (null: pending). */
export async function migrationStatus(db: AnyDb): Promise<Array<{ name: string; executedAt: Date | null }>> {
  const migrations = await loadMigrations();
  const migrator = new Migrator({ db, provider: { getMigrations: async () => migrations } });
  const infos = await migrator.getMigrations();
  return infos.map((info) => ({ name: info.name, executedAt: info.executedAt ?? null }));
}
