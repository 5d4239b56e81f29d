/** The room queries the room store's files share. */
import type { ExpressionBuilder, Kysely } from "kysely";
import type { Database } from "../database.ts";

/** Rooms with their provider's name. */
export function roomQuery(db: Kysely<Database>) {
  return db.selectFrom("room").leftJoin("provider", "provider.id", "room.provider_id").selectAll("room").select("provider.name as provider_name");
}

/** A room is named by its id or its mailbox (case-insensitive). */
export function whereIdOrMailbox(idOrMailbox: string) {
  const key = idOrMailbox.trim();
  return (eb: ExpressionBuilder<Database, "room">) => eb.or([eb("room.id", "=", key), eb("room.mailbox", "=", key.toLowerCase())]);
}
