/**
 * One HTTP(S) request with per-request TLS settings (CA, opt-out), a timeout, an AbortSignal and a
 * cap on the reply's size, and a neutral classification of what went wrong on the way: each
 * adapter (device pusher, bridge) maps these kinds to its own error codes with a table.
 */
import http from "node:http";
import https from "node:https";

export interface HttpReply {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

export interface HttpRequestOptions {
  method: "GET" | "POST" | "PUT" | "DELETE";
  headers?: Record<string, string>;
  body?: string;
  /** Extra CA certificates (PEM) trusted for this request. */
  ca?: string | null;
  /** false disables certificate verification (explicit per-target opt-out). */
  verifyTls?: boolean;
  timeoutMs: number;
  signal?: AbortSignal;
  /**
   * Connection pool to use. Without one, HTTPS requests open a connection each (their TLS
   * settings are per request: per-device CA and opt-out) and HTTP uses Node's global agent.
   */
  agent?: http.Agent;
  /** The largest reply read (default 4 MiB); a longer one fails with a `too-large` TransportError instead of being cut. */
  maxReplyBytes?: number;
}

/** What went wrong between us and the peer, whoever the peer is. */
export type TransportKind = "tls" | "timeout" | "unreachable" | "too-large" | "other";

/** What a reply's HTTP status means, whoever the peer is. */
export type StatusKind = "ok" | "auth" | "unavailable" | "rejected";

/** The default reply cap of `httpRequest`. */
export const DEFAULT_MAX_REPLY_BYTES = 4 * 1024 * 1024;

/** A reply over the size cap (the only failure httpRequest raises itself; the others are Node's). */
export class ReplyTooLargeError extends Error {
  readonly kind = "too-large" as const;
  constructor(
    readonly host: string,
    readonly status: number,
    readonly limitBytes: number,
  ) {
    super(`${host}: the reply is larger than ${limitBytes} bytes`);
    this.name = "ReplyTooLargeError";
  }
}

/** Node (and undici) TLS and socket error texts -> kinds; the first match wins. */
const TRANSPORT_KINDS: ReadonlyArray<[RegExp, TransportKind]> = [
  [/CERT|SELF_SIGNED|UNABLE_TO_VERIFY|ERR_TLS|EPROTO|SSL/i, "tls"],
  [/ETIMEDOUT|timeout/i, "timeout"],
  [/ECONNREFUSED|ECONNRESET|EHOSTUNREACH|ENETUNREACH|ENOTFOUND|EAI_AGAIN|EPIPE|socket hang up|aborted/i, "unreachable"],
];

/** The kind of a transport failure, and a short text naming it (an errno code or the message; never a body). */
export function classifyTransport(error: unknown): { kind: TransportKind; detail: string } {
  if (error instanceof ReplyTooLargeError) return { kind: "too-large", detail: error.message };
  const e = error as NodeJS.ErrnoException;
  const text = `${e?.code ?? ""} ${e?.message ?? String(error)}`;
  for (const [pattern, kind] of TRANSPORT_KINDS) if (pattern.test(text)) return { kind, detail: e?.code ?? e?.message ?? "error" };
  return { kind: "other", detail: e?.message ?? "error" };
}

/** An HTTP status's kind: 2xx ok, 401/403 auth, 408/429/5xx unavailable (worth retrying), other rejected. */
export function classifyStatus(status: number): StatusKind {
  if (status >= 200 && status < 300) return "ok";
  if (status === 401 || status === 403) return "auth";
  if (status === 408 || status === 429 || status >= 500) return "unavailable";
  return "rejected";
}

export function httpRequest(url: string, options: HttpRequestOptions): Promise<HttpReply> {
  const limit = options.maxReplyBytes ?? DEFAULT_MAX_REPLY_BYTES;
  return new Promise((resolve, reject) => {
    const target = new URL(url);
    const isHttps = target.protocol === "https:";
    const lib = isHttps ? https : http;
    const req = lib.request(
      target,
      {
        method: options.method,
        headers: { ...(options.headers ?? {}), ...(options.body !== undefined ? { "content-length": String(Buffer.byteLength(options.body)) } : {}) },
        ...(isHttps ? { rejectUnauthorized: options.verifyTls !== false, ...(options.ca ? { ca: options.ca } : {}), agent: options.agent ?? false } : {}),
        ...(!isHttps && options.agent ? { agent: options.agent } : {}),
        timeout: options.timeoutMs,
        ...(options.signal ? { signal: options.signal } : {}),
      },
      (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        const tooLarge = () => new ReplyTooLargeError(target.host, res.statusCode ?? 0, limit);
        const declared = Number(res.headers["content-length"]);
        if (Number.isFinite(declared) && declared > limit) {
          req.destroy(tooLarge());
          return;
        }
        res.on("data", (c: Buffer) => {
          size += c.length;
          if (size > limit) {
            req.destroy(tooLarge());
            return;
          }
          chunks.push(c);
        });
        res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString("utf8") }));
        res.on("error", reject);
      },
    );
    req.on("timeout", () => req.destroy(Object.assign(new Error("timeout"), { code: "ETIMEDOUT" })));
    req.on("error", reject);
    if (options.body !== undefined) req.write(options.body);
    req.end();
  });
}
