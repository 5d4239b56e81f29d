/**
 * Several engine instances on one PostgreSQL: claims use
 * FOR UPDATE SKIP LOCKED plus a lease. Real PostgreSQL with separate pools/connections; PGlite
 * has one connection and cannot show any of this.
 */
import pg from "pg";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import type { Store } from "../../core/ports/store.ts";
import { type TestStore, openTestStore } from "../support/test-database.ts";

const T0 = new Date("2025-03-04T08:00:00.000Z");
const at = (seconds: number) => new Date(T0.getTime() + seconds * 1000);

describe("store concurrency on PostgreSQL", () => {
  let db: TestStore;
  let a: Store;
  let b: Store;
  let closeB: () => Promise<void>;
  let roomIds: string[];

  beforeAll(async () => {
    db = await openTestStore("postgres", { owner: "instance-a" });
    a = db.store;
    const other = await db.openAnother({ owner: "instance-b" });
    b = other.store;
    closeB = other.close;
  });
  afterAll(async () => {
    await closeB?.();
    await db?.close();
  });
  beforeEach(async () => {
    await db.truncate();
    await a.providers.add({ name: "p", partner: "generic" }, T0);
    const rooms = Array.from({ length: 100 }, (_, i) => ({
      mailbox: `room${String(i).padStart(3, "0")}@contoso.example`,
      displayName: `Room ${i}`,
      provider: "p",
      deviceFamily: "pull",
    }));
    const added = await a.rooms.addMany(rooms, T0);
    if (!added.applied) throw new Error("setup failed");
    roomIds = added.rooms.map((r) => r.room.id);
  });

  /** Holds row locks in an open transaction on its own connection, like a slow claimer. */
  async function holdLocks(sqlText: string, values: unknown[]): Promise<{ release(): Promise<void> }> {
    const client = new pg.Client({ connectionString: db.url });
    await client.connect();
    await client.query("begin");
    await client.query(sqlText, values);
    return {
      async release() {
        await client.query("rollback");
        await client.end();
      },
    };
  }

  /** Fails instead of hanging if a claim blocks on a locked row (what SKIP LOCKED prevents). */
  function withinSeconds<T>(promise: Promise<T>, seconds: number): Promise<T> {
    return Promise.race([promise, new Promise<T>((_, reject) => setTimeout(() => reject(new Error(`blocked for ${seconds} s`)), seconds * 1000).unref())]);
  }

  it("skips bridge sessions another transaction has locked instead of waiting", async () => {
    for (let i = 0; i < 10; i++) {
      await a.bridgeSessions.schedule(
        { occurrenceKey: `k${i}`, sessionId: `sgj_${String(i).padStart(12, "0")}`, roomId: roomIds[i] ?? "", dueAt: T0, notAfter: at(3600), dialString: null },
        T0,
      );
    }
    const lock = await holdLocks("select occurrence_key from bridge_session where occurrence_key in ('k0', 'k1') for update", []);
    try {
      const claimed = await withinSeconds(b.bridgeSessions.claimDue(T0, 100), 5);
      expect(claimed.map((s) => s.occurrenceKey).sort()).toEqual(["k2", "k3", "k4", "k5", "k6", "k7", "k8", "k9"]);
    } finally {
      await lock.release();
    }
    expect((await a.bridgeSessions.claimDue(T0, 100)).map((s) => s.occurrenceKey).sort()).toEqual(["k0", "k1"]);
  });

  it("skips locked room cursors and device states too", async () => {
    const lock = await holdLocks("select room_id from sync_cursor where room_id = $1 for update", [roomIds[0]]);
    try {
      const leased = await withinSeconds(b.syncCursors.leaseDue(T0, 1000), 5);
      expect(leased.length).toBe(99);
      expect(leased.some((l) => l.roomId === roomIds[0])).toBe(false);
    } finally {
      await lock.release();
    }
    for (const id of roomIds.slice(0, 5)) await a.deviceStates.setDesired(id, "v1", T0);
    const deviceLock = await holdLocks("select room_id from device_state where room_id = $1 for update", [roomIds[0]]);
    try {
      const claimed = await withinSeconds(b.deviceStates.claimDue(T0, 100), 5);
      expect(claimed.map((c) => c.roomId).sort()).toEqual(roomIds.slice(1, 5).sort());
    } finally {
      await deviceLock.release();
    }
  });

  it("two instances racing for 200 due sessions claim each exactly once", async () => {
    for (let i = 0; i < 200; i++) {
      await a.bridgeSessions.schedule(
        {
          occurrenceKey: `race-${i}`,
          sessionId: `sgj_${String(i).padStart(12, "0")}`,
          roomId: roomIds[i % roomIds.length] ?? "",
          dueAt: T0,
          notAfter: at(3600),
          dialString: null,
        },
        T0,
      );
    }
    const drain = async (store: Store): Promise<string[]> => {
      const mine: string[] = [];
      for (;;) {
        const batch = await store.bridgeSessions.claimDue(T0, 7, { leaseMs: 60_000 });
        if (batch.length === 0) return mine;
        mine.push(...batch.map((s) => s.occurrenceKey));
      }
    };
    const [fromA, fromB] = await Promise.all([drain(a), drain(b), drain(a), drain(b)]).then((lists) => [
      [...(lists[0] ?? []), ...(lists[2] ?? [])],
      [...(lists[1] ?? []), ...(lists[3] ?? [])],
    ]);
    const all = [...(fromA ?? []), ...(fromB ?? [])];
    expect(all.length).toBe(200);
    expect(new Set(all).size).toBe(200);
    const owners = await db.handle.db.selectFrom("bridge_session").select(["occurrence_key", "lease_owner"]).execute();
    const ownerOf = new Map(owners.map((o) => [o.occurrence_key, o.lease_owner]));
    for (const key of fromA ?? []) expect(ownerOf.get(key)).toBe("instance-a");
    for (const key of fromB ?? []) expect(ownerOf.get(key)).toBe("instance-b");
  });

  it("two pollers racing for 100 due rooms lease each exactly once", async () => {
    const [fromA, fromB] = await Promise.all([
      (async () => (await Promise.all([a.syncCursors.leaseDue(T0, 30), a.syncCursors.leaseDue(T0, 30)])).flat())(),
      (async () => (await Promise.all([b.syncCursors.leaseDue(T0, 30), b.syncCursors.leaseDue(T0, 30)])).flat())(),
    ]);
    const keys = [...fromA, ...fromB].map((l) => l.roomId);
    expect(new Set(keys).size).toBe(keys.length);
    const rest = [...(await a.syncCursors.leaseDue(T0, 1000)), ...(await b.syncCursors.leaseDue(T0, 1000))];
    expect(keys.length + rest.length).toBe(100);
  });

  it("reclaims a crashed instance's claims once their lease expires, and the old owner cannot write", async () => {
    await a.bridgeSessions.schedule(
      { occurrenceKey: "k", sessionId: "sgj_00000000000k", roomId: roomIds[0] ?? "", dueAt: T0, notAfter: at(3600), dialString: null },
      T0,
    );
    await a.deviceStates.setDesired(roomIds[0] ?? "", "v1", T0);
    expect((await a.bridgeSessions.claimDue(T0, 10, { leaseMs: 30_000 })).length).toBe(1);
    expect((await a.deviceStates.claimDue(T0, 10, { leaseMs: 30_000 })).length).toBe(1);
    // Instance a "crashes". Before expiry nothing is claimable; after it, b takes over.
    expect(await b.bridgeSessions.claimDue(at(29), 10)).toEqual([]);
    expect(await b.deviceStates.claimDue(at(29), 10)).toEqual([]);
    expect((await b.bridgeSessions.claimDue(at(30), 10)).map((s) => s.leaseOwner)).toEqual(["instance-b"]);
    expect((await b.deviceStates.claimDue(at(30), 10)).map((s) => s.leaseOwner)).toEqual(["instance-b"]);
    expect(await a.bridgeSessions.renewLease("k", at(31))).toBe(false);
    expect(await a.deviceStates.recordPushed(roomIds[0] ?? "", { hash: "v1", entries: [] }, at(31))).toBe(false);
    expect(await b.deviceStates.recordPushed(roomIds[0] ?? "", { hash: "v1", entries: [] }, at(31))).toBe(true);
    // The session's state machine is compare-and-set: a stale writer's transition fails.
    expect((await b.bridgeSessions.transition("k", { from: ["scheduled"], to: "starting" }, at(31)))?.state).toBe("starting");
    expect(await a.bridgeSessions.transition("k", { from: ["scheduled"], to: "starting" }, at(31))).toBeNull();
  });
});
