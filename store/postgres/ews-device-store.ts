import { sql } from "kysely";
import { OtjError } from "../../core/errors.ts";
import type { EwsDeviceStore, Room, StoreCallOptions } from "../../core/ports/store.ts";
import { DUMMY_HASH, hashPassword, newDevicePassword, verifyPassword } from "../password-hash.ts";
import { toRoom } from "../row-mappers.ts";
import { type StoreContext, guard } from "./guard.ts";

export class PostgresEwsDeviceStore implements EwsDeviceStore {
  readonly #ctx: StoreContext;

  constructor(ctx: StoreContext) {
    this.#ctx = ctx;
  }

  issuePassword(idOrMailbox: string, now: Date, options?: StoreCallOptions): Promise<{ room: Room; password: string }> {
    return guard(options, async () => {
      const key = idOrMailbox.trim();
      const row = await this.#ctx.db
        .selectFrom("room")
        .leftJoin("provider", "provider.id", "room.provider_id")
        .selectAll("room")
        .select("provider.name as provider_name")
        .where((eb) => eb.or([eb("room.id", "=", key), eb("room.mailbox", "=", key.toLowerCase())]))
        .executeTakeFirst();
      if (row === undefined) throw new OtjError("OTJ_STORE_NOT_FOUND", `no room "${idOrMailbox}"`);
      if (row.device_family !== "ews")
        throw new OtjError("OTJ_ROOM_INVALID", `room ${row.mailbox} is a ${row.device_family} room; only ews rooms have EWS device passwords`);
      const password = newDevicePassword();
      const hash = await hashPassword(password);
      await this.#ctx.db
        .insertInto("ews_device")
        .values({ room_id: row.id, password_hash: hash, updated_at: now })
        .onConflict((oc) => oc.column("room_id").doUpdateSet({ password_hash: hash, updated_at: now }))
        .execute();
      return { room: toRoom(row), password };
    });
  }

  issueFirstPassword(roomId: string, now: Date, options?: StoreCallOptions): Promise<string | null> {
    return guard(options, async () => {
      const password = newDevicePassword();
      const hash = await hashPassword(password);
      // Only an ews room without a password gets one; two callers racing: the first wins.
      const result = await sql<{ room_id: string }>`insert into ews_device (room_id, password_hash, updated_at)
        select id, ${hash}, ${now} from room where id = ${roomId} and device_family = 'ews'
        on conflict (room_id) do nothing returning room_id`.execute(this.#ctx.db);
      return result.rows.length === 0 ? null : password;
    });
  }

  verify(mailbox: string, password: string, options?: StoreCallOptions): Promise<Room | null> {
    return guard(options, async () => {
      const row = await this.#ctx.db
        .selectFrom("room")
        .innerJoin("ews_device", "ews_device.room_id", "room.id")
        .leftJoin("provider", "provider.id", "room.provider_id")
        .selectAll("room")
        .select(["provider.name as provider_name", "ews_device.password_hash"])
        .where("room.mailbox", "=", mailbox.trim().toLowerCase())
        .where("room.device_family", "=", "ews")
        .where("room.enabled", "=", true)
        .executeTakeFirst();
      // An unknown mailbox costs one hash as well, so timing does not tell which mailboxes exist.
      const ok = await verifyPassword(password, row?.password_hash ?? DUMMY_HASH);
      if (row === undefined || !ok) return null;
      const { password_hash: _hash, ...room } = row;
      return toRoom(room);
    });
  }

  passwordsIssued(options?: StoreCallOptions): Promise<Map<string, Date>> {
    return guard(options, async () => {
      const rows = await this.#ctx.db.selectFrom("ews_device").select(["room_id", "updated_at"]).execute();
      return new Map(rows.map((r) => [r.room_id, r.updated_at]));
    });
  }
}
