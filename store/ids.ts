/**
 * Opaque ids and tokens. Ids are a prefix and 10 random characters of [0-9a-z] (about 51 bits):
 * `rm_` for rooms (docs/cli.md), `pv_` for providers. Device tokens are 32 base64url characters.
 */
import { randomBytes, randomInt, timingSafeEqual, createHash } from "node:crypto";
import { hostname } from "node:os";

const ALPHABET = "0123456789abcdefghijklmnopqrstuvwxyz";

function randomChars(count: number): string {
  let out = "";
  for (let i = 0; i < count; i++) out += ALPHABET[randomInt(ALPHABET.length)];
  return out;
}

export function newRoomId(): string {
  return `rm_${randomChars(10)}`;
}

export function newProviderId(): string {
  return `pv_${randomChars(10)}`;
}

/** A room's pull/feed device token (192 random bits). */
export function newDeviceToken(): string {
  return randomBytes(24).toString("base64url");
}

/** A lease owner id for one store instance: host, pid and a random suffix. */
export function newLeaseOwner(): string {
  return `${hostname()}:${process.pid}:${randomChars(6)}`;
}

/** Compares two secrets in constant time (of their hashes, so lengths leak nothing either). */
export function secretsEqual(a: string, b: string): boolean {
  const digest = (s: string) => createHash("sha256").update(s, "utf8").digest();
  return timingSafeEqual(digest(a), digest(b));
}

export const ROOM_ID_PATTERN = /^rm_[0-9a-z]{10}$/;
