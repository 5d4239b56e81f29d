/**
 * Google change notifications as a hint, as Graph subscriptions are: one `events.watch` channel
 * per Google room, re-created before it expires (Google channels cannot be extended: a new one is
 * opened, then the old one stopped), stopped when its room is removed, disabled or moved to
 * another source, and re-created when it expired while no instance ran. A notification only
 * makes the room due for polling: the sync token stays the source of truth.
 *
 * - GoogleChannelManager.reconcile(): the periodic work (a tick; the database decides which
 *   rooms are due, with leases so two engine instances never work on one room at once). At most
 *   `maxPerRun` channel calls per run, and a run stops at the first throttling or budget answer, so
 *   opening thousands of channels spreads over the runs and never starves the polling of the
 *   shared daily budget.
 * - GoogleChannelManager.handleNotification(): the headers of one notification POST; no Google
 *   call, one store read and a write.
 */
import { randomBytes, randomUUID } from "node:crypto";
import { backoffMs } from "../../core/backoff.ts";
import { addMs, type Clock } from "../../core/clock.ts";
import { bytesEqual, sha256 } from "../../core/constant-time.ts";
import { type OtjError, toOtjError } from "../../core/errors.ts";
import type { ComponentLogger } from "../../core/logger.ts";
import type { ChannelRecord, GoogleChannelStore } from "../../core/ports/google-channel-store.ts";
import type { SyncCursorStore } from "../../core/ports/store.ts";
import { PeriodicJob } from "../../core/periodic-job.ts";
import type { TickerFactory } from "../../core/ticker.ts";
import type { GoogleClient } from "./google-client.ts";
import { mapGoogleError } from "./google-error-mapper.ts";

/** The part of GoogleClient the manager uses. */
export type ChannelApi = Pick<GoogleClient, "watch" | "stopChannel">;

export interface ChannelSettings {
  /** `{http.publicUrl}/v1/notifications/google` (a function: the port may be known only once listening). */
  readonly notificationUrl: string | (() => string);
  /** Requested lifetime (default 7 days, the most Google grants for calendar channels). */
  readonly lifetimeMs?: number;
  /** Re-create when this fraction of the lifetime has passed (default 0.75). */
  readonly renewAtFraction?: number;
  /** Channel calls (watch, stop) per reconcile run at most (default 100). */
  readonly maxPerRun?: number;
  /** Lease per claimed record (default 2 min). */
  readonly leaseMs?: number;
  /** First retry after a failure (default 1 min), doubling up to 6 h. */
  readonly baseBackoffMs?: number;
}

export interface ChannelManagerDeps {
  readonly api: ChannelApi;
  readonly store: GoogleChannelStore;
  /** Where a notification marks the room due. */
  readonly cursors: Pick<SyncCursorStore, "markDue">;
  readonly clock: Pick<Clock, "now">;
  /** Called after a notification made a room due (the poller's `poke`), so polling starts now. */
  readonly wake?: () => void;
  readonly logger?: ComponentLogger;
  readonly randomBytes?: (size: number) => Buffer;
  readonly random?: () => number;
}

export interface ChannelOutcome {
  readonly roomId: string;
  readonly mailbox: string;
  readonly action: "created" | "renewed" | "stopped" | "failed" | "lease-lost";
  readonly channelId: string | null;
  readonly code: string | null;
}

export interface ChannelReconcileReport {
  readonly added: number;
  readonly outcomes: readonly ChannelOutcome[];
  /** The run stopped early: `maxPerRun` reached, or Google throttled (or the budget is used up). */
  readonly stoppedEarly: "limit" | "throttled" | null;
}

/** The headers of one notification, as the HTTP layer received them (lowercase names). */
export type NotificationHeaders = Readonly<Record<string, string | string[] | undefined>>;

export type NotificationOutcome =
  /**
   * `sync`: the channel's first message, acknowledged. Google sends it as soon as it opens the
   * channel, which can be before otj has recorded it: `roomId` null then (nothing to do either way).
   */
  | { readonly status: "sync"; readonly roomId: string | null }
  /** A change: the room was made due. */
  | { readonly status: "due"; readonly roomId: string }
  /** Unknown channel, token mismatch, or a room no longer watched. */
  | { readonly status: "refused" }
  /** Headers missing or malformed. */
  | { readonly status: "invalid"; readonly message: string };

const DAY_MS = 86_400_000;
/** Channel ids we create are UUIDs; anything else is refused without a query. */
const PLAUSIBLE_CHANNEL_ID = /^[A-Za-z0-9_-]{1,64}$/;
const THROTTLING = new Set(["OTJ_GOOGLE_THROTTLED", "OTJ_GOOGLE_BUDGET_EXHAUSTED"]);

/** SHA-256 (hex) of a channel token. */
export function hashChannelToken(token: string): string {
  return sha256(token).toString("hex");
}

export class GoogleChannelManager {
  readonly #job = new PeriodicJob(
    (signal) => this.reconcile(signal),
    (error) => this.#deps.logger?.warn({ err: toOtjError(error).message }, "google channel reconcile failed"),
  );
  readonly #settings: Required<Omit<ChannelSettings, "notificationUrl">> & { notificationUrl: () => string };
  readonly #deps: ChannelManagerDeps;
  readonly #random: () => number;
  readonly #bytes: (size: number) => Buffer;

  constructor(settings: ChannelSettings, deps: ChannelManagerDeps) {
    const lifetimeMs = settings.lifetimeMs ?? 7 * DAY_MS;
    if (!(lifetimeMs >= 60_000 && lifetimeMs <= 30 * DAY_MS)) throw new RangeError("GoogleChannelManager: lifetimeMs must be between 1 minute and 30 days");
    const fraction = settings.renewAtFraction ?? 0.75;
    if (!(fraction > 0 && fraction < 1)) throw new RangeError("GoogleChannelManager: renewAtFraction must be in (0, 1)");
    this.#settings = {
      notificationUrl: typeof settings.notificationUrl === "string" ? () => settings.notificationUrl as string : settings.notificationUrl,
      lifetimeMs,
      renewAtFraction: fraction,
      maxPerRun: Math.max(1, settings.maxPerRun ?? 100),
      leaseMs: settings.leaseMs ?? 120_000,
      baseBackoffMs: settings.baseBackoffMs ?? 60_000,
    };
    this.#deps = deps;
    this.#random = deps.random ?? Math.random;
    this.#bytes = deps.randomBytes ?? randomBytes;
  }

  /** Runs `reconcile` at once and then on `ticker`'s ticks (default every 5 minutes); a tick while one runs is skipped. */
  start(ticker: TickerFactory, intervalMs = 5 * 60_000): void {
    this.#job.start(ticker, intervalMs);
  }

  /** Stops ticking, aborts a running reconcile and releases this instance's leases (channels stay open for the next start). */
  async stop(): Promise<void> {
    await this.#job.stop("google channel manager stopped");
    await this.#deps.store.releaseAll(this.#deps.clock.now()).catch(() => 0);
  }

  /**
   * Stops the channels of orphaned records, opens missing or expired channels and re-creates
   * those past `renewAtFraction` of their lifetime. One room's failure is retried with backoff;
   * a throttling answer ends the run (the rest wait for the next one).
   */
  async reconcile(signal: AbortSignal): Promise<ChannelReconcileReport> {
    const { store, clock } = this.#deps;
    const added = await store.ensureRooms(clock.now(), { signal });
    const outcomes: ChannelOutcome[] = [];
    const started = clock.now();
    let calls = 0;
    let stoppedEarly: ChannelReconcileReport["stoppedEarly"] = null;
    while (stoppedEarly === null) {
      signal.throwIfAborted();
      // A record costs up to two calls (watch, then stop of the one it replaces).
      const limit = Math.min(50, Math.floor((this.#settings.maxPerRun - calls) / 2));
      if (limit <= 0) {
        stoppedEarly = "limit";
        break;
      }
      const due = await store.claimDue(started, limit, this.#settings.leaseMs, { signal });
      for (const record of due) {
        const outcome = await this.#reconcileRoom(record, signal);
        outcomes.push(outcome.result);
        calls += outcome.calls;
        if (outcome.result.code !== null && THROTTLING.has(outcome.result.code)) {
          stoppedEarly = "throttled";
          // The claimed rest waits for the next run.
          await store.releaseAll(clock.now(), { signal });
          break;
        }
      }
      if (due.length < limit) break;
    }
    return { added, outcomes, stoppedEarly };
  }

  async #reconcileRoom(record: ChannelRecord, signal: AbortSignal): Promise<{ result: ChannelOutcome; calls: number }> {
    const { store, clock } = this.#deps;
    const base = { roomId: record.roomId, mailbox: record.mailbox };
    let calls = 0;
    try {
      if (record.orphan) {
        if (record.channelId !== null && record.resourceId !== null) {
          calls++;
          await this.#stop(record.channelId, record.resourceId, signal);
        }
        const removed = await store.remove(record.roomId, { signal });
        this.#deps.logger?.info({ roomId: record.roomId, channelId: record.channelId }, "google channel stopped (room removed or no longer on Google)");
        return { result: { ...base, action: removed ? "stopped" : "lease-lost", channelId: record.channelId, code: null }, calls };
      }
      calls++;
      const created = await this.#create(record, signal);
      const renewing = record.channelId !== null && record.resourceId !== null && (record.expiresAt?.getTime() ?? 0) > clock.now().getTime();
      if (created !== null && renewing) {
        calls++;
        // The old channel would lapse on its own; stopping it saves Google's duplicate notifications.
        await this.#stop(record.channelId!, record.resourceId!, signal).catch((error: unknown) => {
          this.#deps.logger?.warn(
            { roomId: record.roomId, err: toOtjError(error).message },
            "stopping the replaced google channel failed; it lapses at its expiry",
          );
        });
      }
      const action = created === null ? "lease-lost" : renewing ? "renewed" : "created";
      return { result: { ...base, action, channelId: created, code: null }, calls };
    } catch (error) {
      if (signal.aborted) throw signal.reason;
      const e = mapGoogleError(error, "events.watch").error;
      const dueAt = addMs(clock.now(), this.#backoffMs(e, record.failures));
      this.#deps.logger?.warn({ roomId: record.roomId, code: e.code, err: e.message }, "google channel failed");
      const recorded = await store.failed(record.roomId, { code: e.code, message: e.message, dueAt, forget: false }, clock.now(), { signal });
      return { result: { ...base, action: recorded ? "failed" : "lease-lost", channelId: null, code: e.code }, calls };
    }
  }

  /** Opens a channel and saves it; the channel id, or null when the lease was lost meanwhile. */
  async #create(record: ChannelRecord, signal: AbortSignal): Promise<string | null> {
    const { api, store, clock } = this.#deps;
    const token = this.#bytes(32).toString("base64url");
    const channelId = randomUUID();
    const now = clock.now();
    const opened = await api.watch(
      { calendarId: record.mailbox, channelId, address: this.#settings.notificationUrl(), token, expiration: now.getTime() + this.#settings.lifetimeMs },
      signal,
    );
    const expiresAt = new Date(opened.expiration);
    const dueAt = new Date(now.getTime() + (expiresAt.getTime() - now.getTime()) * this.#settings.renewAtFraction);
    const saved = await store.saved(
      record.roomId,
      { channelId, resourceId: opened.resourceId, tokenHash: hashChannelToken(token), expiresAt, dueAt },
      clock.now(),
      {
        signal,
      },
    );
    if (!saved) {
      // Another instance took the room over: this channel is nobody's.
      await this.#stop(channelId, opened.resourceId, signal).catch(() => undefined);
      return null;
    }
    this.#deps.logger?.info({ roomId: record.roomId, channelId, expiresAt }, "google channel opened");
    return channelId;
  }

  /** Stops a channel; one Google no longer knows (404) counts as stopped. */
  async #stop(channelId: string, resourceId: string, signal: AbortSignal): Promise<void> {
    try {
      await this.#deps.api.stopChannel(channelId, resourceId, signal);
    } catch (error) {
      if (signal.aborted) throw signal.reason;
      const failure = mapGoogleError(error, "channels.stop");
      if (failure.error.code !== "OTJ_GOOGLE_NOT_FOUND") throw failure.error;
    }
  }

  #backoffMs(error: OtjError, failures: number): number {
    const asked = typeof error.details?.["retryAfterMs"] === "number" ? (error.details["retryAfterMs"] as number) : 0;
    const jittered = backoffMs(failures, { baseMs: this.#settings.baseBackoffMs, maxExponent: 8 }, this.#random);
    return Math.min(6 * 3_600_000, Math.max(asked, jittered));
  }

  /**
   * Handles one notification (Google sends headers only): the channel is looked up by
   * X-Goog-Channel-ID and its X-Goog-Channel-Token compared with the stored hash in constant
   * time; `sync` (the channel's first message) is acknowledged, any other state makes the room due.
   * @throws OtjError when the store fails.
   */
  async handleNotification(headers: NotificationHeaders, signal?: AbortSignal): Promise<NotificationOutcome> {
    const channelId = one(headers["x-goog-channel-id"]);
    const state = one(headers["x-goog-resource-state"]);
    if (channelId === null || state === null) return { status: "invalid", message: "X-Goog-Channel-ID and X-Goog-Resource-State are required" };
    const token = one(headers["x-goog-channel-token"]);
    const record = PLAUSIBLE_CHANNEL_ID.test(channelId) ? await this.#deps.store.byChannelId(channelId, signal ? { signal } : {}) : null;
    // The same work whether or not the channel is known, so timing does not tell which.
    const stored = Buffer.from(record?.tokenHash ?? "00".repeat(32), "hex");
    const matches = bytesEqual(sha256(token ?? ""), stored) && record !== null && token !== null && !record.orphan;
    // A sync message changes nothing, so one for a channel not recorded yet is simply acknowledged.
    if (state === "sync" && record === null) return { status: "sync", roomId: null };
    if (!matches) {
      this.#deps.logger?.warn({}, "google notification refused (unknown channel or token mismatch)");
      return { status: "refused" };
    }
    if (state === "sync") return { status: "sync", roomId: record.roomId };
    await this.#deps.cursors.markDue(record.roomId, this.#deps.clock.now(), signal ? { signal } : {});
    this.#deps.wake?.();
    return { status: "due", roomId: record.roomId };
  }
}

function one(value: string | string[] | undefined): string | null {
  const v = Array.isArray(value) ? value[0] : value;
  return typeof v === "string" && v !== "" ? v : null;
}
