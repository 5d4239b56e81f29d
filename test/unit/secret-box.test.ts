/**
 * The secret box: scrypt-derived key, room id bound as associated data, full-length tags only,
 * and values written by the earlier format (`enc:v1:`) still readable.
 */
import { createCipheriv, createHash, randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { createSecretBox } from "../../store/secret-box.ts";

const SECRET = "a-long-random-secrets-key-0123456789";
const box = createSecretBox(SECRET);

/** What the earlier versions wrote: AES-256-GCM, key SHA-256(secrets.key), no associated data. */
function sealV1(plain: string, tagBytes = 16): string {
  const key = createHash("sha256").update(SECRET, "utf8").digest();
  const iv = randomBytes(12);
  const cipher = createCipheriv("aes-256-gcm", key, iv);
  const body = Buffer.concat([cipher.update(plain, "utf8"), cipher.final()]);
  return `enc:v1:${Buffer.concat([iv, cipher.getAuthTag().subarray(0, tagBytes), body]).toString("base64url")}`;
}

/** A v2 value with its tag cut to `tagBytes` (the ciphertext moved up behind it). */
function truncateTag(stored: string, tagBytes: number): string {
  const raw = Buffer.from(stored.slice("enc:v2:".length), "base64url");
  return `enc:v2:${Buffer.concat([raw.subarray(0, 12 + tagBytes), raw.subarray(28)]).toString("base64url")}`;
}

describe("createSecretBox", () => {
  it("seals as enc:v2 and opens for the same room", () => {
    const sealed = box.seal("device-pw", "rm_a");
    expect(sealed.startsWith("enc:v2:")).toBe(true);
    expect(sealed).not.toContain("device-pw");
    expect(box.open(sealed, "rm_a")).toBe("device-pw");
    expect(box.seal("device-pw", "rm_a")).not.toBe(sealed);
  });

  it("refuses a value copied to another room's row", () => {
    const sealed = box.seal("device-pw", "rm_a");
    expect(() => box.open(sealed, "rm_b")).toThrow(expect.objectContaining({ code: "OTJ_CONFIG_INVALID" }));
  });

  it("derives the key with a KDF: a v2 value does not open under SHA-256(secrets.key)", () => {
    const sealed = box.seal("device-pw", "rm_a");
    const asV1 = sealed.replace("enc:v2:", "enc:v1:");
    expect(() => box.open(asV1, "rm_a")).toThrow(/cannot be decrypted/);
    expect(() => createSecretBox("another-long-secrets-key-987654").open(sealed, "rm_a")).toThrow(/cannot be decrypted/);
  });

  it("still opens values written by the earlier format, in any room", () => {
    expect(box.open(sealV1("old-pw"), "rm_a")).toBe("old-pw");
    expect(box.open(sealV1("old-pw"), "rm_b")).toBe("old-pw");
  });

  it("refuses short authentication tags (v1 and v2) and values too short to hold one", () => {
    for (const bytes of [4, 8, 12, 15]) {
      expect(() => box.open(sealV1("old-pw", bytes), "rm_a"), `v1 tag of ${bytes}`).toThrow(/cannot be decrypted/);
      expect(() => box.open(truncateTag(box.seal("pw", "rm_a"), bytes), "rm_a"), `v2 tag of ${bytes}`).toThrow(/cannot be decrypted/);
    }
    // An empty value whose tag is cut to 4 bytes: the earlier code accepted it (a 2^32 forgery).
    expect(() => box.open(sealV1("", 4), "rm_a")).toThrow(/cannot be decrypted/);
    expect(() => box.open(truncateTag(box.seal("", "rm_a"), 4), "rm_a")).toThrow(/cannot be decrypted/);
    expect(() => box.open("enc:v2:AAAA", "rm_a")).toThrow(/cannot be decrypted/);
    expect(() => box.open("enc:v1:", "rm_a")).toThrow(/cannot be decrypted/);
  });

  it("without a key stores plain text and refuses encrypted values", () => {
    const plain = createSecretBox(null);
    expect(plain.seal("pw", "rm_a")).toBe("pw");
    expect(plain.open("pw", "rm_a")).toBe("pw");
    expect(() => plain.open(box.seal("pw", "rm_a"), "rm_a")).toThrow(/secrets.key is not set/);
  });
});
