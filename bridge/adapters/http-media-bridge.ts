/**
 * HttpMediaBridge: otj's generic bridge protocol (INTERFACES.md 12.4) for partner bridges.
 * Create is idempotent on sessionId; DELETE treats 404 as already stopped. Bodies are signed.
 */
import http from "node:http";
import https from "node:https";
import { OtjError } from "../../core/errors.ts";
import type { BridgeStartRequest, MediaBridge } from "../../core/ports/media-bridge.ts";
import { classifyTransportError, httpRequest } from "../../join/pushers/http-request.ts";
import { SIGNATURE_HEADER, signBody } from "../bridge-signature.ts";

export interface HttpBridgeConfig {
  baseUrl: string;
  token: string;
  hmacSecret: string;
  timeoutMs: number;
}

export class HttpMediaBridge implements MediaBridge {
  /**
   * One bridge, one kept-alive connection pool: a burst of starts (many meetings at 10:00) reuses
   * its connections instead of a TCP and TLS handshake per session. TLS is verified as usual.
   */
  private readonly agent: http.Agent;

  constructor(private readonly config: HttpBridgeConfig) {
    const options = { keepAlive: true, maxSockets: 256, maxFreeSockets: 64, timeout: 60_000 };
    this.agent = config.baseUrl.startsWith("https:") ? new https.Agent(options) : new http.Agent(options);
  }

  /** Closes idle pooled connections (shutdown). */
  close(): void {
    this.agent.destroy();
  }

  private url(path: string): string {
    return `${this.config.baseUrl.replace(/\/+$/, "")}${path}`;
  }

  async start(request: BridgeStartRequest, signal?: AbortSignal): Promise<{ externalId: string }> {
    // Guest join only: the body has no lobby-bypass or authenticated-join option but this false.
    const body = JSON.stringify({ ...request, lobbyBypass: false });
    let reply: Awaited<ReturnType<typeof httpRequest>>;
    try {
      reply = await httpRequest(this.url("/sessions"), {
        method: "POST",
        headers: { "content-type": "application/json", authorization: `Bearer ${this.config.token}`, [SIGNATURE_HEADER]: signBody(this.config.hmacSecret, body) },
        body,
        timeoutMs: this.config.timeoutMs,
        agent: this.agent,
        ...(signal ? { signal } : {}),
      });
    } catch (error) {
      const e = classifyTransportError(error, "bridge");
      throw new OtjError(e.code === "OTJ_DEVICE_TLS" ? "OTJ_BRIDGE_REJECTED" : "OTJ_BRIDGE_UNAVAILABLE", e.message.replace(/^device/, "bridge"), { cause: error });
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
    if (reply.status >= 500 || reply.status === 408 || reply.status === 429) throw new OtjError("OTJ_BRIDGE_UNAVAILABLE", `bridge answered HTTP ${reply.status}`);
    throw new OtjError("OTJ_BRIDGE_REJECTED", `bridge refused the session: HTTP ${reply.status}`);
  }

  async stop(externalId: string, signal?: AbortSignal): Promise<void> {
    let status: number;
    try {
      const reply = await httpRequest(this.url(`/sessions/${encodeURIComponent(externalId)}`), {
        method: "DELETE",
        headers: { authorization: `Bearer ${this.config.token}`, [SIGNATURE_HEADER]: signBody(this.config.hmacSecret, "") },
        timeoutMs: this.config.timeoutMs,
        agent: this.agent,
        ...(signal ? { signal } : {}),
      });
      status = reply.status;
    } catch (error) {
      throw new OtjError("OTJ_BRIDGE_UNAVAILABLE", `bridge stop: ${(error as Error).message}`, { cause: error });
    }
    if (status === 204 || status === 200 || status === 404) return;
    throw new OtjError(status >= 500 ? "OTJ_BRIDGE_UNAVAILABLE" : "OTJ_BRIDGE_REJECTED", `bridge stop answered HTTP ${status}`);
  }
}
