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
import type { GoogleClient, ListEventsParams } from "./google-client.ts";
import { backoffMs, mapGoogleError, SyncTokenGone } from "./google-error-mapper.ts";
import { isCancelledEntry, mapGoogleEvent } from "./google-event-mapper.ts";
import { type DeltaWalk, deltaLoop, deltaRound, normaliseMailbox, normaliseWindow, type RoundItem as Item } from "../sync-round.ts";
import { positiveOption, RequestRetry, type RoundState, retryLimits, type Sleeper, type SourceClock, sleeperFor } from "../request-retry.ts";

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
  readonly clock: SourceClock;
  readonly sleep?: Sleeper;
  /** For jitter; default Math.random. */
  readonly random?: () => number;
  readonly logger?: Logger;
}

const DIRECTORY_PAGE_CAP = 1000;

export class GoogleCalendarSource implements CalendarSource {
  readonly #api: GoogleApi;
  readonly #clock: Pick<Clock, "now">;
  readonly #logger: Logger | undefined;
  readonly #pageSize: number;
  readonly #pageCap: number;
  readonly #retry: RequestRetry;

  constructor(options: GoogleCalendarSourceOptions, deps: GoogleCalendarSourceDeps) {
    this.#api = deps.api;
    this.#clock = deps.clock;
    const random = deps.random ?? Math.random;
    this.#logger = deps.logger?.child({ component: "google-calendar-source" });
    this.#pageSize = Math.min(2500, positiveOption("GoogleCalendarSource", "pageSize", options.pageSize ?? 250));
    this.#pageCap = positiveOption("GoogleCalendarSource", "maxPagesPerRound", options.maxPagesPerRound ?? 500);
    const baseMs = positiveOption("GoogleCalendarSource", "backoffBaseMs", options.backoffBaseMs ?? 1000);
    this.#retry = new RequestRetry({
      clock: this.#clock,
      sleep: sleeperFor(deps.clock, deps.sleep),
      ...retryLimits("GoogleCalendarSource", options, 5),
      logger: this.#logger,
      retryMessage: "google request retry",
      beforeAttempt: (state) => state.signal.throwIfAborted(),
      classify: (error, attempt, state, what) => {
        if (state.signal.aborted) throw state.signal.reason;
        const failure = mapGoogleError(error, `${what} ${state.mailbox || "directory"}`);
        return { error: failure.error, code: failure.error.code, waitMs: () => (failure.backoff ? backoffMs(failure, attempt, random, baseMs) : null) };
      },
    });
  }

  async connect(signal: AbortSignal): Promise<void> {
    await this.#api.connect(signal);
  }

  async syncRoom(mailbox: string, cursor: SyncCursor | null, window: TimeWindow, signal: AbortSignal): Promise<RoomSyncResult> {
    const room = normaliseMailbox(mailbox);
    const w = normaliseWindow(window);
    const state = this.#state(room, signal);
    return deltaRound(state, cursor, w, {
      walk: (token) => this.#walk(room, w, token, state),
      expired: (error) => error instanceof SyncTokenGone,
      logger: this.#logger,
    });
  }

  /** One round: from the window (syncToken null) or from a sync token, to the next sync token. */
  async #walk(room: string, w: TimeWindow, syncToken: string | null, state: RoundState): Promise<DeltaWalk> {
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
  #request<T>(state: RoundState, what: string, send: () => Promise<T>): Promise<T> {
    return this.#retry.run(state, send, what);
  }

  #state(mailbox: string, signal: AbortSignal): RoundState {
    return this.#retry.state(mailbox, signal);
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

function badResponse(state: RoundState, what: string): OtjError {
  return new OtjError("OTJ_GOOGLE_BAD_RESPONSE", `${state.mailbox || "directory"}: ${what}`);
}
