import { sql } from "kysely";
import type { ActiveAlarm, AlarmRecord, AlarmStore, AlarmTransitions, DeviceFetch } from "../../core/ports/alarm-store.ts";
import { OtjError } from "../../core/errors.ts";
import type { StoreCallOptions } from "../../core/ports/store.ts";
import type { AlarmTable } from "../database.ts";
import { type StoreContext, guard } from "./guard.ts";

type AlarmRow = { [K in keyof AlarmTable]: K extends "id" ? string | number : K extends "raised_at" ? Date : AlarmTable[K] };

function toRecord(r: AlarmRow): AlarmRecord {
  return {
    id: String(r.id),
    key: r.alarm_key,
    code: r.code,
    roomId: r.room_id,
    subject: r.subject,
    message: r.message,
    raisedAt: r.raised_at,
    clearedAt: r.cleared_at,
    ackedBy: r.acked_by,
    ackedAt: r.acked_at,
    mutedBy: r.muted_by,
    mutedUntil: r.muted_until,
  };
}

/** Ids are bigserial: anything else is no alarm (not a database error). */
const ID = /^[1-9]\d{0,17}$/;

/** Alarm history (table alarm) and device fetch times (table device_fetch). */
export class PostgresAlarmStore implements AlarmStore {
  readonly #ctx: StoreContext;

  constructor(ctx: StoreContext) {
    this.#ctx = ctx;
  }

  reconcile(active: readonly ActiveAlarm[], now: Date, options?: StoreCallOptions): Promise<AlarmTransitions> {
    return guard(options, () =>
      this.#ctx.db.transaction().execute(async (tx) => {
        const open = (await tx.selectFrom("alarm").selectAll().where("cleared_at", "is", null).forUpdate().execute()) as AlarmRow[];
        const openByKey = new Map(open.map((r) => [r.alarm_key, r]));
        const wanted = new Map(active.map((a) => [a.key, a]));
        const out: AlarmTransitions = { raised: [], cleared: [] };
        for (const row of open) {
          if (wanted.has(row.alarm_key)) continue;
          const done = (await tx
            .updateTable("alarm")
            .set({ cleared_at: now })
            .where("id", "=", row.id as string)
            .returningAll()
            .executeTakeFirstOrThrow()) as AlarmRow;
          out.cleared.push(toRecord(done));
        }
        for (const a of wanted.values()) {
          const existing = openByKey.get(a.key);
          if (existing) {
            if (existing.message !== a.message)
              await tx
                .updateTable("alarm")
                .set({ message: a.message })
                .where("id", "=", existing.id as string)
                .execute();
            continue;
          }
          const row = (
            await sql<AlarmRow>`insert into alarm (alarm_key, code, room_id, subject, message, raised_at)
            values (${a.key}, ${a.code}, ${a.roomId}, ${a.subject}, ${a.message}, ${now})
            on conflict (alarm_key) where cleared_at is null do nothing returning *`.execute(tx)
          ).rows[0];
          if (row) out.raised.push(toRecord(row));
        }
        return out;
      }),
    );
  }

  listOpen(options?: StoreCallOptions): Promise<AlarmRecord[]> {
    return guard(options, async () => {
      const rows = await this.#ctx.db.selectFrom("alarm").selectAll().where("cleared_at", "is", null).orderBy("raised_at").orderBy("id").execute();
      return (rows as AlarmRow[]).map(toRecord);
    });
  }

  history(query: { limit: number; before?: Date }, options?: StoreCallOptions): Promise<AlarmRecord[]> {
    return guard(options, async () => {
      let q = this.#ctx.db.selectFrom("alarm").selectAll();
      if (query.before) q = q.where("raised_at", "<", query.before);
      const rows = await q.orderBy("raised_at", "desc").orderBy("id", "desc").limit(query.limit).execute();
      return (rows as AlarmRow[]).map(toRecord);
    });
  }

  get(id: string, options?: StoreCallOptions): Promise<AlarmRecord | null> {
    return guard(options, async () => {
      if (!ID.test(id)) return null;
      const row = await this.#ctx.db.selectFrom("alarm").selectAll().where("id", "=", id).executeTakeFirst();
      return row ? toRecord(row as AlarmRow) : null;
    });
  }

  acknowledge(id: string, by: string, now: Date, options?: StoreCallOptions): Promise<AlarmRecord> {
    return this.#update(id, { acked_by: by, acked_at: now }, options);
  }

  mute(id: string, by: string, until: Date | null, options?: StoreCallOptions): Promise<AlarmRecord> {
    return this.#update(id, until === null ? { muted_by: null, muted_until: null } : { muted_by: by, muted_until: until }, options);
  }

  #update(
    id: string,
    values: Partial<Pick<AlarmTable, "acked_by" | "acked_at" | "muted_by" | "muted_until">>,
    options?: StoreCallOptions,
  ): Promise<AlarmRecord> {
    return guard(options, async () => {
      const row = ID.test(id) ? await this.#ctx.db.updateTable("alarm").set(values).where("id", "=", id).returningAll().executeTakeFirst() : undefined;
      if (!row) throw new OtjError("OTJ_STORE_NOT_FOUND", `no alarm ${JSON.stringify(id.slice(0, 40))}`);
      return toRecord(row as AlarmRow);
    });
  }

  recordFetch(roomId: string, at: Date, via: string | null = null, options?: StoreCallOptions): Promise<void> {
    return guard(options, async () => {
      // Never moves back: a late write of an older fetch leaves the newer one.
      await sql`insert into device_fetch (room_id, fetched_at, via) values (${roomId}, ${at}, ${via})
        on conflict (room_id) do update set fetched_at = excluded.fetched_at, via = excluded.via
          where excluded.fetched_at >= device_fetch.fetched_at`.execute(this.#ctx.db);
    });
  }

  lastFetches(options?: StoreCallOptions): Promise<Map<string, DeviceFetch>> {
    return guard(options, async () => {
      const rows = await this.#ctx.db.selectFrom("device_fetch").select(["room_id", "fetched_at", "via"]).execute();
      return new Map(rows.map((r) => [r.room_id, { at: r.fetched_at, via: r.via }]));
    });
  }
}
