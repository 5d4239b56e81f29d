/**
 * OAuth 2.0 client-credentials tokens for Microsoft Graph (Entra ID v2.0 token endpoint): cached, renewed
 * ahead of expiry by one request at a time while concurrent callers wait for it.
 *
 * Two kinds of credential: a client secret, or a certificate. With a certificate each token
 * request carries a client assertion: a short-lived JWT signed RS256 with the certificate's
 * private key, naming the certificate by its SHA-1 (`x5t`) and SHA-256 (`x5t#S256`) thumbprints.
 */

import { createHash, createPrivateKey, type KeyObject, randomUUID, X509Certificate } from "node:crypto";
import { readFileSync } from "node:fs";
import { SignJWT } from "jose";
import type { NowClock } from "../../core/clock.ts";
import { OtjError } from "../../core/errors.ts";
import { type GraphFailure, mapGraphFailure, TOKEN_ERROR_TABLE } from "./graph-error-mapper.ts";

export interface ClientCredentialsOptions {
  /** `{authority}/{tenant}/oauth2/v2.0/token`. */
  tokenUrl: string;
  clientId: string;
  /** Exactly one of `clientSecret` and `certificate`. */
  clientSecret?: string | null;
  certificate?: ClientCertificate | null;
  /** `{graph root of the cloud}/.default`. */
  scope: string;
  clock: NowClock;
  fetch?: typeof fetch;
  /** Renew this long before expiry (default 5 minutes; at most half the token's lifetime). */
  renewBeforeMs?: number;
  /** Per token request (default 30 s). */
  timeoutMs?: number;
}

/** A certificate credential, as loaded by {@link loadClientCertificate}. */
export interface ClientCertificate {
  readonly privateKey: KeyObject;
  /** SHA-1 of the certificate's DER encoding (the `x5t` header). */
  readonly sha1: Buffer;
  /** SHA-256 of the certificate's DER encoding (the `x5t#S256` header). */
  readonly sha256: Buffer;
}

/** Client assertions live this long (Entra ID accepts at most 10 minutes of validity). */
const ASSERTION_LIFETIME_SECONDS = 5 * 60;
const JWT_BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/**
 * Reads `graph.certificate.path` (PEM holding the certificate and its unencrypted RSA private key)
 * and checks that `graph.certificate.thumbprint` (SHA-1, hex; spaces and colons allowed) names it.
 * @throws OtjError `OTJ_CONFIG_INVALID` naming the key; the message never contains key material.
 */
export function loadClientCertificate(path: string, thumbprint: string): ClientCertificate {
  let pem: string;
  try {
    pem = readFileSync(path, "utf8");
  } catch (cause) {
    throw invalid("path", `cannot read ${path}`, cause);
  }
  return clientCertificateFromPem(pem, thumbprint);
}

function invalid(key: "path" | "thumbprint", message: string, cause?: unknown): OtjError {
  return new OtjError("OTJ_CONFIG_INVALID", `graph.certificate.${key}: ${message}`, {
    details: { key: `graph.certificate.${key}` },
    ...(cause ? { cause } : {}),
  });
}

/** As {@link loadClientCertificate}, from the PEM text. */
export function clientCertificateFromPem(pem: string, thumbprint: string): ClientCertificate {
  const certPem = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/.exec(pem)?.[0];
  const keyPem = /-----BEGIN (?:RSA )?PRIVATE KEY-----[\s\S]+?-----END (?:RSA )?PRIVATE KEY-----/.exec(pem)?.[0];
  if (!certPem || !keyPem) throw invalid("path", "expected a PEM file with a CERTIFICATE and an unencrypted PRIVATE KEY");
  let certificate: X509Certificate;
  let privateKey: KeyObject;
  try {
    certificate = new X509Certificate(certPem);
    privateKey = createPrivateKey(keyPem);
  } catch {
    throw invalid("path", "the certificate or private key cannot be read");
  }
  if (privateKey.asymmetricKeyType !== "rsa") throw invalid("path", "expected an RSA private key (client assertions are signed RS256)");
  if (!certificate.checkPrivateKey(privateKey)) throw invalid("path", "the private key does not belong to the certificate");
  const sha1 = createHash("sha1").update(certificate.raw).digest();
  const wanted = thumbprint.replace(/[\s:]/g, "").toLowerCase();
  if (wanted !== sha1.toString("hex"))
    throw invalid("thumbprint", `does not match the certificate in graph.certificate.path (its SHA-1 thumbprint is ${sha1.toString("hex").toUpperCase()})`);
  return { privateKey, sha1, sha256: createHash("sha256").update(certificate.raw).digest() };
}

interface CachedToken {
  readonly value: string;
  readonly expiresAt: number;
  readonly renewAt: number;
}

export class ClientCredentialsTokenProvider {
  readonly #options: Required<Omit<ClientCredentialsOptions, "fetch" | "clientSecret" | "certificate">> & { fetch: typeof fetch };
  readonly #credential: { kind: "secret"; secret: string } | { kind: "certificate"; certificate: ClientCertificate };
  #cached: CachedToken | null = null;
  #renewal: Promise<CachedToken> | null = null;
  #requests = 0;

  /** @throws OtjError `OTJ_CONFIG_INVALID` unless exactly one of `clientSecret` and `certificate` is given. */
  constructor(options: ClientCredentialsOptions) {
    const { clientSecret, certificate } = options;
    if ((clientSecret == null) === (certificate == null)) {
      throw new OtjError("OTJ_CONFIG_INVALID", "graph: set either graph.clientSecret or graph.certificate", {
        details: { keys: ["graph.clientSecret", "graph.certificate"] },
      });
    }
    this.#credential = certificate != null ? { kind: "certificate", certificate } : { kind: "secret", secret: clientSecret as string };
    this.#options = {
      renewBeforeMs: 5 * 60_000,
      timeoutMs: 30_000,
      ...options,
      fetch: options.fetch ?? globalThis.fetch,
    };
  }

  /** Token requests sent so far (for tests and metrics). */
  get requestCount(): number {
    return this.#requests;
  }

  /**
   * A valid access token: the cached one, or a fresh one when the cache is empty or within the
   * renewal margin. One renewal runs at a time; concurrent callers share it. When a renewal fails
   * with a retryable error while the cached token is still valid, the cached token is returned.
   * @throws OtjError `OTJ_GRAPH_AUTH` (configuration: not retryable), `OTJ_GRAPH_UNAVAILABLE`,
   *   `OTJ_GRAPH_THROTTLED`, `OTJ_GRAPH_BAD_RESPONSE`; the signal's reason when aborted.
   */
  async getToken(signal?: AbortSignal): Promise<string> {
    signal?.throwIfAborted();
    const now = this.#options.clock.now().getTime();
    const cached = this.#cached;
    if (cached && now < cached.renewAt) return cached.value;
    this.#renewal ??= this.#fetchToken().finally(() => {
      this.#renewal = null;
    });
    try {
      const fresh = await abortable(this.#renewal, signal);
      return fresh.value;
    } catch (error) {
      if (signal?.aborted) throw signal.reason;
      const stillValid = this.#cached;
      if (stillValid && error instanceof OtjError && error.retryable && this.#options.clock.now().getTime() < stillValid.expiresAt) {
        return stillValid.value;
      }
      throw error;
    }
  }

  /** A fresh client assertion: audience the token endpoint, issuer and subject the client id. */
  async #clientAssertion(certificate: ClientCertificate): Promise<string> {
    const { tokenUrl, clientId, clock } = this.#options;
    const nowSeconds = Math.floor(clock.now().getTime() / 1000);
    return new SignJWT({})
      .setProtectedHeader({ alg: "RS256", typ: "JWT", x5t: certificate.sha1.toString("base64url"), "x5t#S256": certificate.sha256.toString("base64url") })
      .setIssuer(clientId)
      .setSubject(clientId)
      .setAudience(tokenUrl)
      .setJti(randomUUID())
      .setIssuedAt(nowSeconds)
      .setNotBefore(nowSeconds)
      .setExpirationTime(nowSeconds + ASSERTION_LIFETIME_SECONDS)
      .sign(certificate.privateKey);
  }

  /** Forgets `token` if it is the cached one (Graph rejected it); the next call fetches a new one. */
  invalidate(token: string): void {
    if (this.#cached?.value === token) this.#cached = null;
  }

  async #fetchToken(): Promise<CachedToken> {
    const { tokenUrl, clientId, scope, clock, timeoutMs } = this.#options;
    const body = new URLSearchParams({ grant_type: "client_credentials", client_id: clientId });
    const credential = this.#credential;
    if (credential.kind === "secret") {
      body.set("client_secret", credential.secret);
    } else {
      body.set("client_assertion_type", JWT_BEARER);
      body.set("client_assertion", await this.#clientAssertion(credential.certificate));
    }
    body.set("scope", scope);
    const timeout = AbortSignal.timeout(timeoutMs);
    this.#requests++;
    let response: Response;
    let text: string;
    try {
      response = await this.#options.fetch(tokenUrl, {
        method: "POST",
        headers: { "Content-Type": "application/x-www-form-urlencoded", Accept: "application/json" },
        body: body.toString(),
        signal: timeout,
      });
      text = await response.text();
    } catch (cause) {
      const failure: GraphFailure = timeout.aborted ? { kind: "timeout", cause } : { kind: "network", cause };
      throw mapGraphFailure(failure, "token request", clock.now(), TOKEN_ERROR_TABLE);
    }
    const json = parseJsonObject(text);
    if (!response.ok) {
      const description = typeof json?.["error_description"] === "string" ? json["error_description"] : null;
      throw mapGraphFailure(
        {
          kind: "http",
          status: response.status,
          graphCode: typeof json?.["error"] === "string" ? json["error"] : null,
          // AADSTS descriptions name the client id and tenant but never the secret.
          message: description?.split(/\r?\n/)[0] ?? null,
          retryAfter: response.headers.get("retry-after"),
          requestId: response.headers.get("x-ms-request-id") ?? response.headers.get("request-id"),
        },
        "token request",
        clock.now(),
        TOKEN_ERROR_TABLE,
      );
    }
    const accessToken = json?.["access_token"];
    const expiresIn = Number(json?.["expires_in"]);
    if (typeof accessToken !== "string" || accessToken === "" || !Number.isFinite(expiresIn) || expiresIn <= 0) {
      throw new OtjError("OTJ_GRAPH_BAD_RESPONSE", "token request: the response has no access_token/expires_in", {
        retryable: true,
        details: { status: response.status },
      });
    }
    const receivedAt = clock.now().getTime();
    const lifetimeMs = expiresIn * 1000;
    const cached: CachedToken = {
      value: accessToken,
      expiresAt: receivedAt + lifetimeMs,
      renewAt: receivedAt + lifetimeMs - Math.min(this.#options.renewBeforeMs, lifetimeMs / 2),
    };
    this.#cached = cached;
    return cached;
  }
}

function parseJsonObject(text: string): Record<string, unknown> | null {
  try {
    const value: unknown = JSON.parse(text);
    return value !== null && typeof value === "object" && !Array.isArray(value) ? (value as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}

/** Waits for `promise` but gives up (with the signal's reason) when `signal` aborts; the promise itself runs on. */
export function abortable<T>(promise: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (!signal) return promise;
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener("abort", onAbort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener("abort", onAbort);
        reject(error);
      },
    );
  });
}
