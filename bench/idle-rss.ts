/**
 * idle-rss-10k: resident memory of an `otj run` process with 10,000 rooms (and a meeting each)
 * in its PostgreSQL database, idle (no Graph credentials, so nothing to poll), after start-up.
 */
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { createDatabase } from "../store/create-database.ts";
import { migrateToLatest } from "../store/migrate.ts";
import { PostgresStore } from "../store/postgres-store.ts";
import { createTestPostgres } from "../test/support/test-database.ts";
import { report } from "./report.ts";

const ROOMS = 10_000;

function rssMb(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const kb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
  return kb / 1024;
}

export async function benchIdleRss(): Promise<void> {
  const pg = await createTestPostgres("rss");
  try {
    const handle = await createDatabase(pg.url, { cwd: process.cwd(), poolSize: 4 });
    await migrateToLatest(handle.db);
    const store = new PostgresStore(handle.db, {});
    const now = new Date();
    await store.providers.add({ name: "webex", partner: "cisco", tenantKey: "contoso@m.webex.com" }, now);
    const rooms = Array.from({ length: ROOMS }, (_, i) => ({
      mailbox: `room${i}@contoso.example`,
      displayName: `Room ${i}`,
      provider: "webex",
      deviceFamily: "xapi",
      deviceAddress: `https://10.${(i >> 8) & 255}.${i & 255}.1`,
      deviceUsername: "admin",
      devicePassword: "secret",
    }));
    const added = await store.rooms.addMany(rooms, now);
    if (!added.applied) throw new Error("seeding rooms failed");
    await handle.close();

    const child = spawn(process.execPath, ["bin/otj.js", "run", "--database-url", pg.url], {
      env: { ...process.env, OTJ_HTTP__PORT: "0", OTJ_HTTP__HOST: "127.0.0.1", OTJ_LOG__LEVEL: "info" },
      stdio: ["ignore", "pipe", "inherit"],
    });
    await new Promise<void>((resolve, reject) => {
      let out = "";
      child.stdout!.on("data", (c: Buffer) => {
        out += String(c);
        if (out.includes('"listening"')) resolve();
      });
      child.on("exit", (code) => reject(new Error(`otj run exited with ${code}`)));
    });
    // Let start-up garbage settle, then sample the idle process a few times.
    const samples: number[] = [];
    for (let i = 0; i < 5; i++) {
      await new Promise((r) => setTimeout(r, 1000));
      samples.push(rssMb(child.pid!));
    }
    child.kill("SIGTERM");
    await new Promise((r) => child.on("exit", r));
    const value = Math.max(...samples);
    report({ bench: "idle-rss-10k", metric: "rss", value, unit: "MB", baseline: 200, ratio: value / 200 });
  } finally {
    await pg.drop();
  }
}
