/**
 * HttpMediaBridge: otj's generic bridge protocol (docs/bridge-protocol.md) for partner bridges.
 * Create is idempotent on sessionId; DELETE treats 404 as already stopped. Bodies are signed.
 *
 * Requests go through one undici connection pool per bridge (kept-alive connections, TLS
 * verified as usual): a burst of starts (many meetings at 10:00) reuses its connections, and
 * undici's HTTP/1.1 client costs about half the CPU per request of node:http's (measured in
 * docs/performance.md, sgj-burst-5k).
 */
import { Pool } from "undici";
import { type ErrorCode, OtjError } from "../../core/errors.ts";
import { classifyTransport, type TransportKind } from "../../core/net/http-request.ts";
import type { BridgeStartRequest, MediaBridge } from "../../core/ports/media-bridge.ts";
import { SIGNATURE_HEADER, signBody } from "../bridge-signature.ts";

/** A reply body larger than this is not read further (a bridge answers a few bytes of JSON). */
const MAX_REPLY_BYTES = 64 * 1024;

/** A start request that did not get through: a TLS failure is a configuration fault (not retried), the rest may pass later. */
const START_TRANSPORT_CODES: Readonly<Record<TransportKind, ErrorCode>> = {
  tls: "OTJ_BRIDGE_REJECTED",
  timeout: "OTJ_BRIDGE_UNAVAILABLE",
  unreachable: "OTJ_BRIDGE_UNAVAILABLE",
  "too-large": "OTJ_BRIDGE_UNAVAILABLE",
  other: "OTJ_BRIDGE_UNAVAILABLE",
};

interface Reply {
  status: number;
  body: string;
}

export interface HttpBridgeConfig {
  baseUrl: string;
  token: string;
  hmacSecret: string;
  timeoutMs: number;
  /** Connections to the bridge at most (default 64); further requests wait for a free one. */
  maxConnections?: number;
}

/** A start request ready to send: its body bytes and headers (signature included). */
interface EncodedStart {
  body: Buffer;
  headers: string[];
}

export class HttpMediaBridge implements MediaBridge {
  /** The protocol's create is idempotent on sessionId (docs/bridge-protocol.md). */
  readonly idempotentStart = true;
  readonly #pool: Pool;
  readonly #base: URL;
  readonly #sessionsPath: string;
  /** Start requests encoded ahead (prepareStart), by request object: forgotten with it. */
  readonly #encoded = new WeakMap<BridgeStartRequest, EncodedStart>();

  readonly #config: HttpBridgeConfig;

  constructor(config: HttpBridgeConfig) {
    this.#config = config;

    this.#base = new URL(config.baseUrl);
    if (this.#base.protocol !== "http:" && this.#base.protocol !== "https:")
      throw new RangeError(`bridge.http.baseUrl must be http(s): ${this.#base.protocol}`);
    this.#pool = new Pool(this.#base.origin, {
      connections: config.maxConnections ?? 64,
      headersTimeout: config.timeoutMs,
      bodyTimeout: config.timeoutMs,
      connect: { timeout: config.timeoutMs },
    });
    this.#sessionsPath = this.#path("/sessions");
  }

  /** Encodes and signs a start request ahead of its instant (see MediaBridge.prepareStart). */
  prepareStart(request: BridgeStartRequest): void {
    if (!this.#encoded.has(request)) this.#encoded.set(request, this.#encode(request));
  }

  #encode(request: BridgeStartRequest): EncodedStart {
    // Guest join only: the body has no lobby-bypass or authenticated-join option but this false.
    const body = Buffer.from(JSON.stringify({ ...request, lobbyBypass: false }), "utf8");
    return {
      body,
      headers: ["content-type", "application/json", "authorization", `Bearer ${this.#config.token}`, SIGNATURE_HEADER, signBody(this.#config.hmacSecret, body)],
    };
  }

  /** Closes the pooled connections (shutdown); requests still in flight fail. */
  close(): void {
    void this.#pool.destroy().catch(() => {});
  }

  #path(path: string): string {
    return `${this.#base.pathname.replace(/\/+$/, "")}${path}`;
  }

  /** `path` is the full request path (see {@link path}). */
  async #request(
    method: "POST" | "DELETE",
    path: string,
    headers: Record<string, string> | string[],
    body: Buffer | undefined,
    signal?: AbortSignal,
  ): Promise<Reply> {
    const reply = await this.#pool.request({ method, path, headers, ...(body !== undefined ? { body } : {}), ...(signal ? { signal } : {}) });
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of reply.body as AsyncIterable<Buffer>) {
      size += chunk.length;
      if (size > MAX_REPLY_BYTES) {
        // Not a bridge's answer: stop reading (the connection is closed, not reused).
        reply.body.destroy();
        break;
      }
      chunks.push(chunk);
    }
    return { status: reply.statusCode, body: Buffer.concat(chunks).toString("utf8") };
  }

  async start(request: BridgeStartRequest, signal?: AbortSignal): Promise<{ externalId: string }> {
    const { body, headers } = this.#encoded.get(request) ?? this.#encode(request);
    let reply: Reply;
    try {
      reply = await this.#request("POST", this.#sessionsPath, headers, body, signal);
    } catch (error) {
      if (error instanceof OtjError) throw new OtjError("OTJ_BRIDGE_UNAVAILABLE", error.message, { cause: error });
      const { kind, detail } = classifyTransport(error);
      throw new OtjError(START_TRANSPORT_CODES[kind], `bridge: ${detail}`, { cause: error });
    }
    if (reply.status === 200 || reply.status === 201) {
      let id: unknown;
      try {
        id = (JSON.parse(reply.body) as { id?: unknown }).id;
      } catch {
        id = undefined;
      }
      if (typeof id !== "string" || id === "") throw new OtjError("OTJ_BRIDGE_UNAVAILABLE", "bridge answered without a session id");
      return { externalId: id };
    }
    if (reply.status >= 500 || reply.status === 408 || reply.status === 429)
      throw new OtjError("OTJ_BRIDGE_UNAVAILABLE", `bridge answered HTTP ${reply.status}`);
    throw new OtjError("OTJ_BRIDGE_REJECTED", `bridge refused the session: HTTP ${reply.status}`);
  }

  async stop(externalId: string, signal?: AbortSignal): Promise<void> {
    let status: number;
    try {
      const reply = await this.#request(
        "DELETE",
        this.#path(`/sessions/${encodeURIComponent(externalId)}`),
        { authorization: `Bearer ${this.#config.token}`, [SIGNATURE_HEADER]: signBody(this.#config.hmacSecret, "") },
        undefined,
        signal,
      );
      status = reply.status;
    } catch (error) {
      throw new OtjError("OTJ_BRIDGE_UNAVAILABLE", `bridge stop: ${(error as Error).message}`, { cause: error });
    }
    if (status === 204 || status === 200 || status === 404) return;
    throw new OtjError(status >= 500 ? "OTJ_BRIDGE_UNAVAILABLE" : "OTJ_BRIDGE_REJECTED", `bridge stop answered HTTP ${status}`);
  }
}
