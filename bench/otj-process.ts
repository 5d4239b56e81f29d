/**
 * An `otj run` process for the benchmarks that measure a real engine (idle-rss, history-500k):
 * started from the built CLI (bin/otj.js runs dist/) on a database, resolved once it logs
 * "listening" with its port, and its resident memory read from /proc; and the database it runs
 * on, migrated and seeded before it starts.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import type { Kysely } from "kysely";
import { createDatabase } from "../store/create-database.ts";
import { migrateToLatest } from "../store/migrate.ts";
import { PostgresStore } from "../store/postgres-store.ts";

export interface OtjProcess {
  readonly child: ChildProcess;
  readonly port: number;
  /** Sends SIGTERM and waits for the exit. */
  stop(): Promise<void>;
}

/** Resident memory of process `pid`, in MB. */
export function rssMb(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) / 1024;
}

/** Starts `otj run --database-url <url>` on a free loopback port, with `env` added (OTJ_* settings). */
export async function startOtjRun(databaseUrl: string, env: Record<string, string> = {}): Promise<OtjProcess> {
  const child = spawn(process.execPath, ["bin/otj.js", "run", "--database-url", databaseUrl], {
    env: { ...process.env, OTJ_HTTP__PORT: "0", OTJ_HTTP__HOST: "127.0.0.1", OTJ_LOG__LEVEL: "info", ...env },
    stdio: ["ignore", "pipe", "inherit"],
  });
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
    await exited;
  };
  try {
    const port = await new Promise<number>((resolve, reject) => {
      let out = "";
      child.stdout!.on("data", (c: Buffer) => {
        out += String(c);
        const m = /"port":(\d+)[^\n]*"msg":"listening"|"msg":"listening"[^\n]*"port":(\d+)/.exec(out);
        if (m) resolve(Number(m[1] ?? m[2]));
      });
      child.on("exit", (code) => reject(new Error(`otj run exited with ${code}`)));
    });
    return { child, port, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

/**
 * Migrates the database at `url`, adds the `webex` provider (Cisco, contoso@m.webex.com) and
 * runs `seed` on it, then closes it: what `otj run` then starts on.
 */
export async function seedDatabase(url: string, seed: (store: PostgresStore, db: Kysely<unknown>, now: Date) => Promise<void>): Promise<void> {
  const handle = await createDatabase(url, { cwd: process.cwd(), poolSize: 4 });
  try {
    await migrateToLatest(handle.db);
    const store = new PostgresStore(handle.db, {});
    const now = new Date();
    await store.providers.add({ name: "webex", partner: "cisco", tenantKey: "contoso@m.webex.com" }, now);
    await seed(store, handle.db as unknown as Kysely<unknown>, now);
  } finally {
    await handle.close();
  }
}
