/**
 * Validates the JWT on Graph call notifications: `Authorization: Bearer
 * <JWT>`, RS256, issuer `bridge.graph.jwtIssuer` (default `https://api.botframework.com`),
 * audience `graph.clientId`, signed with a key listed by the JWKS that the OpenID configuration
 * at `bridge.graph.openIdConfigUrl` names. Keys are cached and fetched again when a token names
 * an unknown `kid` (at most once per `minRefetchMs`, so forged kids cannot make us hammer the
 * key endpoint). The emulator serves its own OpenID document, so tests verify real signatures.
 *
 * The signature and standard claims are checked by `jose`; on top of it, RSA keys shorter than
 * 2048 bits are never used, and a token valid for longer than `maxLifetimeSeconds` is refused
 * (a leaked century-long token must not stay usable).
 */
import { createPublicKey, type KeyObject } from "node:crypto";
import { errors as joseErrors, jwtVerify } from "jose";
import type { Clock } from "../core/clock.ts";

export const DEFAULT_GRAPH_CALL_ISSUER = "https://api.botframework.com";
export const DEFAULT_GRAPH_CALL_OPENID_URL = "https://api.aps.skype.com/v1/.well-known/OpenIdConfiguration";

export interface GraphCallJwtConfig {
  issuer: string;
  /** `graph.clientId`. */
  audience: string;
  openIdConfigUrl: string;
  /** Allowed clock difference for `exp`/`nbf` (default 300 s). */
  clockSkewSeconds?: number;
  /** Shortest interval between two key fetches for unknown kids (default 10 s). */
  minRefetchMs?: number;
  /** Keys are fetched again after this long even when every kid is known (default 24 h). */
  maxKeyAgeMs?: number;
  /** Per fetch (default 10 s). */
  timeoutMs?: number;
  /** Longest accepted lifetime: `exp` minus `nbf`/`iat`, and `exp` minus now (default 24 h). */
  maxLifetimeSeconds?: number;
}

/** Smallest RSA modulus a signing key may have. */
const MIN_RSA_BITS = 2048;

export type JwtCheck = { ok: true; claims: Record<string, unknown> } | { ok: false; reason: string };

interface Jwk {
  kty?: string;
  kid?: string;
  use?: string;
  n?: string;
  e?: string;
}

function decodeJson(part: string): Record<string, unknown> | null {
  try {
    const value: unknown = JSON.parse(Buffer.from(part, "base64url").toString("utf8"));
    return value !== null && typeof value === "object" && !Array.isArray(value) ? (value as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}

/** Our reason for a rejection by jose (stable words for logs and tests). */
function rejection(error: unknown): string {
  if (error instanceof joseErrors.JWTExpired) return "expired";
  if (error instanceof joseErrors.JWTClaimValidationFailed) {
    if (error.claim === "iss") return "wrong issuer";
    if (error.claim === "aud") return "wrong audience";
    if (error.claim === "nbf") return "not yet valid";
    return `bad claim ${error.claim}`;
  }
  if (error instanceof joseErrors.JWSSignatureVerificationFailed) return "bad signature";
  if (error instanceof joseErrors.JOSEAlgNotAllowed) return "unexpected alg";
  if (error instanceof TypeError && /modulusLength/.test(error.message)) return "signing key too short";
  return "malformed JWT";
}

export class GraphCallJwtVerifier {
  #keys = new Map<string, KeyObject>();
  #fetchedAt = Number.NEGATIVE_INFINITY;
  #refreshing: Promise<void> | null = null;
  readonly #fetchImpl: typeof fetch;
  readonly #config: GraphCallJwtConfig;
  readonly #deps: { clock: Clock; fetch?: typeof fetch };

  constructor(config: GraphCallJwtConfig, deps: { clock: Clock; fetch?: typeof fetch }) {
    this.#config = config;
    this.#deps = deps;
    this.#fetchImpl = deps.fetch ?? globalThis.fetch;
  }

  /** Checks an `Authorization` header value. Never throws: a key fetch failure is a rejection. */
  async verify(authorization: string | undefined | null): Promise<JwtCheck> {
    const match = /^Bearer\s+([A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+)$/.exec(authorization?.trim() ?? "");
    if (!match) return { ok: false, reason: "no bearer JWT" };
    const header = decodeJson(match[1]!.split(".")[0]!);
    if (header === null) return { ok: false, reason: "malformed JWT" };
    if (header["alg"] !== "RS256") return { ok: false, reason: `unexpected alg ${String(header["alg"])}` };
    const kid = typeof header["kid"] === "string" ? header["kid"] : null;
    if (kid === null) return { ok: false, reason: "JWT without kid" };
    const key = await this.#key(kid);
    if (key === null) return { ok: false, reason: `unknown signing key ${kid}` };
    const now = this.#deps.clock.now();
    let claims: Record<string, unknown>;
    try {
      const verified = await jwtVerify(match[1]!, key, {
        algorithms: ["RS256"],
        issuer: this.#config.issuer,
        audience: this.#config.audience,
        clockTolerance: this.#config.clockSkewSeconds ?? 300,
        currentDate: now,
        requiredClaims: ["exp"],
      });
      claims = verified.payload as Record<string, unknown>;
    } catch (error) {
      return { ok: false, reason: rejection(error) };
    }
    const maxLifetime = this.#config.maxLifetimeSeconds ?? 86_400;
    const exp = claims["exp"] as number;
    const start = typeof claims["nbf"] === "number" ? claims["nbf"] : typeof claims["iat"] === "number" ? claims["iat"] : null;
    if (exp - now.getTime() / 1000 > maxLifetime || (start !== null && exp - start > maxLifetime)) {
      return { ok: false, reason: "lifetime too long" };
    }
    return { ok: true, claims };
  }

  async #key(kid: string): Promise<KeyObject | null> {
    if (this.#refreshing !== null) await this.#refreshing;
    const now = this.#deps.clock.now().getTime();
    const stale = now - this.#fetchedAt > (this.#config.maxKeyAgeMs ?? 86_400_000);
    if (!this.#keys.has(kid) || stale) {
      if (stale || now - this.#fetchedAt >= (this.#config.minRefetchMs ?? 10_000)) await this.#refresh();
    }
    return this.#keys.get(kid) ?? null;
  }

  #refresh(): Promise<void> {
    this.#refreshing ??= this.#load().finally(() => {
      this.#refreshing = null;
    });
    return this.#refreshing;
  }

  async #load(): Promise<void> {
    this.#fetchedAt = this.#deps.clock.now().getTime();
    try {
      const openId = await this.#getJson(this.#config.openIdConfigUrl);
      const jwksUri = openId?.["jwks_uri"];
      if (typeof jwksUri !== "string") return;
      const jwks = await this.#getJson(jwksUri);
      const list = Array.isArray(jwks?.["keys"]) ? (jwks["keys"] as Jwk[]) : [];
      const keys = new Map<string, KeyObject>();
      for (const jwk of list) {
        if (jwk.kty !== "RSA" || typeof jwk.kid !== "string" || !jwk.n || !jwk.e || (jwk.use !== undefined && jwk.use !== "sig")) continue;
        try {
          const key = createPublicKey({ key: { kty: "RSA", n: jwk.n, e: jwk.e }, format: "jwk" });
          if ((key.asymmetricKeyDetails?.modulusLength ?? 0) >= MIN_RSA_BITS) keys.set(jwk.kid, key);
        } catch {
          // A key we cannot read is skipped; the others still verify.
        }
      }
      if (keys.size > 0) this.#keys = keys;
    } catch {
      // Unreachable key endpoint: keep the keys we have; unknown kids are rejected.
    }
  }

  async #getJson(url: string): Promise<Record<string, unknown> | null> {
    const response = await this.#fetchImpl(url, { headers: { accept: "application/json" }, signal: AbortSignal.timeout(this.#config.timeoutMs ?? 10_000) });
    if (!response.ok) return null;
    const body: unknown = await response.json();
    return body !== null && typeof body === "object" ? (body as Record<string, unknown>) : null;
  }
}
