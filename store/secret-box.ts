/**
 * Encryption of device passwords and tokens at rest when `secrets.key` is set.
 *
 * Stored form `enc:v2:` + base64url(iv 12 | tag 16 | ciphertext): AES-256-GCM under a key derived
 * from secrets.key with scrypt (so a short or guessable secrets.key is expensive to try), with the
 * room id as associated data (a value copied to another room's row does not open there).
 *
 * `enc:v1:` values (key = SHA-256 of secrets.key, no associated data) were written by earlier
 * versions: they still open; a value stored again (a new password, a rotated token) is written as v2.
 * Both forms demand the full 16-byte tag. Without a key, values are stored as they are; with one,
 * old plain values stay readable.
 */
import { createCipheriv, createDecipheriv, createHash, randomBytes, scryptSync } from "node:crypto";
import { OtjError } from "../core/errors.ts";

const V1 = "enc:v1:";
const V2 = "enc:v2:";
const IV_BYTES = 12;
const TAG_BYTES = 16;
/** Fixed: the derived key must be the same in every process that shares the database. */
const KDF_SALT = "otj/secret-box/v2";
const KDF_COST = { N: 2 ** 15, r: 8, p: 1, maxmem: 64 * 1024 * 1024 };

export interface SecretBox {
  /** Encrypts `plain` for the room `roomId` (plain text back when no key is set). */
  seal(plain: string, roomId: string): string;
  /**
   * @throws OtjError `OTJ_CONFIG_INVALID` when the value is encrypted and cannot be opened (no
   *   key, another key, another room, or a damaged value).
   */
  open(stored: string, roomId: string): string;
}

export function createSecretBox(secretKey: string | null | undefined): SecretBox {
  const key = secretKey ? scryptSync(secretKey, KDF_SALT, 32, KDF_COST) : null;
  const legacyKey = secretKey ? createHash("sha256").update(secretKey, "utf8").digest() : null;
  return {
    seal(plain, roomId) {
      if (key === null) return plain;
      const iv = randomBytes(IV_BYTES);
      const cipher = createCipheriv("aes-256-gcm", key, iv, { authTagLength: TAG_BYTES });
      cipher.setAAD(Buffer.from(roomId, "utf8"));
      const body = Buffer.concat([cipher.update(plain, "utf8"), cipher.final()]);
      return V2 + Buffer.concat([iv, cipher.getAuthTag(), body]).toString("base64url");
    },
    open(stored, roomId) {
      const version = stored.startsWith(V2) ? V2 : stored.startsWith(V1) ? V1 : null;
      if (version === null) return stored;
      if (key === null || legacyKey === null) {
        throw new OtjError("OTJ_CONFIG_INVALID", "a stored device secret is encrypted but secrets.key is not set");
      }
      const raw = Buffer.from(stored.slice(version.length), "base64url");
      try {
        if (raw.length < IV_BYTES + TAG_BYTES) throw new Error("the stored value is shorter than its nonce and tag");
        const decipher = createDecipheriv("aes-256-gcm", version === V2 ? key : legacyKey, raw.subarray(0, IV_BYTES), { authTagLength: TAG_BYTES });
        decipher.setAuthTag(raw.subarray(IV_BYTES, IV_BYTES + TAG_BYTES));
        if (version === V2) decipher.setAAD(Buffer.from(roomId, "utf8"));
        return Buffer.concat([decipher.update(raw.subarray(IV_BYTES + TAG_BYTES)), decipher.final()]).toString("utf8");
      } catch (error) {
        throw new OtjError(
          "OTJ_CONFIG_INVALID",
          "a stored device secret cannot be decrypted: secrets.key differs from the one it was stored with, or the value belongs to another room or is damaged",
          { cause: error },
        );
      }
    },
  };
}
