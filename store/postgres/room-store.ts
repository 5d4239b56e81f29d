import type { Kysely } from "kysely";
import { OtjError } from "../../core/errors.ts";
import type {
  AddRoomsOptions,
  AddRoomsResult,
  AddedRoom,
  NewRoom,
  Room,
  RoomChanges,
  RoomPage,
  RoomPageQuery,
  RoomStore,
  StoreCallOptions,
} from "../../core/ports/store.ts";
import type { Database, NewRoomRow, RoomRow } from "../database.ts";
import { secretsEqual } from "../../core/constant-time.ts";
import { newDeviceToken, newRoomId } from "../ids.ts";
import { toRoom } from "../row-mappers.ts";
import { roomPage } from "./room-page.ts";
import { roomQuery, whereIdOrMailbox } from "./room-query.ts";
import { type ValidRoom, validateNewRoom } from "../validation.ts";
import { type StoreContext, chunks, guard, readByIds, toStoreError } from "./guard.ts";

/** Rows per INSERT (20 columns each, well under PostgreSQL's 65 535 parameters). */
const INSERT_CHUNK = 1_000;
const PROGRESS_EVERY = 1_000;

type ProblemKind = "invalid" | "provider" | "duplicate";

interface ItemProblem {
  kind: ProblemKind;
  message: string;
}

/** The columns a validated room sets as they are (add and update); secrets and ids are the caller's. */
function roomColumns(room: ValidRoom) {
  return {
    display_name: room.displayName,
    device_family: room.deviceFamily,
    device_address: room.deviceAddress,
    device_username: room.deviceUsername,
    insecure_tls: room.insecureTls,
    allow_insecure_http: room.allowInsecureHttp,
    sip_uri: room.sipUri,
    private_meetings: room.privateMeetings,
    subject_replace: room.subjectReplace,
    subject_template: room.subjectTemplate,
    private_join: room.privateJoin,
    time_zone: room.timeZone,
    webrtc: room.webrtc.join(","),
    delivery: room.delivery,
    source: room.source,
  };
}

export class PostgresRoomStore implements RoomStore {
  readonly #ctx: StoreContext;

  constructor(ctx: StoreContext) {
    this.#ctx = ctx;
  }

  async add(input: NewRoom, now: Date, options?: StoreCallOptions): Promise<AddedRoom> {
    const outcome = await this.#addBatch([input], now, options ?? {});
    if (outcome.applied) {
      const [added] = outcome.rooms;
      if (added !== undefined) return added;
    } else {
      const problems = outcome.detailed[0] ?? [];
      const pick = (kind: ProblemKind) => problems.filter((p) => p.kind === kind).map((p) => p.message);
      if (pick("invalid").length > 0) throw new OtjError("OTJ_ROOM_INVALID", pick("invalid").join("; "), { details: { problems: pick("invalid") } });
      if (pick("provider").length > 0) throw new OtjError("OTJ_STORE_NOT_FOUND", pick("provider").join("; "));
      if (pick("duplicate").length > 0) throw new OtjError("OTJ_STORE_CONFLICT", pick("duplicate").join("; "));
    }
    throw new OtjError("OTJ_INTERNAL", "room was not added");
  }

  async addMany(inputs: readonly NewRoom[], now: Date, options: AddRoomsOptions = {}): Promise<AddRoomsResult> {
    const outcome = await this.#addBatch(inputs, now, options);
    if (outcome.applied) return outcome;
    const problems = [...outcome.detailed.entries()]
      .filter(([, list]) => list.length > 0)
      .map(([index, list]) => ({ index, messages: list.map((p) => p.message) }));
    return { applied: false, problems };
  }

  #addBatch(
    inputs: readonly NewRoom[],
    now: Date,
    options: AddRoomsOptions,
  ): Promise<{ applied: true; rooms: AddedRoom[] } | { applied: false; detailed: ItemProblem[][] }> {
    return guard(options, async () => {
      const total = inputs.length;
      const describe = options.describeItem ?? ((index: number) => `item ${index + 1}`);
      const detailed: ItemProblem[][] = inputs.map(() => []);
      const valid: Array<ValidRoom | null> = inputs.map((input, index) => {
        if ((index + 1) % PROGRESS_EVERY === 0) options.onProgress?.("validate", index + 1, total);
        const checked = validateNewRoom(input);
        if (checked.ok) return checked.value;
        detailed[index]?.push(...checked.problems.map((message) => ({ kind: "invalid" as const, message })));
        return null;
      });

      const providers = await this.#ctx.db.selectFrom("provider").select(["id", "name"]).execute();
      const providerByKey = new Map<string, { id: string; name: string }>();
      for (const p of providers) {
        providerByKey.set(p.id, p);
        providerByKey.set(p.name.toLowerCase(), p);
      }
      const firstIndexOf = new Map<string, number>();
      // An item with bad fields is still checked for its provider and mailbox, so that every
      // problem of a line is reported at once, not only the first kind found.
      valid.forEach((room, index) => {
        const input = inputs[index];
        const provider = room?.provider ?? (typeof input?.provider === "string" ? input.provider.trim() : "");
        const mailbox = room?.mailbox ?? (typeof input?.mailbox === "string" ? input.mailbox.trim().toLowerCase() : "");
        if (provider !== "" && !providerByKey.has(provider) && !providerByKey.has(provider.toLowerCase())) {
          detailed[index]?.push({ kind: "provider", message: `provider ${JSON.stringify(provider)} does not exist (add it with \`otj providers add\`)` });
        }
        if (mailbox === "") return;
        const first = firstIndexOf.get(mailbox);
        if (first === undefined) firstIndexOf.set(mailbox, index);
        else detailed[index]?.push({ kind: "duplicate", message: `mailbox ${mailbox} is repeated (first at ${describe(first)})` });
      });
      for (const batch of chunks([...firstIndexOf.keys()], INSERT_CHUNK)) {
        const existing = await this.#ctx.db.selectFrom("room").select("mailbox").where("mailbox", "in", batch).execute();
        for (const { mailbox } of existing) {
          const index = firstIndexOf.get(mailbox);
          if (index !== undefined) detailed[index]?.push({ kind: "duplicate", message: `a room with mailbox ${mailbox} already exists` });
        }
      }
      options.onProgress?.("validate", total, total);
      if (options.dryRun || detailed.some((list) => list.length > 0)) return { applied: false, detailed };

      const prepared = valid.map((room) => {
        if (room === null) throw new OtjError("OTJ_INTERNAL", "unvalidated room");
        const provider = providerByKey.get(room.provider) ?? providerByKey.get(room.provider.toLowerCase());
        const token = room.deviceToken ?? (room.deviceFamily === "pull" || room.delivery !== "xapi" ? newDeviceToken() : null);
        const id = newRoomId();
        const row: NewRoomRow = {
          id,
          mailbox: room.mailbox,
          ...roomColumns(room),
          provider_id: provider?.id ?? null,
          device_password: room.devicePassword === null ? null : this.#ctx.secrets.seal(room.devicePassword, id),
          device_token: token === null ? null : this.#ctx.secrets.seal(token, id),
          enabled: true,
          created_at: now,
          updated_at: now,
        };
        return { row, token, providerName: provider?.name ?? null };
      });

      const added: AddedRoom[] = [];
      try {
        await this.#inTransaction(async (trx) => {
          for (const batch of chunks(prepared, INSERT_CHUNK)) {
            options.signal?.throwIfAborted();
            const rows = await trx
              .insertInto("room")
              .values(batch.map((p) => p.row))
              .returningAll()
              .execute();
            await trx
              .insertInto("sync_cursor")
              .values(batch.map((p) => ({ room_id: p.row.id, due_at: now, updated_at: now, consecutive_failures: 0 })))
              .execute();
            const byId = new Map(batch.map((p) => [p.row.id, p]));
            for (const row of rows) {
              const p = byId.get(row.id);
              added.push({ room: toRoom({ ...row, provider_name: p?.providerName ?? null }), deviceToken: p?.token ?? null });
            }
            options.onProgress?.("write", added.length, total);
          }
        });
      } catch (error) {
        const mapped = toStoreError(error);
        if (mapped.code === "OTJ_STORE_CONFLICT") {
          throw new OtjError("OTJ_STORE_CONFLICT", "another process added one of these rooms meanwhile; nothing was added", { cause: error });
        }
        throw mapped;
      }
      return { applied: true, rooms: added };
    });
  }

  get(idOrMailbox: string, options?: StoreCallOptions): Promise<Room | null> {
    return guard(options, async () => {
      const row = await roomQuery(this.#ctx.db).where(whereIdOrMailbox(idOrMailbox)).executeTakeFirst();
      return row === undefined ? null : toRoom(row);
    });
  }

  getMany(ids: readonly string[], options?: StoreCallOptions): Promise<Room[]> {
    return guard(options, () => readByIds(ids, async (batch) => (await roomQuery(this.#ctx.db).where("room.id", "in", batch).execute()).map(toRoom)));
  }

  list(filter: { providerId?: string; enabled?: boolean } = {}, options?: StoreCallOptions): Promise<Room[]> {
    return guard(options, async () => {
      let query = roomQuery(this.#ctx.db).orderBy("room.mailbox");
      if (filter.providerId !== undefined) query = query.where("room.provider_id", "=", filter.providerId);
      if (filter.enabled !== undefined) query = query.where("room.enabled", "=", filter.enabled);
      return (await query.execute()).map(toRoom);
    });
  }

  countByProvider(options?: StoreCallOptions): Promise<Map<string, number>> {
    return guard(options, async () => {
      const rows = await this.#ctx.db
        .selectFrom("room")
        .select(["provider_id", (eb) => eb.fn.countAll<string>().as("n")])
        .where("provider_id", "is not", null)
        .groupBy("provider_id")
        .execute();
      return new Map(rows.map((r) => [r.provider_id!, Number(r.n)]));
    });
  }

  page(query: RoomPageQuery, options?: StoreCallOptions): Promise<RoomPage> {
    return guard(options, () => roomPage(this.#ctx.db, query));
  }

  update(idOrMailbox: string, changes: RoomChanges, now: Date, options?: StoreCallOptions): Promise<Room> {
    return guard(options, () =>
      this.#inTransaction(async (trx) => {
        const current = await roomQuery(trx).where(whereIdOrMailbox(idOrMailbox)).forUpdate("room").executeTakeFirst();
        if (current === undefined) throw new OtjError("OTJ_STORE_NOT_FOUND", `no room "${idOrMailbox}"`);
        const family = changes.deviceFamily ?? current.device_family;
        const credentials = family.trim().toLowerCase() === "xapi" || family.trim().toLowerCase() === "xapi-legacy";
        const merged: NewRoom = {
          mailbox: current.mailbox,
          displayName: changes.displayName ?? current.display_name,
          provider: changes.provider ?? current.provider_id ?? "",
          deviceFamily: family,
          deviceAddress: changes.deviceAddress !== undefined ? changes.deviceAddress : current.device_address,
          deviceUsername: changes.deviceUsername !== undefined ? changes.deviceUsername : credentials ? current.device_username : null,
          // The stored password is checked when it was changed only; a placeholder keeps the rules.
          devicePassword: changes.devicePassword !== undefined ? changes.devicePassword : credentials && current.device_password !== null ? "kept" : null,
          insecureTls: changes.insecureTls ?? current.insecure_tls,
          allowInsecureHttp: changes.allowInsecureHttp ?? current.allow_insecure_http,
          sipUri: changes.sipUri !== undefined ? changes.sipUri : current.sip_uri,
          privateMeetings: changes.privateMeetings ?? current.private_meetings,
          subjectReplace: changes.subjectReplace ?? current.subject_replace,
          subjectTemplate: changes.subjectTemplate ?? current.subject_template,
          privateJoin: changes.privateJoin ?? current.private_join,
          timeZone: changes.timeZone !== undefined ? changes.timeZone : current.time_zone,
          webrtc: changes.webrtc !== undefined ? changes.webrtc : current.webrtc,
          // A new family chooses its own default delivery unless one is given.
          ...(changes.delivery !== undefined ? { delivery: changes.delivery } : changes.deviceFamily === undefined ? { delivery: current.delivery } : {}),
          source: changes.source ?? current.source,
        };
        const checked = validateNewRoom(merged);
        if (!checked.ok) throw new OtjError("OTJ_ROOM_INVALID", checked.problems.join("; "), { details: { problems: checked.problems } });
        const room = checked.value;
        // "Write-only" passwords: the stored one is only ever sent to the address it was given for.
        if (credentials && current.device_password !== null && changes.devicePassword === undefined && room.deviceAddress !== current.device_address) {
          throw new OtjError(
            "OTJ_ROOM_INVALID",
            `the device address changes (${current.device_address ?? "-"} -> ${room.deviceAddress ?? "-"}): enter the device password again; the stored one is never sent to a new address`,
          );
        }
        const key = room.provider;
        const provider = await trx
          .selectFrom("provider")
          .select(["id", "name"])
          .where((eb) => eb.or([eb("id", "=", key), eb(eb.fn("lower", ["name"]), "=", key.toLowerCase())]))
          .executeTakeFirst();
        if (provider === undefined)
          throw new OtjError("OTJ_STORE_NOT_FOUND", `provider ${JSON.stringify(key)} does not exist (add it with \`otj providers add\`)`);
        // No password (cleared, or a family without credentials), a new one, or the stored one.
        const password =
          room.devicePassword === null
            ? null
            : changes.devicePassword !== undefined
              ? this.#ctx.secrets.seal(room.devicePassword, current.id)
              : current.device_password;
        const row = await trx
          .updateTable("room")
          .set({
            ...roomColumns(room),
            provider_id: provider.id,
            device_password: password,
            updated_at: now,
          })
          .where("id", "=", current.id)
          .returningAll()
          .executeTakeFirstOrThrow();
        return toRoom({ ...row, provider_name: provider.name });
      }),
    );
  }

  applyImport(
    adds: readonly NewRoom[],
    changes: ReadonlyArray<{ room: string; changes: RoomChanges }>,
    now: Date,
    options?: StoreCallOptions,
  ): Promise<{ added: AddedRoom[]; changed: Room[] }> {
    return guard(options, () =>
      this.#ctx.db.transaction().execute(async (trx) => {
        // The same checks and writes as addMany and update, on this one transaction.
        const inside = new PostgresRoomStore({ ...this.#ctx, db: trx });
        const outcome = adds.length > 0 ? await inside.addMany(adds, now) : { applied: true as const, rooms: [] };
        if (!outcome.applied) throw new OtjError("OTJ_STORE_CONFLICT", "the rooms changed since the file was checked; nothing was written");
        const changed: Room[] = [];
        for (const change of changes) changed.push(await inside.update(change.room, change.changes, now, options));
        return { added: outcome.rooms, changed };
      }),
    );
  }

  setEnabled(ids: readonly string[], enabled: boolean, now: Date, options?: StoreCallOptions): Promise<Room[]> {
    return guard(options, async () => {
      if (ids.length === 0) return [];
      const changed = await this.#ctx.db
        .updateTable("room")
        .set({ enabled, updated_at: now })
        .where("id", "in", [...ids])
        .where("enabled", "=", !enabled)
        .returning("id")
        .execute();
      return changed.length === 0
        ? []
        : this.getMany(
            changed.map((r) => r.id),
            options,
          );
    });
  }

  /** Runs `work` in a new transaction, or in the one this store was made for (applyImport). */
  #inTransaction<T>(work: (trx: Kysely<Database>) => Promise<T>): Promise<T> {
    return this.#ctx.db.isTransaction ? work(this.#ctx.db) : this.#ctx.db.transaction().execute(work);
  }

  remove(idOrMailbox: string, options?: StoreCallOptions): Promise<Room> {
    return guard(options, () =>
      this.#ctx.db.transaction().execute(async (trx) => {
        const row = await roomQuery(trx).where(whereIdOrMailbox(idOrMailbox)).executeTakeFirst();
        if (row === undefined) throw new OtjError("OTJ_STORE_NOT_FOUND", `no room "${idOrMailbox}"`);
        await trx.deleteFrom("room").where("id", "=", row.id).execute();
        return toRoom(row);
      }),
    );
  }

  deviceCredentials(roomId: string, options?: StoreCallOptions): Promise<{ username: string | null; password: string | null } | null> {
    return guard(options, async () => {
      const row = await this.#ctx.db.selectFrom("room").select(["device_username", "device_password"]).where("id", "=", roomId).executeTakeFirst();
      if (row === undefined || (row.device_username === null && row.device_password === null)) return null;
      return {
        username: row.device_username,
        password: row.device_password === null ? null : this.#ctx.secrets.open(row.device_password, roomId),
      };
    });
  }

  deviceToken(idOrMailbox: string, options?: StoreCallOptions): Promise<string | null> {
    return guard(options, async () => {
      const row = await this.#tokenRow(idOrMailbox);
      if (row === undefined) throw new OtjError("OTJ_STORE_NOT_FOUND", `no room "${idOrMailbox}"`);
      return row.device_token === null ? null : this.#ctx.secrets.open(row.device_token, row.id);
    });
  }

  rotateDeviceToken(idOrMailbox: string, now: Date, options?: StoreCallOptions): Promise<string> {
    return guard(options, async () => {
      const token = newDeviceToken();
      const room = await this.#tokenRow(idOrMailbox);
      // The sealed token is bound to the room id, so the row is found first.
      const updated =
        room &&
        (await this.#ctx.db
          .updateTable("room")
          .set({ device_token: this.#ctx.secrets.seal(token, room.id), updated_at: now })
          .where("id", "=", room.id)
          .returning("id")
          .executeTakeFirst());
      if (!updated) throw new OtjError("OTJ_STORE_NOT_FOUND", `no room "${idOrMailbox}"`);
      return token;
    });
  }

  verifyDeviceToken(idOrMailbox: string, token: string, options?: StoreCallOptions): Promise<Room | null> {
    return guard(options, async () => {
      const row = await roomQuery(this.#ctx.db).where(whereIdOrMailbox(idOrMailbox)).executeTakeFirst();
      if (row === undefined || row.device_token === null) {
        // Same work as a real comparison, so timing does not tell whether the room exists.
        secretsEqual(token, "\u0000no-token");
        return null;
      }
      return secretsEqual(this.#ctx.secrets.open(row.device_token, row.id), token) ? toRoom(row) : null;
    });
  }

  #tokenRow(idOrMailbox: string): Promise<Pick<RoomRow, "id" | "device_token"> | undefined> {
    return this.#ctx.db.selectFrom("room").select(["id", "device_token"]).where(whereIdOrMailbox(idOrMailbox)).executeTakeFirst();
  }
}
