/**
 * The emulator's `$skiptoken` / `$deltatoken`: opaque to clients, they carry the mailbox, the
 * window and the server cursor, so a link works only as given (like Graph's).
 */

import { createHmac, timingSafeEqual } from "node:crypto";

export interface DeltaTokenState {
  /** Mailbox (lowercased). */
  readonly m: string;
  /** Window start/end (ms). */
  readonly s: number;
  readonly e: number;
  /** Changes after this version belong to the round (0: an initial round). */
  readonly v: number;
  /** Skip tokens: the round's last version, and the last version already delivered. */
  readonly u?: number;
  readonly a?: number;
  /** Token generation of the mailbox when issued (expiry on demand). */
  readonly g: number;
  /** Issued at (ms, emulator clock). */
  readonly t: number;
  /** Makes every looping nextLink different. */
  readonly n?: number;
}

/** Signs tokens so that an edited token is rejected rather than misread. */
export class DeltaTokenCodec {
  readonly #key: string;

  constructor(key: string) {
    this.#key = key;
  }

  encode(state: DeltaTokenState): string {
    const payload = Buffer.from(JSON.stringify(state)).toString("base64url");
    return `${payload}.${this.#mac(payload)}`;
  }

  /** @returns the state, or null for a token this emulator did not issue. */
  decode(token: string): DeltaTokenState | null {
    const dot = token.lastIndexOf(".");
    if (dot <= 0) return null;
    const payload = token.slice(0, dot);
    const mac = Buffer.from(token.slice(dot + 1));
    const expected = Buffer.from(this.#mac(payload));
    if (mac.length !== expected.length || !timingSafeEqual(mac, expected)) return null;
    try {
      const state = JSON.parse(Buffer.from(payload, "base64url").toString("utf8")) as DeltaTokenState;
      return typeof state.m === "string" && Number.isFinite(state.s) && Number.isFinite(state.v) ? state : null;
    } catch {
      return null;
    }
  }

  #mac(payload: string): string {
    return createHmac("sha256", this.#key).update(payload).digest("base64url").slice(0, 16);
  }
}
