/**
 * The Store contract: one suite, run on real PostgreSQL (store-postgres.test.ts) and on PGlite
 * (store-pglite.test.ts). Every store implementation must pass it.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import type { BridgeState } from "../../core/domain.ts";
import { OtjError } from "../../core/errors.ts";
import type { MeetingUpsert, NewRoom, Store } from "../../core/ports/store.ts";
import { type TestDatabaseKind, type TestStore, openTestStore } from "../support/test-database.ts";

const T0 = new Date("2025-03-04T08:00:00.000Z");
const at = (minutes: number) => new Date(T0.getTime() + minutes * 60_000);

async function codeOf(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (error) {
    return error instanceof OtjError ? error.code : `not an OtjError: ${String(error)}`;
  }
  return "no error";
}

function room(mailbox: string, extra: Partial<NewRoom> = {}): NewRoom {
  return {
    mailbox,
    displayName: `Room ${mailbox}`,
    provider: "contoso",
    deviceFamily: "xapi",
    deviceAddress: "https://10.0.0.1",
    deviceUsername: "admin",
    devicePassword: "s3cret",
    ...extra,
  };
}

function meeting(roomId: string, key: string, extra: Partial<MeetingUpsert> = {}): MeetingUpsert {
  return {
    occurrenceKey: key,
    roomId,
    source: "graph",
    sourceEventId: `evt-${key}`,
    seriesMasterId: null,
    icalUid: `uid-${key}`,
    changeKey: "ck1",
    start: at(60),
    end: at(90),
    subject: "Supplier review",
    organizerName: "Ana Ruiz",
    organizerEmail: "ana@fabrikam.example",
    sensitivity: "normal",
    cancelled: false,
    declined: false,
    join: {
      provider: "teams",
      url: "https://teams.microsoft.com/l/meetup-join/x",
      sipUri: null,
      teams: {
        cloud: "commercial",
        joinUrl: "https://teams.microsoft.com/l/meetup-join/x",
        shortUrl: null,
        threadId: "19:meeting_x@thread.v2",
        messageId: "0",
        tenantId: null,
        organizerId: null,
        meetingId: "228859003479315",
        passcode: "Xy7pQ2",
        cvi: null,
      },
    },
    route: "sgj",
    dialString: "sgj_e3495aaf97d3@sgj.otj.invalid",
    ivr: null,
    rule: "teams-sgj",
    subjectShown: "Supplier review",
    contentHash: "h1",
    ...extra,
  };
}

export function describeStoreContract(kind: TestDatabaseKind): void {
  describe(`Store contract on ${kind}`, () => {
    let db: TestStore;
    let store: Store;

    beforeAll(async () => {
      db = await openTestStore(kind, { owner: "owner-a" });
      store = db.store;
    });
    afterAll(async () => {
      await db?.close();
    });
    beforeEach(async () => {
      await db.truncate();
      await store.providers.add({ name: "contoso", partner: "cisco", tenantKey: "contoso@m.webex.com" }, T0);
    });

    describe("providers", () => {
      it("adds, finds by name in any case or by id, and lists by name", async () => {
        const added = await store.providers.add({ name: "Fabrikam-Pexip", partner: "pexip", sipDomain: "Video.Fabrikam.Example" }, T0);
        expect(added).toMatchObject({ name: "Fabrikam-Pexip", partner: "pexip", sipDomain: "video.fabrikam.example", sgjEnabled: true, sgjTemplate: null });
        expect(added.id).toMatch(/^pv_[0-9a-z]{10}$/);
        expect((await store.providers.get("fabrikam-pexip"))?.id).toBe(added.id);
        expect((await store.providers.get(added.id))?.name).toBe("Fabrikam-Pexip");
        expect((await store.providers.list()).map((p) => p.name)).toEqual(["contoso", "Fabrikam-Pexip"]);
      });

      it("refuses a duplicate name (case-insensitive) and invalid fields", async () => {
        expect(await codeOf(store.providers.add({ name: "CONTOSO", partner: "poly" }, T0))).toBe("OTJ_STORE_CONFLICT");
        expect(await codeOf(store.providers.add({ name: "x", partner: "zoom" }, T0))).toBe("OTJ_PROVIDER_INVALID");
        expect(await codeOf(store.providers.add({ name: "y", partner: "pexip", sgjTemplate: "{nope}@x.example" }, T0))).toBe("OTJ_PROVIDER_INVALID");
        expect(await codeOf(store.providers.add({ name: "z", partner: "pexip", tenantKey: "not an address" }, T0))).toBe("OTJ_PROVIDER_INVALID");
      });

      it("updates only the given fields, clears with null, renames", async () => {
        const updated = await store.providers.update(
          "contoso",
          { sgjEnabled: false, sgjTemplate: "{meetingId}.{passcode}@sgj.contoso.example", tenantKey: null },
          at(1),
        );
        expect(updated).toMatchObject({ partner: "cisco", sgjEnabled: false, tenantKey: null, sgjTemplate: "{meetingId}.{passcode}@sgj.contoso.example" });
        expect(updated.updatedAt).toEqual(at(1));
        const renamed = await store.providers.update("contoso", { name: "contoso-2" }, at(2));
        expect(renamed.id).toBe(updated.id);
        expect(await codeOf(store.providers.update("missing", { partner: "poly" }, T0))).toBe("OTJ_STORE_NOT_FOUND");
      });

      it("refuses to remove a provider rooms use, unless forced (rooms fall back to defaults)", async () => {
        const { room: r } = await store.rooms.add(room("r1@contoso.example"), T0);
        expect(await codeOf(store.providers.remove("contoso", false, T0))).toBe("OTJ_PROVIDER_IN_USE");
        expect(await store.providers.get("contoso")).not.toBeNull();
        const removed = await store.providers.remove("contoso", true, at(1));
        expect(removed.detachedRooms).toBe(1);
        expect(await store.providers.get("contoso")).toBeNull();
        expect(await store.rooms.get(r.id)).toMatchObject({ providerId: null, providerName: null });
        expect(await codeOf(store.providers.remove("contoso", true, T0))).toBe("OTJ_STORE_NOT_FOUND");
      });
    });

    describe("rooms", () => {
      it("adds a room with normalised fields and the documented defaults, without secrets in the record", async () => {
        const { room: r, deviceToken } = await store.rooms.add(room("Room101@Contoso.Example", { deviceAddress: "10.0.0.5:8443" }), T0);
        expect(r.id).toMatch(/^rm_[0-9a-z]{10}$/);
        expect(deviceToken).toBeNull();
        expect(r).toMatchObject({
          mailbox: "room101@contoso.example",
          providerName: "contoso",
          device: { family: "xapi", address: "https://10.0.0.5:8443", username: "admin", hasPassword: true, insecureTls: false, hasToken: false },
          privacy: { privateMeetings: "process", subjectReplace: "private", subjectTemplate: "Private meeting", privateJoin: "enabled" },
          enabled: true,
        });
        expect(JSON.stringify(r)).not.toContain("s3cret");
        expect(await store.rooms.deviceCredentials(r.id)).toEqual({ username: "admin", password: "s3cret" });
        expect((await store.rooms.get("ROOM101@contoso.example"))?.id).toBe(r.id);
        expect((await store.rooms.get(r.id))?.mailbox).toBe("room101@contoso.example");
        expect(await store.syncCursors.get(r.id)).toMatchObject({ dueAt: T0, deltaLink: null, consecutiveFailures: 0 });
      });

      it("gives a pull room a device token it can verify, show and rotate", async () => {
        const { room: r, deviceToken } = await store.rooms.add(
          room("panel@contoso.example", { deviceFamily: "pull", deviceAddress: null, deviceUsername: null, devicePassword: null }),
          T0,
        );
        expect(deviceToken).toMatch(/^[A-Za-z0-9_-]{32}$/);
        expect(r.device.hasToken).toBe(true);
        expect(await store.rooms.deviceToken(r.mailbox)).toBe(deviceToken);
        expect((await store.rooms.verifyDeviceToken(r.id, deviceToken ?? ""))?.id).toBe(r.id);
        expect(await store.rooms.verifyDeviceToken(r.id, "wrong-token-wrong-token")).toBeNull();
        const rotated = await store.rooms.rotateDeviceToken(r.id, at(1));
        expect(rotated).not.toBe(deviceToken);
        expect(await store.rooms.verifyDeviceToken(r.id, deviceToken ?? "")).toBeNull();
        expect((await store.rooms.verifyDeviceToken(r.mailbox, rotated))?.id).toBe(r.id);
        expect(await store.rooms.verifyDeviceToken("nobody@contoso.example", rotated)).toBeNull();
      });

      it("reports bad input, unknown providers and duplicates with distinct codes", async () => {
        expect(await codeOf(store.rooms.add(room("not-a-mailbox"), T0))).toBe("OTJ_ROOM_INVALID");
        expect(await codeOf(store.rooms.add(room("a@contoso.example", { deviceFamily: "xapi", deviceAddress: null }), T0))).toBe("OTJ_ROOM_INVALID");
        expect(await codeOf(store.rooms.add(room("a@contoso.example", { provider: "nope" }), T0))).toBe("OTJ_STORE_NOT_FOUND");
        await store.rooms.add(room("a@contoso.example"), T0);
        expect(await codeOf(store.rooms.add(room("A@CONTOSO.EXAMPLE"), T0))).toBe("OTJ_STORE_CONFLICT");
        expect((await store.rooms.list()).length).toBe(1);
      });

      it("adds a batch all or nothing, naming each bad item", async () => {
        await store.rooms.add(room("taken@contoso.example"), T0);
        const bad = await store.rooms.addMany(
          [room("ok1@contoso.example"), room("taken@contoso.example"), room("ok1@contoso.example"), room("x@contoso.example", { provider: "nope" })],
          T0,
        );
        expect(bad.applied).toBe(false);
        if (!bad.applied) {
          expect(bad.problems.map((p) => p.index)).toEqual([1, 2, 3]);
          expect(bad.problems[1]?.messages[0]).toContain("repeated (first at item 1)");
        }
        expect((await store.rooms.list()).map((r) => r.mailbox)).toEqual(["taken@contoso.example"]);
        const good = await store.rooms.addMany([room("b@contoso.example"), room("c@contoso.example")], T0);
        expect(good.applied && good.rooms.map((r) => r.room.mailbox)).toEqual(["b@contoso.example", "c@contoso.example"]);
        const dry = await store.rooms.addMany([room("d@contoso.example")], T0, { dryRun: true });
        expect(dry).toEqual({ applied: false, problems: [] });
        expect((await store.rooms.list()).length).toBe(3);
      });

      it("removes a room with its cursor, meetings, device state and sessions", async () => {
        const { room: r } = await store.rooms.add(room("gone@contoso.example"), T0);
        await store.meetings.upsert([meeting(r.id, "k1")], T0);
        await store.deviceStates.setDesired(r.id, "h", T0);
        await store.bridgeSessions.schedule(
          { occurrenceKey: "k1", sessionId: "sgj_000000000001", roomId: r.id, dueAt: at(58), notAfter: at(90), dialString: null },
          T0,
        );
        expect((await store.rooms.remove("GONE@contoso.example")).id).toBe(r.id);
        expect(await store.rooms.get(r.id)).toBeNull();
        expect(await store.syncCursors.get(r.id)).toBeNull();
        expect(await store.meetings.get("k1")).toBeNull();
        expect(await store.deviceStates.get(r.id)).toBeNull();
        expect(await store.bridgeSessions.get("k1")).toBeNull();
        expect(await codeOf(store.rooms.remove(r.id))).toBe("OTJ_STORE_NOT_FOUND");
      });
    });

    it("pages rooms by mailbox with a case-insensitive search, LIKE characters taken literally", async () => {
      const inputs = Array.from({ length: 30 }, (_, i) =>
        room(`r${String(i).padStart(2, "0")}@contoso.example`, { displayName: i % 3 === 0 ? `Board_${i}` : `Huddle ${i}` }),
      );
      expect((await store.rooms.addMany(inputs, T0)).applied).toBe(true);
      const first = await store.rooms.page({ offset: 0, limit: 10 });
      expect(first.total).toBe(30);
      expect(first.rooms.map((r) => r.mailbox)).toEqual(inputs.slice(0, 10).map((r) => r.mailbox));
      const last = await store.rooms.page({ offset: 25, limit: 10 });
      expect(last.rooms.map((r) => r.mailbox)).toEqual(inputs.slice(25).map((r) => r.mailbox));
      const board = await store.rooms.page({ search: "BOARD_", offset: 0, limit: 50 });
      expect(board.total).toBe(10);
      expect(board.rooms.every((r) => r.displayName.startsWith("Board_"))).toBe(true);
      expect((await store.rooms.page({ search: "r1", offset: 0, limit: 50 })).total).toBe(10);
      expect((await store.rooms.page({ search: "%", offset: 0, limit: 50 })).total).toBe(0);
    });

    it("gets many rooms and meetings by id in one call, leaving unknown ones out", async () => {
      const { room: a } = await store.rooms.add(room("a@contoso.example"), T0);
      const { room: b } = await store.rooms.add(room("b@contoso.example"), T0);
      await store.rooms.add(room("c@contoso.example"), T0);
      expect((await store.rooms.getMany([b.id, a.id, "rm_unknown00", a.id])).map((r) => r.mailbox).sort()).toEqual(["a@contoso.example", "b@contoso.example"]);
      expect(await store.rooms.getMany([])).toEqual([]);
      await store.meetings.upsert([meeting(a.id, "ka"), meeting(b.id, "kb"), meeting(b.id, "kc")], T0);
      expect((await store.meetings.getMany(["kc", "ka", "nope"])).map((m) => m.occurrenceKey).sort()).toEqual(["ka", "kc"]);
    });

    it("counts the rooms of each provider", async () => {
      const fabrikam = await store.providers.add({ name: "fabrikam", partner: "pexip", tenantKey: "teams@vc.fabrikam.example" }, T0);
      expect(await store.rooms.countByProvider()).toEqual(new Map());
      await store.rooms.add(room("a@contoso.example"), T0);
      await store.rooms.add(room("b@contoso.example", { provider: "fabrikam" }), T0);
      await store.rooms.add(room("c@contoso.example", { provider: "fabrikam" }), T0);
      const counts = await store.rooms.countByProvider();
      expect(counts.get(fabrikam.id)).toBe(2);
      expect([...counts.values()].reduce((a, b) => a + b, 0)).toBe(3);
    });

    it("reads a page of rooms' cursors, device states and next meetings in one call each", async () => {
      const { room: a } = await store.rooms.add(room("a@contoso.example"), T0);
      const { room: b } = await store.rooms.add(room("b@contoso.example"), T0);
      const { room: c } = await store.rooms.add(room("c@contoso.example"), T0);
      expect((await store.syncCursors.getMany([a.id, b.id, "rm_unknown00", a.id])).map((x) => x.roomId).sort()).toEqual([a.id, b.id].sort());
      expect(await store.syncCursors.getMany([])).toEqual([]);
      await store.deviceStates.setDesired(b.id, "v1", T0);
      expect((await store.deviceStates.getMany([a.id, b.id, c.id])).map((x) => [x.roomId, x.desiredHash])).toEqual([[b.id, "v1"]]);
      await store.meetings.upsert(
        [
          meeting(a.id, "a-past", { start: at(-120), end: at(-60) }),
          meeting(a.id, "a-now", { start: at(-10), end: at(20) }),
          meeting(a.id, "a-cancelled", { start: at(30), end: at(40), cancelled: true }),
          meeting(a.id, "a-next", { start: at(60), end: at(90) }),
          meeting(a.id, "a-later", { start: at(120), end: at(150) }),
          meeting(b.id, "b-now", { start: at(-30), end: at(30) }),
          meeting(b.id, "b-now-too", { start: at(-20), end: at(30) }),
          meeting(c.id, "c-beyond", { start: at(600), end: at(660) }),
        ],
        T0,
      );
      const next = await store.meetings.nextForRooms([a.id, b.id, c.id], T0, at(300));
      expect(next.map((m) => [m.roomId, m.occurrenceKey]).sort()).toEqual(
        [
          [a.id, "a-next"],
          [b.id, "b-now"],
        ].sort(),
      );
      expect(await store.meetings.nextForRooms([], T0, at(300))).toEqual([]);
    });

    it("updates a room after the add checks, keeping the password unless it is replaced or cleared", async () => {
      await store.providers.add({ name: "fabrikam", partner: "pexip", tenantKey: "teams@vc.fabrikam.example" }, T0);
      const { room: r } = await store.rooms.add(room("edit@contoso.example"), T0);
      const renamed = await store.rooms.update("EDIT@contoso.example", { displayName: "Edited", provider: "Fabrikam", subjectReplace: "all" }, at(1));
      expect(renamed).toMatchObject({ id: r.id, mailbox: "edit@contoso.example", displayName: "Edited", providerName: "fabrikam", updatedAt: at(1) });
      expect(renamed.privacy.subjectReplace).toBe("all");
      expect(await store.rooms.deviceCredentials(r.id)).toEqual({ username: "admin", password: "s3cret" });
      await store.rooms.update(r.id, { devicePassword: "n3w" }, at(2));
      expect(await store.rooms.deviceCredentials(r.id)).toEqual({ username: "admin", password: "n3w" });
      expect(await codeOf(store.rooms.update(r.id, { deviceAddress: "ftp://x" }, at(3)))).toBe("OTJ_ROOM_INVALID");
      expect(await codeOf(store.rooms.update(r.id, { provider: "nobody" }, at(3)))).toBe("OTJ_STORE_NOT_FOUND");
      expect(await codeOf(store.rooms.update("none@contoso.example", { displayName: "x" }, at(3)))).toBe("OTJ_STORE_NOT_FOUND");
      const pull = await store.rooms.update(r.id, { deviceFamily: "pull", deviceAddress: null }, at(4));
      expect(pull.device).toMatchObject({ family: "pull", address: null, username: null, hasPassword: false });
      expect(await store.rooms.deviceCredentials(r.id)).toBeNull();
      expect((await store.rooms.get(r.id))?.displayName).toBe("Edited");
    });

    describe("sync cursors and room leases", () => {
      it("a lease carries the room's calendar source", async () => {
        await store.rooms.add(room("g@acme.example", { source: "google" }), T0);
        const leased = await store.syncCursors.leaseDue(T0, 10);
        expect(leased.map((l) => [l.mailbox, l.source])).toEqual([["g@acme.example", "google"]]);
      });

      it("leases due rooms once, reclaims expired leases, and rejects the old owner's results", async () => {
        const { room: r } = await store.rooms.add(room("r@contoso.example"), T0);
        const leased = await store.syncCursors.leaseDue(T0, 10, { leaseMs: 60_000 });
        expect(leased.map((l) => [l.roomId, l.mailbox, l.source])).toEqual([[r.id, "r@contoso.example", "graph"]]);
        expect(leased[0]?.cursor).toMatchObject({ leaseOwner: "owner-a", leaseExpiresAt: at(1) });
        expect(await store.syncCursors.leaseDue(T0, 10)).toEqual([]);
        const other = await db.openAnother({ owner: "owner-b" });
        try {
          expect(await other.store.syncCursors.leaseDue(at(0.5), 10)).toEqual([]);
          const taken = await other.store.syncCursors.leaseDue(at(2), 10);
          expect(taken.map((l) => l.cursor.leaseOwner)).toEqual(["owner-b"]);
          expect(await store.syncCursors.renewLease(r.id, at(2))).toBe(false);
          const ok = { outcome: "ok", deltaLink: "https://g/delta?$deltatoken=a", windowStart: at(-60), windowEnd: at(600), nextDueAt: at(3) } as const;
          expect(await store.syncCursors.completeRound(r.id, ok, at(2))).toBe(false);
          expect(await other.store.syncCursors.completeRound(r.id, ok, at(2))).toBe(true);
        } finally {
          await other.close();
        }
        expect(await store.syncCursors.get(r.id)).toMatchObject({
          deltaLink: "https://g/delta?$deltatoken=a",
          windowStart: at(-60),
          dueAt: at(3),
          lastSuccessAt: at(2),
          leaseOwner: null,
          leaseExpiresAt: null,
        });
      });

      it("records failures with backoff, resets the cursor on request, and honours notifications during a round", async () => {
        const { room: r } = await store.rooms.add(room("r@contoso.example"), T0);
        await store.syncCursors.leaseDue(T0, 10);
        await store.syncCursors.completeRound(r.id, { outcome: "ok", deltaLink: "d1", windowStart: null, windowEnd: null, nextDueAt: at(1) }, T0);
        await store.syncCursors.leaseDue(at(1), 10);
        const failed = { outcome: "error", code: "OTJ_GRAPH_THROTTLED", message: "429", nextDueAt: at(5) } as const;
        expect(await store.syncCursors.completeRound(r.id, failed, at(1))).toBe(true);
        expect(await store.syncCursors.get(r.id)).toMatchObject({
          deltaLink: "d1",
          consecutiveFailures: 1,
          lastErrorCode: "OTJ_GRAPH_THROTTLED",
          dueAt: at(5),
        });
        expect(await store.syncCursors.leaseDue(at(4), 10)).toEqual([]);
        await store.syncCursors.leaseDue(at(5), 10);
        await store.syncCursors.completeRound(r.id, { ...failed, nextDueAt: at(10), resetCursor: true }, at(5));
        expect(await store.syncCursors.get(r.id)).toMatchObject({ deltaLink: null, consecutiveFailures: 2 });

        // A notification while a round runs keeps the room due right after it.
        await store.syncCursors.leaseDue(at(10), 10);
        await store.syncCursors.markDue(r.id, at(10.5));
        await store.syncCursors.completeRound(r.id, { outcome: "ok", deltaLink: "d2", windowStart: null, windowEnd: null, nextDueAt: at(11) }, at(10.7));
        expect((await store.syncCursors.get(r.id))?.dueAt).toEqual(at(10.5));
        // Without a round, a notification makes the room due at once.
        await store.syncCursors.leaseDue(at(10.5), 10);
        await store.syncCursors.completeRound(r.id, { outcome: "ok", deltaLink: "d3", windowStart: null, windowEnd: null, nextDueAt: at(20) }, at(11));
        await store.syncCursors.markDue(r.id, at(12));
        expect((await store.syncCursors.leaseDue(at(12), 10)).length).toBe(1);
        expect(await store.syncCursors.releaseAll(at(12))).toBe(1);
        expect((await store.syncCursors.get(r.id))?.leaseOwner).toBeNull();
        await store.syncCursors.resetCursor(r.id, at(13));
        expect((await store.syncCursors.get(r.id))?.deltaLink).toBeNull();
      });

      it("leases the most overdue rooms first, up to the limit", async () => {
        const added = await store.rooms.addMany([room("a@contoso.example"), room("b@contoso.example"), room("c@contoso.example")], T0);
        if (!added.applied) throw new Error("setup");
        const [a, b, c] = added.rooms.map((x) => x.room.id);
        for (const [id, due] of [
          [a, 3],
          [b, 1],
          [c, 2],
        ] as const) {
          await store.syncCursors.leaseDue(T0, 10);
          await store.syncCursors.completeRound(id ?? "", { outcome: "ok", deltaLink: null, windowStart: null, windowEnd: null, nextDueAt: at(due) }, T0);
          await store.syncCursors.releaseAll(T0);
        }
        expect((await store.syncCursors.leaseDue(at(5), 2)).map((l) => l.roomId)).toEqual([b, c]);
      });

      it("completes many rounds in one call, each room as completeRound would, flags in the order given", async () => {
        const added = await store.rooms.addMany(
          ["a", "b", "c", "d", "e"].map((n) => room(`${n}@contoso.example`)),
          T0,
        );
        if (!added.applied) throw new Error("setup");
        const [a, b, c, d, e] = added.rooms.map((x) => x.room.id) as [string, string, string, string, string];
        // d had a cursor and one failure before; e is not leased by this owner.
        await store.syncCursors.leaseDue(T0, 10);
        await store.syncCursors.completeRounds(
          [
            { roomId: d, result: { outcome: "ok", deltaLink: "d-old", windowStart: at(-60), windowEnd: at(600), nextDueAt: at(1) } },
            { roomId: c, result: { outcome: "ok", deltaLink: "c-old", windowStart: at(-60), windowEnd: at(600), nextDueAt: at(1) } },
          ],
          T0,
        );
        await store.syncCursors.releaseAll(T0);
        expect((await store.syncCursors.leaseDue(at(1), 10)).map((l) => l.roomId).sort()).toEqual([a, b, c, d, e].sort());
        await store.syncCursors.completeRound(d, { outcome: "error", code: "OTJ_GRAPH_UNAVAILABLE", message: "503", nextDueAt: at(2) }, at(1));
        await store.syncCursors.leaseDue(at(2), 10);
        const other = await db.openAnother({ owner: "owner-b" });
        try {
          await store.syncCursors.completeRound(e, { outcome: "ok", deltaLink: null, windowStart: null, windowEnd: null, nextDueAt: at(2) }, at(1));
          await other.store.syncCursors.leaseDue(at(2), 10);
        } finally {
          await other.close();
        }
        await store.syncCursors.markDue(b, at(2.5));

        const flags = await store.syncCursors.completeRounds(
          [
            { roomId: e, result: { outcome: "ok", deltaLink: "e1", windowStart: null, windowEnd: null, nextDueAt: at(4) } },
            { roomId: a, result: { outcome: "ok", deltaLink: "a1", windowStart: at(-60), windowEnd: at(600), nextDueAt: at(4) } },
            { roomId: b, result: { outcome: "ok", deltaLink: "b1", windowStart: at(-60), windowEnd: at(600), nextDueAt: at(4) } },
            { roomId: c, result: { outcome: "error", code: "OTJ_GRAPH_THROTTLED", message: "429", nextDueAt: at(5), resetCursor: true } },
            { roomId: d, result: { outcome: "ok", deltaLink: "d1", windowStart: at(-60), windowEnd: at(600), nextDueAt: at(4) } },
          ],
          at(3),
        );
        expect(flags).toEqual([false, true, true, true, true]);
        const cursors = new Map((await store.syncCursors.list()).map((x) => [x.roomId, x]));
        expect(cursors.get(a)).toMatchObject({
          deltaLink: "a1",
          windowStart: at(-60),
          windowEnd: at(600),
          dueAt: at(4),
          lastSuccessAt: at(3),
          leaseOwner: null,
          leaseExpiresAt: null,
        });
        // The notification during the round keeps b due at once.
        expect(cursors.get(b)).toMatchObject({ deltaLink: "b1", dueAt: at(2.5), leaseOwner: null });
        expect(cursors.get(c)).toMatchObject({
          deltaLink: null,
          windowStart: null,
          windowEnd: null,
          dueAt: at(5),
          lastSuccessAt: T0,
          lastFailureAt: at(3),
          lastErrorCode: "OTJ_GRAPH_THROTTLED",
          lastError: "429",
          consecutiveFailures: 1,
          leaseOwner: null,
        });
        expect(cursors.get(d)).toMatchObject({
          deltaLink: "d1",
          lastErrorCode: null,
          lastError: null,
          consecutiveFailures: 0,
          lastFailureAt: at(1),
          lastSuccessAt: at(3),
        });
        // e belongs to owner-b: untouched.
        expect(cursors.get(e)).toMatchObject({ deltaLink: null, leaseOwner: "owner-b" });

        // A failure without reset keeps the cursor; the single call is the same statement.
        await store.syncCursors.leaseDue(at(5), 10);
        expect(
          await store.syncCursors.completeRounds(
            [{ roomId: c, result: { outcome: "ok", deltaLink: "c2", windowStart: at(-60), windowEnd: at(600), nextDueAt: at(6) } }],
            at(5),
          ),
        ).toEqual([true]);
        await store.syncCursors.leaseDue(at(6), 10);
        expect(
          await store.syncCursors.completeRounds(
            [{ roomId: c, result: { outcome: "error", code: "OTJ_GRAPH_UNAVAILABLE", message: "503", nextDueAt: at(7) } }],
            at(6),
          ),
        ).toEqual([true]);
        expect(await store.syncCursors.get(c)).toMatchObject({ deltaLink: "c2", windowStart: at(-60), consecutiveFailures: 1, lastSuccessAt: at(5) });
        expect(await store.syncCursors.completeRounds([], at(6))).toEqual([]);
      });

      it("completeRounds rejects a room given twice and writes nothing; it takes hundreds of rooms at once", async () => {
        const inputs = Array.from({ length: 300 }, (_, i) => room(`r${String(i).padStart(3, "0")}@contoso.example`));
        const added = await store.rooms.addMany(inputs, T0);
        if (!added.applied) throw new Error("setup");
        const ids = added.rooms.map((x) => x.room.id);
        expect(await store.syncCursors.leaseDue(T0, 1000)).toHaveLength(300);
        const ok = (i: number) => ({ outcome: "ok", deltaLink: `link-${i}`, windowStart: null, windowEnd: null, nextDueAt: at(1) }) as const;
        expect(
          await codeOf(
            store.syncCursors.completeRounds(
              [
                { roomId: ids[0]!, result: ok(0) },
                { roomId: ids[0]!, result: ok(1) },
              ],
              T0,
            ),
          ),
        ).toBe("OTJ_INTERNAL");
        expect((await store.syncCursors.get(ids[0]!))?.leaseOwner).toBe("owner-a");
        const flags = await store.syncCursors.completeRounds(
          ids.map((roomId, i) => ({ roomId, result: ok(i) })),
          T0,
        );
        expect(flags.every(Boolean)).toBe(true);
        const cursors = await store.syncCursors.list();
        expect(cursors.every((x) => x.leaseOwner === null && x.deltaLink === `link-${ids.indexOf(x.roomId)}`)).toBe(true);
        const aborted = new AbortController();
        aborted.abort(new Error("stop"));
        await expect(store.syncCursors.completeRounds([{ roomId: ids[0]!, result: ok(0) }], T0, { signal: aborted.signal })).rejects.toThrow();
      });
    });

    describe("meetings", () => {
      it("lists every room's occurrences in a window, and every cursor, in one call each", async () => {
        const { room: r1 } = await store.rooms.add(room("one@contoso.example"), T0);
        const { room: r2 } = await store.rooms.add(room("two@contoso.example"), T0);
        await store.meetings.upsert(
          [
            meeting(r1.id, "a", { start: at(60), end: at(90) }),
            meeting(r2.id, "b", { start: at(30), end: at(45) }),
            meeting(r2.id, "late", { start: at(600), end: at(630) }),
            meeting(r1.id, "gone", { start: at(70), end: at(80), cancelled: true }),
          ],
          T0,
        );
        const inWindow = await store.meetings.listAll({ from: T0, to: at(120) });
        expect(inWindow.map((m) => m.occurrenceKey).sort()).toEqual(["a", "b"]);
        expect((await store.meetings.listAll({ from: T0, to: at(120), includeCancelled: true })).map((m) => m.occurrenceKey).sort()).toEqual([
          "a",
          "b",
          "gone",
        ]);
        expect((await store.syncCursors.list()).map((c) => c.roomId).sort()).toEqual([r1.id, r2.id].sort());
      });

      it("upserts idempotently by occurrence key and content hash", async () => {
        const { room: r } = await store.rooms.add(room("r@contoso.example"), T0);
        expect(await store.meetings.upsert([meeting(r.id, "k1"), meeting(r.id, "k2")], T0)).toEqual([
          { occurrenceKey: "k1", change: "added" },
          { occurrenceKey: "k2", change: "added" },
        ]);
        expect(await store.meetings.upsert([meeting(r.id, "k1"), meeting(r.id, "k2", { subject: "ignored: same hash" })], at(1))).toEqual([
          { occurrenceKey: "k1", change: "unchanged" },
          { occurrenceKey: "k2", change: "unchanged" },
        ]);
        expect(
          await store.meetings.upsert(
            [meeting(r.id, "k1", { subject: "first" }), meeting(r.id, "k1", { subject: "Moved", contentHash: "h2", start: at(120), end: at(150) })],
            at(2),
          ),
        ).toEqual([
          { occurrenceKey: "k1", change: "updated" },
          { occurrenceKey: "k1", change: "updated" },
        ]);
        const k1 = await store.meetings.get("k1");
        expect(k1).toMatchObject({ subject: "Moved", start: at(120), end: at(150), contentHash: "h2", createdAt: T0, updatedAt: at(2), route: "sgj" });
        expect(k1?.join?.teams?.passcode).toBe("Xy7pQ2");
        expect((await store.meetings.get("k2"))?.subject).toBe("Supplier review");
        expect(k1?.explain ?? null).toBeNull();
        const explain = {
          matchedText: "https://teams.microsoft.com/l/meetup-join/x",
          trace: [{ rule: "teams-sgj", outcome: "matched" as const, reason: "external tenant" }],
        };
        await store.meetings.upsert([meeting(r.id, "k3", { explain })], at(3));
        expect((await store.meetings.get("k3"))?.explain).toEqual(explain);
      });

      it("lists a room's live window in start order, cancelled ones on request", async () => {
        const { room: r } = await store.rooms.add(room("r@contoso.example"), T0);
        await store.meetings.upsert(
          [
            meeting(r.id, "late", { start: at(300), end: at(330) }),
            meeting(r.id, "early", { start: at(10), end: at(40) }),
            meeting(r.id, "past", { start: at(-200), end: at(-170) }),
            meeting(r.id, "gone", { start: at(20), end: at(30), cancelled: true, route: "none", dialString: null, rule: "cancelled" }),
            meeting(r.id, "declined", { start: at(25), end: at(35), declined: true }),
          ],
          T0,
        );
        expect((await store.meetings.list(r.id, { from: T0, to: at(240) })).map((m) => m.occurrenceKey)).toEqual(["early"]);
        expect((await store.meetings.list(r.id, { from: T0, includeCancelled: true })).map((m) => m.occurrenceKey)).toEqual([
          "early",
          "gone",
          "declined",
          "late",
        ]);
        expect((await store.meetings.list(r.id)).length).toBe(3);
      });

      it("finds by iCalUId, re-plans, and removes by key, by source event (series), and by resync", async () => {
        const { room: r } = await store.rooms.add(room("r@contoso.example"), T0);
        await store.meetings.upsert(
          [
            meeting(r.id, "s1", { sourceEventId: "occ1", seriesMasterId: "master", icalUid: "series-uid" }),
            meeting(r.id, "s2", { sourceEventId: "occ2", seriesMasterId: "master", icalUid: "series-uid" }),
            meeting(r.id, "single", { sourceEventId: "single-evt" }),
            meeting(r.id, "other"),
          ],
          T0,
        );
        expect((await store.meetings.findByIcalUid(r.id, "series-uid")).map((m) => m.occurrenceKey).sort()).toEqual(["s1", "s2"]);
        expect(
          await store.meetings.setPlan(
            "single",
            { route: "cvi", dialString: "1.contoso@m.webex.com", ivr: { address: "contoso@m.webex.com", dtmf: "1#" }, rule: "teams-cvi", subjectShown: null },
            at(1),
          ),
        ).toBe(true);
        expect(await store.meetings.get("single")).toMatchObject({ route: "cvi", ivr: { address: "contoso@m.webex.com", dtmf: "1#" }, subjectShown: null });
        expect(await store.meetings.setPlan("nope", { route: "none", dialString: null, ivr: null, rule: "none", subjectShown: null }, at(1))).toBe(false);
        expect((await store.meetings.removeBySourceEventIds(r.id, ["master"])).sort()).toEqual(["s1", "s2"]);
        expect(await store.meetings.remove(["single", "unknown"])).toEqual(["single"]);
        await store.meetings.upsert([meeting(r.id, "keep"), meeting(r.id, "drop")], T0);
        expect((await store.meetings.removeAllExcept(r.id, ["keep", "other"])).sort()).toEqual(["drop"]);
        expect((await store.meetings.removeAllExcept(r.id, [])).sort()).toEqual(["keep", "other"]);
      });
    });

    describe("device state", () => {
      it("is due only while the desired list differs from the pushed one", async () => {
        const { room: r } = await store.rooms.add(room("r@contoso.example"), T0);
        await store.deviceStates.setDesired(r.id, "v1", T0);
        const [claim] = await store.deviceStates.claimDue(T0, 10);
        expect(claim).toMatchObject({ roomId: r.id, desiredHash: "v1", pushedHash: null, leaseOwner: "owner-a" });
        expect(await store.deviceStates.claimDue(T0, 10)).toEqual([]);
        expect(await store.deviceStates.recordPushed(r.id, { hash: "v1", entries: [{ key: "k1", hash: "e1" }] }, at(1))).toBe(true);
        expect(await store.deviceStates.get(r.id)).toMatchObject({ pushedHash: "v1", dueAt: null, entries: [{ key: "k1", hash: "e1" }], pushedAt: at(1) });
        await store.deviceStates.setDesired(r.id, "v1", at(2));
        expect(await store.deviceStates.claimDue(at(2), 10)).toEqual([]);

        // The list changes while a push of the previous one is in flight: still due afterwards.
        await store.deviceStates.setDesired(r.id, "v2", at(3));
        await store.deviceStates.claimDue(at(3), 10);
        await store.deviceStates.setDesired(r.id, "v3", at(3.5));
        await store.deviceStates.recordPushed(r.id, { hash: "v2", entries: [] }, at(4));
        expect((await store.deviceStates.get(r.id))?.dueAt).toEqual(at(4));
      });

      it("pushes the whole list again after the device changed, without waiting for a backoff", async () => {
        const { room: r } = await store.rooms.add(room("moved@contoso.example"), T0);
        const { room: fresh } = await store.rooms.add(room("fresh@contoso.example"), T0);
        await store.deviceStates.pushAgain(fresh.id, T0);
        expect(await store.deviceStates.get(fresh.id)).toBeNull();
        await store.deviceStates.setDesired(r.id, "v1", T0);
        await store.deviceStates.claimDue(T0, 10);
        await store.deviceStates.recordFailed(r.id, { code: "OTJ_DEVICE_UNREACHABLE", message: "no route", retryAt: at(30) }, at(1));
        expect(await store.deviceStates.claimDue(at(2), 10)).toEqual([]);
        await store.deviceStates.pushAgain(r.id, at(2));
        const [claim] = await store.deviceStates.claimDue(at(2), 10);
        expect(claim).toMatchObject({ roomId: r.id, desiredHash: "v1", pushedHash: null, attempts: 0 });
        expect(await store.deviceStates.recordPushed(r.id, { hash: "v1", entries: [] }, at(3))).toBe(true);
        await store.deviceStates.pushAgain(r.id, at(4));
        expect((await store.deviceStates.get(r.id))?.dueAt).toEqual(at(4));
      });

      it("counts failures, keeps the alarm start, and retries at the given time", async () => {
        const { room: r } = await store.rooms.add(room("r@contoso.example"), T0);
        await store.deviceStates.setDesired(r.id, "v1", T0);
        await store.deviceStates.claimDue(T0, 10);
        const failure = { code: "OTJ_DEVICE_UNREACHABLE", message: "timeout", retryAt: at(1) };
        expect(await store.deviceStates.recordFailed(r.id, failure, T0)).toBe(true);
        expect(await store.deviceStates.claimDue(at(0.5), 10)).toEqual([]);
        await store.deviceStates.claimDue(at(1), 10);
        await store.deviceStates.recordFailed(r.id, { ...failure, retryAt: at(5) }, at(1));
        expect(await store.deviceStates.get(r.id)).toMatchObject({ attempts: 2, failingSince: T0, lastErrorCode: "OTJ_DEVICE_UNREACHABLE", dueAt: at(5) });
        // A new list does not skip the backoff.
        await store.deviceStates.setDesired(r.id, "v2", at(2));
        expect((await store.deviceStates.get(r.id))?.dueAt).toEqual(at(5));
        expect(await store.deviceStates.recordFailed(r.id, failure, at(2))).toBe(false);
        await store.deviceStates.claimDue(at(5), 10);
        await store.deviceStates.recordPushed(r.id, { hash: "v2", entries: [] }, at(5));
        expect(await store.deviceStates.get(r.id)).toMatchObject({ attempts: 0, failingSince: null, lastError: null, dueAt: null });
        expect((await store.deviceStates.list()).length).toBe(1);
      });
    });

    describe("bridge sessions", () => {
      const schedule = (roomId: string, key: string, dueMinutes: number) => ({
        occurrenceKey: key,
        sessionId: `sgj_${key.padStart(12, "0")}`,
        roomId,
        dueAt: at(dueMinutes),
        notAfter: at(dueMinutes + 60),
        dialString: `sgj_${key}@sgj.otj.invalid`,
      });

      it("schedules once per occurrence and reschedules only while scheduled", async () => {
        const { room: r } = await store.rooms.add(room("r@contoso.example"), T0);
        expect((await store.bridgeSessions.schedule(schedule(r.id, "k1", 58), T0)).change).toBe("created");
        expect((await store.bridgeSessions.schedule(schedule(r.id, "k1", 58), at(1))).change).toBe("unchanged");
        const moved = await store.bridgeSessions.schedule(schedule(r.id, "k1", 88), at(2));
        expect(moved.change).toBe("rescheduled");
        expect(moved.session).toMatchObject({ state: "scheduled", dueAt: at(88), updatedAt: at(2), createdAt: T0 });
        await store.bridgeSessions.transition("k1", { from: ["scheduled"], to: "starting" }, at(88));
        const late = await store.bridgeSessions.schedule(schedule(r.id, "k1", 100), at(89));
        expect(late).toMatchObject({ change: "unchanged", session: { state: "starting", dueAt: at(88) } });
        expect(await codeOf(store.bridgeSessions.schedule({ ...schedule(r.id, "k2", 58), sessionId: late.session.sessionId }, T0))).toBe("OTJ_STORE_CONFLICT");
        expect((await store.bridgeSessions.getBySessionId(late.session.sessionId))?.occurrenceKey).toBe("k1");
      });

      it("claims live sessions due within the horizon, soonest first, never final ones", async () => {
        const { room: r } = await store.rooms.add(room("r@contoso.example"), T0);
        for (const [key, due] of [
          ["a", 3],
          ["b", 1],
          ["c", 2],
          ["d", 30],
          ["e", 0],
        ] as const) {
          await store.bridgeSessions.schedule(schedule(r.id, key, due), T0);
        }
        await store.bridgeSessions.transition("e", { to: "cancelled", patch: { endedReason: "meeting cancelled" } }, T0);
        const claimed = await store.bridgeSessions.claimDue(at(1), 10, { horizonMs: 2 * 60_000, leaseMs: 30_000 });
        expect(claimed.map((s) => s.occurrenceKey)).toEqual(["b", "c", "a"]);
        expect(claimed[0]).toMatchObject({ leaseOwner: "owner-a", leaseExpiresAt: at(1.5) });
        expect(await store.bridgeSessions.claimDue(at(1), 10, { horizonMs: 2 * 60_000 })).toEqual([]);
        expect(await store.bridgeSessions.renewLease("b", at(1.4), { leaseMs: 60_000 })).toBe(true);
        expect((await store.bridgeSessions.claimDue(at(2), 10, { horizonMs: 2 * 60_000 })).map((s) => s.occurrenceKey)).toEqual(["c", "a"]);
        await store.bridgeSessions.release("b", at(2));
        expect((await store.bridgeSessions.claimDue(at(2), 10)).map((s) => s.occurrenceKey)).toEqual(["b"]);
        expect(await store.bridgeSessions.releaseAll(at(2))).toBe(3);
      });

      it("lists the live sessions and those that ended since a given time (the console's live list)", async () => {
        const { room: r } = await store.rooms.add(room("r@contoso.example"), T0);
        for (const key of ["live", "old", "recent"]) await store.bridgeSessions.schedule(schedule(r.id, key, 5), T0);
        await store.bridgeSessions.transition("old", { to: "cancelled", patch: { endedReason: "meeting cancelled" } }, at(1));
        await store.bridgeSessions.transition("recent", { to: "cancelled", patch: { endedReason: "meeting cancelled" } }, at(10));
        const listed = await store.bridgeSessions.list({ liveOrUpdatedSince: at(5) });
        expect(listed.map((s) => s.occurrenceKey).sort()).toEqual(["live", "recent"]);
        expect((await store.bridgeSessions.list()).length).toBe(3);
      });

      it("transitions compare-and-set and stores the patch", async () => {
        const { room: r } = await store.rooms.add(room("r@contoso.example"), T0);
        await store.bridgeSessions.schedule(schedule(r.id, "k", 58), T0);
        const path: Array<[BridgeState[], BridgeState]> = [
          [["scheduled"], "starting"],
          [["starting"], "lobby"],
        ];
        for (const [from, to] of path) expect((await store.bridgeSessions.transition("k", { from, to }, at(58)))?.state).toBe(to);
        expect(await store.bridgeSessions.transition("k", { from: ["scheduled"], to: "starting" }, at(59))).toBeNull();
        const admitted = await store.bridgeSessions.transition(
          "k",
          {
            from: ["lobby"],
            to: "admitted",
            patch: { externalId: "brg-5521", lastCallbackAt: at(59), lastCallbackState: "admitted", dueAt: at(118), attempts: 1 },
          },
          at(59),
        );
        expect(admitted).toMatchObject({ state: "admitted", externalId: "brg-5521", lastCallbackAt: at(59), dueAt: at(118), attempts: 1, updatedAt: at(59) });
        expect(await store.bridgeSessions.transition("missing", { to: "ended" }, at(60))).toBeNull();
        expect((await store.bridgeSessions.list({ states: ["admitted"] })).map((s) => s.occurrenceKey)).toEqual(["k"]);
        expect(await store.bridgeSessions.list({ states: ["ended"] })).toEqual([]);
        expect((await store.bridgeSessions.list({ roomId: r.id })).length).toBe(1);
      });

      const START = { adapter: "http", lobbyDeadline: at(16), nextDueAt: at(16), cause: "start requested" };

      it("starts many at once: only sessions still scheduled, due as read and claimed by this owner", async () => {
        const { room: r } = await store.rooms.add(room("r@contoso.example"), T0);
        for (const key of ["a", "b", "c", "d", "e"]) await store.bridgeSessions.schedule(schedule(r.id, key, 1), T0);
        await store.bridgeSessions.schedule({ ...schedule(r.id, "b", 1), notAfter: at(10) }, T0);
        await store.bridgeSessions.transition(
          "a",
          { from: ["scheduled"], to: "scheduled", patch: { attempts: 1, lastErrorCode: "OTJ_BRIDGE_UNAVAILABLE", lastError: "busy" } },
          T0,
        );
        expect(await store.bridgeSessions.claimDue(at(1), 10, { leaseMs: 60_000 })).toHaveLength(5);
        await store.bridgeSessions.transition("c", { from: ["scheduled"], to: "cancelled", patch: { endedReason: "meeting cancelled" } }, at(1));
        await store.bridgeSessions.schedule(schedule(r.id, "d", 30), at(1)); // moved since it was read
        await store.bridgeSessions.release("e", at(1)); // no longer claimed by this owner
        const items = ["a", "b", "c", "d", "e", "missing"].map((occurrenceKey) => ({ occurrenceKey, dueAt: at(1) }));

        const started = await store.bridgeSessions.startMany(items, START, at(1));
        expect(started.map((s) => s.occurrenceKey).sort()).toEqual(["a", "b"]);
        expect(started.find((s) => s.occurrenceKey === "a")).toMatchObject({
          state: "starting",
          attempts: 2,
          adapter: "http",
          lobbyDeadline: at(16),
          dueAt: at(16),
          lastErrorCode: null,
          lastError: null,
          leaseOwner: "owner-a",
          updatedAt: at(1),
        });
        expect(started.find((s) => s.occurrenceKey === "b")).toMatchObject({ state: "starting", attempts: 1, dueAt: at(10) });
        expect((await store.bridgeSessions.list()).map((s) => [s.occurrenceKey, s.state]).sort()).toEqual([
          ["a", "starting"],
          ["b", "starting"],
          ["c", "cancelled"],
          ["d", "scheduled"],
          ["e", "scheduled"],
        ]);
        const logged = await store.eventLog.list({ kind: "bridge.starting" });
        expect(logged.map((e) => e.occurrenceKey).sort()).toEqual(["a", "b"]);
        expect(logged.find((e) => e.occurrenceKey === "a")).toMatchObject({
          at: at(1),
          roomId: r.id,
          message: "start requested",
          data: { sessionId: "sgj_00000000000a", from: "scheduled", to: "starting", attempt: 2 },
        });

        // Again: nothing is still scheduled, nothing moves, nothing more is logged.
        expect(await store.bridgeSessions.startMany(items, START, at(1.1))).toEqual([]);
        expect(await store.bridgeSessions.startMany([], START, at(1.1))).toEqual([]);
        expect(await store.eventLog.list({ kind: "bridge.starting" })).toHaveLength(2);
      });

      it("two startMany of the same sessions at once move each session once", async () => {
        const { room: r } = await store.rooms.add(room("r@contoso.example"), T0);
        const keys = Array.from({ length: 40 }, (_, i) => `k${String(i).padStart(2, "0")}`);
        for (const key of keys) await store.bridgeSessions.schedule(schedule(r.id, key, 1), T0);
        expect(await store.bridgeSessions.claimDue(at(1), 100, { leaseMs: 60_000 })).toHaveLength(40);
        // A twin of this instance (the same lease owner, another connection pool on PostgreSQL).
        const twin = await db.openAnother({ owner: "owner-a" });
        try {
          const items = keys.map((occurrenceKey) => ({ occurrenceKey, dueAt: at(1) }));
          const [one, two] = await Promise.all([store.bridgeSessions.startMany(items, START, at(1)), twin.store.bridgeSessions.startMany(items, START, at(1))]);
          const moved = [...one!, ...two!].map((s) => s.occurrenceKey).sort();
          expect(moved).toEqual(keys);
          expect((await store.bridgeSessions.list()).every((s) => s.state === "starting" && s.attempts === 1)).toBe(true);
          expect(await store.eventLog.list({ kind: "bridge.starting" })).toHaveLength(40);
        } finally {
          await twin.close();
        }
      });

      it("reads which held starts are still unanswered: starting, without an external id", async () => {
        const { room: r } = await store.rooms.add(room("r@contoso.example"), T0);
        // Held (a), answered (b), ended while held (c), answered by a lobby report (e), never started (d).
        const changes: Record<string, { to: BridgeState; patch?: { externalId: string } }> = {
          a: { to: "starting" },
          b: { to: "starting", patch: { externalId: "brg-b" } },
          c: { to: "cancelled" },
          d: { to: "scheduled" },
          e: { to: "lobby" },
        };
        for (const [key, change] of Object.entries(changes)) {
          await store.bridgeSessions.schedule(schedule(r.id, key, 1), T0);
          await store.bridgeSessions.transition(key, change, at(1));
        }
        expect(await store.bridgeSessions.unansweredStarts(["a", "b", "c", "d", "e", "missing"])).toEqual(["a"]);
        expect(await store.bridgeSessions.unansweredStarts([])).toEqual([]);
      });

      it("records external ids in one go: live sessions take them, final ones only when they have none", async () => {
        const { room: r } = await store.rooms.add(room("r@contoso.example"), T0);
        for (const key of ["a", "b", "c", "d"]) await store.bridgeSessions.schedule(schedule(r.id, key, 1), T0);
        await store.bridgeSessions.transition("a", { to: "starting" }, at(1));
        await store.bridgeSessions.transition("b", { to: "lobby", patch: { externalId: "brg-old" } }, at(1));
        await store.bridgeSessions.transition("c", { to: "cancelled" }, at(1));
        await store.bridgeSessions.transition("d", { to: "cancelled", patch: { externalId: "brg-d" } }, at(1));
        const ids = ["a", "b", "c", "d", "missing"].map((occurrenceKey) => ({ occurrenceKey, externalId: `brg-new-${occurrenceKey}` }));
        const recorded = await store.bridgeSessions.recordExternalIds(ids, at(2));
        expect(recorded.map((s) => [s.occurrenceKey, s.state, s.externalId]).sort()).toEqual([
          ["a", "starting", "brg-new-a"],
          ["b", "lobby", "brg-new-b"],
          ["c", "cancelled", "brg-new-c"],
          ["d", "cancelled", "brg-d"],
        ]);
        expect(recorded.find((s) => s.occurrenceKey === "a")?.updatedAt).toEqual(at(2));
        expect(recorded.find((s) => s.occurrenceKey === "d")?.updatedAt).toEqual(at(1));
        // Idempotent: the same ids again change nothing and still return every session.
        const again = await store.bridgeSessions.recordExternalIds(ids, at(3));
        expect(again.map((s) => [s.occurrenceKey, s.externalId, s.updatedAt]).sort()).toEqual(
          recorded.map((s) => [s.occurrenceKey, s.externalId, s.updatedAt]).sort(),
        );
        expect(await store.bridgeSessions.recordExternalIds([], at(3))).toEqual([]);
      });

      it("settles the next due time when an external id comes with one", async () => {
        const { room: r } = await store.rooms.add(room("r@contoso.example"), T0);
        for (const key of ["a", "b", "c", "d", "e"]) await store.bridgeSessions.schedule(schedule(r.id, key, 1), T0);
        await store.bridgeSessions.transition("a", { to: "starting", patch: { dueAt: at(2), lobbyDeadline: at(15) } }, at(1));
        // Reported in the lobby or admitted before the id was recorded: looked at early for it.
        await store.bridgeSessions.transition("b", { to: "lobby", patch: { dueAt: at(3), lobbyDeadline: at(16) } }, at(1));
        await store.bridgeSessions.transition("c", { to: "admitted", patch: { dueAt: at(3) } }, at(1));
        // Already has an id: its due time is its own business.
        await store.bridgeSessions.transition("d", { to: "lobby", patch: { dueAt: at(3), lobbyDeadline: at(16), externalId: "brg-d" } }, at(1));
        await store.bridgeSessions.transition("e", { to: "starting", patch: { dueAt: at(4) } }, at(1));
        const recorded = await store.bridgeSessions.recordExternalIds(
          [
            { occurrenceKey: "a", externalId: "brg-a", dueAt: at(15) },
            { occurrenceKey: "b", externalId: "brg-b", dueAt: at(15) },
            { occurrenceKey: "c", externalId: "brg-c", dueAt: at(15) },
            { occurrenceKey: "d", externalId: "brg-d2", dueAt: at(15) },
            { occurrenceKey: "e", externalId: "brg-e" },
          ],
          at(5),
        );
        const notAfter = (await store.bridgeSessions.get("c"))!.notAfter;
        expect(recorded.map((s) => [s.occurrenceKey, s.externalId, s.dueAt]).sort()).toEqual([
          ["a", "brg-a", at(15)],
          ["b", "brg-b", at(16)],
          ["c", "brg-c", notAfter],
          ["d", "brg-d2", at(3)],
          ["e", "brg-e", at(4)],
        ]);
      });

      it("releases this owner's claims on the given sessions only", async () => {
        const { room: r } = await store.rooms.add(room("r@contoso.example"), T0);
        for (const key of ["a", "b", "c"]) await store.bridgeSessions.schedule(schedule(r.id, key, 1), T0);
        await store.bridgeSessions.claimDue(at(1), 10, { leaseMs: 60_000 });
        const other = await db.openAnother({ owner: "owner-b" });
        try {
          await store.bridgeSessions.release("c", at(1));
          expect(await other.store.bridgeSessions.claimDue(at(1), 10, { leaseMs: 60_000 })).toHaveLength(1);
          expect(await store.bridgeSessions.releaseMany(["a", "c", "missing"], at(2))).toBe(1);
          expect(await store.bridgeSessions.releaseMany([], at(2))).toBe(0);
          expect((await store.bridgeSessions.list()).map((s) => [s.occurrenceKey, s.leaseOwner]).sort()).toEqual([
            ["a", null],
            ["b", "owner-a"],
            ["c", "owner-b"],
          ]);
        } finally {
          await other.close();
        }
      });
    });

    describe("console sign-outs", () => {
      it("are kept until the session would have expired, then pruned", async () => {
        expect(await store.consoleRevocations.isRevoked("nonce-a", T0)).toBe(false);
        await store.consoleRevocations.revoke("nonce-a", at(10), T0);
        await store.consoleRevocations.revoke("nonce-a", at(10), at(1));
        expect(await store.consoleRevocations.isRevoked("nonce-a", at(9))).toBe(true);
        expect(await store.consoleRevocations.isRevoked("nonce-b", at(9))).toBe(false);
        expect(await store.consoleRevocations.isRevoked("nonce-a", at(10))).toBe(false);
        await store.consoleRevocations.revoke("nonce-b", at(30), at(20));
        expect(await store.consoleRevocations.isRevoked("nonce-b", at(21))).toBe(true);
        const rows = await db.handle.db.selectFrom("console_revocation").select("nonce").execute();
        expect(rows.map((r) => r.nonce)).toEqual(["nonce-b"]);
      });
    });

    describe("event log", () => {
      it("appends in order and lists newest first with filters and paging", async () => {
        await store.eventLog.append([
          { at: T0, kind: "meeting.added", roomId: "rm_a", occurrenceKey: "k1", message: "added", data: { route: "cvi" } },
          { at: at(1), kind: "bridge.lobby", roomId: "rm_a", occurrenceKey: "k1", message: "waiting in lobby" },
          { at: at(2), kind: "meeting.added", roomId: "rm_b", message: "added" },
        ]);
        const all = await store.eventLog.list();
        expect(all.map((e) => e.message)).toEqual(["added", "waiting in lobby", "added"]);
        expect(all[2]).toMatchObject({ kind: "meeting.added", data: { route: "cvi" }, at: T0 });
        expect(all[1]).toMatchObject({ occurrenceKey: "k1", data: null });
        expect((await store.eventLog.list({ roomId: "rm_a" })).length).toBe(2);
        expect((await store.eventLog.list({ kind: "bridge.lobby" })).length).toBe(1);
        const page = await store.eventLog.list({ limit: 1 });
        expect((await store.eventLog.list({ beforeId: page[0]?.id ?? 0, limit: 5 })).map((e) => e.roomId)).toEqual(["rm_a", "rm_a"]);
      });
    });

    it("answers ping and honours an aborted signal", async () => {
      await store.ping();
      const controller = new AbortController();
      controller.abort();
      await expect(store.providers.list({ signal: controller.signal })).rejects.toBeInstanceOf(OtjError);
    });
  });
}
