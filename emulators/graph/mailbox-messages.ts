/**
 * Mail in the Graph emulator (docs/deploy-microsoft-365.md): messages with their MIME (`$value`) and file
 * attachments, as a meeting-request ingest reads them.
 */

import { createHash } from "node:crypto";
import type { EmailAddress } from "./mailbox-calendar.ts";

export type MeetingMessageType = "none" | "meetingRequest" | "meetingCancelled" | "meetingAccepted" | "meetingTentativelyAccepted" | "meetingDeclined";

export interface AttachmentInput {
  id?: string;
  name: string;
  contentType: string;
  content: string | Uint8Array;
  isInline?: boolean;
}

export interface MessageInput {
  id?: string;
  subject?: string;
  from?: EmailAddress;
  /** An instant; default the emulator's now. */
  receivedDateTime?: string;
  /** The RFC 5322 message as Exchange would synthesise it (served by `$value`). */
  mime: string;
  /** Meeting mail is an eventMessage; default `none` (plain mail). */
  meetingMessageType?: MeetingMessageType;
  /** The HTML body Graph shows in JSON (default empty; `$value` holds the real content). */
  bodyHtml?: string;
  attachments?: AttachmentInput[];
}

export interface StoredMessage {
  readonly id: string;
  readonly input: MessageInput;
  readonly receivedMs: number;
  readonly attachments: ReadonlyArray<{ id: string; name: string; contentType: string; bytes: Buffer; isInline: boolean }>;
}

export function storeMessage(input: MessageInput, id: string, nowMs: number): StoredMessage {
  const receivedMs = input.receivedDateTime !== undefined ? Date.parse(input.receivedDateTime) : nowMs;
  if (Number.isNaN(receivedMs)) throw new RangeError(`receivedDateTime: not an instant: ${input.receivedDateTime}`);
  return {
    id,
    input,
    receivedMs,
    attachments: (input.attachments ?? []).map((a, i) => ({
      id: a.id ?? `${id.slice(0, 40)}AT${i}=`,
      name: a.name,
      contentType: a.contentType,
      bytes: Buffer.from(a.content),
      isInline: a.isInline ?? false,
    })),
  };
}

function odataType(type: MeetingMessageType): string {
  if (type === "none") return "#microsoft.graph.message";
  if (type === "meetingRequest") return "#microsoft.graph.eventMessageRequest";
  if (type === "meetingCancelled") return "#microsoft.graph.eventMessage";
  return "#microsoft.graph.eventMessageResponse";
}

/** A message resource as `/messages` lists it. */
export function renderMessage(m: StoredMessage, mailbox: EmailAddress): Record<string, unknown> {
  const type = m.input.meetingMessageType ?? "none";
  const changeKey = createHash("sha256").update(m.id).digest("base64").slice(0, 28);
  const when = new Date(m.receivedMs).toISOString().replace(/\.\d{3}Z$/, "Z");
  const from = m.input.from ? { emailAddress: { ...m.input.from } } : null;
  const html = m.input.bodyHtml ?? "";
  return {
    "@odata.type": odataType(type),
    "@odata.etag": `W/"${changeKey}"`,
    id: m.id,
    createdDateTime: when,
    lastModifiedDateTime: when,
    changeKey,
    categories: [],
    receivedDateTime: when,
    sentDateTime: when,
    hasAttachments: m.attachments.some((a) => !a.isInline),
    internetMessageId: `<${m.id.slice(7, 27)}@emulator.invalid>`,
    subject: m.input.subject ?? "",
    bodyPreview: html
      .replace(/<[^>]*>/g, "")
      .replace(/\s+/g, " ")
      .trim()
      .slice(0, 255),
    importance: "normal",
    parentFolderId: "inbox",
    conversationId: `conv-${m.id.slice(7, 20)}`,
    isRead: false,
    isDraft: false,
    body: { contentType: "html", content: html },
    sender: from,
    from,
    toRecipients: [{ emailAddress: { ...mailbox } }],
    ...(type === "none" ? {} : { meetingMessageType: type }),
  };
}

export function renderAttachment(a: StoredMessage["attachments"][number]): Record<string, unknown> {
  return {
    "@odata.type": "#microsoft.graph.fileAttachment",
    id: a.id,
    lastModifiedDateTime: null,
    name: a.name,
    contentType: a.contentType,
    size: a.bytes.length,
    isInline: a.isInline,
    contentId: null,
    contentLocation: null,
    contentBytes: a.bytes.toString("base64"),
  };
}

/**
 * The `$filter`s the emulator understands, joined by ` and `: `receivedDateTime ge|gt <instant>`
 * and `microsoft.graph.eventMessage/meetingMessageType eq '<type>'` (unconfirmed on the real
 * service). @returns a predicate, or null for anything else.
 */
export function messageFilter(filter: string): ((m: StoredMessage) => boolean) | null {
  const tests: Array<(m: StoredMessage) => boolean> = [];
  for (const clause of filter.split(/\s+and\s+/i)) {
    const received = /^receivedDateTime\s+(ge|gt)\s+(\S+)$/i.exec(clause.trim());
    if (received) {
      const at = Date.parse(received[2]!);
      if (Number.isNaN(at)) return null;
      tests.push(received[1]!.toLowerCase() === "ge" ? (m) => m.receivedMs >= at : (m) => m.receivedMs > at);
      continue;
    }
    const meeting = /^microsoft\.graph\.eventMessage\/meetingMessageType\s+eq\s+'(\w+)'$/i.exec(clause.trim());
    if (meeting) {
      const wanted = meeting[1]!;
      tests.push((m) => (m.input.meetingMessageType ?? "none") === wanted);
      continue;
    }
    return null;
  }
  return (m) => tests.every((t) => t(m));
}
