/**
 * GoogleCalendarSource: the CalendarSource port on Google Calendar resource calendars.
 *
 * A full round lists the window with `events.list` (`singleEvents=true`, `timeMin`/`timeMax`)
 * page by page and keeps the `nextSyncToken` as the cursor; later rounds send that token and get
 * only what changed since, cancellations included. Google drops the window on incremental
 * requests (it refuses `timeMin` with a `syncToken`), so a changed occurrence now outside the
 * window is reported as removed. A token Google no longer accepts (410 Gone) restarts the round
 * as a full one (`cursor-expired`).
 *
 * Guards as for Graph: a page cap, a repeated-page hash and a time budget. Throttling (429, 403
 * `rateLimitExceeded`/`userRateLimitExceeded`) and server errors are retried a bounded number of
 * times with exponential backoff and jitter, never past the round's budget.
 */
import { createHash } from "node:crypto";
import type { Logger } from "pino";
import type { Clock } from "../../core/clock.ts";
import { OtjError } from "../../core/errors.ts";
import type { CalendarSource, DiscoveredRoom, RoomCheck, RoomSyncResult, SyncCursor, TimeWindow } from "../../core/ports/calendar-source.ts";
import { clockSleeper, realSleeper, type Sleeper } from "../graph/graph-calendar-source.ts";
import type { GoogleClient, ListEventsParams } from "./google-client.ts";
import { backoffMs, mapGoogleError, SyncTokenGone } from "./google-error-mapper.ts";
import { isCancelledEntry, mapGoogleEvent } from "./google-event-mapper.ts";
import { deltaLoop, fullRoundReason, normaliseMailbox, normaliseWindow, type RoundItem as Item, splitRoundItems } from "../sync-round.ts";

/** What the source needs of the client (a fake of it serves unit tests). */
export type GoogleApi = Pick<GoogleClient, "connect" | "listEvents" | "listResources">;

export interface GoogleCalendarSourceOptions {
  /** `maxResults` per events page (default 250; Google's maximum is 2500). */
  readonly pageSize?: number;
  /** `poll.maxPagesPerRound` (default 500). */
  readonly maxPagesPerRound?: number;
  /** `poll.roundBudgetSeconds`: a round's time budget, waits included (default 120). */
  readonly roundBudgetSeconds?: number;
  /** Retries of one request after throttling or a server error (default 5). */
  readonly maxRetries?: number;
  /** A single wait longer than this goes to the caller instead (default 60 s). */
  readonly maxWaitMs?: number;
  /** First backoff step in ms, doubling per retry (default 1000). */
  readonly backoffBaseMs?: number;
}

export interface GoogleCalendarSourceDeps {
  readonly api: GoogleApi;
  readonly clock: Pick<Clock, "now"> & Partial<Pick<Clock, "setTimer">>;
  readonly sleep?: Sleeper;
  /** For jitter; default Math.random. */
  readonly random?: () => number;
  readonly logger?: Logger;
}

interface RoundState {
  readonly mailbox: string;
  readonly signal: AbortSignal;
  readonly deadline: number;
  pages: number;
  requests: number;
  retries: number;
  waitedMs: number;
}

const DIRECTORY_PAGE_CAP = 1000;

export class GoogleCalendarSource implements CalendarSource {
  readonly #api: GoogleApi;
  readonly #clock: Pick<Clock, "now">;
  readonly #sleep: Sleeper;
  readonly #random: () => number;
  readonly #logger: Logger | undefined;
  readonly #pageSize: number;
  readonly #pageCap: number;
  readonly #budgetMs: number;
  readonly #maxRetries: number;
  readonly #maxWaitMs: number;
  readonly #baseMs: number;

  constructor(options: GoogleCalendarSourceOptions, deps: GoogleCalendarSourceDeps) {
    this.#api = deps.api;
    this.#clock = deps.clock;
    this.#sleep = deps.sleep ?? (deps.clock.setTimer ? clockSleeper(deps.clock as Clock) : realSleeper);
    this.#random = deps.random ?? Math.random;
    this.#logger = deps.logger?.child({ component: "google-calendar-source" });
    this.#pageSize = Math.min(2500, positive("pageSize", options.pageSize ?? 250));
    this.#pageCap = positive("maxPagesPerRound", options.maxPagesPerRound ?? 500);
    this.#budgetMs = positive("roundBudgetSeconds", options.roundBudgetSeconds ?? 120) * 1000;
    this.#maxRetries = Math.max(0, Math.floor(options.maxRetries ?? 5));
    this.#maxWaitMs = positive("maxWaitMs", options.maxWaitMs ?? 60_000);
    this.#baseMs = positive("backoffBaseMs", options.backoffBaseMs ?? 1000);
  }

  async connect(signal: AbortSignal): Promise<void> {
    await this.#api.connect(signal);
  }

  async syncRoom(mailbox: string, cursor: SyncCursor | null, window: TimeWindow, signal: AbortSignal): Promise<RoomSyncResult> {
    const room = normaliseMailbox(mailbox);
    const w = normaliseWindow(window);
    const state = this.#state(room, signal);
    let reason = fullRoundReason(cursor, w);
    let walked: { items: Map<string, Item>; token: string; warnings: string[] };
    try {
      walked = await this.#walk(room, w, reason === null ? cursor!.token : null, state);
    } catch (error) {
      if (reason !== null || !(error instanceof SyncTokenGone)) throw error;
      this.#logger?.info({ roomMailbox: room }, "sync token expired; full resync");
      reason = "cursor-expired";
      walked = await this.#walk(room, w, null, state);
    }
    const { changed, removedIds } = splitRoundItems(walked.items);
    return {
      mailbox: room,
      full: reason !== null,
      reason,
      changed,
      removedIds,
      cursor: { token: walked.token, window: w },
      warnings: walked.warnings,
      stats: { pages: state.pages, requests: state.requests, retries: state.retries, waitedMs: state.waitedMs },
    };
  }

  /** One round: from the window (syncToken null) or from a sync token, to the next sync token. */
  async #walk(
    room: string,
    w: TimeWindow,
    syncToken: string | null,
    state: RoundState,
  ): Promise<{ items: Map<string, Item>; token: string; warnings: string[] }> {
    const items = new Map<string, Item>();
    const warnings: string[] = [];
    const seenPages = new Set<string>();
    const windowStart = Date.parse(w.start);
    const windowEnd = Date.parse(w.end);
    let pageToken: string | undefined;
    for (;;) {
      if (state.pages >= this.#pageCap) throw deltaLoop(state.mailbox, "page-cap", state.pages);
      if (this.#clock.now().getTime() >= state.deadline) throw deltaLoop(state.mailbox, "time-budget", state.pages);
      const params: ListEventsParams = {
        calendarId: room,
        maxResults: this.#pageSize,
        ...(syncToken !== null ? { syncToken } : { timeMin: w.start, timeMax: w.end }),
        ...(pageToken !== undefined ? { pageToken } : {}),
      };
      const page = await this.#request(state, "events.list", () => this.#api.listEvents(params, state.signal));
      state.pages++;
      if (!page || !Array.isArray(page.items)) throw badResponse(state, "an events page without `items`");
      const pairs: string[] = [];
      for (const entry of page.items as unknown[]) {
        const e = entry !== null && typeof entry === "object" ? (entry as Record<string, unknown>) : null;
        const id = typeof e?.["id"] === "string" && e["id"] !== "" ? e["id"] : null;
        if (e === null || id === null) {
          warnings.push("skipped an event without an id");
          continue;
        }
        pairs.push(`${id}\u0000${String(e["etag"] ?? "")}\u0000${String(e["status"] ?? "")}`);
        items.delete(id);
        if (isCancelledEntry(e)) {
          // A full round lists only live events; a cancellation there just means "not booked".
          if (syncToken !== null) items.set(id, { removed: true });
          continue;
        }
        const mapped = mapGoogleEvent(e, room);
        if (!mapped.ok) {
          warnings.push(`skipped event ${id}: ${mapped.reason}`);
          continue;
        }
        const o = mapped.occurrence;
        const inWindow = Date.parse(o.end) > windowStart && Date.parse(o.start) < windowEnd;
        // Re-inserting keeps the map in the order of each id's last appearance.
        items.set(id, inWindow ? { removed: false, occurrence: o } : { removed: true });
      }
      if (pairs.length > 0) {
        const hash = createHash("sha256").update(pairs.sort().join("\n")).digest("hex");
        if (seenPages.has(hash)) throw deltaLoop(state.mailbox, "repeated-page", state.pages);
        seenPages.add(hash);
      }
      if (typeof page.nextSyncToken === "string" && page.nextSyncToken !== "") return { items, token: page.nextSyncToken, warnings };
      if (typeof page.nextPageToken !== "string" || page.nextPageToken === "")
        throw badResponse(state, "an events page with neither nextPageToken nor nextSyncToken");
      pageToken = page.nextPageToken;
    }
  }

  /** Runs one request, retrying throttling and server errors within the round's budget. */
  async #request<T>(state: RoundState, what: string, send: () => Promise<T>): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      state.signal.throwIfAborted();
      state.requests++;
      try {
        return await send();
      } catch (error) {
        if (state.signal.aborted) throw state.signal.reason;
        const failure = mapGoogleError(error, `${what} ${state.mailbox || "directory"}`);
        if (!failure.backoff || attempt >= this.#maxRetries) throw failure.error;
        const wait = backoffMs(failure, attempt, this.#random, this.#baseMs);
        if (wait > this.#maxWaitMs || this.#clock.now().getTime() + wait > state.deadline) throw failure.error;
        this.#logger?.debug({ roomMailbox: state.mailbox, code: failure.error.code, waitMs: wait, attempt }, "google request retry");
        await this.#sleep(wait, state.signal);
        state.retries++;
        state.waitedMs += wait;
      }
    }
  }

  #state(mailbox: string, signal: AbortSignal): RoundState {
    return { mailbox, signal, deadline: this.#clock.now().getTime() + this.#budgetMs, pages: 0, requests: 0, retries: 0, waitedMs: 0 };
  }

  /** The directory's resource calendars that are rooms (category CONFERENCE_ROOM or unset). */
  async listRooms(signal: AbortSignal): Promise<DiscoveredRoom[]> {
    const state = this.#state("", signal);
    const rooms: DiscoveredRoom[] = [];
    let pageToken: string | undefined;
    for (let page = 0; page < DIRECTORY_PAGE_CAP; page++) {
      const body = await this.#request(state, "resources.calendars.list", () => this.#api.listResources(pageToken, signal));
      if (!body || (body.items !== undefined && !Array.isArray(body.items))) throw badResponse(state, "a resources page without `items`");
      for (const r of body.items ?? []) {
        const email = typeof r.resourceEmail === "string" ? r.resourceEmail.toLowerCase() : null;
        if (!email || (r.resourceCategory && r.resourceCategory !== "CONFERENCE_ROOM" && r.resourceCategory !== "CATEGORY_UNKNOWN")) continue;
        rooms.push({
          mailbox: email,
          displayName: r.resourceName ?? r.generatedResourceName ?? email,
          capacity: typeof r.capacity === "number" ? r.capacity : null,
          building: r.buildingId ?? null,
          floor: r.floorName ?? null,
          roomLists: [],
        });
      }
      if (typeof body.nextPageToken !== "string" || body.nextPageToken === "") return rooms;
      pageToken = body.nextPageToken;
    }
    throw new OtjError("OTJ_GOOGLE_BAD_RESPONSE", `resources.calendars.list: more than ${DIRECTORY_PAGE_CAP} pages`);
  }

  /** Reads one hour of each calendar; each mailbox gets its own result. */
  async checkRooms(mailboxes: readonly string[], signal: AbortSignal): Promise<RoomCheck[]> {
    const now = this.#clock.now().getTime();
    const from = new Date(Math.floor(now / 3_600_000) * 3_600_000).toISOString();
    const to = new Date(Date.parse(from) + 3_600_000).toISOString();
    const results: RoomCheck[] = [];
    for (const m of mailboxes) {
      const key = m.trim().toLowerCase();
      try {
        const room = normaliseMailbox(key);
        const state = this.#state(room, signal);
        await this.#request(state, "events.list", () => this.#api.listEvents({ calendarId: room, timeMin: from, timeMax: to, maxResults: 1 }, signal));
        results.push({ mailbox: key, ok: true });
      } catch (error) {
        if (signal.aborted) throw signal.reason;
        const e = error instanceof OtjError ? error : mapGoogleError(error, `events.list ${key}`).error;
        results.push({ mailbox: key, ok: false, error: e });
      }
    }
    if (results.length > 0 && results.every((r) => !r.ok && r.error.code === "OTJ_GOOGLE_AUTH")) {
      throw (results[0] as { error: OtjError }).error;
    }
    return results;
  }
}

function positive(name: string, value: number): number {
  if (!Number.isFinite(value) || value <= 0) throw new RangeError(`GoogleCalendarSource: ${name} must be a positive number`);
  return value;
}

function badResponse(state: RoundState, what: string): OtjError {
  return new OtjError("OTJ_GOOGLE_BAD_RESPONSE", `${state.mailbox || "directory"}: ${what}`);
}
