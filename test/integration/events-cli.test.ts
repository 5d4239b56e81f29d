/** `otj events` through the CLI on PostgreSQL: filters by room, bridge session and time; waits; JSON; bad input. */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { EventsOutput } from "../../app/commands/events.ts";
import { adminAudit } from "../../app/http/admin/audit.ts";
import { runCli } from "../support/cli.ts";
import { openTestStore, type TestStore } from "../support/test-database.ts";

let db: TestStore;
let roomA = "";
const t = (hhmmss: string) => new Date(`2026-03-02T${hhmmss}.000Z`);

beforeAll(async () => {
  db = await openTestStore("postgres");
  const now = t("07:00:00");
  await db.store.providers.add({ name: "webex", partner: "cisco", tenantKey: "contoso@m.webex.com" }, now);
  roomA = (await db.store.rooms.add({ mailbox: "room-a@contoso.example", displayName: "Room A", provider: "webex", deviceFamily: "pull" }, now)).room.id;
  const roomB = (await db.store.rooms.add({ mailbox: "room-b@contoso.example", displayName: "Room B", provider: "webex", deviceFamily: "pull" }, now)).room.id;
  const key = "room-a@contoso.example|u1|x";
  await db.store.eventLog.append([
    { at: t("08:50:00"), kind: "meeting.added", roomId: roomA, occurrenceKey: key, message: "planned sgj" },
    {
      at: t("09:00:00"),
      kind: "bridge.starting",
      roomId: roomA,
      occurrenceKey: key,
      message: "due",
      data: { sessionId: "sgj_aaaaaaaaaaaa", from: "scheduled", to: "starting" },
    },
    {
      at: t("09:00:20"),
      kind: "bridge.lobby",
      roomId: roomA,
      occurrenceKey: key,
      message: "in the lobby",
      data: { sessionId: "sgj_aaaaaaaaaaaa", from: "starting", to: "lobby" },
    },
    {
      at: t("09:03:25"),
      kind: "bridge.admitted",
      roomId: roomA,
      occurrenceKey: key,
      message: "admitted",
      data: { sessionId: "sgj_aaaaaaaaaaaa", from: "lobby", to: "admitted" },
    },
    { at: t("09:10:00"), kind: "bridge.lobby", roomId: roomB, occurrenceKey: "room-b|x", message: "other session", data: { sessionId: "sgj_bbbbbbbbbbbb" } },
    adminAudit(
      t("09:30:00"),
      { via: "oidc", who: "alice@contoso.example", role: "admin" },
      {
        kind: "admin.room-changed",
        roomId: roomA,
        message: "changed room",
        before: { displayName: "Room A", devicePassword: "hunter2" },
        after: { displayName: "Room Alpha" },
      },
    ),
  ]);
});
afterAll(async () => {
  await db?.close();
});

describe("otj events", () => {
  it("prints a room's timeline oldest first with the waits between steps", async () => {
    const r = await runCli(["events", "--room", "room-a@contoso.example", "--database-url", db.url]);
    expect(r.code).toBe(0);
    const lines = r.stdout.trim().split("\n");
    expect(lines.map((l) => l.split(/\s+/).find((w) => /^[a-z]+\.[a-z-]+$/.test(w)))).toEqual([
      "meeting.added",
      "bridge.starting",
      "bridge.lobby",
      "bridge.admitted",
      "admin.room-changed",
    ]);
    // The lobby wait: 3 min 5 s from lobby to admitted.
    expect(lines[3]).toMatch(/\+3m05s\s+bridge\.admitted/);
    expect(r.stdout).not.toContain("other session");
    expect(r.stdout).toContain("alice@contoso.example: changed room");
    expect(r.stdout).not.toContain("hunter2");
  });

  it("filters by bridge session and time, and prints JSON with the audit's before and after", async () => {
    const session = JSON.parse((await runCli(["events", "--session", "sgj_aaaaaaaaaaaa", "--json", "--database-url", db.url])).stdout) as EventsOutput;
    expect(session.events.map((e) => e.kind)).toEqual(["bridge.starting", "bridge.lobby", "bridge.admitted"]);
    const since = JSON.parse((await runCli(["events", "--since", "2026-03-02T09:05:00Z", "--json", "--database-url", db.url])).stdout) as EventsOutput;
    expect(since.events.map((e) => e.kind)).toEqual(["bridge.lobby", "admin.room-changed"]);
    expect(since.events[1]?.data).toMatchObject({
      who: "alice@contoso.example",
      via: "oidc",
      before: { displayName: "Room A", devicePassword: "***" },
      after: { displayName: "Room Alpha" },
    });
    expect(since.events[1]?.roomId).toBe(roomA);
  });

  it("refuses a bad --since and an unknown room with their codes", async () => {
    const bad = await runCli(["events", "--since", "yesterday", "--database-url", db.url]);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toContain("OTJ_USAGE");
    const missing = await runCli(["events", "--room", "nowhere@contoso.example", "--database-url", db.url]);
    expect(missing.code).not.toBe(0);
    expect(missing.stderr).toContain("OTJ_STORE_NOT_FOUND");
  });
});
