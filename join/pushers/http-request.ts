/**
 * One HTTP(S) request with per-request TLS settings (CA, opt-out), a timeout and an AbortSignal,
 * and a classification table from transport failures to OtjError codes.
 */
import http from "node:http";
import https from "node:https";
import { type ErrorCode, OtjError } from "../../core/errors.ts";

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
  /** false disables certificate verification (explicit per-device opt-out). */
  verifyTls?: boolean;
  timeoutMs: number;
  signal?: AbortSignal;
  /**
   * Connection pool to use. Without one, HTTPS requests open a connection each (their TLS
   * settings are per request: per-device CA and opt-out) and HTTP uses Node's global agent.
   */
  agent?: http.Agent;
}

/** Node TLS and socket error codes -> our codes. */
const TRANSPORT_ERRORS: ReadonlyArray<[RegExp, ErrorCode]> = [
  [/CERT|SELF_SIGNED|UNABLE_TO_VERIFY|ERR_TLS|EPROTO|SSL/i, "OTJ_DEVICE_TLS"],
  [/ECONNREFUSED|ECONNRESET|ETIMEDOUT|EHOSTUNREACH|ENETUNREACH|ENOTFOUND|EAI_AGAIN|EPIPE|socket hang up|timeout|aborted/i, "OTJ_DEVICE_UNREACHABLE"],
];

/** The largest device reply read; a longer one fails with `OTJ_DEVICE_REPLY_TOO_LARGE` instead of being cut. */
export const MAX_REPLY_BYTES = 4 * 1024 * 1024;

export function classifyTransportError(error: unknown, what: string): OtjError {
  if (error instanceof OtjError) return error;
  const e = error as NodeJS.ErrnoException;
  const text = `${e?.code ?? ""} ${e?.message ?? String(error)}`;
  for (const [pattern, code] of TRANSPORT_ERRORS) if (pattern.test(text)) return new OtjError(code, `${what}: ${e?.code ?? e?.message ?? "error"}`, { cause: error });
  return new OtjError("OTJ_DEVICE_UNREACHABLE", `${what}: ${e?.message ?? "error"}`, { cause: error });
}

/** HTTP status -> our code (undefined: success). */
export function classifyStatus(status: number): ErrorCode | undefined {
  if (status >= 200 && status < 300) return undefined;
  if (status === 401 || status === 403) return "OTJ_DEVICE_AUTH";
  if (status === 408 || status === 429 || status >= 500) return "OTJ_DEVICE_UNREACHABLE";
  return "OTJ_DEVICE_REJECTED";
}

export function httpRequest(url: string, options: HttpRequestOptions): Promise<HttpReply> {
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
        const tooLarge = () =>
          new OtjError("OTJ_DEVICE_REPLY_TOO_LARGE", `${target.host}: the reply is larger than ${MAX_REPLY_BYTES} bytes`, {
            details: { status: res.statusCode ?? 0, limitBytes: MAX_REPLY_BYTES },
          });
        const declared = Number(res.headers["content-length"]);
        if (Number.isFinite(declared) && declared > MAX_REPLY_BYTES) {
          req.destroy(tooLarge());
          return;
        }
        res.on("data", (c: Buffer) => {
          size += c.length;
          if (size > MAX_REPLY_BYTES) {
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
