import type { Room } from "../../records/room.ts";
import type { StoreCallOptions } from "./options.ts";

/**
 * Device credentials of `ews` rooms (the EWS feed): the user name is the room's mailbox, the
 * password is random, shown once and stored only as a hash.
 */
export interface EwsDeviceStore {
  /** A new random password for an `ews` room (replacing any before); OTJ_STORE_NOT_FOUND / OTJ_ROOM_INVALID otherwise. */
  issuePassword(idOrMailbox: string, now: Date, options?: StoreCallOptions): Promise<{ room: Room; password: string }>;
  /** A first password for an `ews` room that has none yet; null when it already has one (the password stays). */
  issueFirstPassword(roomId: string, now: Date, options?: StoreCallOptions): Promise<string | null>;
  /** The enabled `ews` room whose mailbox and password these are, or null (same work either way). */
  verify(mailbox: string, password: string, options?: StoreCallOptions): Promise<Room | null>;
  /**
   * When each ews room's password was last issued, by room id (one query). Its device's reads are
   * recorded with every other device's in `alarms.recordFetch` / `alarms.lastFetches`.
   */
  passwordsIssued(options?: StoreCallOptions): Promise<Map<string, Date>>;
}
