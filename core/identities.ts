/**
 * The identities otj derives from a calendar occurrence (docs/formats.md): the occurrence key that
 * names one meeting instance in one room, and the SGJ session id derived from it. Pure and stable:
 * stored rows, bridge sessions and dial strings all carry them, so they never change shape.
 */
import { createHash } from "node:crypto";

/** occurrenceKey = lower(roomMailbox) | uid | (recurrenceId ?? start) (docs/formats.md). */
export function occurrenceKey(roomMailbox: string, uid: string | null, recurrenceId: string | null, start: string | null): string {
  return `${roomMailbox.toLowerCase()}|${uid ?? ""}|${recurrenceId ?? start ?? ""}`;
}

/** sessionId = "sgj_" + first 12 hex chars of SHA-256(occurrenceKey). */
export function sessionIdFor(key: string): string {
  return `sgj_${createHash("sha256").update(key, "utf8").digest("hex").slice(0, 12)}`;
}
