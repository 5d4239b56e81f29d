/** The engine harness itself: a start that fails leaves no test database and no emulator behind. */
import pg from "pg";
import { describe, expect, it } from "vitest";
import { startEngineHarness } from "../support/engine-harness.ts";
import { adminDatabaseUrl } from "../support/test-database.ts";

async function databasesNamed(prefix: string): Promise<string[]> {
  const client = new pg.Client({ connectionString: adminDatabaseUrl() });
  await client.connect();
  try {
    const result = await client.query<{ datname: string }>("select datname from pg_database where datname like $1", [`${prefix}%`]);
    return result.rows.map((r) => r.datname);
  } finally {
    await client.end();
  }
}

describe("startEngineHarness", () => {
  it("drops its database when the engine cannot start (an admin token too short)", async () => {
    const start = startEngineHarness({
      label: "harness_refused",
      adminToken: "short",
      startAt: "2025-03-04T08:00:00.000Z",
      provider: { name: "webex", tenantKey: "contoso@m.webex.com" },
    });
    await expect(start).rejects.toThrow(/adminToken/);
    expect(await databasesNamed(`otj_harness_refused_${process.pid}_`)).toEqual([]);
  });
});
