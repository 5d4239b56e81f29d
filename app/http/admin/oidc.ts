/**
 * Named sign-in to the console over OpenID Connect (openid-client): the authorization code flow
 * with PKCE (S256), a fresh state and nonce per attempt, and the ID token checked by the library
 * (signature against the provider's published keys, also for a token from the token endpoint;
 * issuer, audience, expiry, nonce). The user's
 * console role comes from one claim of the ID token (`http.oidc.rolesClaim`) mapped through
 * `http.oidc.roles`; a user none of whose values is mapped gets no session.
 *
 * The provider's metadata is fetched on first use and kept; a failed fetch is tried again on the
 * next sign-in. Nothing here follows a URL other than the configured issuer's own endpoints.
 */
import * as client from "openid-client";
import { CONSOLE_ROLES, type ConsoleRole } from "../../../core/config.ts";
import { OtjError } from "../../../core/errors.ts";

export interface OidcSettings {
  issuer: string;
  clientId: string;
  clientSecret: string | null;
  rolesClaim: string;
  /** Claim value -> console role. */
  roles: Readonly<Record<string, ConsoleRole>>;
  /** Replaces `fetch` for every request to the provider (tests). */
  fetch?: typeof fetch;
}

/** What the sign-in round trip keeps between the redirect and the callback (sealed in a cookie). */
export interface PendingSignIn {
  state: string;
  nonce: string;
  verifier: string;
  next: string;
  redirectUri: string;
}

export interface SignedInUser {
  /** For the audit trail: e-mail, preferred user name, name, or the subject. */
  who: string;
  role: ConsoleRole;
  /** Kept for the provider's sign-out (`id_token_hint`). */
  idToken: string;
}

/** The highest console role any of the claim's values maps to, or null. */
export function roleFromClaim(value: unknown, mapping: Readonly<Record<string, ConsoleRole>>): ConsoleRole | null {
  const values = typeof value === "string" ? [value] : Array.isArray(value) ? value.filter((v): v is string => typeof v === "string") : [];
  let best = -1;
  for (const v of values) {
    const role = Object.hasOwn(mapping, v) ? mapping[v] : undefined;
    if (role !== undefined) best = Math.max(best, CONSOLE_ROLES.indexOf(role));
  }
  return best < 0 ? null : (CONSOLE_ROLES[best] ?? null);
}

export class OidcSignIn {
  #configuration: Promise<client.Configuration> | null = null;
  readonly #settings: OidcSettings;

  constructor(settings: OidcSettings) {
    this.#settings = settings;
  }

  #config(): Promise<client.Configuration> {
    if (this.#configuration === null) {
      const issuer = new URL(this.#settings.issuer);
      const auth = this.#settings.clientSecret === null ? client.None() : client.ClientSecretPost(this.#settings.clientSecret);
      const options: client.DiscoveryRequestOptions = {
        // The ID token's signature is checked against the provider's keys even though it came
        // straight from the token endpoint (the library would otherwise trust the channel alone).
        execute: [client.enableNonRepudiationChecks, ...(issuer.protocol === "http:" ? [client.allowInsecureRequests] : [])],
        ...(this.#settings.fetch ? { [client.customFetch]: this.#settings.fetch as client.CustomFetch } : {}),
      };
      this.#configuration = client.discovery(issuer, this.#settings.clientId, undefined, auth, options).catch((error: unknown) => {
        this.#configuration = null;
        throw new OtjError("OTJ_HTTP_UNAUTHORIZED", `the OpenID provider's metadata cannot be read: ${(error as Error).message}`, { cause: error });
      });
    }
    return this.#configuration;
  }

  /** Where to send the browser, and what to keep until it comes back. */
  async start(redirectUri: string, next: string): Promise<{ url: string; pending: PendingSignIn }> {
    const config = await this.#config();
    const verifier = client.randomPKCECodeVerifier();
    const pending: PendingSignIn = { state: client.randomState(), nonce: client.randomNonce(), verifier, next, redirectUri };
    const url = client.buildAuthorizationUrl(config, {
      redirect_uri: redirectUri,
      response_type: "code",
      scope: "openid profile email",
      code_challenge: await client.calculatePKCECodeChallenge(verifier),
      code_challenge_method: "S256",
      state: pending.state,
      nonce: pending.nonce,
    });
    return { url: url.href, pending };
  }

  /**
   * Redeems the code of the callback's query string; throws (OTJ_HTTP_UNAUTHORIZED for a user
   * without a role, the library's errors for a bad state, nonce, signature or token).
   */
  async finish(query: string, pending: PendingSignIn): Promise<SignedInUser> {
    const config = await this.#config();
    const tokens = await client.authorizationCodeGrant(config, new URL(`${pending.redirectUri}?${query}`), {
      pkceCodeVerifier: pending.verifier,
      expectedState: pending.state,
      expectedNonce: pending.nonce,
      idTokenExpected: true,
    });
    const claims = tokens.claims();
    if (claims === undefined || tokens.id_token === undefined) throw new OtjError("OTJ_HTTP_UNAUTHORIZED", "the provider returned no ID token");
    const role = roleFromClaim(claims[this.#settings.rolesClaim], this.#settings.roles);
    const text = (v: unknown) => (typeof v === "string" && v.trim() !== "" ? v.trim() : null);
    const who = text(claims.email) ?? text(claims.preferred_username) ?? text(claims.name) ?? claims.sub;
    if (role === null) throw new OtjError("OTJ_HTTP_FORBIDDEN", `${who} has no console role (claim ${this.#settings.rolesClaim})`, { details: { who } });
    return { who, role, idToken: tokens.id_token };
  }

  /** The provider's sign-out URL (null when it publishes none). */
  async endSessionUrl(postLogoutRedirectUri: string, idTokenHint: string | null): Promise<string | null> {
    const config = await this.#config();
    if (!config.serverMetadata().end_session_endpoint) return null;
    const parameters: Record<string, string> = { post_logout_redirect_uri: postLogoutRedirectUri, client_id: this.#settings.clientId };
    if (idTokenHint) parameters.id_token_hint = idTokenHint;
    return client.buildEndSessionUrl(config, parameters).href;
  }
}
