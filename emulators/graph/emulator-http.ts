/**
 * Request/response shapes the Graph emulator's handlers use, independent of node:http so that
 * `$batch` items run through exactly the same pipeline as direct requests.
 */

import { randomUUID } from "node:crypto";

export interface EmuRequest {
  readonly method: string;
  /** Path without query, as sent (percent-encoded). */
  readonly path: string;
  readonly query: URLSearchParams;
  /** Header names lowercased. */
  readonly headers: Readonly<Record<string, string>>;
  /** Parsed JSON body, or the raw text for non-JSON bodies, or undefined. */
  readonly body: unknown;
  /** Set for the items of a `$batch`. */
  readonly batchItem: boolean;
}

export interface EmuResponse {
  status: number;
  headers: Record<string, string>;
  /** Serialised as JSON unless a string. */
  body: unknown;
  /** Destroy the connection instead of answering. */
  drop?: boolean;
}

export const ODATA_JSON = "application/json;odata.metadata=minimal;odata.streaming=true;IEEE754Compatible=false;charset=utf-8";

export function json(status: number, body: unknown, headers: Record<string, string> = {}): EmuResponse {
  return { status, headers: { "Content-Type": ODATA_JSON, ...headers }, body };
}

/** Graph's error body: `{"error":{"code","message","innerError":{"date","request-id","client-request-id"}}}`. */
export function graphError(req: EmuRequest, now: Date, status: number, code: string, message: string, headers: Record<string, string> = {}): EmuResponse {
  const requestId = randomUUID();
  return json(
    status,
    {
      error: {
        code,
        message,
        innerError: {
          date: now.toISOString().slice(0, 19),
          "request-id": requestId,
          "client-request-id": req.headers["client-request-id"] ?? requestId,
        },
      },
    },
    { "request-id": requestId, ...headers },
  );
}

/** Splits a `Prefer` header into name → value (quotes removed), keeping the original text of each. */
export function parsePrefer(header: string | undefined): Map<string, { value: string; text: string }> {
  const prefs = new Map<string, { value: string; text: string }>();
  if (!header) return prefs;
  for (const part of header.match(/(?:[^,"]|"[^"]*")+/g) ?? []) {
    const text = part.trim();
    if (text === "") continue;
    const eq = text.indexOf("=");
    const name = (eq === -1 ? text : text.slice(0, eq)).trim().toLowerCase();
    const value =
      eq === -1
        ? ""
        : text
            .slice(eq + 1)
            .trim()
            .replace(/^"(.*)"$/, "$1");
    prefs.set(name, { value, text });
  }
  return prefs;
}
