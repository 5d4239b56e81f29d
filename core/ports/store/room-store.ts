/** The rooms' part of the store. */
import type { StoreCallOptions } from "./options.ts";
import type { NewRoom, Room, RoomChanges } from "../../records/room.ts";

/** One page of rooms and how many match in all. */
export interface RoomPage {
  rooms: Room[];
  total: number;
}

/** A room just added; `deviceToken` is set for `pull` rooms (and when one was given). */
export interface AddedRoom {
  room: Room;
  deviceToken: string | null;
}

/** Outcome of a batch add: per item problems, and whether anything was written. */
export type AddRoomsResult = { applied: true; rooms: AddedRoom[] } | { applied: false; problems: Array<{ index: number; messages: string[] }> };

export interface AddRoomsOptions extends StoreCallOptions {
  /** Called as work advances: `phase` `validate` then `write`, `done` of `total` items. */
  onProgress?: (phase: "validate" | "write", done: number, total: number) => void;
  /** Validate only: report every problem (possibly none) and write nothing (`applied: false`). */
  dryRun?: boolean;
  /** How an item is named in messages (default `item N`, 1-based), e.g. `line 12`. */
  describeItem?: (index: number) => string;
}

/** The console's room list: a search, filters (all optional), an order and a page. */
export interface RoomPageQuery {
  search?: string;
  providerId?: string;
  deviceFamily?: string;
  source?: string;
  /** Only rooms whose last poll or last push failed. */
  failing?: boolean;
  /** Order (default `mailbox`); ties by mailbox. */
  sort?: "mailbox" | "name" | "provider";
  offset: number;
  limit: number;
}

export interface RoomStore {
  /**
   * Adds a room (and its sync cursor, due at `now`). Throws OTJ_ROOM_INVALID (bad field),
   * OTJ_STORE_NOT_FOUND (unknown provider), OTJ_STORE_CONFLICT (mailbox taken).
   */
  add(input: NewRoom, now: Date, options?: StoreCallOptions): Promise<AddedRoom>;
  /**
   * Validates every item (fields, providers, duplicates in the batch and in the store), then adds
   * all of them in one transaction, or none when any item is bad. Never writes half a batch.
   */
  addMany(inputs: readonly NewRoom[], now: Date, options?: AddRoomsOptions): Promise<AddRoomsResult>;
  /** The room with this id or mailbox (case-insensitive), or null. */
  get(idOrMailbox: string, options?: StoreCallOptions): Promise<Room | null>;
  /** The rooms with these ids (unknown ids are left out), in no particular order. */
  getMany(ids: readonly string[], options?: StoreCallOptions): Promise<Room[]>;
  /** Rooms ordered by mailbox. */
  list(filter?: { providerId?: string; enabled?: boolean }, options?: StoreCallOptions): Promise<Room[]>;
  /** How many rooms use each provider (by provider id; providers without rooms are left out). */
  countByProvider(options?: StoreCallOptions): Promise<Map<string, number>>;
  /**
   * Rooms ordered by mailbox whose mailbox or display name contains `search` (case-insensitive),
   * `limit` from `offset`, with the total count (the console's server-side paging).
   */
  page(query: RoomPageQuery, options?: StoreCallOptions): Promise<RoomPage>;
  /**
   * Applies changes after the same checks as `add`. Throws OTJ_STORE_NOT_FOUND (no such room or
   * provider), OTJ_ROOM_INVALID.
   */
  update(idOrMailbox: string, changes: RoomChanges, now: Date, options?: StoreCallOptions): Promise<Room>;
  /**
   * Enables or disables these rooms (a disabled room is neither polled nor pushed to); unknown
   * ids are left out. Returns the rooms whose state changed, as they are now.
   */
  setEnabled(ids: readonly string[], enabled: boolean, now: Date, options?: StoreCallOptions): Promise<Room[]>;
  /**
   * The console's import: adds `adds` (checked as `addMany`) and applies each of `changes` (as
   * `update`) in one transaction, so either every row is written or none. Throws
   * OTJ_STORE_CONFLICT when an add is refused (the rooms changed since the check), else what
   * `update` throws; nothing is written then.
   */
  applyImport(
    adds: readonly NewRoom[],
    changes: ReadonlyArray<{ room: string; changes: RoomChanges }>,
    now: Date,
    options?: StoreCallOptions,
  ): Promise<{ added: AddedRoom[]; changed: Room[] }>;
  /** Removes a room and everything kept for it. Throws OTJ_STORE_NOT_FOUND. */
  remove(idOrMailbox: string, options?: StoreCallOptions): Promise<Room>;
  /** The device's credentials (password decrypted), or null when it has none. */
  deviceCredentials(roomId: string, options?: StoreCallOptions): Promise<{ username: string | null; password: string | null } | null>;
  /** The room's device token, or null when it has none. Throws OTJ_STORE_NOT_FOUND. */
  deviceToken(idOrMailbox: string, options?: StoreCallOptions): Promise<string | null>;
  /** Replaces (or creates) the room's device token and returns it. Throws OTJ_STORE_NOT_FOUND. */
  rotateDeviceToken(idOrMailbox: string, now: Date, options?: StoreCallOptions): Promise<string>;
  /** The room when `token` is its device token (constant-time comparison), else null. */
  verifyDeviceToken(idOrMailbox: string, token: string, options?: StoreCallOptions): Promise<Room | null>;
}
