/**
 * Graph change notifications: one subscription per room on
 * `/users/{mailbox}/events`, created, renewed at half its lifetime and re-created when Graph
 * removes it; incoming notifications are checked (clientState, constant time) and only make the
 * room due for polling. Notifications are hints: delta stays the truth.
 *
 * - GraphSubscriptionManager.reconcile(): the periodic work (a tick; the database decides which
 *   rooms are due, with leases so two engine instances never work on one room at once).
 * - GraphSubscriptionManager.handleNotification(): no Graph call inline, a few store writes.
 * - graphNotificationRoute(): the HTTP handler of `POST /v1/notifications/graph`, as a pure
 *   function the HTTP server calls, with the validationToken handshake.
 */

import type { ComponentLogger } from "../../core/logger.ts";
import { createHash, randomBytes } from "node:crypto";
import { bytesEqual, sha256 } from "../../core/constant-time.ts";
import { backoffMs } from "../../core/backoff.ts";
import { addMs, type Clock } from "../../core/clock.ts";
import { PeriodicJob } from "../../core/periodic-job.ts";
import type { TickerFactory } from "../../core/ticker.ts";
import { type OtjError, toOtjError } from "../../core/errors.ts";
import type { SubscriptionRecord, SubscriptionStore } from "../../core/ports/graph-subscription-store.ts";
import type { SyncCursorStore } from "../../core/ports/store.ts";
import type { GraphHttpResponse, GraphRequestOptions } from "./graph-client.ts";
import { retryDelayMs } from "./graph-error-mapper.ts";

/** The part of GraphClient the manager uses. */
export interface SubscriptionRequester {
  post(path: string, body: unknown, options: GraphRequestOptions): Promise<GraphHttpResponse>;
  patch(path: string, body: unknown, options: GraphRequestOptions): Promise<GraphHttpResponse>;
  delete(path: string, options: GraphRequestOptions): Promise<GraphHttpResponse>;
}

export interface SubscriptionSettings {
  /** `{http.publicUrl}/v1/notifications/graph`. */
  readonly notificationUrl: string;
  /** Default: the notification URL. */
  readonly lifecycleNotificationUrl?: string;
  /** Requested lifetime (default 10,000 minutes; Graph allows at most 10,080 without resource data). */
  readonly lifetimeMinutes?: number;
  /** Renew when this fraction of the lifetime has passed (default 0.5). */
  readonly renewAtFraction?: number;
  /** Records handled per store claim (default 50). */
  readonly batch?: number;
  /** Lease per claimed record (default 2 min). */
  readonly leaseMs?: number;
  /** First retry after a failed create/renew (default 1 min), doubling up to 1 h. */
  readonly baseBackoffMs?: number;
}

export type SubscriptionLogger = ComponentLogger;

export interface SubscriptionManagerDeps {
  readonly client: SubscriptionRequester;
  readonly store: SubscriptionStore;
  /** Where a notification marks the room due. */
  readonly cursors: Pick<SyncCursorStore, "markDue">;
  readonly clock: Pick<Clock, "now">;
  /** Called after a notification made rooms due (e.g. the poller's `poke`), so polling starts now. */
  readonly wake?: () => void;
  readonly logger?: SubscriptionLogger;
  /** clientState bytes; default crypto.randomBytes. */
  readonly randomBytes?: (size: number) => Buffer;
  readonly random?: () => number;
}

export interface ReconcileOutcome {
  readonly roomId: string;
  readonly mailbox: string;
  readonly action: "created" | "renewed" | "deleted" | "failed" | "lease-lost";
  readonly subscriptionId: string | null;
  readonly code: string | null;
}

export interface ReconcileReport {
  readonly added: number;
  readonly outcomes: readonly ReconcileOutcome[];
}

export interface NotificationResult {
  /** Items whose clientState matched. */
  readonly accepted: number;
  /** Items dropped: unknown subscription or clientState mismatch. */
  readonly rejected: number;
  /** Rooms made due. */
  readonly rooms: readonly string[];
}

const MAX_LIFETIME_MINUTES = 10_080;
const CHANGE_TYPES = "created,updated,deleted";
/**
 * Items read from one notification POST; the rest are dropped (and counted). Notifications are
 * hints, so a dropped one only waits for the room's next scheduled poll.
 */
export const MAX_NOTIFICATION_ITEMS = 100;
/** Graph subscription ids are GUIDs; anything else is refused without a query. */
const PLAUSIBLE_SUBSCRIPTION_ID = /^[A-Za-z0-9-]{1,64}$/;

/** SHA-256 (hex) of a clientState. */
export function hashClientState(clientState: string): string {
  return createHash("sha256").update(clientState, "utf8").digest("hex");
}

/** Constant-time check of a received clientState against the stored hash. */
export function clientStateMatches(storedHash: string | null, received: unknown): boolean {
  if (storedHash === null || typeof received !== "string") return false;
  return bytesEqual(sha256(received), Buffer.from(storedHash, "hex"));
}

export class GraphSubscriptionManager {
  readonly #job = new PeriodicJob(
    (signal) => this.reconcile(signal),
    (error) => this.#deps.logger?.warn({ err: toOtjError(error).message }, "graph subscription reconcile failed"),
  );
  readonly #settings: Required<Omit<SubscriptionSettings, "lifecycleNotificationUrl">> & { lifecycleNotificationUrl: string };
  readonly #deps: SubscriptionManagerDeps;
  readonly #random: () => number;
  readonly #bytes: (size: number) => Buffer;

  constructor(settings: SubscriptionSettings, deps: SubscriptionManagerDeps) {
    const lifetime = settings.lifetimeMinutes ?? 10_000;
    if (!(lifetime > 1 && lifetime <= MAX_LIFETIME_MINUTES)) {
      throw new RangeError(`GraphSubscriptionManager: lifetimeMinutes must be in (1, ${MAX_LIFETIME_MINUTES}]`);
    }
    const fraction = settings.renewAtFraction ?? 0.5;
    if (!(fraction > 0 && fraction < 1)) throw new RangeError("GraphSubscriptionManager: renewAtFraction must be in (0, 1)");
    this.#settings = {
      notificationUrl: settings.notificationUrl,
      lifecycleNotificationUrl: settings.lifecycleNotificationUrl ?? settings.notificationUrl,
      lifetimeMinutes: lifetime,
      renewAtFraction: fraction,
      batch: settings.batch ?? 50,
      leaseMs: settings.leaseMs ?? 120_000,
      baseBackoffMs: settings.baseBackoffMs ?? 60_000,
    };
    this.#deps = deps;
    this.#random = deps.random ?? Math.random;
    this.#bytes = deps.randomBytes ?? randomBytes;
  }

  /**
   * Runs `reconcile` at once and then on `ticker`'s ticks (default every 5 minutes; core/ticker.ts
   * gives each instance its own phase; the database decides what is due). A tick while one runs is
   * skipped. Idempotent.
   */
  start(ticker: TickerFactory, intervalMs = 5 * 60_000): void {
    this.#job.start(ticker, intervalMs);
  }

  /** Stops ticking, aborts a running reconcile and releases this instance's leases. */
  async stop(): Promise<void> {
    await this.#job.stop("graph subscription manager stopped");
    await this.#deps.store.releaseAll(this.#deps.clock.now()).catch(() => 0);
  }

  /**
   * Creates missing subscriptions and renews those past `renewAtFraction` of their lifetime, for
   * every room whose record is due. Never stops at one room's failure (each is retried with backoff).
   * Creating a subscription makes Graph call the notification URL (the handshake): the HTTP route
   * must be serving.
   */
  async reconcile(signal: AbortSignal): Promise<ReconcileReport> {
    const { store, clock } = this.#deps;
    const added = await store.ensureRooms(clock.now(), { signal });
    const outcomes: ReconcileOutcome[] = [];
    const started = clock.now();
    for (;;) {
      signal.throwIfAborted();
      const due = await store.claimDue(started, this.#settings.batch, this.#settings.leaseMs, { signal });
      for (const record of due) outcomes.push(await this.#reconcileRoom(record, signal));
      if (due.length < this.#settings.batch) break;
    }
    // Rooms disabled or moved to another calendar source: their subscriptions are deleted at Graph.
    for (;;) {
      signal.throwIfAborted();
      const orphans = await store.claimOrphans(started, this.#settings.batch, this.#settings.leaseMs, { signal });
      for (const record of orphans) outcomes.push(await this.#deleteOrphan(record, signal));
      if (orphans.length < this.#settings.batch) break;
    }
    return { added, outcomes };
  }

  async #reconcileRoom(record: SubscriptionRecord, signal: AbortSignal): Promise<ReconcileOutcome> {
    const { store, clock } = this.#deps;
    const base = { roomId: record.roomId, mailbox: record.mailbox };
    let forget = false;
    try {
      if (record.subscriptionId !== null && record.expiresAt !== null && record.expiresAt.getTime() > clock.now().getTime()) {
        try {
          const renewed = await this.#renew(record, signal);
          return { ...base, action: renewed ? "renewed" : "lease-lost", subscriptionId: record.subscriptionId, code: null };
        } catch (error) {
          // Graph forgot it (removed, expired): create a new one below.
          if (toOtjError(error).code !== "OTJ_GRAPH_NOT_FOUND") throw error;
        }
      }
      forget = true;
      const created = await this.#create(record, signal);
      return { ...base, action: created === null ? "lease-lost" : "created", subscriptionId: created, code: null };
    } catch (error) {
      if (signal.aborted) throw signal.reason;
      const e = toOtjError(error);
      const dueAt = addMs(clock.now(), this.#backoffMs(e, record.failures));
      this.#deps.logger?.warn({ roomId: record.roomId, code: e.code, err: e.message }, "graph subscription failed");
      const recorded = await store.failed(record.roomId, { code: e.code, message: e.message, dueAt, forget }, clock.now(), { signal });
      return { ...base, action: recorded ? "failed" : "lease-lost", subscriptionId: null, code: e.code };
    }
  }

  /** Deletes an orphaned record's subscription at Graph (gone already is fine), then the record. */
  async #deleteOrphan(record: SubscriptionRecord, signal: AbortSignal): Promise<ReconcileOutcome> {
    const { client, store, clock } = this.#deps;
    const base = { roomId: record.roomId, mailbox: record.mailbox, subscriptionId: record.subscriptionId };
    try {
      try {
        await client.delete(`/subscriptions/${encodeURIComponent(record.subscriptionId!)}`, { signal });
      } catch (error) {
        if (toOtjError(error).code !== "OTJ_GRAPH_NOT_FOUND") throw error;
      }
      const removed = await store.remove(record.roomId, { signal });
      this.#deps.logger?.info({ roomId: record.roomId, subscriptionId: record.subscriptionId }, "graph subscription deleted: the room no longer reads Graph");
      return { ...base, action: removed ? "deleted" : "lease-lost", code: null };
    } catch (error) {
      if (signal.aborted) throw signal.reason;
      const e = toOtjError(error);
      const dueAt = addMs(clock.now(), this.#backoffMs(e, record.failures));
      this.#deps.logger?.warn({ roomId: record.roomId, code: e.code, err: e.message }, "deleting a graph subscription failed");
      const recorded = await store.failed(record.roomId, { code: e.code, message: e.message, dueAt, forget: false }, clock.now(), { signal });
      return { ...base, action: recorded ? "failed" : "lease-lost", code: e.code };
    }
  }

  async #create(record: SubscriptionRecord, signal: AbortSignal): Promise<string | null> {
    const { client, store, clock } = this.#deps;
    const clientState = this.#bytes(32).toString("base64url");
    const now = clock.now();
    const expiresAt = addMs(now, this.#settings.lifetimeMinutes * 60_000);
    const response = await client.post(
      "/subscriptions",
      {
        changeType: CHANGE_TYPES,
        notificationUrl: this.#settings.notificationUrl,
        lifecycleNotificationUrl: this.#settings.lifecycleNotificationUrl,
        resource: `/users/${record.mailbox}/events`,
        expirationDateTime: expiresAt.toISOString(),
        clientState,
      },
      { signal, mailboxes: [record.mailbox] },
    );
    const body = response.body as { id?: unknown; expirationDateTime?: unknown } | null;
    if (typeof body?.id !== "string") throw new Error("subscription created without an id");
    const granted =
      typeof body.expirationDateTime === "string" && !Number.isNaN(Date.parse(body.expirationDateTime)) ? new Date(body.expirationDateTime) : expiresAt;
    const saved = await store.saved(
      record.roomId,
      { subscriptionId: body.id, clientStateHash: hashClientState(clientState), expiresAt: granted, dueAt: this.#renewAt(clock.now(), granted) },
      clock.now(),
      { signal },
    );
    this.#deps.logger?.info({ roomId: record.roomId, subscriptionId: body.id, expiresAt: granted }, "graph subscription created");
    return saved ? body.id : null;
  }

  async #renew(record: SubscriptionRecord, signal: AbortSignal): Promise<boolean> {
    const { client, store, clock } = this.#deps;
    const expiresAt = addMs(clock.now(), this.#settings.lifetimeMinutes * 60_000);
    const response = await client.patch(
      `/subscriptions/${encodeURIComponent(record.subscriptionId!)}`,
      { expirationDateTime: expiresAt.toISOString() },
      { signal },
    );
    const body = response.body as { expirationDateTime?: unknown } | null;
    const granted =
      typeof body?.expirationDateTime === "string" && !Number.isNaN(Date.parse(body.expirationDateTime)) ? new Date(body.expirationDateTime) : expiresAt;
    return store.saved(
      record.roomId,
      { subscriptionId: record.subscriptionId!, clientStateHash: record.clientStateHash!, expiresAt: granted, dueAt: this.#renewAt(clock.now(), granted) },
      clock.now(),
      { signal },
    );
  }

  #renewAt(now: Date, expiresAt: Date): Date {
    return new Date(now.getTime() + (expiresAt.getTime() - now.getTime()) * this.#settings.renewAtFraction);
  }

  #backoffMs(error: OtjError, failures: number): number {
    const wait = retryDelayMs(error, failures, this.#random);
    const jittered = backoffMs(failures, { baseMs: this.#settings.baseBackoffMs, maxExponent: 6 }, this.#random);
    return Math.min(3_600_000, Math.max(wait ?? 0, jittered));
  }

  /**
   * Handles one notification POST body (`{"value":[...]}`): for each item whose clientState
   * matches its subscription (constant-time), marks the room due; lifecycle events also schedule
   * the subscription's renewal (`reauthorizationRequired`) or re-creation (`subscriptionRemoved`).
   * Makes no Graph call. Items that do not match are dropped and counted.
   * @throws TypeError when the body is not a notification collection; OtjError when the store fails.
   */
  async handleNotification(body: unknown, signal?: AbortSignal): Promise<NotificationResult> {
    const { store, cursors, clock } = this.#deps;
    const items = (body as { value?: unknown } | null)?.value;
    if (!Array.isArray(items)) throw new TypeError('not a notification collection: expected {"value":[...]}');
    const options = signal ? { signal } : {};
    const now = clock.now();
    const due = new Set<string>();
    const renew = new Map<string, boolean>();
    let accepted = 0;
    let rejected = Math.max(0, items.length - MAX_NOTIFICATION_ITEMS);
    type Item = { subscriptionId?: unknown; clientState?: unknown; lifecycleEvent?: unknown } | null;
    const read = items.slice(0, MAX_NOTIFICATION_ITEMS) as Item[];
    const idOf = (item: Item) => (typeof item?.subscriptionId === "string" && PLAUSIBLE_SUBSCRIPTION_ID.test(item.subscriptionId) ? item.subscriptionId : null);
    // Every id of the post in one query (none when no id is plausible).
    const ids = [...new Set(read.map(idOf).filter((id) => id !== null))];
    const records = new Map((ids.length > 0 ? await store.bySubscriptionIds(ids, options) : []).map((r) => [r.subscriptionId, r]));
    for (const item of read) {
      const id = idOf(item);
      const record = id === null ? undefined : records.get(id);
      if (record === undefined || !clientStateMatches(record.clientStateHash, item?.clientState)) {
        rejected++;
        continue;
      }
      accepted++;
      switch (item?.lifecycleEvent) {
        case "reauthorizationRequired":
          renew.set(record.roomId, renew.get(record.roomId) ?? false);
          break;
        case "subscriptionRemoved":
          renew.set(record.roomId, true);
          due.add(record.roomId);
          break;
        default:
          // A change, or `missed`: poll the room now with delta.
          due.add(record.roomId);
      }
    }
    for (const [roomId, forget] of renew) await store.markDue(roomId, now, forget, options);
    for (const roomId of due) await cursors.markDue(roomId, now, options);
    if (rejected > 0) this.#deps.logger?.warn({ rejected, accepted }, "graph notifications dropped (unknown subscription or clientState mismatch)");
    if (due.size > 0) this.#deps.wake?.();
    return { accepted, rejected, rooms: [...due] };
  }
}

/** What the HTTP layer sends back. */
export interface HttpReply {
  readonly status: number;
  readonly contentType: string;
  readonly body: string;
}

/** The query string as the HTTP layer parsed it (fastify's object, or URLSearchParams). */
export type QueryInput = URLSearchParams | Readonly<Record<string, unknown>> | null | undefined;

function validationToken(query: QueryInput): string | null {
  if (query === null || query === undefined) return null;
  const value = query instanceof URLSearchParams ? query.get("validationToken") : query["validationToken"];
  const token = Array.isArray(value) ? value[0] : value;
  return typeof token === "string" ? token : null;
}

/**
 * The handler of `POST /v1/notifications/graph` (open route; authenticated by clientState):
 * - `?validationToken=…` (subscription creation, both URLs): 200 text/plain with the token (the
 *   HTTP layer has already URL-decoded it), within Graph's 10 s;
 * - otherwise the body (parsed JSON, a JSON string or bytes) goes to `handleNotification` and the
 *   answer is 202 (also when items were dropped, so Graph does not retry forged posts);
 * - a body that is not a notification collection: 400; a store failure: 503 (Graph retries).
 */
export function graphNotificationRoute(
  handler: Pick<GraphSubscriptionManager, "handleNotification">,
): (query: QueryInput, body: unknown) => Promise<HttpReply> {
  return async (query, body) => {
    const token = validationToken(query);
    if (token !== null) return { status: 200, contentType: "text/plain; charset=utf-8", body: token };
    let parsed: unknown = body;
    if (typeof body === "string" || Buffer.isBuffer(body)) {
      try {
        parsed = JSON.parse(body.toString());
      } catch {
        return { status: 400, contentType: "application/json", body: JSON.stringify({ error: "the body is not JSON" }) };
      }
    }
    try {
      await handler.handleNotification(parsed);
    } catch (error) {
      if (error instanceof TypeError) return { status: 400, contentType: "application/json", body: JSON.stringify({ error: error.message }) };
      return { status: 503, contentType: "application/json", body: JSON.stringify({ error: "temporarily unavailable" }) };
    }
    return { status: 202, contentType: "text/plain; charset=utf-8", body: "" };
  };
}
