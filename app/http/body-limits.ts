/**
 * Limits applied to request bodies before anything parses them: the open callback routes read
 * raw bytes, and a body from an unauthenticated sender is JSON-parsed only when it is small and
 * shallow (a deeply nested array blocks the event loop in JSON.parse and everything after it).
 */

/** Largest body per callback route, in bytes: what each protocol needs, with room to spare. */
export const CALLBACK_BODY_LIMITS = {
  /** `{sessionId, state, at, detail}`, detail at most 500 characters. */
  bridge: 8 * 1024,
  /** One commsNotifications batch (call state and a roster). */
  graphCalls: 256 * 1024,
  /** Change notifications: at most MAX_NOTIFICATION_ITEMS items of about 1 KB. */
  notifications: 128 * 1024,
} as const;

/** Deepest nesting of arrays and objects accepted in an unauthenticated JSON body. */
export const MAX_JSON_DEPTH = 32;

/**
 * True when the JSON text in `bytes` nests arrays or objects deeper than `max` (brackets inside
 * strings do not count). One pass, no allocation; the text need not be valid JSON.
 */
export function jsonNestingExceeds(bytes: Uint8Array, max: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < bytes.length; i++) {
    const c = bytes[i];
    if (inString) {
      if (c === 0x5c) i++;
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) {
      inString = true;
    } else if (c === 0x5b || c === 0x7b) {
      depth++;
      if (depth > max) return true;
    } else if (c === 0x5d || c === 0x7d) {
      depth--;
    }
  }
  return false;
}
