/**
 * OAuth 2.0 client-credentials tokens for Microsoft Graph (docs/deploy-microsoft-365.md): cached, renewed
 * ahead of expiry by one request at a time while concurrent callers wait for it.
 */

import { OtjError } from "../../core/errors.ts";
import { type GraphFailure, mapGraphFailure, TOKEN_ERROR_TABLE } from "./graph-error-mapper.ts";

/** The only source of "now" this module needs (structurally core/clock.ts's Clock). */
export interface Clock {
  now(): Date;
}

export interface ClientCredentialsOptions {
  /** `{authority}/{tenant}/oauth2/v2.0/token`. */
  tokenUrl: string;
  clientId: string;
  clientSecret: string;
  /** `{graph root of the cloud}/.default`. */
  scope: string;
  clock: Clock;
  fetch?: typeof fetch;
  /** Renew this long before expiry (default 5 minutes; at most half the token's lifetime). */
  renewBeforeMs?: number;
  /** Per token request (default 30 s). */
  timeoutMs?: number;
}

interface CachedToken {
  readonly value: string;
  readonly expiresAt: number;
  readonly renewAt: number;
}

export class ClientCredentialsTokenProvider {
  readonly #options: Required<Omit<ClientCredentialsOptions, "fetch">> & { fetch: typeof fetch };
  #cached: CachedToken | null = null;
  #renewal: Promise<CachedToken> | null = null;
  #requests = 0;

  constructor(options: ClientCredentialsOptions) {
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

  /** Forgets `token` if it is the cached one (Graph rejected it); the next call fetches a new one. */
  invalidate(token: string): void {
    if (this.#cached?.value === token) this.#cached = null;
  }

  async #fetchToken(): Promise<CachedToken> {
    const { tokenUrl, clientId, clientSecret, scope, clock, timeoutMs } = this.#options;
    const body = new URLSearchParams({
      grant_type: "client_credentials",
      client_id: clientId,
      client_secret: clientSecret,
      scope,
    });
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
