/**
 * SyncFolderItems on a room's calendar (docs/ews-feed.md): the first call (no SyncState) reports
 * every visible meeting as created; later calls report only what changed since the SyncState the
 * device sends back (created, updated, deleted). The SyncState is the device's own copy: the
 * item ids and change-key digests it was last given, so it survives restarts and any number of
 * engine instances, and otj keeps nothing per device. A state otj cannot read gets
 * ErrorInvalidSyncStateData, after which a client starts over without one.
 */
import { createHash } from "node:crypto";
import type { RenderedItem } from "./render.ts";
import { ITEM_ID_PREFIX } from "./render.ts";

/** Items a sync state covers at most (a room's window holds far fewer). */
export const MAX_SYNC_ITEMS = 500;
/** Changes one response carries at most, as Exchange (MaxChangesReturned is 1 to 512). */
export const MAX_CHANGES = 512;
const STATE_PREFIX = "b3RqMQ"; // base64 of "otj1", so the state reads as base64 like Exchange's
const ID_BYTES = 30;
const KEY_BYTES = 6;
const ENTRY = ID_BYTES + KEY_BYTES;

export class InvalidSyncState extends Error {}

const keyDigest = (changeKey: string) => createHash("sha256").update(changeKey, "utf8").digest().subarray(0, KEY_BYTES);

/** The item ids and change-key digests a state carries (empty for none). */
export function decodeSyncState(state: string | undefined): Map<string, string> {
  const known = new Map<string, string>();
  if (state === undefined || state.trim() === "") return known;
  const text = state.trim();
  if (!text.startsWith(STATE_PREFIX) || text.length > STATE_PREFIX.length + Math.ceil((MAX_SYNC_ITEMS * ENTRY) / 3) * 4 + 4)
    throw new InvalidSyncState("not a sync state of this server");
  const body = text.slice(STATE_PREFIX.length);
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(body)) throw new InvalidSyncState("not base64");
  const bytes = Buffer.from(body, "base64");
  if (bytes.length % ENTRY !== 0 || bytes.length / ENTRY > MAX_SYNC_ITEMS) throw new InvalidSyncState("malformed sync state");
  for (let i = 0; i < bytes.length; i += ENTRY) {
    known.set(`${ITEM_ID_PREFIX}${bytes.subarray(i, i + ID_BYTES).toString("base64")}`, bytes.subarray(i + ID_BYTES, i + ENTRY).toString("base64"));
  }
  return known;
}

export function encodeSyncState(known: ReadonlyMap<string, string>): string {
  const parts: Buffer[] = [];
  for (const [id, digest] of known) parts.push(Buffer.from(id.slice(ITEM_ID_PREFIX.length), "base64"), Buffer.from(digest, "base64"));
  return `${STATE_PREFIX}${Buffer.concat(parts).toString("base64")}`;
}

export type SyncChange = { kind: "Create" | "Update"; item: RenderedItem } | { kind: "Delete"; itemId: string };

/**
 * The changes from what the device has (`known`) to `current`, at most `max` of them, and the
 * state after those: creates and updates in the order of `current`, then deletions. Items in
 * `ignore` are not reported (the state takes them as they are now).
 */
export function syncChanges(
  known: ReadonlyMap<string, string>,
  current: readonly RenderedItem[],
  max: number,
  ignore: ReadonlySet<string> = new Set(),
): { changes: SyncChange[]; state: string; complete: boolean } {
  const next = new Map(known);
  const pending: SyncChange[] = [];
  const present = new Set<string>();
  for (const item of current.slice(0, MAX_SYNC_ITEMS)) {
    present.add(item.itemId);
    const digest = keyDigest(item.changeKey).toString("base64");
    const had = known.get(item.itemId);
    if (had === digest) continue;
    if (ignore.has(item.itemId)) next.set(item.itemId, digest);
    else pending.push({ kind: had === undefined ? "Create" : "Update", item });
  }
  for (const id of known.keys()) {
    if (present.has(id)) continue;
    if (ignore.has(id)) next.delete(id);
    else pending.push({ kind: "Delete", itemId: id });
  }
  const changes = pending.slice(0, max);
  for (const c of changes) {
    if (c.kind === "Delete") next.delete(c.itemId);
    else next.set(c.item.itemId, keyDigest(c.item.changeKey).toString("base64"));
  }
  return { changes, state: encodeSyncState(next), complete: changes.length === pending.length };
}
