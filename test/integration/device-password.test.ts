/**
 * "Write-only" device passwords (real PostgreSQL): the stored password is only ever sent to the
 * address it was given for, an import check never compares a given password with the stored
 * one, and plain http:// device addresses need the room's opt-in.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { diffRoomsCsv } from "../../app/http/admin/import-diff.ts";
import { isOtjError } from "../../core/errors.ts";
import { importRoomsCsv } from "../../store/room-import.ts";
import { openTestStore, type TestStore } from "../support/test-database.ts";

const NOW = new Date("2026-12-01T09:00:00Z");
const HEADER = "mailbox,displayName,provider,deviceFamily,deviceAddress,deviceUsername,devicePassword";
let db: TestStore;

beforeAll(async () => {
  db = await openTestStore("postgres");
});
afterAll(async () => db?.close());
beforeEach(async () => {
  await db.truncate();
  await db.store.providers.add({ name: "contoso", partner: "cisco", tenantKey: "contoso@m.webex.com" }, NOW);
  await db.store.rooms.add(
    {
      mailbox: "room101@contoso.example",
      displayName: "Room 101",
      provider: "contoso",
      deviceFamily: "xapi",
      deviceAddress: "https://10.0.0.5",
      deviceUsername: "admin",
      devicePassword: "old-s3cret",
    },
    NOW,
  );
});

async function codeOf(run: Promise<unknown>): Promise<string | null> {
  return run.then(
    () => null,
    (error: unknown) => (isOtjError(error) ? `${error.code}: ${error.message}` : String(error)),
  );
}

describe("a room's device address changes", () => {
  it("refuses to keep the old password for a new address, and takes a new one", async () => {
    const refused = await codeOf(db.store.rooms.update("room101@contoso.example", { deviceAddress: "https://10.0.0.99" }, NOW));
    expect(refused).toContain("OTJ_ROOM_INVALID");
    expect(refused).toContain("enter the device password again");
    const room = await db.store.rooms.get("room101@contoso.example");
    expect(room?.device.address).toBe("https://10.0.0.5");
    await db.store.rooms.update("room101@contoso.example", { deviceAddress: "https://10.0.0.99", devicePassword: "new-s3cret" }, NOW);
    expect(await db.store.rooms.deviceCredentials(room!.id)).toEqual({ username: "admin", password: "new-s3cret" });
  });

  it("keeps the password when the address stays (same origin written differently too)", async () => {
    const room = await db.store.rooms.update("room101@contoso.example", { displayName: "Room 101 (east)", deviceAddress: "10.0.0.5" }, NOW);
    expect(await db.store.rooms.deviceCredentials(room.id)).toEqual({ username: "admin", password: "old-s3cret" });
  });
});

describe("console import check", () => {
  it("never compares a given password with the stored one: a right and a wrong guess read the same", async () => {
    const right = await diffRoomsCsv(db.store, `${HEADER}\nroom101@contoso.example,Room 101,contoso,xapi,https://10.0.0.5,admin,old-s3cret\n`);
    const wrong = await diffRoomsCsv(db.store, `${HEADER}\nroom101@contoso.example,Room 101,contoso,xapi,https://10.0.0.5,admin,guess\n`);
    expect(right.lines[0]).toMatchObject({ action: "change", details: ["device password: will be replaced"] });
    expect(wrong.lines[0]).toMatchObject({ action: "change", details: ["device password: will be replaced"] });
  });

  it("refuses a row that moves the device without giving the password again", async () => {
    const diff = await diffRoomsCsv(db.store, `${HEADER}\nroom101@contoso.example,Room 101,contoso,xapi,https://10.0.0.99,admin,\n`);
    expect(diff.lines[0]?.action).toBe("refuse");
    expect(diff.lines[0]?.details.join(" ")).toContain("give the device password again");
  });
});

describe("plain http:// device addresses", () => {
  it("need the room's opt-in off loopback (store, CSV import)", async () => {
    const refused = await codeOf(
      db.store.rooms.add(
        {
          mailbox: "r2@contoso.example",
          displayName: "R2",
          provider: "contoso",
          deviceFamily: "xapi",
          deviceAddress: "http://10.0.0.6",
          deviceUsername: "admin",
          devicePassword: "pw",
        },
        NOW,
      ),
    );
    expect(refused).toContain("OTJ_ROOM_INVALID");
    expect(refused).toContain("plain http");
    const room = await db.store.rooms.add(
      {
        mailbox: "r2@contoso.example",
        displayName: "R2",
        provider: "contoso",
        deviceFamily: "xapi",
        deviceAddress: "http://10.0.0.6",
        deviceUsername: "admin",
        devicePassword: "pw",
        allowInsecureHttp: true,
      },
      NOW,
    );
    expect(room.room.device).toMatchObject({ address: "http://10.0.0.6", allowInsecureHttp: true });
    // An emulator on this machine needs no opt-in.
    await db.store.rooms.add(
      { mailbox: "r3@contoso.example", displayName: "R3", provider: "contoso", deviceFamily: "xapi", deviceAddress: "http://127.0.0.1:8443" },
      NOW,
    );

    const csv = (allow: string) => `${HEADER},allowInsecureHttp\nr4@contoso.example,R4,contoso,xapi,http://10.0.0.7,admin,pw,${allow}\n`;
    const no = await importRoomsCsv(db.store.rooms, csv(""), NOW);
    expect(no.applied).toBe(false);
    const yes = await importRoomsCsv(db.store.rooms, csv("true"), NOW);
    expect(yes.applied).toBe(true);
  });
});
