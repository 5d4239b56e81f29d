/**
 * GoogleClient: the official Google client libraries (`@googleapis/calendar`,
 * `@googleapis/admin`, `google-auth-library`) set up for otj, and nothing else of them leaks out.
 *
 * - A service account with domain-wide delegation impersonates `subject`; two JWT clients, one
 *   per read-only scope, so a directory scope that was not delegated breaks discovery only.
 * - google-auth-library 10's JWT client always posts to Google's token endpoint; `tokenUrl`
 *   is honoured by a request interceptor on the client's transporter that rewrites that one URL.
 * - `apiRoot` is the libraries' `rootUrl`.
 * - The libraries' own retries are off (`retry: false`): the calendar source retries with its
 *   own table, budget and clock. Every API request first takes one unit of the daily budget
 *   (shared by the instances on one store when the engine gives it the store).
 */
import { admin, type admin_directory_v1 } from "@googleapis/admin";
import { calendar, type calendar_v3 } from "@googleapis/calendar";
import { JWT } from "google-auth-library";
import type { Clock } from "../../core/clock.ts";
import { OtjError } from "../../core/errors.ts";
import type { RequestBudgetStore } from "../../core/ports/request-budget-store.ts";
import { abortable } from "../graph/client-credentials-token-provider.ts";
import { mapGoogleError } from "./google-error-mapper.ts";

export const GOOGLE_TOKEN_URL = "https://oauth2.googleapis.com/token";
export const GOOGLE_API_ROOT = "https://www.googleapis.com";
export const CALENDAR_READONLY_SCOPE = "https://www.googleapis.com/auth/calendar.readonly";
export const RESOURCE_READONLY_SCOPE = "https://www.googleapis.com/auth/admin.directory.resource.calendar.readonly";

/** The fields of a service account JSON key otj reads. */
export interface ServiceAccountKey {
  readonly client_email: string;
  readonly private_key: string;
}

export interface GoogleClientConfig {
  readonly key: ServiceAccountKey;
  readonly subject: string;
  /** Default Google's. */
  readonly apiRoot?: string | null;
  /** Default Google's. */
  readonly tokenUrl?: string | null;
  /** Requests per UTC day (default 900 000). */
  readonly dailyRequestBudget?: number;
  /** Shares the daily budget with the other instances on the same store (the engine); else it is this process's. */
  readonly sharedBudget?: SharedBudget;
}

export type GoogleEvent = calendar_v3.Schema$Event;
export type GoogleEventsPage = calendar_v3.Schema$Events;
export type GoogleResource = admin_directory_v1.Schema$CalendarResource;

export interface ListEventsParams {
  readonly calendarId: string;
  readonly pageToken?: string;
  readonly syncToken?: string;
  readonly timeMin?: string;
  readonly timeMax?: string;
  readonly maxResults?: number;
}

export interface WatchParams {
  readonly calendarId: string;
  readonly channelId: string;
  readonly address: string;
  readonly token: string;
  /** Epoch ms. */
  readonly expiration: number;
}

/** Parses a service account key (JSON text), naming what is wrong without echoing it. */
export function parseServiceAccountKey(text: string, where: string): ServiceAccountKey {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new OtjError("OTJ_CONFIG_INVALID", `${where}: not JSON (expected the service account's JSON key)`);
  }
  const v = value as Record<string, unknown> | null;
  if (!v || typeof v["client_email"] !== "string" || typeof v["private_key"] !== "string" || !v["private_key"].includes("PRIVATE KEY")) {
    throw new OtjError("OTJ_CONFIG_INVALID", `${where}: expected a service account key with client_email and private_key`);
  }
  return { client_email: v["client_email"], private_key: v["private_key"] };
}

/** Where the budget is shared with the other instances (the store), and how many requests a reservation takes. */
export interface SharedBudget {
  readonly store: RequestBudgetStore;
  /** Requests reserved per store call (default: a thousandth of the limit, 1 to 1000). */
  readonly block?: number;
}

/** The budget's name in the store. */
const BUDGET_NAME = "google";

/**
 * Counts requests per UTC day against the configured budget. With a shared store, the budget is
 * the instances' together: this instance reserves blocks of the day's budget in the store and
 * spends them here (unspent requests of a block are lost at the day's end, at most one block per
 * instance); without one, it counts this process's requests only (the CLI's short commands).
 */
export class DailyRequestBudget {
  readonly #limit: number;
  readonly #clock: Pick<Clock, "now">;
  readonly #shared: Required<SharedBudget> | null;
  #day = "";
  #used = 0;
  /** Reserved in the store for `#day` and not spent yet. */
  #left = 0;
  #reserving: Promise<number> | null = null;

  constructor(limit: number, clock: Pick<Clock, "now">, shared?: SharedBudget) {
    if (!Number.isInteger(limit) || limit < 1) throw new RangeError("dailyRequestBudget must be a positive integer");
    this.#limit = limit;
    this.#clock = clock;
    this.#shared = shared ? { store: shared.store, block: Math.max(1, Math.floor(shared.block ?? Math.min(1000, limit / 1000))) } : null;
  }

  /** Takes one request; throws OTJ_GOOGLE_BUDGET_EXHAUSTED (retryAfterMs = until the next UTC day). */
  async take(signal?: AbortSignal): Promise<void> {
    const day = this.#today();
    if (this.#shared === null) {
      if (this.#used >= this.#limit) throw this.#exhausted(day);
    } else {
      while (this.#left === 0) {
        if (this.#reserving === null) {
          this.#reserving = this.#reserve(this.#shared, day, signal).finally(() => {
            this.#reserving = null;
          });
        }
        if ((await this.#reserving) === 0 && this.#left === 0) throw this.#exhausted(day);
        if (this.#today() !== day) return this.take(signal);
      }
      this.#left--;
    }
    this.#used++;
  }

  async #reserve(shared: Required<SharedBudget>, day: string, signal: AbortSignal | undefined): Promise<number> {
    const granted = await shared.store.reserve(BUDGET_NAME, day, shared.block, this.#limit, signal ? { signal } : {});
    if (this.#day === day) this.#left += granted;
    return granted;
  }

  /** The UTC day of now; a new day starts with nothing used or reserved. */
  #today(): string {
    const day = this.#clock.now().toISOString().slice(0, 10);
    if (day !== this.#day) {
      this.#day = day;
      this.#used = 0;
      this.#left = 0;
    }
    return day;
  }

  #exhausted(day: string): OtjError {
    const next = Date.parse(`${day}T00:00:00Z`) + 86_400_000;
    const scope = this.#shared ? "by all instances together" : "by this process";
    return new OtjError("OTJ_GOOGLE_BUDGET_EXHAUSTED", `google.dailyRequestBudget (${this.#limit}) is used up for ${day} ${scope}`, {
      details: { retryAfterMs: next - this.#clock.now().getTime(), limit: this.#limit },
    });
  }

  /** Requests this instance sent today (UTC). */
  get used(): number {
    return this.#used;
  }
}

export class GoogleClient {
  readonly #calendarAuth: JWT;
  readonly #directoryAuth: JWT;
  readonly #calendar: calendar_v3.Calendar;
  readonly #directory: admin_directory_v1.Admin;
  readonly #budget: DailyRequestBudget;

  constructor(config: GoogleClientConfig, deps: { clock: Pick<Clock, "now"> }) {
    const rootUrl = `${(config.apiRoot ?? GOOGLE_API_ROOT).replace(/\/+$/, "")}/`;
    const tokenUrl = config.tokenUrl ?? null;
    this.#calendarAuth = jwtClient(config, CALENDAR_READONLY_SCOPE, tokenUrl);
    this.#directoryAuth = jwtClient(config, RESOURCE_READONLY_SCOPE, tokenUrl);
    this.#calendar = calendar({ version: "v3", auth: this.#calendarAuth, rootUrl });
    this.#directory = admin({ version: "directory_v1", auth: this.#directoryAuth, rootUrl });
    this.#budget = new DailyRequestBudget(config.dailyRequestBudget ?? 900_000, deps.clock, config.sharedBudget);
  }

  /** Requests sent today (UTC) against the daily budget. */
  get requestsToday(): number {
    return this.#budget.used;
  }

  /** Obtains a calendar token (readiness). @throws OtjError OTJ_GOOGLE_AUTH / OTJ_GOOGLE_UNAVAILABLE */
  async connect(signal: AbortSignal): Promise<void> {
    signal.throwIfAborted();
    try {
      await abortable(this.#calendarAuth.getAccessToken(), signal);
    } catch (error) {
      if (signal.aborted) throw signal.reason;
      throw mapGoogleError(error, "token").error;
    }
  }

  /** One `events.list` page. Throws what the library threw (classify with mapGoogleError). */
  async listEvents(params: ListEventsParams, signal: AbortSignal): Promise<GoogleEventsPage> {
    await this.#budget.take(signal);
    const query: calendar_v3.Params$Resource$Events$List = { calendarId: params.calendarId, singleEvents: true };
    if (params.pageToken !== undefined) query.pageToken = params.pageToken;
    if (params.syncToken !== undefined) query.syncToken = params.syncToken;
    else {
      if (params.timeMin !== undefined) query.timeMin = params.timeMin;
      if (params.timeMax !== undefined) query.timeMax = params.timeMax;
    }
    if (params.maxResults !== undefined) query.maxResults = params.maxResults;
    const response = await withFreshToken(this.#calendarAuth, () => this.#calendar.events.list(query, { retry: false, signal }));
    return response.data;
  }

  /** One page of the directory's resource calendars (`my_customer`). */
  async listResources(pageToken: string | undefined, signal: AbortSignal): Promise<admin_directory_v1.Schema$CalendarResources> {
    await this.#budget.take(signal);
    const query: admin_directory_v1.Params$Resource$Resources$Calendars$List = { customer: "my_customer", maxResults: 500 };
    if (pageToken !== undefined) query.pageToken = pageToken;
    const response = await withFreshToken(this.#directoryAuth, () => this.#directory.resources.calendars.list(query, { retry: false, signal }));
    return response.data;
  }

  /** Opens a change notification channel on a calendar's events. */
  async watch(params: WatchParams, signal: AbortSignal): Promise<{ resourceId: string; expiration: number }> {
    await this.#budget.take(signal);
    const response = await withFreshToken(this.#calendarAuth, () =>
      this.#calendar.events.watch(
        {
          calendarId: params.calendarId,
          requestBody: { id: params.channelId, type: "web_hook", address: params.address, token: params.token, expiration: String(params.expiration) },
        },
        { retry: false, signal },
      ),
    );
    const resourceId = response.data.resourceId;
    if (!resourceId) throw new OtjError("OTJ_GOOGLE_BAD_RESPONSE", "events.watch: answer without resourceId");
    return { resourceId, expiration: Number(response.data.expiration ?? params.expiration) };
  }

  /** Stops a channel. */
  async stopChannel(channelId: string, resourceId: string, signal: AbortSignal): Promise<void> {
    await this.#budget.take(signal);
    await withFreshToken(this.#calendarAuth, () => this.#calendar.channels.stop({ requestBody: { id: channelId, resourceId } }, { retry: false, signal }));
  }
}

function jwtClient(config: GoogleClientConfig, scope: string, tokenUrl: string | null): JWT {
  const client = new JWT({ email: config.key.client_email, key: config.key.private_key, scopes: [scope], subject: config.subject });
  if (tokenUrl !== null && tokenUrl !== GOOGLE_TOKEN_URL) {
    const target = new URL(tokenUrl);
    client.transporter.interceptors.request.add({
      resolved: async (options) => {
        // Prepared gaxios options carry a URL object; only the token endpoint is redirected.
        const url = options.url as unknown;
        const href = url instanceof URL ? url.href : String(url);
        if (href === GOOGLE_TOKEN_URL) options.url = new URL(target.href);
        return options;
      },
    });
  }
  return client;
}

/**
 * Runs an API call; on 401 (a token revoked or expired early) drops the cached token and repeats
 * the call once: the JWT client only refreshes tokens it knows to be expired.
 */
async function withFreshToken<T>(auth: JWT, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (error) {
    const status = (error as { status?: unknown; response?: { status?: unknown } })?.response?.status ?? (error as { status?: unknown })?.status;
    if (status !== 401) throw error;
    // Marked expired (not cleared: a JWT client without any token refuses to fetch one).
    auth.credentials = { ...auth.credentials, expiry_date: 1 };
    return await call();
  }
}
