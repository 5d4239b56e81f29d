/**
 * idle-rss-10k: resident memory of an `otj run` process with 10,000 rooms (and a meeting each)
 * in its PostgreSQL database, idle (no Graph credentials, so nothing to poll), after start-up.
 */
import { createTestPostgres } from "../test/support/test-database.ts";
import { rssMb, seedDatabase, startOtjRun } from "./otj-process.ts";
import { report } from "./report.ts";

const ROOMS = 10_000;

export async function benchIdleRss(): Promise<void> {
  const pg = await createTestPostgres("rss");
  try {
    await seedDatabase(pg.url, async (store, _db, now) => {
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
    });

    const otj = await startOtjRun(pg.url);
    // Let start-up garbage settle, then sample the idle process a few times.
    const samples: number[] = [];
    for (let i = 0; i < 5; i++) {
      await new Promise((r) => setTimeout(r, 1000));
      samples.push(rssMb(otj.child.pid!));
    }
    await otj.stop();
    const value = Math.max(...samples);
    report({ bench: "idle-rss-10k", metric: "rss", value, unit: "MB", baseline: 200, ratio: value / 200 });
  } finally {
    await pg.drop();
  }
}
