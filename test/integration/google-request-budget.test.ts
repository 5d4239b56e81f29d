/**
 * google.dailyRequestBudget shared by engine instances: two Google clients (as two instances
 * would have) on one database, PostgreSQL and PGlite, never send more than the budget together;
 * the count starts again on the next UTC day (injected clock).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DailyRequestBudget, GoogleClient } from "../../calendar/google/google-client.ts";
import { OtjError } from "../../core/errors.ts";
import { ManualClock } from "../../core/manual-clock.ts";
import { GoogleEmulator } from "../../emulators/google/google-emulator.ts";
import { createDatabase, type DatabaseHandle } from "../../store/create-database.ts";
import { PostgresRequestBudgetStore } from "../../store/postgres/request-budget-store.ts";
import { openTestStore, type TestDatabaseKind, type TestStore } from "../support/test-database.ts";

const ROOM = "c_budget@resource.calendar.google.com";

async function codeOf(promise: Promise<unknown>): Promise<string | null> {
  try {
    await promise;
    return null;
  } catch (error) {
    return error instanceof OtjError ? error.code : String(error);
  }
}

describe.each(["postgres", "pglite"] as TestDatabaseKind[])("a shared Google request budget on %s", (kind) => {
  let db: TestStore;
  let second: DatabaseHandle | null = null;
  let google: GoogleEmulator;
  const clock = new ManualClock("2026-12-08T22:00:00.000Z");

  beforeAll(async () => {
    db = await openTestStore(kind);
    if (kind === "postgres") second = await createDatabase(db.url, { cwd: process.cwd(), poolSize: 2 });
    google = await GoogleEmulator.start({ clock });
    google.addRoom({ email: ROOM, name: "Budget" });
  }, 60_000);

  afterAll(async () => {
    await google?.stop();
    await second?.close();
    await db?.close();
  });

  it("two instances reserving blocks grant exactly the limit together, then refuse until the next UTC day", async () => {
    const a = new DailyRequestBudget(10, clock, { store: new PostgresRequestBudgetStore(db.handle.db), block: 3 });
    const b = new DailyRequestBudget(10, clock, { store: new PostgresRequestBudgetStore((second ?? db.handle).db), block: 3 });
    const taken = { a: 0, b: 0 };
    // Both take at once, many at a time, until refused.
    await Promise.all(
      (["a", "b"] as const).map(async (name) => {
        const budget = name === "a" ? a : b;
        for (;;) {
          const results = await Promise.all([0, 1, 2, 3].map(() => codeOf(budget.take())));
          taken[name] += results.filter((r) => r === null).length;
          if (results.some((r) => r !== null)) {
            expect(results.filter((r) => r !== null).every((r) => r === "OTJ_GOOGLE_BUDGET_EXHAUSTED")).toBe(true);
            return;
          }
        }
      }),
    );
    expect(taken.a + taken.b).toBe(10);
    expect(taken.a).toBeGreaterThan(0);
    expect(taken.b).toBeGreaterThan(0);
    clock.advance(2 * 3_600_000);
    await a.take();
    expect(a.used).toBe(1);
  });

  it("two Google clients on one database send at most the budget to Google together", async () => {
    clock.advance(86_400_000);
    const before = google.calls.filter((c) => c.path.endsWith("/events")).length;
    const client = (handle: DatabaseHandle) =>
      new GoogleClient(
        {
          key: google.serviceAccountKey() as never,
          subject: google.subjects[0]!,
          apiRoot: google.url,
          tokenUrl: google.tokenUrl,
          dailyRequestBudget: 5,
          sharedBudget: { store: new PostgresRequestBudgetStore(handle.db) },
        },
        { clock },
      );
    const clients = [client(db.handle), client(second ?? db.handle)];
    const codes: Array<string | null> = [];
    for (let i = 0; i < 8; i++) {
      codes.push(await codeOf(clients[i % 2]!.listEvents({ calendarId: ROOM, timeMin: clock.now().toISOString() }, AbortSignal.timeout(10_000))));
    }
    // A new day: the days before do not count.
    expect(codes.filter((c) => c === null)).toHaveLength(5);
    expect(codes.slice(5)).toEqual(["OTJ_GOOGLE_BUDGET_EXHAUSTED", "OTJ_GOOGLE_BUDGET_EXHAUSTED", "OTJ_GOOGLE_BUDGET_EXHAUSTED"]);
    expect(google.calls.filter((c) => c.path.endsWith("/events")).length - before).toBe(5);
  });
});
