/** HMAC-SHA256 signing of bridge protocol bodies (docs/bridge-protocol.md), verified in constant time. */
import { createHmac } from "node:crypto";
import { bytesEqual } from "../core/constant-time.ts";

export const SIGNATURE_HEADER = "x-otj-signature";

export function signBody(secret: string, body: string | Buffer): string {
  return `sha256=${createHmac("sha256", secret).update(body).digest("hex")}`;
}

/** True when `header` is `sha256=<hex>` of the raw body bytes under `secret`. */
export function verifyBody(secret: string, body: string | Buffer, header: string | undefined | null): boolean {
  if (!header || !/^sha256=[0-9a-f]{64}$/.test(header)) return false;
  const expected = Buffer.from(signBody(secret, body));
  const given = Buffer.from(header);
  return bytesEqual(expected, given);
}

/** A bridge callback body (docs/bridge-protocol.md). */
export interface BridgeCallback {
  sessionId: string;
  state: "joining" | "lobby" | "admitted" | "denied" | "timeout" | "ended" | "failed";
  at: string;
  detail: string | null;
}

const STATES = new Set(["joining", "lobby", "admitted", "denied", "timeout", "ended", "failed"]);

/** Parses and validates a callback body; null when it is not one. */
export function parseBridgeCallback(raw: string): BridgeCallback | null {
  let v: unknown;
  try {
    v = JSON.parse(raw);
  } catch {
    return null;
  }
  const o = v as Partial<BridgeCallback> | null;
  if (!o || typeof o !== "object") return null;
  if (typeof o.sessionId !== "string" || !/^sgj_[0-9a-f]{12}$/.test(o.sessionId)) return null;
  if (typeof o.state !== "string" || !STATES.has(o.state)) return null;
  if (typeof o.at !== "string" || Number.isNaN(Date.parse(o.at))) return null;
  return { sessionId: o.sessionId, state: o.state, at: new Date(o.at).toISOString(), detail: typeof o.detail === "string" ? o.detail.slice(0, 500) : null };
}
