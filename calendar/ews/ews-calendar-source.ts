/**
 * EwsCalendarSource: the CalendarSource port on Exchange Web Services (Exchange Server 2016,
 * 2019, SE; Exchange Online through hybrid OAuth).
 *
 * EWS has no delta query for a calendar view, so a round is:
 * 1. `FindItem` with a `CalendarView` over the window on the room's calendar (IdOnly: ItemId with
 *    ChangeKey). The view expands recurring series into occurrences and exceptions. CalendarView
 *    cannot page; a view with more than `pageSize` items is split into smaller time ranges.
 * 2. `GetItem` (batches of `getItemBatchSize`) for the items whose ChangeKey differs from the
 *    cursor's, with the HTML body, UID, organizer, sensitivity, cancellation, response.
 * 3. Items of the cursor no longer in the view are `removedIds`.
 *
 * The cursor is the view itself (ItemId → ChangeKey, deflated), handed back only after a
 * complete round, so a restart mid-round repeats the round from the previous cursor and loses
 * nothing. Throttling (`ErrorServerBusy` with `BackOffMilliseconds`) and transient failures are
 * retried a bounded number of times within the round's time budget.
 */

import { deflateRawSync, inflateRawSync } from "node:zlib";
import type { Logger } from "pino";
import type { Clock } from "../../core/clock.ts";
import { OtjError } from "../../core/errors.ts";
import type { CalendarSource, DiscoveredRoom, RoomCheck, RoomSyncResult, SourceOccurrence, SyncCursor, TimeWindow } from "../../core/ports/calendar-source.ts";
import { checkableMailboxes } from "../graph/graph-calendar-source.ts";
import { positiveOption, RequestRetry, type RoundState, retryLimits, type Sleeper, type SourceClock, sleeperFor } from "../request-retry.ts";
import { deltaLoop as guardStop, fullRoundReason, normaliseMailbox, normaliseWindow, type RoundGuard, roundStats } from "../sync-round.ts";
import { retryDelayMs } from "../graph/graph-error-mapper.ts";
import { type EwsClient, messageError } from "./ews-client.ts";
import { mapEwsItem } from "./ews-item-mapper.ts";
import { attr, child, children, text, type Xml, type XmlNode } from "./ews-soap.ts";

function deltaLoop(state: RoundState, guard: RoundGuard): OtjError {
  return guardStop(state.mailbox, guard, state.pages);
}

export interface EwsCalendarSourceOptions {
  /** `MaxEntriesReturned` of one CalendarView page (default 200; EWS's find limit is 1000). */
  readonly pageSize?: number;
  /** Items per GetItem request (default 50). */
  readonly getItemBatchSize?: number;
  /** `poll.maxPagesPerRound` (default 500). */
  readonly maxPagesPerRound?: number;
  /** `poll.roundBudgetSeconds`: time budget of one round, waits included (default 120). */
  readonly roundBudgetSeconds?: number;
  /** Retries of one request after throttling or a transient failure (default 4). */
  readonly maxRetries?: number;
  /** A single wait longer than this is not waited out (default 60 s). */
  readonly maxWaitMs?: number;
}

export interface EwsCalendarSourceDeps {
  readonly client: EwsClient;
  readonly clock: SourceClock;
  readonly sleep?: Sleeper;
  readonly random?: () => number;
  readonly logger?: Logger;
}

const CURSOR_PREFIX = "ews1.";
const CHECK_CONCURRENCY = 4;
/** A full view is split down to ranges of one minute at the least. */
const MIN_SPLIT_MS = 60_000;

/** What GetItem reads of each changed item. */
const ITEM_FIELDS = [
  "item:Subject",
  "item:Body",
  "item:Sensitivity",
  "item:LastModifiedTime",
  "calendar:UID",
  "calendar:RecurrenceId",
  "calendar:Start",
  "calendar:End",
  "calendar:IsAllDayEvent",
  "calendar:IsCancelled",
  "calendar:CalendarItemType",
  "calendar:MyResponseType",
  "calendar:Organizer",
  "calendar:Location",
  "calendar:RequiredAttendees",
  "calendar:OptionalAttendees",
  "calendar:JoinOnlineMeetingUrl",
];

export class EwsCalendarSource implements CalendarSource {
  readonly #client: EwsClient;
  readonly #clock: Pick<Clock, "now">;
  readonly #logger: Logger | undefined;
  readonly #pageSize: number;
  readonly #batchSize: number;
  readonly #pageCap: number;
  readonly #retry: RequestRetry;

  constructor(options: EwsCalendarSourceOptions, deps: EwsCalendarSourceDeps) {
    this.#client = deps.client;
    this.#clock = deps.clock;
    const random = deps.random ?? Math.random;
    this.#logger = deps.logger?.child({ component: "ews-calendar-source" });
    this.#pageSize = positiveOption("EwsCalendarSource", "pageSize", options.pageSize ?? 200);
    this.#batchSize = positiveOption("EwsCalendarSource", "getItemBatchSize", options.getItemBatchSize ?? 50);
    this.#pageCap = positiveOption("EwsCalendarSource", "maxPagesPerRound", options.maxPagesPerRound ?? 500);
    this.#retry = new RequestRetry({
      clock: this.#clock,
      sleep: sleeperFor(deps.clock, deps.sleep),
      ...retryLimits("EwsCalendarSource", options, 4),
      logger: this.#logger,
      retryMessage: "EWS request retry",
      // EWS rounds have no page loop of their own to check the budget: every request does.
      beforeAttempt: (state) => {
        if (this.#clock.now().getTime() >= state.deadline) throw deltaLoop(state, "time-budget");
      },
      classify: (error, attempt) =>
        error instanceof OtjError ? { error, code: error.code, waitMs: () => retryDelayMs(error, attempt, random) } : { error, waitMs: () => null },
    });
  }

  /**
   * Checks the credentials: obtains a token (OAuth) and sends one `GetRoomLists` (Basic), so a
   * wrong password shows at start-up.
   * @throws OtjError `OTJ_EWS_AUTH` or `OTJ_EWS_UNAVAILABLE`.
   */
  async connect(signal: AbortSignal): Promise<void> {
    await this.#client.connect(signal);
    try {
      await this.#client.call("GetRoomLists", {}, null, signal);
    } catch (error) {
      // Only credentials and reachability matter here; a directory the account may not list does not.
      if (!(error instanceof OtjError) || ["OTJ_EWS_AUTH", "OTJ_EWS_UNAVAILABLE", "OTJ_EWS_THROTTLED"].includes(error.code)) throw error;
    }
  }

  async syncRoom(mailbox: string, cursor: SyncCursor | null, window: TimeWindow, signal: AbortSignal): Promise<RoomSyncResult> {
    const room = normaliseMailbox(mailbox);
    const w = normaliseWindow(window);
    const state = this.#state(room, signal);
    let reason = fullRoundReason(cursor, w);
    let known = new Map<string, string>();
    if (reason === null) {
      const decoded = decodeCursor(cursor!.token);
      if (decoded === null) {
        this.#logger?.info({ roomMailbox: room }, "EWS cursor unreadable; full resync");
        reason = "cursor-expired";
      } else known = decoded;
    }
    const warnings: string[] = [];
    const view = await this.#view(w, state);
    const wanted = [...view].filter(([id, key]) => known.get(id) !== key).map(([id]) => id);
    const next = new Map(view);
    const removed = new Set(reason === null ? [...known.keys()].filter((id) => !view.has(id)) : []);
    const changed: SourceOccurrence[] = [];
    for (let i = 0; i < wanted.length; i += this.#batchSize) {
      const batch = wanted.slice(i, i + this.#batchSize);
      const messages = await this.#getItems(batch, state);
      batch.forEach((id, n) => {
        const message = messages[n]!;
        const failure = messageError(message, `GetItem for ${room}`);
        if (failure !== null) {
          next.delete(id);
          if (text(message, "ResponseCode") === "ErrorItemNotFound") {
            // Deleted between FindItem and GetItem.
            if (known.has(id)) removed.add(id);
          } else warnings.push(`skipped an item: ${failure.code} ${String(failure.details?.["ewsCode"] ?? "")}`.trim());
          return;
        }
        const item = children(child(message, "Items"), "CalendarItem")[0];
        const mapped = item ? mapEwsItem(item) : ({ ok: false, id, reason: "GetItem returned no calendar item" } as const);
        if (!mapped.ok) {
          warnings.push(`skipped item ${id}: ${mapped.reason}`);
          return;
        }
        // GetItem's ChangeKey is the newer one when the item changed since FindItem.
        next.set(id, mapped.occurrence.changeKey ?? view.get(id) ?? "");
        changed.push(mapped.occurrence.sourceId === id ? mapped.occurrence : { ...mapped.occurrence, sourceId: id });
      });
    }
    return {
      mailbox: room,
      full: reason !== null,
      reason,
      changed,
      removedIds: [...removed],
      cursor: { token: encodeCursor(next), window: w },
      warnings,
      stats: roundStats(state),
    };
  }

  /**
   * The window's CalendarView: ItemId → ChangeKey. A view cut short by `MaxEntriesReturned`
   * (`IncludesLastItemInRange` false) is split in two halves, each read on its own, until every
   * range fits in a page; items spanning both halves are merged by ItemId. A range that cannot be
   * split further (more meetings at one minute than a page holds) stops the round.
   */
  async #view(w: TimeWindow, state: RoundState): Promise<Map<string, string>> {
    const view = new Map<string, string>();
    const ranges: [number, number][] = [[Date.parse(w.start), Date.parse(w.end)]];
    for (let range = ranges.pop(); range !== undefined; range = ranges.pop()) {
      if (state.pages >= this.#pageCap) throw deltaLoop(state, "page-cap");
      const [from, to] = range;
      const body: XmlNode = {
        "@Traversal": "Shallow",
        "m:ItemShape": { "t:BaseShape": "IdOnly" },
        "m:CalendarView": { "@MaxEntriesReturned": this.#pageSize, "@StartDate": new Date(from).toISOString(), "@EndDate": new Date(to).toISOString() },
        "m:ParentFolderIds": { "t:DistinguishedFolderId": { "@Id": "calendar", "t:Mailbox": { "t:EmailAddress": state.mailbox } } },
      };
      const message = await this.#request(state, async () => {
        const [m] = await this.#client.call("FindItem", body, state.mailbox, state.signal);
        if (m === undefined) throw badResponse(state, "FindItem answered without a response message");
        const error = messageError(m, `FindItem for ${state.mailbox}`);
        if (error !== null) throw error;
        return m;
      });
      state.pages++;
      const root = child(message, "RootFolder");
      if (root === null) throw badResponse(state, "FindItem answered without a RootFolder");
      for (const item of children(child(root, "Items"), "CalendarItem")) {
        const itemId = child(item, "ItemId");
        const id = attr(itemId, "Id");
        if (id) view.set(id, attr(itemId, "ChangeKey") ?? "");
      }
      if (attr(root, "IncludesLastItemInRange") !== "false") continue;
      if (to - from <= MIN_SPLIT_MS) throw deltaLoop(state, "repeated-page");
      const middle = from + Math.floor((to - from) / 2 / MIN_SPLIT_MS) * MIN_SPLIT_MS || from + MIN_SPLIT_MS;
      ranges.push([middle, to], [from, middle]);
    }
    return view;
  }

  /** GetItem for `ids`: one response message per id, in order. */
  async #getItems(ids: readonly string[], state: RoundState): Promise<Xml[]> {
    const body: XmlNode = {
      "m:ItemShape": {
        "t:BaseShape": "IdOnly",
        "t:BodyType": "HTML",
        "t:AdditionalProperties": { "t:FieldURI": ITEM_FIELDS.map((f) => ({ "@FieldURI": f })) },
      },
      "m:ItemIds": { "t:ItemId": ids.map((id) => ({ "@Id": id })) },
    };
    return this.#request(state, async () => {
      const messages = await this.#client.call("GetItem", body, state.mailbox, state.signal);
      if (messages.length !== ids.length) throw badResponse(state, `GetItem answered ${messages.length} messages for ${ids.length} items`);
      // A busy server answers item by item; the whole batch is repeated after its back-off.
      for (const m of messages) {
        const error = messageError(m, `GetItem for ${state.mailbox}`);
        if (error?.retryable) throw error;
      }
      return messages;
    });
  }

  /** Runs one request, retrying retryable failures within the round's budget. */
  #request<T>(state: RoundState, send: () => Promise<T>): Promise<T> {
    return this.#retry.run(state, send);
  }

  #state(mailbox: string, signal: AbortSignal): RoundState {
    return this.#retry.state(mailbox, signal);
  }

  /** Rooms of every room list (`GetRoomLists`, then `GetRooms` per list). EWS knows no capacity, building or floor. */
  async listRooms(signal: AbortSignal): Promise<DiscoveredRoom[]> {
    const state = this.#state("", signal);
    const [listsMessage] = await this.#request(state, () => this.#checked("GetRoomLists", {}, state));
    const rooms = new Map<string, { displayName: string; roomLists: { mailbox: string; displayName: string }[] }>();
    for (const list of children(child(listsMessage, "RoomLists"), "Address")) {
      const listMailbox = text(list, "EmailAddress")?.toLowerCase();
      if (!listMailbox) continue;
      const ref = { mailbox: listMailbox, displayName: text(list, "Name") ?? listMailbox };
      const [roomsMessage] = await this.#request(state, () => this.#checked("GetRooms", { "m:RoomList": { "t:EmailAddress": listMailbox } }, state));
      for (const r of children(child(roomsMessage, "Rooms"), "Room")) {
        const id = child(r, "Id");
        const address = text(id, "EmailAddress")?.toLowerCase();
        if (!address) continue;
        const entry = rooms.get(address) ?? { displayName: text(id, "Name") ?? address, roomLists: [] };
        entry.roomLists.push(ref);
        rooms.set(address, entry);
      }
    }
    return [...rooms].map(([address, r]) => ({
      mailbox: address,
      displayName: r.displayName,
      capacity: null,
      building: null,
      floor: null,
      roomLists: r.roomLists,
    }));
  }

  /** One directory call whose response messages must all succeed. */
  async #checked(operation: string, body: XmlNode, state: RoundState): Promise<Xml[]> {
    const messages = await this.#client.call(operation, body, null, state.signal);
    if (messages.length === 0) throw badResponse(state, `${operation} answered without a response message`);
    for (const m of messages) {
      const error = messageError(m, operation);
      if (error !== null) throw error;
    }
    return messages;
  }

  async checkRooms(mailboxes: readonly string[], signal: AbortSignal): Promise<RoomCheck[]> {
    const { outcome, pending } = checkableMailboxes(mailboxes);
    const from = new Date(Math.floor(this.#clock.now().getTime() / 3_600_000) * 3_600_000);
    const probe: TimeWindow = { start: from.toISOString(), end: new Date(from.getTime() + 3_600_000).toISOString() };
    let authFailure: OtjError | null = null;
    const work = async () => {
      for (let m = pending.shift(); m !== undefined; m = pending.shift()) {
        const state = this.#state(m, signal);
        const body: XmlNode = {
          "@Traversal": "Shallow",
          "m:ItemShape": { "t:BaseShape": "IdOnly" },
          "m:CalendarView": { "@MaxEntriesReturned": 1, "@StartDate": probe.start, "@EndDate": probe.end },
          "m:ParentFolderIds": { "t:DistinguishedFolderId": { "@Id": "calendar", "t:Mailbox": { "t:EmailAddress": m } } },
        };
        try {
          await this.#request(state, async () => {
            const [message] = await this.#client.call("FindItem", body, m, signal);
            const error = message ? messageError(message, `FindItem for ${m}`) : badResponse(state, "FindItem answered without a response message");
            if (error !== null) throw error;
          });
          outcome.set(m, { mailbox: m, ok: true });
        } catch (error) {
          if (signal.aborted) throw signal.reason;
          const e = error instanceof OtjError ? error : new OtjError("OTJ_INTERNAL", String(error), { cause: error });
          if (e.code === "OTJ_EWS_AUTH") authFailure ??= e;
          outcome.set(m, { mailbox: m, ok: false, error: e });
        }
      }
    };
    await Promise.all(Array.from({ length: CHECK_CONCURRENCY }, work));
    const results = mailboxes.map((m) => outcome.get(m.trim().toLowerCase())!);
    if (authFailure !== null && results.every((r) => !r.ok)) throw authFailure;
    return results;
  }
}

/** The cursor token: `ews1.` + base64url(deflate(JSON [[itemId, changeKey], …])). */
export function encodeCursor(view: ReadonlyMap<string, string>): string {
  return CURSOR_PREFIX + deflateRawSync(Buffer.from(JSON.stringify([...view]), "utf8")).toString("base64url");
}

/** The view a cursor token holds, or null when it is not one of ours (then the round is full). */
export function decodeCursor(token: string): Map<string, string> | null {
  if (!token.startsWith(CURSOR_PREFIX)) return null;
  try {
    const entries = JSON.parse(
      inflateRawSync(Buffer.from(token.slice(CURSOR_PREFIX.length), "base64url"), { maxOutputLength: 64 * 1024 * 1024 }).toString("utf8"),
    ) as unknown;
    if (!Array.isArray(entries)) return null;
    const view = new Map<string, string>();
    for (const e of entries) {
      if (!Array.isArray(e) || typeof e[0] !== "string" || typeof e[1] !== "string") return null;
      view.set(e[0], e[1]);
    }
    return view;
  } catch {
    return null;
  }
}

function badResponse(state: RoundState, what: string): OtjError {
  return new OtjError("OTJ_EWS_BAD_RESPONSE", `${state.mailbox || "directory"}: ${what}`, { details: { backoff: "none" } });
}
