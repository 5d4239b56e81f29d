/**
 * Comparisons of secrets that take the same time whatever the inputs hold, so a caller cannot
 * learn a token, password or signature byte by byte from how long a refusal takes.
 */
import { createHash, timingSafeEqual } from "node:crypto";

/** True when the two byte strings are equal; constant time for equal lengths (the length is not secret). */
export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}

/** True when the two secrets are equal, compared by their SHA-256 digests so lengths leak nothing either. */
export function secretsEqual(a: string, b: string): boolean {
  return timingSafeEqual(sha256(a), sha256(b));
}

/** SHA-256 of the UTF-8 text. */
export function sha256(text: string): Buffer {
  return createHash("sha256").update(text, "utf8").digest();
}
