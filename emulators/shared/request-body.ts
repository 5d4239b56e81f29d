/**
 * The one request reader of the emulators: the body with a size cap, and a JSON parse that says
 * when the text is not JSON instead of throwing.
 */
import type { IncomingMessage, ServerResponse } from "node:http";

/** The largest request body an emulator reads (4 MiB, as Graph's own limit for a request). */
export const MAX_REQUEST_BODY_BYTES = 4 * 1024 * 1024;

/** A request body over the cap: answer 413. The rest of the body is left unread. */
export class BodyTooLargeError extends Error {
  constructor(readonly limitBytes: number) {
    super(`request body larger than ${limitBytes} bytes`);
    this.name = "BodyTooLargeError";
  }
}

/** Reads the whole body (empty when there is none); rejects with BodyTooLargeError past `limit` bytes. */
export async function readBodyBytes(req: IncomingMessage, limit = MAX_REQUEST_BODY_BYTES): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > limit) throw new BodyTooLargeError(limit);
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

/** The body as UTF-8 text; see readBodyBytes. */
export async function readBody(req: IncomingMessage, limit = MAX_REQUEST_BODY_BYTES): Promise<string> {
  return (await readBodyBytes(req, limit)).toString("utf8");
}

/** The body as text, or null after answering 413 to a body over `limit` (the handler then returns). */
export async function readBodyOr413(req: IncomingMessage, res: ServerResponse, limit = MAX_REQUEST_BODY_BYTES): Promise<string | null> {
  try {
    return await readBody(req, limit);
  } catch (error) {
    if (!(error instanceof BodyTooLargeError)) throw error;
    res.writeHead(413).end();
    return null;
  }
}

/** JSON.parse that answers `{ ok: false }` for text that is not JSON. */
export function parseJson<T = unknown>(text: string): { ok: true; value: T } | { ok: false } {
  try {
    return { ok: true, value: JSON.parse(text) as T };
  } catch {
    return { ok: false };
  }
}
