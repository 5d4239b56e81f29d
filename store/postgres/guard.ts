/**
 * Runs one store operation: checks the abort signal first, then classifies database failures with
 * a table (SQLSTATE / socket code -> our code), so callers only ever see OtjErrors.
 */
import { type Kysely, sql } from "kysely";
import { addMs } from "../../core/clock.ts";
import { type ErrorCode, OtjError, isOtjError } from "../../core/errors.ts";
import type { StoreCallOptions } from "../../core/ports/store.ts";
import type { Database } from "../database.ts";
import type { SecretBox } from "../secret-box.ts";

/** What every sub-store shares. */
export interface StoreContext {
  db: Kysely<Database>;
  /** Lease owner of this store instance. */
  owner: string;
  secrets: SecretBox;
}

interface DbError {
  code?: string;
  constraint?: string;
  detail?: string;
  message?: string;
}

const FAILURES: Array<{ codes: readonly string[]; code: ErrorCode; describe: (e: DbError) => string }> = [
  { codes: ["23505"], code: "OTJ_STORE_CONFLICT", describe: (e) => `a record with the same key already exists (${e.constraint ?? e.detail ?? "unique"})` },
  { codes: ["23503"], code: "OTJ_STORE_NOT_FOUND", describe: (e) => `a referenced record does not exist (${e.constraint ?? "foreign key"})` },
  {
    codes: ["ECONNREFUSED", "ECONNRESET", "ETIMEDOUT", "EPIPE", "57P01", "57P02", "57P03", "08000", "08001", "08003", "08006"],
    code: "OTJ_STORE_UNREACHABLE",
    describe: (e) => `the database connection failed: ${e.message ?? e.code}`,
  },
  { codes: ["42P01"], code: "OTJ_STORE_MIGRATION_FAILED", describe: () => "the database is not migrated; run `otj migrate`" },
];

export function toStoreError(error: unknown): OtjError {
  if (isOtjError(error)) return error;
  const e = (error ?? {}) as DbError;
  const known = FAILURES.find((entry) => e.code !== undefined && entry.codes.includes(e.code));
  if (known) return new OtjError(known.code, known.describe(e), { cause: error });
  if (/Connection terminated|timeout exceeded when trying to connect|Client was closed/i.test(e.message ?? "")) {
    return new OtjError("OTJ_STORE_UNREACHABLE", `the database connection failed: ${e.message}`, { cause: error });
  }
  if (error instanceof Error && error.name === "AbortError") {
    return new OtjError("OTJ_INTERNAL", "the store operation was aborted", { cause: error, retryable: true });
  }
  return new OtjError("OTJ_INTERNAL", `store operation failed: ${e.message ?? String(error)}`, { cause: error });
}

/** Runs `operation` after checking `options.signal`, mapping failures to OtjErrors. */
export async function guard<T>(options: StoreCallOptions | undefined, operation: () => Promise<T>): Promise<T> {
  try {
    options?.signal?.throwIfAborted();
    return await operation();
  } catch (error) {
    throw toStoreError(error);
  }
}

/** Splits `items` into chunks of at most `size` (parameter limits, progress). */
export function chunks<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

/**
 * Runs `read` over `ids` (duplicates dropped) in chunks of 1,000, for `getMany` reads by key, and
 * concatenates what each chunk found.
 */
export async function readByIds<T>(ids: readonly string[], read: (chunk: string[]) => Promise<T[]>): Promise<T[]> {
  const found: T[] = [];
  for (const chunk of chunks([...new Set(ids)], 1_000)) found.push(...(await read(chunk)));
  return found;
}

export const DEFAULT_LEASE_MS = 60_000;

/** Tables whose rows carry a lease (`lease_owner`, `lease_expires_at`), with their key column. */
const LEASED_TABLES = { sync_cursor: "room_id", device_state: "room_id", bridge_session: "occurrence_key" } as const;
type LeasedTable = keyof typeof LEASED_TABLES;

/** Extends this owner's lease on one row; false when the lease was lost (taken over). */
export async function renewOwnLease(ctx: StoreContext, table: LeasedTable, key: string, now: Date, leaseMs = DEFAULT_LEASE_MS): Promise<boolean> {
  const result = await sql`update ${sql.table(table)} set lease_expires_at = ${addMs(now, leaseMs)}, updated_at = ${now}
    where ${sql.ref(LEASED_TABLES[table])} = ${key} and lease_owner = ${ctx.owner}`.execute(ctx.db);
  return Number(result.numAffectedRows ?? 0) > 0;
}

/** Releases this owner's leases: one row (`key`), or all of the table's (shutdown). Returns how many. */
export async function releaseOwnLeases(ctx: StoreContext, table: LeasedTable, now: Date, key?: string): Promise<number> {
  const onlyKey = key === undefined ? sql`` : sql`and ${sql.ref(LEASED_TABLES[table])} = ${key}`;
  const result = await sql`update ${sql.table(table)} set lease_owner = null, lease_expires_at = null, updated_at = ${now}
    where lease_owner = ${ctx.owner} ${onlyKey}`.execute(ctx.db);
  return Number(result.numAffectedRows ?? 0);
}
