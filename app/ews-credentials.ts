/**
 * Device credentials of `ews` rooms on every path a room becomes one (`otj rooms add`, `rooms
 * set`, CSV import, the console): each such room without a password gets its first one here,
 * and the caller shows it once. Only a hash is stored; `otj rooms token ROOM --rotate` replaces it.
 */
import type { Room, Store } from "../core/ports/store.ts";

/** What the admin is shown once (CONTRACT names: deviceUsername, devicePassword). */
export interface EwsCredential {
  id: string;
  mailbox: string;
  deviceUsername: string;
  devicePassword: string;
}

/** A first password for each `ews` room among `rooms` that has none; other rooms are passed over. */
export async function issueMissingEwsPasswords(store: Pick<Store, "ewsDevices">, rooms: readonly Room[], now: Date): Promise<EwsCredential[]> {
  const out: EwsCredential[] = [];
  for (const room of rooms) {
    if (room.device.family !== "ews") continue;
    const password = await store.ewsDevices.issueFirstPassword(room.id, now);
    if (password !== null) out.push({ id: room.id, mailbox: room.mailbox, deviceUsername: room.mailbox, devicePassword: password });
  }
  return out;
}
