/** The console's room list on PostgreSQL / PGlite: search, filters, order and one page (RoomStore.page). */
import type { ExpressionBuilder, Kysely } from "kysely";
import type { RoomPage, RoomPageQuery } from "../../core/ports/store.ts";
import type { Database } from "../database.ts";
import { toRoom } from "../row-mappers.ts";
import { roomQuery } from "./room-query.ts";

/** Rooms matching `query`, one page of them, and how many match in all. */
export async function roomPage(db: Kysely<Database>, query: RoomPageQuery): Promise<RoomPage> {
  const search = (query.search ?? "").trim().toLowerCase();
  // LIKE metacharacters in the search are literal.
  const pattern = `%${search.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
  const matching = (eb: ExpressionBuilder<Database, "room">) => {
    const all = [search === "" ? eb.lit(true) : eb.or([eb("room.mailbox", "like", pattern), eb(eb.fn("lower", ["room.display_name"]), "like", pattern)])];
    if (query.providerId !== undefined) all.push(eb("room.provider_id", "=", query.providerId));
    if (query.deviceFamily !== undefined) all.push(eb("room.device_family", "=", query.deviceFamily));
    if (query.source !== undefined) all.push(eb("room.source", "=", query.source));
    if (query.failing === true) {
      all.push(
        eb.or([
          eb.exists(
            eb
              .selectFrom("device_state")
              .select("device_state.room_id")
              .whereRef("device_state.room_id", "=", "room.id")
              .where("device_state.last_error_code", "is not", null),
          ),
          eb.exists(
            eb
              .selectFrom("sync_cursor")
              .select("sync_cursor.room_id")
              .whereRef("sync_cursor.room_id", "=", "room.id")
              .where("sync_cursor.last_error_code", "is not", null),
          ),
        ]),
      );
    }
    return eb.and(all);
  };
  const order = query.sort === "name" ? "room.display_name" : query.sort === "provider" ? "provider.name" : "room.mailbox";
  const [rows, count] = await Promise.all([
    roomQuery(db)
      .where(matching)
      .orderBy(order)
      .orderBy("room.mailbox")
      .offset(Math.max(0, Math.floor(query.offset)))
      .limit(Math.max(1, Math.min(500, Math.floor(query.limit))))
      .execute(),
    db
      .selectFrom("room")
      .where(matching)
      .select((eb) => eb.fn.countAll<string>().as("n"))
      .executeTakeFirstOrThrow(),
  ]);
  return { rooms: rows.map(toRoom), total: Number(count.n) };
}
