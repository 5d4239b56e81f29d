/**
 * The Google channel bookkeeping (store/postgres/google-channel-store.ts) on PostgreSQL and PGlite:
 * one record per enabled Google room, leased so two instances never take the same record, and an
 * orphan (claimed at once) when its room is removed or moves to another source.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PostgresGoogleChannelStore } from "../../store/postgres/google-channel-store.ts";
import { openTestStore, type TestDatabaseKind, type TestStore } from "../support/test-database.ts";

const T0 = new Date("2026-12-08T08:00:00.000Z");
const at = (minutes: number) => new Date(T0.getTime() + minutes * 60_000);

describe.each(["postgres", "pglite"] as TestDatabaseKind[])("Google channel records on %s", (kind) => {
  let db: TestStore;

  beforeAll(async () => {
    db = await openTestStore(kind, { owner: "owner-a" });
    await db.store.providers.add({ partner: "cisco", name: "webex", tenantKey: "acme@m.webex.com" }, T0);
  }, 60_000);
  afterAll(async () => {
    await db?.close();
  });

  it("records Google rooms only, leases each to one owner, and turns a removed or moved room into an orphan", async () => {
    const room = (mailbox: string, source: "google" | "graph") =>
      db.store.rooms.add({ mailbox, displayName: mailbox, provider: "webex", deviceFamily: "pull", source }, T0);
    const g1 = (await room("c_1@resource.calendar.google.com", "google")).room;
    const g2 = (await room("c_2@resource.calendar.google.com", "google")).room;
    await room("m@contoso.example", "graph");
    const a = new PostgresGoogleChannelStore(db.handle.db, "owner-a");
    const b = new PostgresGoogleChannelStore(db.handle.db, "owner-b");
    expect(await a.ensureRooms(T0)).toBe(2);
    expect(await b.ensureRooms(T0)).toBe(0);
    const first = await a.claimDue(T0, 1, 60_000);
    const second = await b.claimDue(T0, 10, 60_000);
    expect([...first, ...second].map((r) => r.roomId).sort()).toEqual([g1.id, g2.id].sort());
    expect(await b.claimDue(T0, 10, 60_000)).toEqual([]);
    const mine = first[0]!;
    const saved = { channelId: "ch-1", resourceId: "res-1", tokenHash: "ab".repeat(32), expiresAt: at(7 * 1440), dueAt: at(5 * 1440) };
    expect(await b.saved(mine.roomId, saved, T0)).toBe(false);
    expect(await a.saved(mine.roomId, saved, T0)).toBe(true);
    expect(await a.byChannelId("ch-1")).toMatchObject({ roomId: mine.roomId, channelId: "ch-1", orphan: false, dueAt: at(5 * 1440) });
    expect(await a.releaseAll(T0)).toBe(0);
    expect(await b.releaseAll(T0)).toBe(1);

    // Moved to Graph: an orphan, claimed although not due.
    await db.store.rooms.update(mine.roomId, { source: "graph" }, at(1));
    const orphans = await a.claimDue(at(1), 10, 60_000);
    expect(orphans.map((r) => [r.roomId, r.orphan, r.channelId])).toEqual([
      [mine.roomId, true, "ch-1"],
      [[g1.id, g2.id].find((id) => id !== mine.roomId), false, null],
    ]);
    expect(await a.remove(mine.roomId)).toBe(true);
    expect(await a.byChannelId("ch-1")).toBeNull();
    await a.releaseAll(at(1));

    // Removed: the record outlives the room until its channel is stopped.
    const other = [g1.id, g2.id].find((id) => id !== mine.roomId)!;
    await db.store.rooms.remove(other);
    expect((await a.list()).map((r) => [r.roomId, r.orphan])).toEqual([[other, true]]);
  });
});
