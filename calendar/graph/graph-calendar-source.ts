/**
 * GraphCalendarSource: the CalendarSource port on Microsoft Graph.
 *
 * A round walks `calendarView/delta` with its own loop (never PageIterator),
 * guarded by a page cap, a repeated-page hash and a time budget (3.5); restarts from scratch
 * when the service forgets the cursor (3.3); and retries throttling and transient failures a
 * bounded number of times, waiting as the service asks (5.1, 5.3).
 *
 * The first page of concurrent rounds (where a quiet room's round ends) goes out in JSON
 * `$batch` requests (5.2); each item is retried on its own, so a throttled room waits alone.
 * nextLink pages are single requests.
 */

import { createHash } from "node:crypto";
import type { Logger } from "pino";
import type { Clock } from "../../core/clock.ts";
import { OtjError } from "../../core/errors.ts";
import type { CalendarSource, DiscoveredRoom, RoomCheck, RoomSyncResult, SyncCursor, TimeWindow } from "../../core/ports/calendar-source.ts";
import { type GraphClient, type GraphHttpResponse, MAX_BATCH_ITEMS } from "./graph-client.ts";
import { retryDelayMs } from "./graph-error-mapper.ts";
import { GraphRequestBatcher } from "./graph-request-batcher.ts";
import { mapGraphEvent } from "./graph-event-mapper.ts";
import { type DeltaWalk, deltaLoop, deltaRound, normaliseMailbox, normaliseWindow, type RoundItem } from "../sync-round.ts";
import { positiveOption, RequestRetry, type RoundState, retryLimits, type Sleeper, type SourceClock, sleeperFor } from "../request-retry.ts";

/** Tunables of the adapter (the `poll.*` slice it reads, with Graph's documented defaults). */
export interface GraphCalendarSourceOptions {
  /** `Prefer: odata.maxpagesize` for delta pages (default 100). */
  readonly pageSize?: number;
  /** `poll.maxPagesPerRound`: pages per round before the round is abandoned (default 500). */
  readonly maxPagesPerRound?: number;
  /** `poll.roundBudgetSeconds`: time budget of one round, waits included (default 120). */
  readonly roundBudgetSeconds?: number;
  /** Retries of one request after throttling or a transient failure (default 4). */
  readonly maxRetries?: number;
  /** A single wait longer than this is not waited out: the error goes to the caller (default 60 s). */
  readonly maxWaitMs?: number;
  /**
   * First pages of concurrent rounds per `$batch`, 1 to 20; 1 sends each on its own. Default 4:
   * Graph runs 4 items of a batch at a time, so a larger batch makes its rooms wait for each
   * other inside Graph and pays off only when more rooms are in flight than HTTP requests may be.
   */
  readonly batchSize?: number;
}

export interface GraphCalendarSourceDeps {
  readonly client: GraphClient;
  /** Its timers (when it has them) also time retry waits, so a fast clock waits fast. */
  readonly clock: SourceClock;
  /** Default: the clock's timers, else real time. */
  readonly sleep?: Sleeper;
  /** For backoff jitter; default Math.random. */
  readonly random?: () => number;
  readonly logger?: Logger;
}

const DEFAULT_BATCH_SIZE = 4;
const PLACES_PAGE = 100;
const PLACES_PAGE_CAP = 1000;

/** What a page's reader needs of an answer, direct or batched. */
type Page = Pick<GraphHttpResponse, "status" | "body" | "requestId">;

export class GraphCalendarSource implements CalendarSource {
  readonly #client: GraphClient;
  readonly #clock: Pick<Clock, "now">;
  readonly #sleep: Sleeper;
  readonly #random: () => number;
  readonly #logger: Logger | undefined;
  readonly #pageSize: number;
  readonly #pageCap: number;
  readonly #maxRetries: number;
  readonly #maxWaitMs: number;
  readonly #retry: RequestRetry;
  readonly #batcher: GraphRequestBatcher | null;

  constructor(options: GraphCalendarSourceOptions, deps: GraphCalendarSourceDeps) {
    this.#client = deps.client;
    this.#clock = deps.clock;
    this.#sleep = sleeperFor(deps.clock, deps.sleep);
    this.#random = deps.random ?? Math.random;
    this.#logger = deps.logger?.child({ component: "graph-calendar-source" });
    this.#pageSize = positiveOption("GraphCalendarSource", "pageSize", options.pageSize ?? 100);
    this.#pageCap = positiveOption("GraphCalendarSource", "maxPagesPerRound", options.maxPagesPerRound ?? 500);
    const limits = retryLimits("GraphCalendarSource", options, 4);
    this.#maxRetries = limits.maxRetries;
    this.#maxWaitMs = limits.maxWaitMs;
    this.#retry = new RequestRetry({
      clock: this.#clock,
      sleep: this.#sleep,
      ...limits,
      logger: this.#logger,
      retryMessage: "graph request retry",
      // Only classified failures are retried; anything else (a bug, an abort) goes to the caller as it is.
      classify: (error, attempt) =>
        error instanceof OtjError ? { error, code: error.code, waitMs: () => retryDelayMs(error, attempt, this.#random) } : { error, waitMs: () => null },
    });
    const batchSize = options.batchSize ?? DEFAULT_BATCH_SIZE;
    if (!Number.isInteger(batchSize) || batchSize < 1 || batchSize > MAX_BATCH_ITEMS) {
      throw new RangeError(`GraphCalendarSource: batchSize must be an integer from 1 to ${MAX_BATCH_ITEMS}`);
    }
    this.#batcher = batchSize > 1 ? new GraphRequestBatcher(this.#client, batchSize) : null;
  }

  async connect(signal: AbortSignal): Promise<void> {
    await this.#client.connect(signal);
  }

  async syncRoom(mailbox: string, cursor: SyncCursor | null, window: TimeWindow, signal: AbortSignal): Promise<RoomSyncResult> {
    const room = normaliseMailbox(mailbox);
    const w = normaliseWindow(window);
    const state = this.#retry.state(room, signal);
    const initial = `/users/${encodeURIComponent(room)}/calendarView/delta?startDateTime=${w.start}&endDateTime=${w.end}`;
    return deltaRound(state, cursor, w, {
      walk: (token) => this.#walk(token ?? initial, state),
      expired: (error) => error instanceof OtjError && error.code === "OTJ_GRAPH_SYNC_RESET",
      logger: this.#logger,
    });
  }

  /** One round from `start` (an initial path or a deltaLink) to the next deltaLink. */
  async #walk(start: string, state: RoundState): Promise<DeltaWalk> {
    const items = new Map<string, RoundItem>();
    const warnings: string[] = [];
    const seenPages = new Set<string>();
    const headers = {
      Prefer: `odata.maxpagesize=${this.#pageSize}, outlook.timezone="UTC", outlook.body-content-type="html", IdType="ImmutableId"`,
    };
    let url = start;
    for (;;) {
      if (state.pages >= this.#pageCap) throw deltaLoop(state.mailbox, "page-cap", state.pages);
      if (this.#clock.now().getTime() >= state.deadline) throw deltaLoop(state.mailbox, "time-budget", state.pages);
      const batched = url === start && this.#batcher !== null ? this.#client.batchPath(url) : null;
      const response: Page = await this.#request(state, () =>
        batched !== null
          ? this.#batcher!.get(batched, { signal: state.signal, headers, mailbox: state.mailbox })
          : this.#client.get(url, { signal: state.signal, headers, mailboxes: [state.mailbox] }),
      );
      state.pages++;
      const page = response.body as Record<string, unknown> | null;
      const value = page?.["value"];
      if (!page || !Array.isArray(value)) throw badPage(state, "a delta page without a `value` array", response);
      const pairs: string[] = [];
      for (const entry of value as unknown[]) {
        const e = entry as Record<string, unknown> | null;
        const id = typeof e?.["id"] === "string" ? e["id"] : null;
        if (id === null) {
          warnings.push("skipped a delta entry without an id");
          continue;
        }
        if (e?.["@removed"] !== undefined) {
          pairs.push(`${id}\u0000@removed`);
          items.delete(id);
          items.set(id, { removed: true });
          continue;
        }
        if (e?.["type"] === "seriesMaster") continue;
        const mapped = mapGraphEvent(e);
        if (!mapped.ok) {
          warnings.push(`skipped event ${id}: ${mapped.reason}`);
          continue;
        }
        pairs.push(`${id}\u0000${mapped.occurrence.changeKey ?? ""}`);
        // Re-inserting keeps the map in the order of each id's last appearance.
        items.delete(id);
        items.set(id, { removed: false, occurrence: mapped.occurrence });
      }
      // Empty pages are left to the page cap: nothing in them can repeat.
      if (pairs.length > 0) {
        const hash = createHash("sha256").update(pairs.sort().join("\n")).digest("hex");
        if (seenPages.has(hash)) throw deltaLoop(state.mailbox, "repeated-page", state.pages);
        seenPages.add(hash);
      }
      const deltaLink = page["@odata.deltaLink"];
      if (typeof deltaLink === "string" && deltaLink !== "") return { items, token: deltaLink, warnings };
      const nextLink = page["@odata.nextLink"];
      if (typeof nextLink !== "string" || nextLink === "") throw badPage(state, "a delta page with neither nextLink nor deltaLink", response);
      url = nextLink;
    }
  }

  /** Runs one request, retrying retryable failures within the round's budget. */
  #request<T>(state: RoundState, send: () => Promise<T>): Promise<T> {
    return this.#retry.run(state, send);
  }

  async listRooms(signal: AbortSignal): Promise<DiscoveredRoom[]> {
    const state = this.#directoryState(signal);
    const rooms = await this.#pagePlaces("/places/microsoft.graph.room", state);
    const lists = await this.#pagePlaces("/places/microsoft.graph.roomlist", state);
    const membership = new Map<string, { mailbox: string; displayName: string }[]>();
    for (const list of lists) {
      const listMailbox = typeof list["emailAddress"] === "string" ? list["emailAddress"].toLowerCase() : null;
      if (!listMailbox) continue;
      const ref = { mailbox: listMailbox, displayName: typeof list["displayName"] === "string" ? list["displayName"] : listMailbox };
      const members = await this.#pagePlaces(`/places/${encodeURIComponent(listMailbox)}/microsoft.graph.roomlist/rooms`, state);
      for (const member of members) {
        const m = typeof member["emailAddress"] === "string" ? member["emailAddress"].toLowerCase() : null;
        if (m) membership.set(m, [...(membership.get(m) ?? []), ref]);
      }
    }
    const result: DiscoveredRoom[] = [];
    for (const room of rooms) {
      const mailbox = typeof room["emailAddress"] === "string" ? room["emailAddress"].toLowerCase() : null;
      if (!mailbox) continue;
      result.push({
        mailbox,
        displayName: typeof room["displayName"] === "string" ? room["displayName"] : mailbox,
        capacity: typeof room["capacity"] === "number" ? room["capacity"] : null,
        building: typeof room["building"] === "string" ? room["building"] : null,
        floor: typeof room["floorLabel"] === "string" ? room["floorLabel"] : typeof room["floorNumber"] === "number" ? String(room["floorNumber"]) : null,
        roomLists: membership.get(mailbox) ?? [],
      });
    }
    return result;
  }

  #directoryState(signal: AbortSignal): RoundState {
    return this.#retry.state("", signal);
  }

  /** Places pages by `$top/$skip` until a short page: it historically sends no nextLink (docs/deploy-microsoft-365.md). */
  async #pagePlaces(path: string, state: RoundState): Promise<Record<string, unknown>[]> {
    const all: Record<string, unknown>[] = [];
    let url = `${path}?$top=${PLACES_PAGE}&$skip=0`;
    for (let page = 0; page < PLACES_PAGE_CAP; page++) {
      const response = await this.#request(state, () => this.#client.get(url, { signal: state.signal }));
      const body = response.body as Record<string, unknown> | null;
      const value = body?.["value"];
      if (!Array.isArray(value)) throw badPage(state, `${path}: a page without a \`value\` array`, response);
      for (const v of value) if (v && typeof v === "object") all.push(v as Record<string, unknown>);
      const next = body?.["@odata.nextLink"];
      if (typeof next === "string" && next !== "") url = next;
      else if (value.length < PLACES_PAGE) return all;
      else url = `${path}?$top=${PLACES_PAGE}&$skip=${all.length}`;
    }
    throw new OtjError("OTJ_GRAPH_BAD_RESPONSE", `${path}: more than ${PLACES_PAGE_CAP} pages`, { retryable: false });
  }

  async checkRooms(mailboxes: readonly string[], signal: AbortSignal): Promise<RoomCheck[]> {
    const { outcome, pending } = checkableMailboxes(mailboxes);
    const state = this.#directoryState(signal);
    const now = this.#clock.now();
    const from = new Date(Math.floor(now.getTime() / 3_600_000) * 3_600_000).toISOString();
    const to = new Date(Date.parse(from) + 3_600_000).toISOString();
    const attempts = new Map<string, number>();
    let queue = pending;
    while (queue.length > 0) {
      const retry: string[] = [];
      let wait = 0;
      for (let i = 0; i < queue.length; i += MAX_BATCH_ITEMS) {
        const group = queue.slice(i, i + MAX_BATCH_ITEMS);
        const items = group.map((m, n) => ({
          id: String(n + 1),
          method: "GET" as const,
          url: `/users/${encodeURIComponent(m)}/calendarView?startDateTime=${from}&endDateTime=${to}&$top=1&$select=id`,
          mailbox: m,
        }));
        let responses: Awaited<ReturnType<GraphClient["batch"]>>;
        try {
          state.requests++;
          responses = await this.#client.batch(items, signal);
        } catch (error) {
          if (!(error instanceof OtjError) || error.code === "OTJ_GRAPH_AUTH") throw error;
          responses = items.map((item) => ({ id: item.id, status: 0, headers: {}, body: null, error }));
        }
        responses.forEach((response, n) => {
          const m = group[n]!;
          if (response.error === null) {
            outcome.set(m, { mailbox: m, ok: true });
            return;
          }
          const attempt = attempts.get(m) ?? 0;
          const itemWait = attempt < this.#maxRetries ? retryDelayMs(response.error, attempt, this.#random) : null;
          if (itemWait === null || itemWait > this.#maxWaitMs) {
            outcome.set(m, { mailbox: m, ok: false, error: response.error });
            return;
          }
          attempts.set(m, attempt + 1);
          wait = Math.max(wait, itemWait);
          retry.push(m);
        });
      }
      if (retry.length > 0) {
        await this.#sleep(wait, signal);
        state.retries += retry.length;
        state.waitedMs += wait;
      }
      queue = retry;
    }
    return mailboxes.map((m) => outcome.get(m.trim().toLowerCase())!);
  }
}

/**
 * The distinct mailboxes of a `checkRooms` call, normalised, and a failed check for each one
 * that is no mailbox address (keyed by the lowercased input).
 */
export function checkableMailboxes(mailboxes: readonly string[]): { outcome: Map<string, RoomCheck>; pending: string[] } {
  const outcome = new Map<string, RoomCheck>();
  const unique = new Set<string>();
  for (const m of mailboxes) {
    const key = m.trim().toLowerCase();
    if (outcome.has(key) || unique.has(key)) continue;
    try {
      unique.add(normaliseMailbox(key));
    } catch (error) {
      outcome.set(key, { mailbox: key, ok: false, error: error as OtjError });
    }
  }
  return { outcome, pending: [...unique] };
}

function badPage(state: RoundState, what: string, response: Page): OtjError {
  return new OtjError("OTJ_GRAPH_BAD_RESPONSE", `${state.mailbox || "places"}: ${what}`, {
    details: { status: response.status, requestId: response.requestId },
  });
}
