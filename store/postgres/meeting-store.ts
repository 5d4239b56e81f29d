import { sql } from "kysely";
import type { Meeting, MeetingPlan, MeetingStore, MeetingUpsert, MeetingUpsertResult, StoreCallOptions } from "../../core/ports/store.ts";
import { fromMeeting, toMeeting } from "../row-mappers.ts";
import { type StoreContext, chunks, guard, readByIds } from "./guard.ts";

/** Rows per upsert statement (25 columns each). */
const UPSERT_CHUNK = 500;

const UPDATED_COLUMNS = [
  "room_id",
  "source",
  "source_event_id",
  "series_master_id",
  "ical_uid",
  "change_key",
  "start_at",
  "end_at",
  "subject",
  "organizer_name",
  "organizer_email",
  "sensitivity",
  "cancelled",
  "declined",
  "join_info",
  "route",
  "dial_string",
  "ivr",
  "rule",
  "subject_shown",
  "explain",
  "content_hash",
  "updated_at",
] as const;

export class PostgresMeetingStore implements MeetingStore {
  readonly #ctx: StoreContext;

  constructor(ctx: StoreContext) {
    this.#ctx = ctx;
  }

  upsert(meetings: readonly MeetingUpsert[], now: Date, options?: StoreCallOptions): Promise<MeetingUpsertResult[]> {
    return guard(options, async () => {
      // The last item of a repeated key wins (one statement cannot touch a row twice).
      const byKey = new Map<string, MeetingUpsert>();
      for (const meeting of meetings) byKey.set(meeting.occurrenceKey, meeting);
      const changes = new Map<string, MeetingUpsertResult["change"]>();
      for (const batch of chunks([...byKey.values()], UPSERT_CHUNK)) {
        options?.signal?.throwIfAborted();
        // `xmax = 0` tells an inserted row from an updated one; rows whose content hash did not
        // change are not written and not returned.
        const rows = await this.#ctx.db
          .insertInto("meeting")
          .values(batch.map((m) => fromMeeting(m, now)))
          .onConflict((oc) =>
            oc
              .column("occurrence_key")
              .doUpdateSet((eb) => Object.fromEntries(UPDATED_COLUMNS.map((column) => [column, eb.ref(`excluded.${column}`)])))
              .where("meeting.content_hash", "is distinct from", (eb) => eb.ref("excluded.content_hash")),
          )
          .returning(["occurrence_key", sql<boolean>`(xmax = 0)`.as("inserted")])
          .execute();
        for (const row of rows) changes.set(row.occurrence_key, row.inserted ? "added" : "updated");
      }
      return meetings.map((m) => ({ occurrenceKey: m.occurrenceKey, change: changes.get(m.occurrenceKey) ?? "unchanged" }));
    });
  }

  setPlan(occurrenceKey: string, plan: MeetingPlan, now: Date, options?: StoreCallOptions): Promise<boolean> {
    return guard(options, async () => {
      const result = await this.#ctx.db
        .updateTable("meeting")
        .set({
          route: plan.route,
          dial_string: plan.dialString,
          ivr: plan.ivr === null ? null : JSON.stringify(plan.ivr),
          rule: plan.rule,
          subject_shown: plan.subjectShown,
          ...(plan.explain !== undefined ? { explain: plan.explain === null ? null : JSON.stringify(plan.explain) } : {}),
          updated_at: now,
        })
        .where("occurrence_key", "=", occurrenceKey)
        .executeTakeFirst();
      return Number(result.numUpdatedRows) > 0;
    });
  }

  get(occurrenceKey: string, options?: StoreCallOptions): Promise<Meeting | null> {
    return guard(options, async () => {
      const row = await this.#ctx.db.selectFrom("meeting").selectAll().where("occurrence_key", "=", occurrenceKey).executeTakeFirst();
      return row === undefined ? null : toMeeting(row);
    });
  }

  getMany(occurrenceKeys: readonly string[], options?: StoreCallOptions): Promise<Meeting[]> {
    return guard(options, () =>
      readByIds(occurrenceKeys, async (batch) =>
        (await this.#ctx.db.selectFrom("meeting").selectAll().where("occurrence_key", "in", batch).execute()).map(toMeeting),
      ),
    );
  }

  list(roomId: string, range: { from?: Date; to?: Date; includeCancelled?: boolean } = {}, options?: StoreCallOptions): Promise<Meeting[]> {
    return this.#query(roomId, range, options);
  }

  nextForRooms(roomIds: readonly string[], now: Date, to: Date, options?: StoreCallOptions): Promise<Meeting[]> {
    return guard(options, async () => {
      return readByIds(roomIds, async (batch) => {
        const rows = await this.#ctx.db
          .selectFrom("meeting")
          .selectAll()
          .distinctOn("room_id")
          .where("room_id", "in", batch)
          .where("end_at", ">", now)
          .where("start_at", "<", to)
          .where("cancelled", "=", false)
          .where("declined", "=", false)
          .orderBy("room_id")
          .orderBy(sql`start_at >= ${now}::timestamptz`, "desc")
          .orderBy("start_at")
          .orderBy("occurrence_key")
          .execute();
        return rows.map(toMeeting);
      });
    });
  }

  listAll(range: { from?: Date; to?: Date; includeCancelled?: boolean }, options?: StoreCallOptions): Promise<Meeting[]> {
    return this.#query(null, range, options);
  }

  #query(roomId: string | null, range: { from?: Date; to?: Date; includeCancelled?: boolean }, options?: StoreCallOptions): Promise<Meeting[]> {
    return guard(options, async () => {
      let query = this.#ctx.db.selectFrom("meeting").selectAll();
      if (roomId !== null) query = query.where("room_id", "=", roomId);
      if (range.from !== undefined) query = query.where("end_at", ">", range.from);
      if (range.to !== undefined) query = query.where("start_at", "<", range.to);
      if (!range.includeCancelled) query = query.where("cancelled", "=", false).where("declined", "=", false);
      const rows = await query.orderBy("room_id").orderBy("start_at").orderBy("occurrence_key").execute();
      return rows.map(toMeeting);
    });
  }

  findByIcalUid(roomId: string, icalUid: string, options?: StoreCallOptions): Promise<Meeting[]> {
    return guard(options, async () => {
      const rows = await this.#ctx.db
        .selectFrom("meeting")
        .selectAll()
        .where("room_id", "=", roomId)
        .where("ical_uid", "=", icalUid)
        .orderBy("start_at")
        .execute();
      return rows.map(toMeeting);
    });
  }

  remove(occurrenceKeys: readonly string[], options?: StoreCallOptions): Promise<string[]> {
    return guard(options, async () => {
      const removed: string[] = [];
      for (const batch of chunks(occurrenceKeys, 5_000)) {
        const rows = await this.#ctx.db.deleteFrom("meeting").where("occurrence_key", "in", batch).returning("occurrence_key").execute();
        removed.push(...rows.map((r) => r.occurrence_key));
      }
      return removed;
    });
  }

  removeBySourceEventIds(roomId: string, eventIds: readonly string[], options?: StoreCallOptions): Promise<string[]> {
    return guard(options, async () => {
      const removed: string[] = [];
      for (const batch of chunks(eventIds, 5_000)) {
        const rows = await this.#ctx.db
          .deleteFrom("meeting")
          .where("room_id", "=", roomId)
          .where((eb) => eb.or([eb("source_event_id", "in", batch), eb("series_master_id", "in", batch)]))
          .returning("occurrence_key")
          .execute();
        removed.push(...rows.map((r) => r.occurrence_key));
      }
      return removed;
    });
  }

  removeAllExcept(roomId: string, keep: readonly string[], options?: StoreCallOptions): Promise<string[]> {
    return guard(options, async () => {
      let query = this.#ctx.db.deleteFrom("meeting").where("room_id", "=", roomId);
      if (keep.length > 0) query = query.where("occurrence_key", "not in", keep);
      const rows = await query.returning("occurrence_key").execute();
      return rows.map((r) => r.occurrence_key);
    });
  }
}
