/**
 * Meeting-request mail in a mailbox through Graph (docs/deploy-microsoft-365.md, `Mail.Read`): lists the
 * messages received since a watermark, keeps the meeting messages (requests and cancellations,
 * filtered here on `meetingMessageType`, since type-cast filters are not supported), reads each
 * one's MIME (`/messages/{id}/$value`) and merges it into the room's meetings like
 * `otj ingest FILE.eml` does. Rooms are a poor source of mail (they delete most of it); this fits
 * a dedicated mailbox users forward invites to, mapped to a room.
 */

import { toOtjError } from "../../core/errors.ts";
import type { Room } from "../../core/ports/store.ts";
import type { GraphHttpResponse, GraphRequestOptions } from "../graph/graph-client.ts";
import { type IngestResult, ingestMail, type MimeIngestDeps } from "./mime-ingest.ts";

/** The part of GraphClient the ingest uses. */
export interface MailRequester {
  get(pathOrLink: string, options: GraphRequestOptions): Promise<GraphHttpResponse>;
  getText(path: string, options: GraphRequestOptions): Promise<GraphHttpResponse>;
}

const MEETING_MESSAGES: ReadonlySet<string> = new Set(["meetingRequest", "meetingCancelled"]);
const PAGE = 50;
const PAGE_CAP = 100;

export interface MailboxIngestReport {
  /** Meeting messages read and merged. */
  readonly messages: number;
  /** Messages whose MIME could not be read (id and error code), skipped. */
  readonly failed: ReadonlyArray<{ id: string; code: string }>;
  readonly results: readonly IngestResult[];
  /** The newest `receivedDateTime` seen: pass it as `since` next time. */
  readonly watermark: Date | null;
}

/**
 * Reads `mailbox`'s meeting messages received after `since` (all when null) into `room`.
 * @throws OtjError when listing the messages fails (Graph errors as GraphClient classifies them).
 */
export async function ingestMailbox(
  client: MailRequester,
  mailbox: string,
  room: Room,
  since: Date | null,
  deps: MimeIngestDeps,
  signal: AbortSignal,
): Promise<MailboxIngestReport> {
  const m = encodeURIComponent(mailbox.toLowerCase());
  const filter = since === null ? "" : `&$filter=${encodeURIComponent(`receivedDateTime gt ${since.toISOString()}`)}`;
  let url = `/users/${m}/messages?$top=${PAGE}${filter}`;
  const wanted: Array<{ id: string; received: number }> = [];
  let watermark = since?.getTime() ?? null;
  for (let page = 0; page < PAGE_CAP; page++) {
    const response = await client.get(url, { signal, mailboxes: [mailbox] });
    const body = response.body as { value?: unknown; "@odata.nextLink"?: unknown } | null;
    const value = Array.isArray(body?.value) ? body.value : [];
    for (const item of value as Array<Record<string, unknown>>) {
      const id = typeof item["id"] === "string" ? item["id"] : null;
      const received = typeof item["receivedDateTime"] === "string" ? Date.parse(item["receivedDateTime"]) : Number.NaN;
      if (id === null) continue;
      if (!Number.isNaN(received)) watermark = Math.max(watermark ?? received, received);
      if (MEETING_MESSAGES.has(String(item["meetingMessageType"] ?? ""))) wanted.push({ id, received: Number.isNaN(received) ? 0 : received });
    }
    const next = body?.["@odata.nextLink"];
    if (typeof next !== "string" || next === "") break;
    url = next;
  }
  // Oldest first, so a later request (or cancellation) of the same meeting wins.
  wanted.sort((a, b) => a.received - b.received);
  const results: IngestResult[] = [];
  const failed: Array<{ id: string; code: string }> = [];
  for (const message of wanted) {
    let mime: string;
    try {
      const response = await client.getText(`/users/${m}/messages/${encodeURIComponent(message.id)}/$value`, { signal, mailboxes: [mailbox] });
      mime = String(response.body ?? "");
    } catch (error) {
      if (signal.aborted) throw signal.reason;
      failed.push({ id: message.id, code: toOtjError(error).code });
      continue;
    }
    results.push(await ingestMail(mime, room, deps, { filename: "message.eml", signal }));
  }
  return { messages: results.length, failed, results, watermark: watermark === null ? null : new Date(watermark) };
}
