/**
 * The one place otj touches @microsoft/microsoft-graph-client.
 *
 * Wiring (6.3 setup b, used for every endpoint): the SDK always builds URLs on the cloud's own
 * https root, so it parses absolute nextLinks/deltaLinks correctly; otj's own middleware chain
 * adds `Authorization` (the SDK's AuthenticationHandler would drop it for any host it does not
 * know) and, last, swaps the cloud root for `graph.baseUrl` when one is configured (an emulator on
 * http:// loopback, or a proxy with a path prefix). Only `.api().get/post` with RAW responses are
 * used, so replacing the SDK stays inside this file.
 */

import { randomUUID } from "node:crypto";
import { Client, type Context, type Middleware, ResponseType } from "@microsoft/microsoft-graph-client";
import type { GraphCloud } from "../../core/config.ts";
import { OtjError } from "../../core/errors.ts";
import type { NowClock } from "../../core/clock.ts";
import { abortable, type ClientCertificate, ClientCredentialsTokenProvider } from "./client-credentials-token-provider.ts";
import { type GraphFailure, mapGraphFailure } from "./graph-error-mapper.ts";
import { type RequestGate, UNLIMITED_GATE } from "./request-gate.ts";
import { type GraphEndpoints, resolveGraphEndpoints } from "./graph-endpoints.ts";
import { SendFailure, sendWithTimeout } from "../timed-send.ts";

export type { GraphCloud } from "../../core/config.ts";
export { type GraphEndpoints, resolveGraphEndpoints } from "./graph-endpoints.ts";

/** The `graph.*` configuration slice this client reads. */
export interface GraphClientConfig {
  readonly tenantId: string;
  readonly clientId: string;
  /** Exactly one of `clientSecret` and `certificate` (see loadClientCertificate). */
  readonly clientSecret?: string | null;
  readonly certificate?: ClientCertificate | null;
  /** Default `global`. */
  readonly cloud?: GraphCloud;
  /** Service root without `/v1.0` (a trailing slash is ignored); http:// only on loopback. */
  readonly baseUrl?: string | null;
  /** OAuth authority (without tenant); http:// only on loopback. */
  readonly authorityUrl?: string | null;
  /** Per HTTP request, default 30 s. */
  readonly requestTimeoutMs?: number;
}

export interface GraphClientDeps {
  readonly clock: NowClock;
  /** Default: the global fetch (never isomorphic-fetch). */
  readonly fetch?: typeof fetch;
  /** Admission control shared by every caller of this client; default unlimited. */
  readonly gate?: RequestGate;
}

/** Carries the bearer token to AuthorizationMiddleware through the SDK's middleware options. */
class BearerToken {
  constructor(readonly value: string) {}
}

function requestUrl(context: Context): string {
  return typeof context.request === "string" ? context.request : context.request.url;
}

function setHeader(context: Context, name: string, value: string): void {
  if (context.options === undefined) context.options = {};
  const options = context.options;
  const headers = options.headers;
  if (headers instanceof Headers) headers.set(name, value);
  else if (Array.isArray(headers)) headers.push([name, value]);
  else options.headers = { ...(headers ?? {}), [name]: value };
}

/** Adds `Authorization` to requests for the cloud root only (never to a foreign host). */
class AuthorizationMiddleware implements Middleware {
  #next: Middleware | undefined;
  readonly #sdkRoot: string;
  constructor(sdkRoot: string) {
    this.#sdkRoot = sdkRoot;
  }
  async execute(context: Context): Promise<void> {
    const token = context.middlewareControl?.getMiddlewareOptions(BearerToken) as BearerToken | undefined;
    if (token && requestUrl(context).startsWith(`${this.#sdkRoot}/`)) {
      setHeader(context, "Authorization", `Bearer ${token.value}`);
    }
    await this.#next!.execute(context);
  }
  setNext(next: Middleware): void {
    this.#next = next;
  }
}

/** Last in the chain: maps the cloud root to `graph.baseUrl` and calls fetch. */
class WireMiddleware implements Middleware {
  readonly #sdkRoot: string;
  readonly #wireRoot: string | null;
  readonly #fetchImpl: typeof fetch;

  constructor(sdkRoot: string, wireRoot: string | null, fetchImpl: typeof fetch) {
    this.#sdkRoot = sdkRoot;
    this.#wireRoot = wireRoot;
    this.#fetchImpl = fetchImpl;
  }
  async execute(context: Context): Promise<void> {
    let url = requestUrl(context);
    if (this.#wireRoot !== null && url.startsWith(`${this.#sdkRoot}/`)) url = this.#wireRoot + url.slice(this.#sdkRoot.length);
    context.response = await this.#fetchImpl(url, context.options);
  }
}

export interface GraphRequestOptions {
  readonly signal: AbortSignal;
  readonly headers?: Readonly<Record<string, string>>;
  /** Mailboxes the request reads (for the gate's per-mailbox limit). */
  readonly mailboxes?: readonly string[];
}

export interface GraphHttpResponse {
  readonly status: number;
  readonly headers: Headers;
  /** Parsed JSON, or null for an empty body (for `getText`: the text). */
  readonly body: unknown;
  readonly requestId: string | null;
}

type Method = "GET" | "POST" | "PATCH" | "DELETE";

/** One `$batch` item. `url` is relative and without the version: `/users/{id}/calendarView?...`. */
export interface BatchItemRequest {
  readonly id: string;
  readonly method: "GET" | "POST" | "PATCH" | "DELETE";
  readonly url: string;
  readonly headers?: Readonly<Record<string, string>>;
  readonly body?: unknown;
  readonly mailbox?: string;
}

export interface BatchItemResponse {
  readonly id: string;
  readonly status: number;
  /** Header names lowercased. */
  readonly headers: Readonly<Record<string, string>>;
  readonly body: unknown;
  /** The item's failure classified like a direct request's, or null for 2xx. */
  readonly error: OtjError | null;
}

/** Graph's documented `$batch` limit. */
export const MAX_BATCH_ITEMS = 20;

const JSON_HEADERS = { Accept: "application/json", "Accept-Language": "en-US" } as const;

/**
 * A Microsoft Graph client: token handling, admission control, failure classification. Never
 * retries by itself (callers schedule retries so a waiting retry occupies no slot), except for
 * one immediate retry with a fresh token after a 401.
 */
export class GraphClient {
  readonly endpoints: GraphEndpoints;
  readonly tokens: ClientCredentialsTokenProvider;
  readonly #sdk: Client;
  readonly #clock: NowClock;
  readonly #gate: RequestGate;
  readonly #timeoutMs: number;
  #requests = 0;

  constructor(config: GraphClientConfig, deps: GraphClientDeps) {
    this.endpoints = resolveGraphEndpoints(config);
    this.#clock = deps.clock;
    this.#gate = deps.gate ?? UNLIMITED_GATE;
    this.#timeoutMs = config.requestTimeoutMs ?? 30_000;
    const fetchImpl = deps.fetch ?? globalThis.fetch;
    this.tokens = new ClientCredentialsTokenProvider({
      tokenUrl: this.endpoints.tokenUrl,
      clientId: config.clientId,
      clientSecret: config.clientSecret ?? null,
      certificate: config.certificate ?? null,
      scope: this.endpoints.scope,
      clock: deps.clock,
      fetch: fetchImpl,
      timeoutMs: this.#timeoutMs,
    });
    const auth = new AuthorizationMiddleware(this.endpoints.sdkRoot);
    const wire = new WireMiddleware(this.endpoints.sdkRoot, this.endpoints.wireRoot, fetchImpl);
    this.#sdk = Client.initWithMiddleware({
      baseUrl: this.endpoints.sdkRoot,
      defaultVersion: "v1.0",
      middleware: [auth, wire],
    });
  }

  /** HTTP requests sent to Graph so far (token requests excluded). */
  get requestCount(): number {
    return this.#requests;
  }

  /** Obtains a token (readiness). @throws as ClientCredentialsTokenProvider.getToken. */
  async connect(signal: AbortSignal): Promise<void> {
    await this.tokens.getToken(signal);
  }

  /**
   * GET a relative path (`/users/x/calendarView?...`) or a link Graph returned (nextLink,
   * deltaLink), byte for byte.
   * @throws OtjError classified by GRAPH_ERROR_TABLE for any non-2xx answer or transport failure.
   */
  get(pathOrLink: string, options: GraphRequestOptions): Promise<GraphHttpResponse> {
    return this.#send("GET", pathOrLink, undefined, options, "json");
  }

  /** GET a non-JSON resource (`/messages/{id}/$value` MIME); `body` is the text. */
  getText(path: string, options: GraphRequestOptions): Promise<GraphHttpResponse> {
    return this.#send("GET", path, undefined, options, "text");
  }

  post(path: string, body: unknown, options: GraphRequestOptions): Promise<GraphHttpResponse> {
    return this.#send("POST", path, body, options, "json");
  }

  patch(path: string, body: unknown, options: GraphRequestOptions): Promise<GraphHttpResponse> {
    return this.#send("PATCH", path, body, options, "json");
  }

  delete(path: string, options: GraphRequestOptions): Promise<GraphHttpResponse> {
    return this.#send("DELETE", path, undefined, options, "json");
  }

  /**
   * Sends up to 20 requests as one `$batch` (the JSON is built here because the
   * SDK's BatchRequestContent keeps `/v1.0` in item URLs). Never throws for an item's failure.
   * @returns one response per item, in the order given.
   * @throws OtjError when the batch itself fails (envelope non-2xx, transport, bad JSON).
   */
  async batch(items: readonly BatchItemRequest[], signal: AbortSignal): Promise<BatchItemResponse[]> {
    if (items.length === 0) return [];
    if (items.length > MAX_BATCH_ITEMS) throw new RangeError(`$batch: at most ${MAX_BATCH_ITEMS} items, got ${items.length}`);
    const ids = new Set(items.map((i) => i.id));
    if (ids.size !== items.length) throw new RangeError("$batch: item ids must be unique");
    const requests = items.map((item) => {
      if (!item.url.startsWith("/") || /^\/(v1\.0|beta)\//i.test(item.url)) {
        throw new RangeError(`$batch: item url must be relative without the version: ${item.url}`);
      }
      const headers: Record<string, string> = { ...(item.headers ?? {}) };
      if (item.body !== undefined) headers["Content-Type"] ??= "application/json";
      return {
        id: item.id,
        method: item.method,
        url: item.url,
        ...(Object.keys(headers).length > 0 ? { headers } : {}),
        ...(item.body !== undefined ? { body: item.body } : {}),
      };
    });
    const mailboxes = items.flatMap((i) => (i.mailbox ? [i.mailbox] : []));
    const response = await this.#send("POST", "/$batch", { requests }, { signal, mailboxes }, "json");
    const answers = (response.body as { responses?: unknown } | null)?.responses;
    if (!Array.isArray(answers)) throw badResponse("$batch: the response has no `responses` array", response.requestId);
    const byId = new Map<string, Record<string, unknown>>();
    for (const answer of answers) {
      if (answer && typeof answer === "object" && typeof (answer as { id?: unknown }).id === "string") {
        byId.set((answer as { id: string }).id, answer as Record<string, unknown>);
      }
    }
    const now = this.#clock.now();
    return items.map((item): BatchItemResponse => {
      const answer = byId.get(item.id);
      if (!answer || typeof answer["status"] !== "number") {
        const error = badResponse(`$batch item ${item.id}: missing from the response`, response.requestId);
        return { id: item.id, status: 0, headers: {}, body: null, error };
      }
      const status = answer["status"];
      const headers: Record<string, string> = {};
      const rawHeaders = answer["headers"];
      if (rawHeaders && typeof rawHeaders === "object") {
        for (const [k, v] of Object.entries(rawHeaders)) if (typeof v === "string") headers[k.toLowerCase()] = v;
      }
      const body = answer["body"] ?? null;
      const error =
        status >= 200 && status < 300
          ? null
          : mapGraphFailure(
              httpFailure(status, body, headers["retry-after"] ?? null, headers["request-id"] ?? null),
              `$batch item ${item.method} ${item.url}`,
              now,
            );
      return { id: item.id, status, headers, body, error };
    });
  }

  /**
   * The `$batch` item URL of a relative path or of a v1.0 link Graph returned (deltaLink):
   * relative, without the version. Null for a link elsewhere or on another version.
   */
  batchPath(pathOrLink: string): string | null {
    if (pathOrLink.startsWith("/")) return /^\/(v1\.0|beta)\//i.test(pathOrLink) ? null : pathOrLink;
    let link: string;
    try {
      link = this.#sdkPath(pathOrLink);
    } catch {
      return null;
    }
    const root = `${this.endpoints.sdkRoot}/v1.0/`;
    return link.startsWith(root) ? link.slice(root.length - 1) : null;
  }

  /**
   * Accepts a relative path, or an absolute link on the cloud root or on `graph.baseUrl` (mapped
   * to the cloud root so the SDK parses it). Anything else would send our token elsewhere.
   */
  #sdkPath(pathOrLink: string): string {
    if (pathOrLink.startsWith("/")) return pathOrLink;
    const { sdkRoot, wireRoot } = this.endpoints;
    let link = pathOrLink;
    if (wireRoot !== null && link.startsWith(`${wireRoot}/`)) link = sdkRoot + link.slice(wireRoot.length);
    if (!link.startsWith(`${sdkRoot}/`)) {
      throw badResponse(`refusing to follow a link outside the Graph root: ${originOf(pathOrLink)}`, null);
    }
    return link;
  }

  async #send(method: Method, pathOrLink: string, body: unknown, options: GraphRequestOptions, expect: "json" | "text"): Promise<GraphHttpResponse> {
    const { signal } = options;
    const path = this.#sdkPath(pathOrLink);
    const context = `${method} ${describePath(path)}`;
    for (let attempt = 0; ; attempt++) {
      const token = await this.tokens.getToken(signal);
      const release = await this.#gate.acquire(options.mailboxes ?? [], signal);
      let response: Response;
      let text: string;
      try {
        ({ response, text } = await sendWithTimeout(signal, this.#timeoutMs, async (timed) => {
          const request = this.#sdk
            .api(path)
            .responseType(ResponseType.RAW)
            .headers({ ...JSON_HEADERS, "client-request-id": randomUUID(), ...(options.headers ?? {}) })
            .option("signal", timed)
            .middlewareOptions([new BearerToken(token)]);
          this.#requests++;
          const answer = (await (method === "GET"
            ? request.get()
            : method === "POST"
              ? request.post(body)
              : method === "PATCH"
                ? request.patch(body)
                : request.delete())) as Response;
          return { response: answer, text: await abortable(answer.text(), timed) };
        }));
      } catch (error) {
        if (!(error instanceof SendFailure)) throw error;
        const failure: GraphFailure = error.timedOut ? { kind: "timeout", cause: error.cause } : { kind: "network", cause: error.cause };
        throw mapGraphFailure(failure, context, this.#clock.now());
      } finally {
        release();
      }
      const requestId = response.headers.get("request-id");
      if (response.ok && expect === "text") return { status: response.status, headers: response.headers, body: text, requestId };
      let parsed: unknown = null;
      if (text !== "") {
        try {
          parsed = JSON.parse(text);
        } catch (cause) {
          if (response.ok)
            throw new OtjError("OTJ_GRAPH_BAD_RESPONSE", `${context}: the body is not JSON`, { cause, details: { status: response.status, requestId } });
        }
      }
      if (response.ok) return { status: response.status, headers: response.headers, body: parsed, requestId };
      if (response.status === 401 && attempt === 0) {
        // A revoked token, or our clock disagreeing with the service's: one retry with a fresh token.
        this.tokens.invalidate(token);
        continue;
      }
      throw mapGraphFailure(httpFailure(response.status, parsed, response.headers.get("retry-after"), requestId), context, this.#clock.now());
    }
  }
}

function httpFailure(status: number, body: unknown, retryAfter: string | null, requestId: string | null): GraphFailure {
  const error = (body as { error?: { code?: unknown; message?: unknown; innerError?: { "request-id"?: unknown } } } | null)?.error;
  const innerId = error?.innerError?.["request-id"];
  return {
    kind: "http",
    status,
    graphCode: typeof error?.code === "string" ? error.code : null,
    message: typeof error?.message === "string" ? error.message : null,
    retryAfter,
    requestId: requestId ?? (typeof innerId === "string" ? innerId : null),
  };
}

function badResponse(message: string, requestId: string | null): OtjError {
  return new OtjError("OTJ_GRAPH_BAD_RESPONSE", message, { details: { requestId } });
}

function originOf(link: string): string {
  try {
    return new URL(link).origin;
  } catch {
    return "(not a URL)";
  }
}

/** The path without its query (tokens are long and opaque; they stay out of messages). */
function describePath(path: string): string {
  const q = path.indexOf("?");
  return q === -1 ? path : path.slice(0, q);
}
