/**
 * Many SGJ sessions due at one instant (issue #6): the BridgeScheduler moves them to `starting`
 * with few start statements, sends their start requests with bounded concurrency, writes the
 * external ids and releases the claims in batches, and still retries a failed start with backoff.
 * Real PostgreSQL, a fake clock, and a MediaBridge fake that holds each request until the test
 * answers it: nothing sleeps.
 */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { BridgeScheduler } from "../../bridge/bridge-scheduler.ts";
import { OtjError } from "../../core/errors.ts";
import type { BridgeStartRequest, MediaBridge } from "../../core/ports/media-bridge.ts";
import type { BridgeSessionStore, Room, Store } from "../../core/ports/store.ts";
import { withOverrides } from "../support/delegate.ts";
import { FakeClock } from "../support/fake-clock.ts";
import { testStoreForFile } from "../support/file-test-store.ts";
import { meetingRow, seedRoom, schedulerSettings } from "./bridge-harness.ts";

interface Held {
  request: BridgeStartRequest;
  resolve(externalId: string): void;
  reject(error: Error): void;
}

/** A bridge whose start requests wait until the test answers them. */
class HeldBridge implements MediaBridge {
  readonly pending: Held[] = [];
  creates = 0;
  answered = 0;
  inFlight = 0;
  maxInFlight = 0;
  #waiters: Array<{ count: number; resolve: () => void }> = [];

  start(request: BridgeStartRequest): Promise<{ externalId: string }> {
    this.creates++;
    this.inFlight++;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    return new Promise((resolve, reject) => {
      const answered = () => {
        this.inFlight--;
        this.answered++;
      };
      this.pending.push({
        request,
        resolve: (externalId) => {
          answered();
          resolve({ externalId });
        },
        reject: (error) => {
          answered();
          reject(error);
        },
      });
      const woken = this.#waiters.filter((w) => this.pending.length >= w.count);
      this.#waiters = this.#waiters.filter((w) => this.pending.length < w.count);
      for (const w of woken) w.resolve();
    });
  }

  stop(): Promise<void> {
    return Promise.resolve();
  }

  /** Resolves once at least `count` requests wait for an answer. */
  whenPending(count: number): Promise<void> {
    if (this.pending.length >= count) return Promise.resolve();
    return new Promise((resolve) => this.#waiters.push({ count, resolve }));
  }
}

const db = testStoreForFile();
let clock: FakeClock;
let room: Room;
let scheduler: BridgeScheduler | null = null;
let bridge: HeldBridge;

beforeEach(async () => {
  await db.truncate();
  clock = new FakeClock("2025-03-04T08:00:00.000Z");
  room = await seedRoom(db.store, clock.now(), { deviceUrl: null });
  bridge = new HeldBridge();
});
afterEach(async () => {
  scheduler?.abandon();
  for (const held of bridge.pending.splice(0)) held.reject(new OtjError("OTJ_BRIDGE_UNAVAILABLE", "test over"));
  await scheduler?.idle();
  scheduler = null;
});

/** The store, counting the items of each batched bridge-session statement. */
function countingStore(calls: Record<"startMany" | "recordExternalIds" | "releaseMany", number[]>): Store {
  const inner = db.store.bridgeSessions;
  const bridgeSessions = withOverrides<BridgeSessionStore>(inner, {
    startMany: (...args: Parameters<BridgeSessionStore["startMany"]>) => {
      calls.startMany.push(args[0].length);
      return inner.startMany(...args);
    },
    recordExternalIds: (...args: Parameters<BridgeSessionStore["recordExternalIds"]>) => {
      calls.recordExternalIds.push(args[0].length);
      return inner.recordExternalIds(...args);
    },
    releaseMany: (...args: Parameters<BridgeSessionStore["releaseMany"]>) => {
      calls.releaseMany.push(args[0].length);
      return inner.releaseMany(...args);
    },
  });
  return withOverrides<Store>(db.store, { bridgeSessions });
}

const sum = (values: number[]) => values.reduce((a, b) => a + b, 0);

describe("a burst of sessions due at one instant", () => {
  it("few start statements, at most maxStartsInFlight requests at once, batched writes, retries with backoff", async () => {
    const calls = { startMany: [] as number[], recordExternalIds: [] as number[], releaseMany: [] as number[] };
    const store = countingStore(calls);
    scheduler = new BridgeScheduler({
      store,
      clock,
      bridge,
      adapter: "http",
      settings: schedulerSettings("http://127.0.0.1:9"),
      maxStartsInFlight: 4,
      // No jitter: the retry time asserted below is exact.
      random: () => 1,
    });
    const rows = Array.from({ length: 30 }, (_, i) =>
      meetingRow(room, { uid: `burst-${i}`, start: "2025-03-04T09:00:00.000Z", end: "2025-03-04T09:30:00.000Z" }),
    );
    await db.store.meetings.upsert(rows, clock.now());
    await scheduler.syncRoom(room.id, clock.now());
    clock.advanceTo(new Date("2025-03-04T08:57:30.000Z"));
    expect((await scheduler.tick()).claimed).toBe(30);
    await scheduler.idle(); // the start requests are read ahead

    clock.advanceTo(new Date("2025-03-04T08:58:00.000Z"));
    await bridge.whenPending(4);
    // The first statement moves as many as can be sent at once; the rest follow in one more.
    expect(calls.startMany[0]).toBe(4);

    // Two of the first requests fail (retryable); the others succeed, four at a time.
    let failures = 0;
    while (bridge.answered < 30) {
      await bridge.whenPending(1);
      for (const held of bridge.pending.splice(0)) {
        if (failures < 2) {
          failures++;
          held.reject(new OtjError("OTJ_BRIDGE_UNAVAILABLE", "bridge answered HTTP 503"));
        } else held.resolve(`brg-${held.request.sessionId}`);
      }
    }
    await scheduler.idle();
    expect(calls.startMany).toEqual([4, 26]);
    expect(bridge.maxInFlight).toBe(4);
    const sessions = await db.store.bridgeSessions.list();
    const started = sessions.filter((s) => s.state === "starting");
    const retrying = sessions.filter((s) => s.state === "scheduled");
    expect(started).toHaveLength(28);
    expect(
      started.every((s) => s.externalId === `brg-${s.sessionId}` && s.leaseOwner === null && s.dueAt.getTime() === Date.parse("2025-03-04T09:13:00.000Z")),
    ).toBe(true);
    expect(retrying).toHaveLength(2);
    for (const s of retrying) {
      expect(s).toMatchObject({
        attempts: 1,
        lastErrorCode: "OTJ_BRIDGE_UNAVAILABLE",
        dueAt: new Date("2025-03-04T08:58:05.000Z"),
        leaseOwner: db.store.owner,
      });
    }
    expect(sum(calls.recordExternalIds)).toBe(28);
    expect(calls.recordExternalIds.length).toBeLessThan(28);
    expect(sum(calls.releaseMany)).toBe(28);

    // The two retry at their backoff instant, together.
    clock.advanceTo(new Date("2025-03-04T08:58:05.000Z"));
    await bridge.whenPending(2);
    for (const held of bridge.pending.splice(0)) held.resolve(`brg-${held.request.sessionId}`);
    await scheduler.idle();
    expect(calls.startMany).toEqual([4, 26, 2]);
    const after = await db.store.bridgeSessions.list();
    expect(after.every((s) => s.state === "starting" && s.externalId === `brg-${s.sessionId}` && s.leaseOwner === null)).toBe(true);
    expect(after.filter((s) => s.attempts === 2)).toHaveLength(2);
    expect(bridge.creates).toBe(32);
    expect(new Set(after.map((s) => s.externalId)).size).toBe(30);
    const logged = await db.store.eventLog.list({ kind: "bridge.starting", limit: 100 });
    expect(logged).toHaveLength(32);
    expect(logged.filter((e) => e.data !== null && (e.data as { attempt?: number }).attempt === 2)).toHaveLength(2);
    expect(await db.store.eventLog.list({ kind: "bridge.scheduled", limit: 100 })).toHaveLength(32);
  });

  it("sessions due before their start requests were read ahead still start together", async () => {
    const calls = { startMany: [] as number[], recordExternalIds: [] as number[], releaseMany: [] as number[] };
    scheduler = new BridgeScheduler({
      store: countingStore(calls),
      clock,
      bridge,
      adapter: "http",
      settings: schedulerSettings("http://127.0.0.1:9"),
    });
    const rows = Array.from({ length: 20 }, (_, i) =>
      meetingRow(room, { uid: `late-read-${i}`, start: "2025-03-04T09:00:00.000Z", end: "2025-03-04T09:30:00.000Z" }),
    );
    await db.store.meetings.upsert(rows, clock.now());
    await scheduler.syncRoom(room.id, clock.now());
    clock.advanceTo(new Date("2025-03-04T08:58:00.000Z"));
    expect((await scheduler.tick()).claimed).toBe(20);
    clock.advanceTo(new Date("2025-03-04T08:58:00.000Z")); // due now: the timers fire at once
    await bridge.whenPending(20);
    for (const held of bridge.pending.splice(0)) held.resolve(`brg-${held.request.sessionId}`);
    await scheduler.idle();
    expect(sum(calls.startMany)).toBe(20);
    expect(calls.startMany.length).toBeLessThanOrEqual(2);
    expect(bridge.creates).toBe(20);
    expect((await db.store.bridgeSessions.list()).every((s) => s.state === "starting" && s.externalId !== null)).toBe(true);
  });
});
