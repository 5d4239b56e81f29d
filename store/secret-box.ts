/**
 * Encryption of device passwords and tokens at rest when `secrets.key` is set (AES-256-GCM, key =
 * SHA-256 of secrets.key). Stored form: `enc:v1:` + base64url(iv | tag | ciphertext). Without a
 * key, values are stored as they are; with one, old plain values stay readable.
 */
import { createCipheriv, createDecipheriv, createHash, randomBytes } from "node:crypto";
import { OtjError } from "../core/errors.ts";

const PREFIX = "enc:v1:";

export interface SecretBox {
  seal(plain: string): string;
  open(stored: string): string;
}

export function createSecretBox(secretKey: string | null | undefined): SecretBox {
  const key = secretKey ? createHash("sha256").update(secretKey, "utf8").digest() : null;
  return {
    seal(plain) {
      if (key === null) return plain;
      const iv = randomBytes(12);
      const cipher = createCipheriv("aes-256-gcm", key, iv);
      const body = Buffer.concat([cipher.update(plain, "utf8"), cipher.final()]);
      return PREFIX + Buffer.concat([iv, cipher.getAuthTag(), body]).toString("base64url");
    },
    open(stored) {
      if (!stored.startsWith(PREFIX)) return stored;
      if (key === null) {
        throw new OtjError("OTJ_CONFIG_INVALID", "a stored device secret is encrypted but secrets.key is not set");
      }
      const raw = Buffer.from(stored.slice(PREFIX.length), "base64url");
      try {
        const decipher = createDecipheriv("aes-256-gcm", key, raw.subarray(0, 12));
        decipher.setAuthTag(raw.subarray(12, 28));
        return Buffer.concat([decipher.update(raw.subarray(28)), decipher.final()]).toString("utf8");
      } catch (error) {
        throw new OtjError("OTJ_CONFIG_INVALID", "a stored device secret cannot be decrypted: secrets.key differs from the one it was stored with", { cause: error });
      }
    },
  };
}
