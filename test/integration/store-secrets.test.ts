/**
 * Device secrets at rest with `secrets.key` set, on real PostgreSQL: sealed bound to their room
 * (a value copied into another room's row does not open there), and rows written by the earlier
 * `enc:v1:` format still read.
 */
import { createCipheriv, createHash, randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type TestStore, openTestStore } from "../support/test-database.ts";

const SECRET = "integration-secrets-key-0123456789abcdef";
const T0 = new Date("2026-03-04T08:00:00Z");
let db: TestStore;

beforeAll(async () => {
  db = await openTestStore("postgres", { secretKey: SECRET });
  await db.store.providers.add({ name: "contoso", partner: "cisco", tenantKey: "contoso@m.webex.com" }, T0);
});
afterAll(async () => {
  await db?.close();
});

function addRoom(mailbox: string, devicePassword: string) {
  return db.store.rooms.add(
    { mailbox, displayName: mailbox, provider: "contoso", deviceFamily: "xapi", deviceAddress: "https://10.0.0.1", deviceUsername: "admin", devicePassword },
    T0,
  );
}

describe("device secrets with secrets.key", () => {
  it("stores the password sealed (enc:v2) and reads it back for its room only", async () => {
    const { room: a } = await addRoom("a@contoso.example", "pw-of-a");
    const { room: b } = await addRoom("b@contoso.example", "pw-of-b");
    const rows = await db.handle.db.selectFrom("room").select(["id", "device_password"]).execute();
    for (const row of rows) expect(row.device_password).toMatch(/^enc:v2:/);
    expect(await db.store.rooms.deviceCredentials(a.id)).toEqual({ username: "admin", password: "pw-of-a" });
    const sealedA = rows.find((r) => r.id === a.id)!.device_password!;
    await db.handle.db.updateTable("room").set({ device_password: sealedA }).where("id", "=", b.id).execute();
    await expect(db.store.rooms.deviceCredentials(b.id)).rejects.toMatchObject({ code: "OTJ_CONFIG_INVALID" });
  });

  it("reads a password written in the earlier enc:v1 form, and a rotated token is bound to its room", async () => {
    const { room } = await addRoom("c@contoso.example", "placeholder");
    const key = createHash("sha256").update(SECRET, "utf8").digest();
    const iv = randomBytes(12);
    const cipher = createCipheriv("aes-256-gcm", key, iv);
    const body = Buffer.concat([cipher.update("legacy-pw", "utf8"), cipher.final()]);
    const legacy = `enc:v1:${Buffer.concat([iv, cipher.getAuthTag(), body]).toString("base64url")}`;
    await db.handle.db.updateTable("room").set({ device_password: legacy }).where("id", "=", room.id).execute();
    expect(await db.store.rooms.deviceCredentials(room.id)).toEqual({ username: "admin", password: "legacy-pw" });
    const token = await db.store.rooms.rotateDeviceToken(room.mailbox, T0);
    expect((await db.store.rooms.verifyDeviceToken(room.id, token))?.id).toBe(room.id);
    expect(await db.store.rooms.deviceToken(room.mailbox)).toBe(token);
  });
});
