/**
 * The bridge's two callback routes, as plain handlers the HTTP server mounts (app/http):
 *
 * - `POST /v1/callbacks/bridge` (docs/bridge-protocol.md): HMAC-SHA256 over the raw body bytes (401),
 *   a well-formed body (400), a known session (404), `at` within 300 s of our clock (400);
 *   duplicates and stale states are ignored; otherwise the state machine decides. Answers 204.
 * - `POST /v1/callbacks/graph-calls`: a Graph call notification with an
 *   RS256 JWT (401 when it fails), read into call state and our roster entry's `isInLobby`
 *   (stale roster sequence numbers dropped), then the state machine decides. Answers 202.
 *
 * Both apply effects (stop the bridge, the room's notice) through SessionActions, the same path
 * the scheduler's timers take. Handlers never throw: a store failure answers 503 so the sender
 * retries.
 */
import { toOtjError } from "../core/errors.ts";
import {
  type CallReading,
  guestIdFor,
  interpretCallNotification,
  notificationCallId,
  parseCallView,
  serializeCallView,
} from "./adapters/graph-media-bridge.ts";
import { parseBridgeCallback, verifyBody } from "./bridge-signature.ts";
import type { GraphCallJwtVerifier } from "./graph-call-jwt.ts";
import type { SessionActions } from "./session-actions.ts";

export interface CallbackReply {
  status: number;
  body?: unknown;
}

export type CallbackHeaders = Readonly<Record<string, string | readonly string[] | undefined>>;

export interface BridgeCallbacksOptions {
  actions: SessionActions;
  /** `bridge.http.hmacSecret`; null rejects every bridge callback. */
  hmacSecret: string | null;
  /** Verifies Graph call notification JWTs; null rejects every Graph notification. */
  graphJwt: GraphCallJwtVerifier | null;
  /** Largest difference between a callback's `at` and our clock (default 300 s). */
  maxSkewSeconds?: number;
  /** How long a notification for a call not yet known is kept for replay (default 120 s). */
  pendingTtlMs?: number;
}

const LIVE_STARTED = ["starting", "lobby", "admitted"] as const;
const MAX_PENDING_CALLS = 1_000;
const MAX_CACHED_CALLS = 10_000;

function reject(status: number, message: string): CallbackReply {
  return { status, body: { error: status === 401 ? "OTJ_CALLBACK_UNAUTHENTICATED" : "bad callback", message } };
}

function header(headers: CallbackHeaders, name: string): string | undefined {
  for (const [k, v] of Object.entries(headers)) if (k.toLowerCase() === name) return typeof v === "string" ? v : v?.[0];
  return undefined;
}

export class BridgeCallbacks {
  readonly #actions: SessionActions;
  /** Graph call id -> occurrence key. */
  readonly #calls = new Map<string, string>();
  /** Notifications for calls whose start reply is not recorded yet. */
  readonly #pending = new Map<string, { since: number; notifications: unknown[] }>();
  /** Per call, so that notifications of one call are read in arrival order. */
  readonly #chains = new Map<string, Promise<void>>();
  readonly #inFlight = new Set<Promise<unknown>>();
  readonly #options: BridgeCallbacksOptions;

  constructor(options: BridgeCallbacksOptions) {
    this.#options = options;
    this.#actions = options.actions;
    this.#actions.onExternalId((session, externalId) => {
      this.#remember(externalId, session.occurrenceKey);
      const waiting = this.#pending.get(externalId);
      if (waiting === undefined) return;
      this.#pending.delete(externalId);
      for (const n of waiting.notifications) void this.#track(this.#inOrder(externalId, () => this.#readNotification(session.occurrenceKey, n)));
    });
  }

  /** `POST /v1/callbacks/bridge`: the raw body bytes and the `X-Otj-Signature` header. */
  readonly handleBridgeCallback = (rawBody: string | Buffer, signatureHeader: string | undefined | null): Promise<CallbackReply> =>
    this.#track(this.#bridgeCallback(rawBody, signatureHeader));

  /** `POST /v1/callbacks/graph-calls`: the request headers and body (parsed JSON, or raw). */
  readonly handleGraphCallsCallback = (headers: CallbackHeaders, body: unknown): Promise<CallbackReply> => this.#track(this.#graphCallback(headers, body));

  /** Resolves when every callback received so far has been applied (tests). */
  async idle(): Promise<void> {
    while (this.#inFlight.size > 0) await Promise.allSettled([...this.#inFlight]);
    await this.#actions.flush();
  }

  async #bridgeCallback(rawBody: string | Buffer, signatureHeader: string | undefined | null): Promise<CallbackReply> {
    const secret = this.#options.hmacSecret;
    if (secret === null || !verifyBody(secret, rawBody, signatureHeader)) return reject(401, "bad or missing signature");
    const callback = parseBridgeCallback(typeof rawBody === "string" ? rawBody : rawBody.toString("utf8"));
    if (callback === null) return reject(400, "not a bridge callback (sessionId, state, at)");
    try {
      const session = await this.#actions.store.bridgeSessions.getBySessionId(callback.sessionId);
      if (session === null) return reject(404, "unknown session");
      const at = new Date(callback.at);
      const skew = Math.abs(at.getTime() - this.#actions.clock.now().getTime());
      if (skew > (this.#options.maxSkewSeconds ?? 300) * 1000) return reject(400, `at is ${Math.round(skew / 1000)} s away from our clock`);
      const duplicate = session.lastCallbackState === callback.state && session.lastCallbackAt?.getTime() === at.getTime();
      if (!duplicate) {
        await this.#actions.apply(
          session,
          { type: "bridge", state: callback.state, detail: callback.detail },
          {
            at,
            patch: () => ({ lastCallbackAt: at, lastCallbackState: callback.state }),
            data: { reported: callback.state, ...(callback.detail ? { detail: callback.detail } : {}) },
          },
        );
      }
      return { status: 204 };
    } catch (error) {
      return reject(503, toOtjError(error).message);
    }
  }

  async #graphCallback(headers: CallbackHeaders, body: unknown): Promise<CallbackReply> {
    if (this.#options.graphJwt === null) return reject(401, "Graph call notifications are not configured");
    const check = await this.#options.graphJwt.verify(header(headers, "authorization"));
    if (!check.ok) return reject(401, check.reason);
    let payload = body;
    if (typeof body === "string" || Buffer.isBuffer(body)) {
      try {
        payload = JSON.parse(body.toString());
      } catch {
        return reject(400, "body is not JSON");
      }
    }
    const value = (payload as { value?: unknown } | null)?.value;
    if (!Array.isArray(value)) return reject(400, "not a commsNotifications body");
    try {
      for (const notification of value) {
        const callId = notificationCallId(notification);
        if (callId === null) continue;
        await this.#inOrder(callId, () => this.#routeNotification(callId, notification));
      }
      return { status: 202 };
    } catch (error) {
      return reject(503, toOtjError(error).message);
    }
  }

  async #routeNotification(callId: string, notification: unknown): Promise<void> {
    const key = await this.#findCall(callId);
    if (key !== null) return this.#readNotification(key, notification);
    // The call's start reply has not been recorded yet (notifications can overtake it): keep it.
    const now = this.#actions.clock.now().getTime();
    const ttl = this.#options.pendingTtlMs ?? 120_000;
    for (const [id, p] of this.#pending) if (now - p.since > ttl) this.#pending.delete(id);
    const waiting = this.#pending.get(callId) ?? { since: now, notifications: [] };
    if (!this.#pending.has(callId) && this.#pending.size >= MAX_PENDING_CALLS) return;
    waiting.notifications.push(notification);
    this.#pending.set(callId, waiting);
  }

  async #readNotification(key: string, notification: unknown): Promise<void> {
    const session = await this.#actions.store.bridgeSessions.get(key);
    if (session === null) return;
    const room = await this.#actions.store.rooms.get(session.roomId);
    const selfNow = { guestId: guestIdFor(session.sessionId), displayName: room?.displayName ?? null };
    let reading: CallReading | null = null;
    const now = this.#actions.clock.now();
    const updated = await this.#actions.patchLive(key, (current) => {
      const before = parseCallView(current.lastCallbackState);
      reading = interpretCallNotification(before, notification, selfNow);
      return serializeCallView(reading.view) === serializeCallView(before) ? null : { lastCallbackState: serializeCallView(reading.view), lastCallbackAt: now };
    });
    const report = (reading as CallReading | null)?.report ?? null;
    if (updated === null || report === null) return;
    await this.#actions.apply(
      updated,
      { type: "bridge", state: report.state, detail: report.detail },
      { data: { reported: report.state, graphCallId: updated.externalId } },
    );
  }

  async #findCall(callId: string): Promise<string | null> {
    const cached = this.#calls.get(callId);
    if (cached !== undefined) return cached;
    const live = await this.#actions.store.bridgeSessions.list({ states: LIVE_STARTED });
    const session = live.find((s) => s.externalId === callId);
    if (session === undefined) return null;
    this.#remember(callId, session.occurrenceKey);
    return session.occurrenceKey;
  }

  #remember(callId: string, key: string): void {
    if (this.#calls.size >= MAX_CACHED_CALLS) this.#calls.delete(this.#calls.keys().next().value!);
    this.#calls.set(callId, key);
  }

  #inOrder(callId: string, work: () => Promise<void>): Promise<void> {
    const previous = this.#chains.get(callId) ?? Promise.resolve();
    const next = previous.then(work, work);
    this.#chains.set(callId, next);
    const cleanup = () => {
      if (this.#chains.get(callId) === next) this.#chains.delete(callId);
    };
    next.then(cleanup, cleanup);
    return next;
  }

  #track<T>(work: Promise<T>): Promise<T> {
    this.#inFlight.add(work);
    const done = () => this.#inFlight.delete(work);
    work.then(done, done);
    return work;
  }
}
