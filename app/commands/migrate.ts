/**
 * `otj migrate [--database-url URL] [--config FILE]` (docs/cli.md), and the options and opening
 * steps every store command shares.
 */
import type { Command } from "commander";
import { type OpenStoreOptions, type OpenedStore, withStore } from "../../store/open-store.ts";
import { migrateToLatest } from "../../store/migrate.ts";
import type { CliIo } from "../cli-context.ts";

export interface StoreFlags {
  config?: string;
  databaseUrl?: string;
}

/** Adds --config and --database-url, which every command that opens the store takes. */
export function addStoreOptions(cmd: Command): Command {
  return cmd
    .option("--config <file>", "configuration file (JSON, or a JS/TS module)")
    .option("--database-url <url>", "postgres://…, pglite:///abs/dir or memory:// (wins over DATABASE_URL and the config)");
}

function openOptions(flags: StoreFlags, io: CliIo, migrate: boolean): OpenStoreOptions {
  return { configFile: flags.config, databaseUrl: flags.databaseUrl, env: io.env, cwd: io.cwd, migrate };
}

/** Opens the store (migrating it first), runs `work`, closes it. */
export function withCliStore<T>(flags: StoreFlags, io: CliIo, work: (opened: OpenedStore) => Promise<T>): Promise<T> {
  return withStore(openOptions(flags, io, true), work);
}

export function registerMigrateCommand(program: Command, io: CliIo): void {
  addStoreOptions(program.command("migrate").description("apply pending database migrations (idempotent, safe to run concurrently)"))
    .option("--json", 'print {"applied":[names]} on stdout')
    .action(async (flags: StoreFlags & { json?: boolean }) => {
      await withStore(openOptions(flags, io, false), async ({ handle }) => {
        const { applied } = await migrateToLatest(handle.db);
        if (flags.json) io.stdout(`${JSON.stringify({ applied })}\n`);
        io.stderr(
          applied.length === 0
            ? `${handle.target.display}: up to date\n`
            : `${handle.target.display}: applied ${applied.length} migration(s): ${applied.join(", ")}\n`,
        );
      });
    });
}
