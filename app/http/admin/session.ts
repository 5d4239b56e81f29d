/**
 * Console sign-in sessions: a signed cookie, no server-side table, so any engine instance that
 * shares the admin token accepts it (and changing the admin token signs everyone out). The cookie
 * holds `expiry.nonce.via.role.who.signature` (who signed in, how, and as what role); the CSRF token of a session is derived from its nonce, so a form
 * posted from another site (or without the token) is refused. Sign-out clears the cookie and
 * revokes the nonce in the store, where every instance sees it until the session would have
 * expired anyway.
 */
import { createHmac, randomBytes } from "node:crypto";
import { CONSOLE_ROLES, type ConsoleRole } from "../../../core/config.ts";
import type { ConsoleRevocationStore } from "../../../core/ports/store.ts";
import { secretEquals } from "../auth.ts";

export const SESSION_COOKIE = "otj_admin";

/** Who is signed in: a named user (OpenID Connect) or whoever holds the admin token. */
export interface ConsoleIdentity {
  /** `oidc`: a named user; `token`: the admin token (break-glass, always role admin). */
  via: "oidc" | "token";
  /** The user's name for the audit trail (e-mail, preferred user name or subject). */
  who: string;
  role: ConsoleRole;
}

export const BREAK_GLASS: ConsoleIdentity = Object.freeze({ via: "token", who: "admin-token", role: "admin" });

export interface ConsoleSession extends ConsoleIdentity {
  nonce: string;
  expiresAt: number;
  csrf: string;
}

/** Whether `role` may do what `needed` may. */
export function roleAllows(role: ConsoleRole, needed: ConsoleRole): boolean {
  return CONSOLE_ROLES.indexOf(role) >= CONSOLE_ROLES.indexOf(needed);
}

function mac(key: Buffer, text: string): string {
  return createHmac("sha256", key).update(text).digest("base64url");
}

export class ConsoleSessions {
  readonly #key: Buffer | null;
  /** Sign-outs this instance has seen (a cache in front of the store). */
  readonly #revoked = new Map<string, number>();
  readonly #ttlMs: number;
  readonly #revocations: ConsoleRevocationStore | null;

  /** @param revocations where sign-outs are shared between instances (null: this instance only). */
  /**
   * @param keyMaterial signs the cookies when there is no admin token (named sign-in only): the
   *   OpenID client secret, or random bytes (sessions then end with this process).
   */
  constructor(adminToken: string | null, ttlMs: number, revocations: ConsoleRevocationStore | null = null, keyMaterial: string | null = null) {
    this.#ttlMs = ttlMs;
    this.#revocations = revocations;
    const secret = adminToken ?? keyMaterial;
    this.#key = secret ? createHmac("sha256", secret).update("otj admin console session v1").digest() : null;
  }

  get enabled(): boolean {
    return this.#key !== null;
  }

  /** A new session and its cookie value. */
  create(nowMs: number, identity: ConsoleIdentity = BREAK_GLASS): { session: ConsoleSession; cookie: string } {
    if (!this.#key) throw new Error("admin console sessions need http.adminToken");
    const nonce = randomBytes(18).toString("base64url");
    const expiresAt = nowMs + this.#ttlMs;
    const who = Buffer.from(identity.who.slice(0, 200), "utf8").toString("base64url");
    const body = `${expiresAt}.${nonce}.${identity.via}.${identity.role}.${who}`;
    return {
      session: { ...identity, who: identity.who.slice(0, 200), nonce, expiresAt, csrf: mac(this.#key, `csrf.${nonce}`) },
      cookie: `${body}.${mac(this.#key, body)}`,
    };
  }

  /** The session a cookie value names, or null (bad signature, expired, signed out anywhere). */
  async verify(cookie: string | undefined, nowMs: number): Promise<ConsoleSession | null> {
    if (!this.#key || !cookie) return null;
    const m = /^(\d{1,16})\.([A-Za-z0-9_-]{24})\.(oidc|token)\.(viewer|operator|admin)\.([A-Za-z0-9_-]{1,400})\.([A-Za-z0-9_-]{43})$/.exec(cookie);
    if (!m) return null;
    const [, expiry, nonce, via, role, who, signature] = m as unknown as [string, string, string, "oidc" | "token", ConsoleRole, string, string];
    if (!secretEquals(signature, mac(this.#key, `${expiry}.${nonce}.${via}.${role}.${who}`))) return null;
    const expiresAt = Number(expiry);
    if (expiresAt <= nowMs || this.#revoked.has(nonce)) return null;
    if (this.#revocations !== null && (await this.#revocations.isRevoked(nonce, new Date(nowMs)))) {
      this.#revoked.set(nonce, expiresAt);
      return null;
    }
    return { via, role, who: Buffer.from(who, "base64url").toString("utf8"), nonce, expiresAt, csrf: mac(this.#key, `csrf.${nonce}`) };
  }

  /** Signs a short-lived value (the sign-in round trip's state), or checks one: null when forged. */
  seal(value: string): string {
    if (!this.#key) throw new Error("admin console sessions need a key");
    return `${Buffer.from(value, "utf8").toString("base64url")}.${mac(this.#key, `seal.${value}`)}`;
  }

  unseal(sealed: string | undefined): string | null {
    if (!this.#key || !sealed) return null;
    const m = /^([A-Za-z0-9_-]{1,4000})\.([A-Za-z0-9_-]{43})$/.exec(sealed);
    if (!m) return null;
    const value = Buffer.from(m[1] as string, "base64url").toString("utf8");
    return secretEquals(m[2] as string, mac(this.#key, `seal.${value}`)) ? value : null;
  }

  checkCsrf(session: ConsoleSession, given: unknown): boolean {
    return typeof given === "string" && secretEquals(given, session.csrf);
  }

  /** Signs the session out on every instance. */
  async revoke(session: ConsoleSession, nowMs: number): Promise<void> {
    this.#revoked.set(session.nonce, session.expiresAt);
    for (const [nonce, expiresAt] of this.#revoked) if (expiresAt <= nowMs) this.#revoked.delete(nonce);
    await this.#revocations?.revoke(session.nonce, new Date(session.expiresAt), new Date(nowMs));
  }

  /** The Set-Cookie header value for a session (or to clear it with `null`). */
  setCookie(value: string | null, secure: boolean): string {
    const attributes = ["Path=/admin", "HttpOnly", "SameSite=Strict", ...(secure ? ["Secure"] : [])];
    if (value === null) return [`${SESSION_COOKIE}=`, "Max-Age=0", ...attributes].join("; ");
    return [`${SESSION_COOKIE}=${value}`, `Max-Age=${Math.floor(this.#ttlMs / 1000)}`, ...attributes].join("; ");
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
