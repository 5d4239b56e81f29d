/**
 * Opens the database named by `database.url` (docs/configuration.md):
 * - `postgres://…` / `postgresql://…`: a node-postgres Pool (several engine instances may share it);
 * - unset: embedded PGlite in `./.otj/db` relative to the working directory;
 * - `pglite:///abs/dir`: PGlite in that directory; `memory://`: an in-memory PGlite.
 * A PGlite directory is held by one process at a time (store/pglite-lock.ts).
 */
import { mkdirSync } from "node:fs";
import { resolve } from "node:path";
import type { PGlite } from "@electric-sql/pglite";
import { Kysely, PostgresDialect } from "kysely";
import pg from "pg";
import { OtjError } from "../core/errors.ts";
import type { Database } from "./database.ts";
import { acquirePgliteLock } from "./pglite-lock.ts";
import { pgTypes } from "./pg-timestamp.ts";

export type DatabaseTarget =
  | { kind: "postgres"; url: string; display: string }
  | { kind: "pglite"; dir: string; display: string }
  | { kind: "memory"; display: string };

/** The default embedded directory, relative to the working directory. */
export const DEFAULT_PGLITE_DIR = ".otj/db";

/** Where `database.url` points; `display` never contains a password. */
export function databaseTargetOf(url: string | null | undefined, cwd: string): DatabaseTarget {
  if (url === null || url === undefined || url === "") {
    const dir = resolve(cwd, DEFAULT_PGLITE_DIR);
    return { kind: "pglite", dir, display: `embedded PGlite in ${dir}` };
  }
  if (url === "memory://") return { kind: "memory", display: "in-memory PGlite (memory://)" };
  if (url.startsWith("pglite://")) {
    const dir = decodeURIComponent(url.slice("pglite://".length));
    if (!dir.startsWith("/")) {
      throw new OtjError("OTJ_CONFIG_INVALID", `database.url ${url}: expected pglite:///absolute/dir`);
    }
    return { kind: "pglite", dir, display: `embedded PGlite in ${dir}` };
  }
  if (/^postgres(ql)?:\/\//.test(url)) {
    let display = url;
    try {
      const parsed = new URL(url);
      if (parsed.password) parsed.password = "***";
      display = parsed.toString();
    } catch {
      throw new OtjError("OTJ_CONFIG_INVALID", "database.url is not a valid PostgreSQL URL");
    }
    return { kind: "postgres", url, display };
  }
  throw new OtjError("OTJ_CONFIG_INVALID", "database.url: expected postgres://…, postgresql://…, pglite:///absolute/dir or memory://");
}

export interface DatabaseHandle {
  db: Kysely<Database>;
  target: DatabaseTarget;
  /** Closes the pool or PGlite and releases the directory lock. Idempotent. */
  close(): Promise<void>;
}

export interface CreateDatabaseOptions {
  cwd: string;
  /** Pool size for PostgreSQL (database.poolSize). */
  poolSize?: number;
  /** How long to wait for a PostgreSQL connection (default 5 000 ms). */
  connectTimeoutMs?: number;
}

/** How node-postgres connection failures read to an operator, and whether retrying can help. */
const CONNECT_FAILURES: Array<{ match: (e: { code?: string; message?: string }) => boolean; reason: string; retryable: boolean }> = [
  { match: (e) => e.code === "ECONNREFUSED", reason: "connection refused (is PostgreSQL running?)", retryable: true },
  { match: (e) => e.code === "ENOTFOUND" || e.code === "EAI_AGAIN", reason: "host not found", retryable: true },
  { match: (e) => e.code === "ETIMEDOUT" || /timeout/i.test(e.message ?? ""), reason: "timed out", retryable: true },
  { match: (e) => e.code === "28P01" || e.code === "28000", reason: "authentication failed", retryable: false },
  { match: (e) => e.code === "3D000", reason: "the database does not exist", retryable: false },
];

function unreachable(target: DatabaseTarget, error: unknown): OtjError {
  const e = (error ?? {}) as { code?: string; message?: string };
  const known = CONNECT_FAILURES.find((entry) => entry.match(e));
  const reason = known?.reason ?? e.message ?? String(error);
  return new OtjError("OTJ_STORE_UNREACHABLE", `cannot reach ${target.display}: ${reason}`, {
    cause: error,
    retryable: known?.retryable ?? true,
  });
}

async function openPostgres(target: Extract<DatabaseTarget, { kind: "postgres" }>, options: CreateDatabaseOptions): Promise<DatabaseHandle> {
  const pool = new pg.Pool({
    connectionString: target.url,
    max: options.poolSize ?? 10,
    connectionTimeoutMillis: options.connectTimeoutMs ?? 5_000,
    types: pgTypes,
  });
  // An idle client losing its connection must not crash the process; the next query reports it.
  pool.on("error", () => {});
  try {
    await pool.query("select 1");
  } catch (error) {
    await pool.end().catch(() => {});
    throw unreachable(target, error);
  }
  const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
  return { db, target, close: once(() => db.destroy()) };
}

/** Makes `close` idempotent: the first call does the work, later calls get the same promise. */
function once(close: () => Promise<void>): () => Promise<void> {
  let closing: Promise<void> | undefined;
  return () => {
    closing ??= close();
    return closing;
  };
}

async function openPglite(target: Exclude<DatabaseTarget, { kind: "postgres" }>): Promise<DatabaseHandle> {
  let release = (): void => {};
  let pglite: PGlite;
  if (target.kind === "pglite") {
    try {
      mkdirSync(target.dir, { recursive: true });
    } catch (error) {
      throw new OtjError("OTJ_STORE_UNREACHABLE", `cannot create ${target.dir}: ${(error as Error).message}`, { cause: error, retryable: false });
    }
    release = acquirePgliteLock(target.dir);
  }
  // Loaded only for the embedded database: a PostgreSQL deployment never pays for the WASM build.
  const [{ PGlite: PGliteClass }, { PGliteDialect }] = await Promise.all([import("@electric-sql/pglite"), import("kysely-pglite-dialect")]);
  try {
    pglite = target.kind === "pglite" ? await PGliteClass.create(target.dir) : await PGliteClass.create();
  } catch (error) {
    release();
    throw new OtjError("OTJ_STORE_UNREACHABLE", `cannot open ${target.display}: ${(error as Error).message}`, { cause: error, retryable: false });
  }
  const db = new Kysely<Database>({ dialect: new PGliteDialect(pglite) });
  const close = async (): Promise<void> => {
    try {
      await db.destroy();
      if (!pglite.closed) await pglite.close();
    } finally {
      release();
    }
  };
  return { db, target, close: once(close) };
}

/** Opens the database and checks that it answers. Throws OTJ_STORE_UNREACHABLE or OTJ_STORE_LOCKED. */
export async function createDatabase(url: string | null | undefined, options: CreateDatabaseOptions): Promise<DatabaseHandle> {
  const target = databaseTargetOf(url, options.cwd);
  return target.kind === "postgres" ? openPostgres(target, options) : openPglite(target);
}
