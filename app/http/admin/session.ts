/**
 * Console sign-in sessions: a signed cookie, no server-side table, so any engine instance that
 * shares the admin token accepts it (and changing the admin token signs everyone out). The cookie
 * holds `expiry.nonce.signature`; the CSRF token of a session is derived from its nonce, so a form
 * posted from another site (or without the token) is refused. Sign-out clears the cookie and
 * revokes the nonce in the store, where every instance sees it until the session would have
 * expired anyway.
 */
import { createHmac, randomBytes } from "node:crypto";
import type { ConsoleRevocationStore } from "../../../core/ports/store.ts";
import { secretEquals } from "../auth.ts";

export const SESSION_COOKIE = "otj_admin";

export interface ConsoleSession {
  nonce: string;
  expiresAt: number;
  csrf: string;
}

function mac(key: Buffer, text: string): string {
  return createHmac("sha256", key).update(text).digest("base64url");
}

export class ConsoleSessions {
  private readonly key: Buffer | null;
  /** Sign-outs this instance has seen (a cache in front of the store). */
  private readonly revoked = new Map<string, number>();

  /** @param revocations where sign-outs are shared between instances (null: this instance only). */
  constructor(
    adminToken: string | null,
    private readonly ttlMs: number,
    private readonly revocations: ConsoleRevocationStore | null = null,
  ) {
    this.key = adminToken ? createHmac("sha256", adminToken).update("otj admin console session v1").digest() : null;
  }

  get enabled(): boolean {
    return this.key !== null;
  }

  /** A new session and its cookie value. */
  create(nowMs: number): { session: ConsoleSession; cookie: string } {
    if (!this.key) throw new Error("admin console sessions need http.adminToken");
    const nonce = randomBytes(18).toString("base64url");
    const expiresAt = nowMs + this.ttlMs;
    const body = `${expiresAt}.${nonce}`;
    return { session: { nonce, expiresAt, csrf: mac(this.key, `csrf.${nonce}`) }, cookie: `${body}.${mac(this.key, body)}` };
  }

  /** The session a cookie value names, or null (bad signature, expired, signed out anywhere). */
  async verify(cookie: string | undefined, nowMs: number): Promise<ConsoleSession | null> {
    if (!this.key || !cookie) return null;
    const m = /^(\d{1,16})\.([A-Za-z0-9_-]{24})\.([A-Za-z0-9_-]{43})$/.exec(cookie);
    if (!m) return null;
    const [, expiry, nonce, signature] = m as unknown as [string, string, string, string];
    if (!secretEquals(signature, mac(this.key, `${expiry}.${nonce}`))) return null;
    const expiresAt = Number(expiry);
    if (expiresAt <= nowMs || this.revoked.has(nonce)) return null;
    if (this.revocations !== null && (await this.revocations.isRevoked(nonce, new Date(nowMs)))) {
      this.revoked.set(nonce, expiresAt);
      return null;
    }
    return { nonce, expiresAt, csrf: mac(this.key, `csrf.${nonce}`) };
  }

  checkCsrf(session: ConsoleSession, given: unknown): boolean {
    return typeof given === "string" && secretEquals(given, session.csrf);
  }

  /** Signs the session out on every instance. */
  async revoke(session: ConsoleSession, nowMs: number): Promise<void> {
    this.revoked.set(session.nonce, session.expiresAt);
    for (const [nonce, expiresAt] of this.revoked) if (expiresAt <= nowMs) this.revoked.delete(nonce);
    await this.revocations?.revoke(session.nonce, new Date(session.expiresAt), new Date(nowMs));
  }

  /** The Set-Cookie header value for a session (or to clear it with `null`). */
  setCookie(value: string | null, secure: boolean): string {
    const attributes = ["Path=/admin", "HttpOnly", "SameSite=Strict", ...(secure ? ["Secure"] : [])];
    if (value === null) return [`${SESSION_COOKIE}=`, "Max-Age=0", ...attributes].join("; ");
    return [`${SESSION_COOKIE}=${value}`, `Max-Age=${Math.floor(this.ttlMs / 1000)}`, ...attributes].join("; ");
  }
}

/** The value of one cookie in a Cookie header. */
export function cookieValue(header: string | undefined, name: string): string | undefined {
  for (const part of (header ?? "").split(";")) {
    const eq = part.indexOf("=");
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}
