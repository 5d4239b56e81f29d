/**
 * Change notifications end to end: GraphSubscriptionManager against the Graph emulator (real HTTP,
 * real handshake and deliveries) with its records on real PostgreSQL, and the notification route
 * served by a plain node:http server the way the engine's HTTP layer calls it.
 */

import { randomUUID } from "node:crypto";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { GraphClient } from "../../calendar/graph/graph-client.ts";
import { GraphSubscriptionManager, graphNotificationRoute, hashClientState, MAX_NOTIFICATION_ITEMS } from "../../calendar/graph/subscriptions.ts";
import { PostgresSubscriptionStore } from "../../store/postgres/graph-subscription-store.ts";
import type { Room } from "../../core/ports/store.ts";
import { GraphEmulator } from "../../emulators/graph/graph-emulator.ts";
import { FakeClock } from "../support/fake-clock.ts";
import { testStoreForFile } from "../support/file-test-store.ts";

const ROOM = "room101@contoso.example";
const ROOM2 = "room102@contoso.example";

const db = testStoreForFile();
let clock: FakeClock;
let emu: GraphEmulator;
let server: Server;
let notificationUrl: string;
let manager: GraphSubscriptionManager;
let subscriptions: PostgresSubscriptionStore;
let wakes: number;

beforeEach(async () => {
  await db.truncate();
  clock = new FakeClock("2025-03-04T08:00:00.000Z");
  emu = await GraphEmulator.start({ seed: "notify", clock });
  await db.store.providers.add({ name: "p", partner: "generic" }, clock.now());
  wakes = 0;
  subscriptions = new PostgresSubscriptionStore(db.handle.db, db.store.owner);
  const client = new GraphClient(
    { tenantId: emu.tenantId, clientId: emu.clientId, clientSecret: emu.clientSecret, baseUrl: emu.url, authorityUrl: emu.url },
    { clock },
  );
  server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const url = new URL(req.url ?? "/", "http://localhost");
      void route(url.searchParams, Buffer.concat(chunks)).then((reply) => {
        res.writeHead(reply.status, { "Content-Type": reply.contentType });
        res.end(reply.body);
      });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  notificationUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1/notifications/graph`;
  manager = new GraphSubscriptionManager(
    { notificationUrl, lifetimeMinutes: 4000 },
    {
      client,
      store: subscriptions,
      cursors: db.store.syncCursors,
      clock,
      random: () => 0.5,
      wake: () => {
        wakes++;
      },
    },
  );
  route = graphNotificationRoute(manager);
});
afterEach(async () => {
  await emu.stop();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

let route: ReturnType<typeof graphNotificationRoute>;

async function addRoom(mailbox: string): Promise<Room> {
  emu.addRoom({ address: mailbox });
  const { room } = await db.store.rooms.add({ mailbox, displayName: mailbox.split("@")[0]!, provider: "p", deviceFamily: "pull" }, clock.now());
  return room;
}

/** Moves every due room's next poll an hour away, as after a successful round. */
async function pushDueAway(): Promise<void> {
  for (const lease of await db.store.syncCursors.leaseDue(clock.now(), 100)) {
    await db.store.syncCursors.completeRound(
      lease.roomId,
      { outcome: "ok", deltaLink: null, windowStart: null, windowEnd: null, nextDueAt: new Date(clock.now().getTime() + 3_600_000) },
      clock.now(),
    );
  }
}

async function dueAt(room: Room): Promise<string> {
  return (await db.store.syncCursors.get(room.id))!.dueAt.toISOString();
}

describe("Graph change notifications", () => {
  it("answers the validation handshake with the token as text/plain", async () => {
    const reply = await fetch(`${notificationUrl}?validationToken=${encodeURIComponent("Validation: Testing client application reachability <&>")}`, {
      method: "POST",
    });
    expect(reply.status).toBe(200);
    expect(reply.headers.get("content-type")).toMatch(/^text\/plain/);
    expect(await reply.text()).toBe("Validation: Testing client application reachability <&>");
    expect((await route({ validationToken: "abc" }, undefined)).body).toBe("abc");
    expect((await route(null, "not json")).status).toBe(400);
    expect((await route(null, { nope: 1 })).status).toBe(400);
  });

  it("creates one subscription per room; a change notification marks only that room due and wakes the poller", async () => {
    const a = await addRoom(ROOM);
    const b = await addRoom(ROOM2);
    const report = await manager.reconcile(AbortSignal.timeout(10_000));
    expect(report.added).toBe(2);
    expect(report.outcomes.map((o) => o.action)).toEqual(["created", "created"]);
    const live = emu.subscriptions();
    expect(live.map((s) => s.mailbox).sort()).toEqual([ROOM, ROOM2]);
    for (const s of live) {
      expect(s.resource).toBe(`/users/${s.mailbox}/events`);
      expect(s.clientState).toMatch(/^[A-Za-z0-9_-]{43}$/);
      expect(s.notificationUrl).toBe(notificationUrl);
    }
    expect(emu.deliveries.filter((d) => d.kind === "validation").every((d) => d.status === 200)).toBe(true);
    const records = await subscriptions.list();
    expect(records.map((r) => r.clientStateHash)).toEqual([ROOM, ROOM2].map((m) => hashClientState(live.find((s) => s.mailbox === m)!.clientState!)));
    // Renewal is due at half the lifetime.
    expect(records[0]!.dueAt.toISOString()).toBe(new Date(clock.now().getTime() + 2000 * 60_000).toISOString());

    await pushDueAway();
    expect(await dueAt(a)).toBe("2025-03-04T09:00:00.000Z");
    expect(await dueAt(b)).toBe("2025-03-04T09:00:00.000Z");

    clock.advance(60_000);
    emu.addEvent(ROOM, { subject: "New", start: "2025-03-04T10:00:00Z", end: "2025-03-04T10:30:00Z" });
    await emu.flushNotifications();
    const change = emu.deliveries.filter((d) => d.kind === "change");
    expect(change).toHaveLength(1);
    expect(change[0]!.status).toBe(202);
    expect(await dueAt(a)).toBe("2025-03-04T08:01:00.000Z");
    expect(await dueAt(b)).toBe("2025-03-04T09:00:00.000Z");
    expect(wakes).toBe(1);
  });

  it("drops notifications whose clientState does not match, or whose subscription is unknown", async () => {
    const a = await addRoom(ROOM);
    await manager.reconcile(AbortSignal.timeout(10_000));
    await pushDueAway();
    const [sub] = emu.subscriptions();
    const forged = { value: [{ subscriptionId: sub!.id, clientState: "guessed", changeType: "created", resource: "Users/x/Events/y" }] };
    const reply = await fetch(notificationUrl, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(forged) });
    expect(reply.status).toBe(202);
    expect(await dueAt(a)).toBe("2025-03-04T09:00:00.000Z");
    const result = await manager.handleNotification({
      value: [
        { subscriptionId: sub!.id, clientState: null },
        { subscriptionId: "00000000-0000-0000-0000-000000000000", clientState: sub!.clientState },
        { clientState: sub!.clientState },
        { subscriptionId: sub!.id, clientState: sub!.clientState, changeType: "updated" },
      ],
    });
    expect(result).toEqual({ accepted: 1, rejected: 3, rooms: [a.id] });
    expect(await dueAt(a)).toBe("2025-03-04T08:00:00.000Z");
    expect(wakes).toBe(1);
  });

  it("reads a forged post naming 1,000 made-up subscription ids with one query, and at most MAX_NOTIFICATION_ITEMS items", async () => {
    const a = await addRoom(ROOM);
    await manager.reconcile(AbortSignal.timeout(10_000));
    await pushDueAway();
    const [sub] = emu.subscriptions();
    let queries = 0;
    const counted = db.handle.db.withPlugin({
      transformQuery: (args) => {
        queries++;
        return args.node;
      },
      transformResult: async (args) => args.result,
    });
    const refuse = () => Promise.reject(new Error("no Graph call expected"));
    const counting = new GraphSubscriptionManager(
      { notificationUrl },
      {
        client: { post: refuse, patch: refuse, delete: refuse },
        store: new PostgresSubscriptionStore(counted, db.store.owner),
        cursors: db.store.syncCursors,
        clock,
      },
    );
    const forged = Array.from({ length: 1_000 }, () => ({ subscriptionId: randomUUID(), clientState: "guessed", changeType: "created" }));

    expect(await counting.handleNotification({ value: forged })).toEqual({ accepted: 0, rejected: 1_000, rooms: [] });
    expect(queries).toBe(1);

    queries = 0;
    const genuine = { subscriptionId: sub!.id, clientState: sub!.clientState, changeType: "updated" };
    const result = await counting.handleNotification({ value: [genuine, ...forged] });
    expect(result).toEqual({ accepted: 1, rejected: 1_000, rooms: [a.id] });
    expect(queries).toBe(1);
    expect(await dueAt(a)).toBe("2025-03-04T08:00:00.000Z");

    queries = 0;
    const junk = [
      { subscriptionId: "x".repeat(10_000), clientState: "a" },
      { subscriptionId: "'; drop table room; --", clientState: "a" },
      { subscriptionId: 42 },
    ];
    expect(await counting.handleNotification({ value: junk })).toEqual({ accepted: 0, rejected: 3, rooms: [] });
    expect(queries).toBe(0);
    expect(MAX_NOTIFICATION_ITEMS).toBeLessThanOrEqual(100);
  });

  it("handles lifecycle events: removed → re-created and resynced, reauthorization → renewed, missed → resynced", async () => {
    const a = await addRoom(ROOM);
    await manager.reconcile(AbortSignal.timeout(10_000));
    await pushDueAway();
    const [first] = emu.subscriptions();

    emu.sendLifecycleNotification(first!.id, "reauthorizationRequired");
    await emu.flushNotifications();
    expect(await dueAt(a)).toBe("2025-03-04T09:00:00.000Z");
    let report = await manager.reconcile(AbortSignal.timeout(10_000));
    expect(report.outcomes.map((o) => [o.action, o.subscriptionId])).toEqual([["renewed", first!.id]]);

    emu.sendLifecycleNotification(first!.id, "missed");
    await emu.flushNotifications();
    expect(await dueAt(a)).toBe("2025-03-04T08:00:00.000Z");
    await pushDueAway();

    emu.sendLifecycleNotification(first!.id, "subscriptionRemoved");
    await emu.flushNotifications();
    expect(emu.subscriptions()).toHaveLength(0);
    expect(await dueAt(a)).toBe("2025-03-04T08:00:00.000Z");
    report = await manager.reconcile(AbortSignal.timeout(10_000));
    expect(report.outcomes.map((o) => o.action)).toEqual(["created"]);
    const [second] = emu.subscriptions();
    expect(second!.id).not.toBe(first!.id);
    expect(report.outcomes[0]!.subscriptionId).toBe(second!.id);
  });

  it("deletes the subscription of a room disabled or moved to another calendar source, at the next reconcile", async () => {
    const a = await addRoom(ROOM);
    const b = await addRoom(ROOM2);
    await manager.reconcile(AbortSignal.timeout(10_000));
    expect(emu.subscriptions()).toHaveLength(2);
    await db.store.rooms.setEnabled([a.id], false, clock.now());
    await db.store.rooms.update(b.id, { source: "google" }, clock.now());
    clock.advance(60_000);
    const report = await manager.reconcile(AbortSignal.timeout(10_000));
    expect(report.outcomes.map((o) => [o.mailbox, o.action]).sort()).toEqual([
      [ROOM, "deleted"],
      [ROOM2, "deleted"],
    ]);
    expect(emu.subscriptions()).toEqual([]);
    expect(await subscriptions.list()).toEqual([]);
    // Enabled again: a new subscription at the next reconcile.
    await db.store.rooms.setEnabled([a.id], true, clock.now());
    clock.advance(60_000);
    expect((await manager.reconcile(AbortSignal.timeout(10_000))).outcomes.map((o) => [o.mailbox, o.action])).toEqual([[ROOM, "created"]]);
    expect(emu.subscriptions().map((s) => s.mailbox)).toEqual([ROOM]);
  });

  it("an orphan Graph no longer knows is dropped; a failed delete is retried after its backoff", async () => {
    const a = await addRoom(ROOM);
    const b = await addRoom(ROOM2);
    await manager.reconcile(AbortSignal.timeout(10_000));
    // Graph already forgot room 101's subscription: its DELETE answers 404, which is fine.
    emu.subscriptions().find((s) => s.mailbox === ROOM)!.expirationMs = clock.now().getTime() + 1000;
    await db.store.rooms.setEnabled([a.id, b.id], false, clock.now());
    clock.advance(60_000);
    // The first DELETE of this reconcile fails (503): that room is retried after its backoff.
    emu.injectFault({ routes: ["subscriptions"], status: 503, times: 1 });
    const report = await manager.reconcile(AbortSignal.timeout(10_000));
    expect(report.outcomes.map((o) => o.action).sort()).toEqual(["deleted", "failed"]);
    const failed = report.outcomes.find((o) => o.action === "failed")!;
    expect(failed.code).toBe("OTJ_GRAPH_UNAVAILABLE");
    expect((await manager.reconcile(AbortSignal.timeout(10_000))).outcomes).toEqual([]);
    clock.advance(3_600_000);
    expect((await manager.reconcile(AbortSignal.timeout(10_000))).outcomes.map((o) => [o.mailbox, o.action])).toEqual([[failed.mailbox, "deleted"]]);
    expect(emu.subscriptions().filter((s) => s.expirationMs > clock.now().getTime())).toEqual([]);
    expect(await subscriptions.list()).toEqual([]);
  });

  it("renews before expiry, re-creates what Graph forgot, and backs off a room that fails", async () => {
    await addRoom(ROOM);
    const denied = await addRoom(ROOM2);
    emu.setMailboxAccess(ROOM2, "denied");
    let report = await manager.reconcile(AbortSignal.timeout(10_000));
    // Rooms due at the same instant come in id order (random ids): compare by mailbox.
    expect(report.outcomes.map((o) => [o.mailbox, o.action, o.code]).sort()).toEqual([
      [ROOM, "created", null],
      [ROOM2, "failed", "OTJ_GRAPH_ACCESS_DENIED"],
    ]);
    const failed = (await subscriptions.list()).find((r) => r.roomId === denied.id)!;
    expect(failed.subscriptionId).toBeNull();
    expect(failed.dueAt.getTime() - clock.now().getTime()).toBe(45_000);

    // Nothing is due a minute later but the failed room.
    emu.setMailboxAccess(ROOM2, "ok");
    clock.advance(60_000);
    report = await manager.reconcile(AbortSignal.timeout(10_000));
    expect(report.outcomes.map((o) => [o.mailbox, o.action])).toEqual([[ROOM2, "created"]]);

    const before = emu.subscriptions().find((s) => s.mailbox === ROOM)!;
    const expiry = before.expirationMs;
    clock.advance(2001 * 60_000);
    report = await manager.reconcile(AbortSignal.timeout(10_000));
    expect(report.outcomes.map((o) => [o.mailbox, o.action])).toEqual([
      [ROOM, "renewed"],
      [ROOM2, "renewed"],
    ]);
    expect(emu.subscriptions().find((s) => s.mailbox === ROOM)!.expirationMs).toBeGreaterThan(expiry);

    // Graph dropped one silently: the renewal gets 404 and a new subscription is created.
    const gone = emu.subscriptions().find((s) => s.mailbox === ROOM)!;
    gone.expirationMs = clock.now().getTime() + 1000;
    clock.advance(2001 * 60_000);
    report = await manager.reconcile(AbortSignal.timeout(10_000));
    const outcome = report.outcomes.find((o) => o.mailbox === ROOM)!;
    expect(outcome.action).toBe("created");
    expect(outcome.subscriptionId).not.toBe(gone.id);
  });
});
