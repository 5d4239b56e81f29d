/**
 * The count behind OTJ_NOTIFICATIONS_FAILING (`failing(minFailures)` of the Graph subscription
 * store and the Google channel store): the rooms whose record failed that often in a row, a
 * success resetting the count, disabled rooms and orphaned channels left out, and the most
 * recent failure's code and message.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import type { FailingNotifications } from "../../core/ports/notification-failures.ts";
import { PostgresGoogleChannelStore } from "../../store/postgres/google-channel-store.ts";
import { PostgresSubscriptionStore } from "../../store/postgres/graph-subscription-store.ts";
import { openTestStore, type TestDatabaseKind, type TestStore } from "../support/test-database.ts";

const T0 = new Date("2026-12-08T08:00:00.000Z");
const at = (minutes: number) => new Date(T0.getTime() + minutes * 60_000);
const NONE = { rooms: 0, lastCode: null, lastMessage: null };

/** What both stores share for this test: lease the due records, record failures and successes. */
type Records = FailingNotifications & {
  ensureRooms(now: Date): Promise<number>;
  claimDue(now: Date, limit: number, leaseMs: number): Promise<Array<{ roomId: string }>>;
  failed(roomId: string, failure: { code: string; message: string; dueAt: Date; forget: boolean }, now: Date): Promise<boolean>;
  releaseAll(now: Date): Promise<number>;
};

describe.each(["postgres", "pglite"] as TestDatabaseKind[])("failing notifications on %s", (kind) => {
  let db: TestStore;

  beforeAll(async () => {
    db = await openTestStore(kind, { owner: "owner-a" });
  }, 60_000);
  afterAll(async () => {
    await db?.close();
  });
  beforeEach(async () => {
    await db.truncate();
    await db.store.providers.add({ partner: "cisco", name: "webex", tenantKey: "acme@m.webex.com" }, T0);
  });

  const addRoom = async (mailbox: string, source: "graph" | "google" | "ews") =>
    (await db.store.rooms.add({ mailbox, displayName: mailbox, provider: "webex", deviceFamily: "pull", source }, T0)).room.id;

  /** One reconcile round at `minute`: the rooms in `fail` fail (due again at once), the rest are released untouched. */
  async function round(s: Records, minute: number, fail: ReadonlyMap<string, { code: string; message: string }>): Promise<void> {
    await s.ensureRooms(at(minute));
    for (const record of await s.claimDue(at(minute), 100, 60_000)) {
      const f = fail.get(record.roomId);
      if (f) expect(await s.failed(record.roomId, { ...f, dueAt: at(minute), forget: false }, at(minute))).toBe(true);
    }
    await s.releaseAll(T0);
  }

  const down = { code: "OTJ_GRAPH_UNAVAILABLE", message: "503 from Graph" };

  it("Graph subscriptions: counts enabled rooms failed often enough in a row; a success resets; the last failure is reported", async () => {
    const s = new PostgresSubscriptionStore(db.handle.db, "owner-a");
    const [a, b, c, d] = await Promise.all(["a", "b", "c", "d"].map((n) => addRoom(`${n}@contoso.example`, "graph")));
    expect(await s.failing(3)).toEqual(NONE);
    await round(s, 1, new Map([a!, b!, c!, d!].map((id) => [id, down])));
    await round(s, 2, new Map([a!, b!, c!, d!].map((id) => [id, down])));
    await round(s, 3, new Map([a!, c!, d!].map((id) => [id, down])));
    expect(await s.failing(3)).toMatchObject({ rooms: 3, lastCode: "OTJ_GRAPH_UNAVAILABLE" });
    expect((await s.failing(2)).rooms).toBe(4);

    // c succeeds (count back to 0), d's room is disabled, a fails again with another error.
    const [claimedC] = (await s.claimDue(at(4), 100, 60_000)).filter((r) => r.roomId === c);
    expect(claimedC).toBeDefined();
    await s.saved(c!, { subscriptionId: "sub-c", clientStateHash: "ab".repeat(32), expiresAt: at(10_000), dueAt: at(5_000) }, at(4));
    await s.releaseAll(T0);
    await db.store.rooms.setEnabled([d!], false, at(4));
    await round(s, 5, new Map([[a!, { code: "OTJ_GRAPH_ACCESS_DENIED", message: "application access policy" }]]));
    expect(await s.failing(3)).toEqual({ rooms: 1, lastCode: "OTJ_GRAPH_ACCESS_DENIED", lastMessage: "application access policy" });
    expect(await s.failing(2)).toEqual({ rooms: 2, lastCode: "OTJ_GRAPH_ACCESS_DENIED", lastMessage: "application access policy" });
    expect(await s.failing(5)).toEqual(NONE);
  });

  it("Graph subscriptions: only rooms read from Graph get one (Google and Exchange Server rooms have no Graph mailbox)", async () => {
    const s = new PostgresSubscriptionStore(db.handle.db, "owner-a");
    const graph = await addRoom("graph@contoso.example", "graph");
    const google = await addRoom("google@contoso.example", "google");
    await addRoom("ews@contoso.example", "ews");
    expect(await s.ensureRooms(at(1))).toBe(1);
    expect((await s.claimDue(at(1), 100, 60_000)).map((r) => r.roomId)).toEqual([graph]);
    await s.releaseAll(at(1));
    // A room that moved to Google after its record was made: not claimed, not counted as failing.
    await db.store.rooms.update(graph, { source: "google" }, at(2));
    expect(await s.claimDue(at(2), 100, 60_000)).toEqual([]);
    expect(await s.failing(0)).toEqual(NONE);
    expect(google).not.toBe(graph);
  });

  it("Google channels: counts Google rooms failed often enough in a row, not orphans (room removed)", async () => {
    const s = new PostgresGoogleChannelStore(db.handle.db, "owner-a");
    const g1 = await addRoom("c_1@resource.calendar.google.com", "google");
    const g2 = await addRoom("c_2@resource.calendar.google.com", "google");
    const g3 = await addRoom("c_3@resource.calendar.google.com", "google");
    await addRoom("m@contoso.example", "graph");
    const unavailable = { code: "OTJ_GOOGLE_UNAVAILABLE", message: "500 from Google" };
    const forbidden = { code: "OTJ_GOOGLE_ACCESS_DENIED", message: "push notifications are not supported by this resource" };
    for (const minute of [1, 2, 3]) await round(s, minute, new Map([g1, g2, g3].map((id) => [id, unavailable])));
    await round(s, 4, new Map([[g2, forbidden]]));
    expect(await s.failing(3)).toEqual({ rooms: 3, lastCode: "OTJ_GOOGLE_ACCESS_DENIED", lastMessage: forbidden.message });

    await db.store.rooms.remove(g2);
    expect(await s.failing(3)).toEqual({ rooms: 2, lastCode: "OTJ_GOOGLE_UNAVAILABLE", lastMessage: unavailable.message });
    await round(s, 5, new Map([[g1, unavailable]]));
    expect(await s.failing(4)).toEqual({ rooms: 1, lastCode: "OTJ_GOOGLE_UNAVAILABLE", lastMessage: unavailable.message });
    expect(await s.failing(5)).toEqual(NONE);
  });
});
