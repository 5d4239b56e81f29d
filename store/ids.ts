/**
 * Opaque ids and tokens. Ids are a prefix and 10 random characters of [0-9a-z] (about 51 bits):
 * `rm_` for rooms (docs/cli.md), `pv_` for providers. Device tokens are 32 base64url characters.
 */
import { randomBytes, randomInt } from "node:crypto";
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

export const ROOM_ID_PATTERN = /^rm_[0-9a-z]{10}$/;
