import type { Room } from "../../records/room.ts";
import type { StoreCallOptions } from "./options.ts";

/**
 * Device credentials of `ews` rooms (the EWS feed): the user name is the room's mailbox, the
 * password is random, shown once and stored only as a hash; and when the device last read.
 */
export interface EwsDeviceStore {
  /** A new random password for an `ews` room (replacing any before); OTJ_STORE_NOT_FOUND / OTJ_ROOM_INVALID otherwise. */
  issuePassword(idOrMailbox: string, now: Date, options?: StoreCallOptions): Promise<{ room: Room; password: string }>;
  /** The enabled `ews` room whose mailbox and password these are, or null (same work either way). */
  verify(mailbox: string, password: string, options?: StoreCallOptions): Promise<Room | null>;
  /** Records a read by the room's device. */
  recordFetch(roomId: string, operation: string, now: Date, options?: StoreCallOptions): Promise<void>;
  /** When the room's device last read, and with which operation; null when never. */
  lastFetch(roomId: string, options?: StoreCallOptions): Promise<{ at: Date; operation: string } | null>;
  /** Every ews device by room id: when its password was last issued, and its last fetch (one query). */
  lastFetches(options?: StoreCallOptions): Promise<Map<string, { issuedAt: Date; at: Date | null; operation: string | null }>>;
}
