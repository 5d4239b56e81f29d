import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { StatusOutput } from "../../app/status.ts";
import { runCli } from "../support/cli.ts";
import { openTestStore, type TestStore } from "../support/test-database.ts";

let db: TestStore;
beforeAll(async () => {
  db = await openTestStore("postgres");
  const now = new Date();
  await db.store.providers.add({ name: "webex", partner: "cisco", tenantKey: "contoso@m.webex.com" }, now);
  const { room } = await db.store.rooms.add(
    {
      mailbox: "room101@contoso.example",
      displayName: "Room 101",
      provider: "webex",
      deviceFamily: "xapi",
      deviceAddress: "https://10.0.0.5",
      deviceUsername: "admin",
      devicePassword: "hunter2",
    },
    now,
  );
  await db.store.deviceStates.setDesired(room.id, "h1", now);
  await db.store.deviceStates.claimDue(now, 10);
  await db.store.deviceStates.recordFailed(
    room.id,
    { code: "OTJ_DEVICE_AUTH", message: "device answered HTTP 401", retryAt: new Date(now.getTime() + 60_000) },
    now,
  );
  const { room: ext } = await db.store.rooms.add({ mailbox: "room102@contoso.example", displayName: "Room 102", provider: "webex", deviceFamily: "pull" }, now);
  await db.store.bridgeSessions.schedule(
    {
      occurrenceKey: "room102@contoso.example|u1|x",
      sessionId: "sgj_0123456789ab",
      roomId: ext.id,
      dueAt: now,
      notAfter: new Date(now.getTime() + 3_600_000),
      dialString: "sgj_0123456789ab@sgj.otj.invalid",
    },
    now,
  );
  await db.store.bridgeSessions.transition(
    "room102@contoso.example|u1|x",
    { to: "failed", patch: { lastErrorCode: "OTJ_BRIDGE_NOT_CONFIGURED", lastError: "no bridge adapter configured", endedReason: "not configured" } },
    now,
  );
});
afterAll(async () => {
  await db.close();
});

describe("otj status", () => {
  it("prints StatusOutput with --json, with a device alarm and no secrets", async () => {
    const r = await runCli(["status", "--json", "--database-url", db.url]);
    expect(r.code).toBe(0);
    expect(r.stdout).not.toContain("hunter2");
    const s = JSON.parse(r.stdout) as StatusOutput;
    expect(s.rooms[0]).toMatchObject({ mailbox: "room101@contoso.example", device: { family: "xapi", state: "error" }, lastPoll: { outcome: "never" } });
    expect(s.rooms[0]!.alarms).toEqual([{ code: "OTJ_DEVICE_AUTH", since: expect.any(String), message: "device answered HTTP 401" }]);
  });

  it("raises an alarm on the room of a guest join that could not happen", async () => {
    const s = JSON.parse((await runCli(["status", "--json", "--database-url", db.url])).stdout) as StatusOutput;
    const room = s.rooms.find((r) => r.mailbox === "room102@contoso.example")!;
    expect(room.alarms).toEqual([{ code: "OTJ_BRIDGE_NOT_CONFIGURED", since: expect.any(String), message: "no bridge adapter configured" }]);
    expect(s.bridgeSessions).toEqual([expect.objectContaining({ sessionId: "sgj_0123456789ab", state: "failed", mailbox: "room102@contoso.example" })]);
  });

  it("prints a readable table without --json", async () => {
    const r = await runCli(["status", "--database-url", db.url]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/Room 101 <room101@contoso.example>/);
    expect(r.stdout).toMatch(/ALARM: {2}OTJ_DEVICE_AUTH/);
  });
});
