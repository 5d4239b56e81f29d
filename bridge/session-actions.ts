/**
 * SessionActions: applies state-machine events to stored SGJ sessions. Shared by the
 * BridgeScheduler (timers) and the callback handlers (bridge and Graph notifications), so that
 * every transition goes through the same steps:
 *
 * 1. compute the transition with the pure machine (bridge/session-machine.ts);
 * 2. write it with a compare-and-set on the state read (another instance or callback may have
 *    moved the session meanwhile: then re-read and decide again);
 * 3. record it in event_log with its cause;
 * 4. run its effects: stop the bridge, tell the room (device notice).
 *
 * Glossary: a session is *live* while scheduled, starting, in the lobby or admitted; *due* when
 * its `dueAt` has come (start, lobby deadline, or the meeting's end: see {@link timesFor}).
 */
import { type ComponentLogger, SILENT_LOGGER } from "../core/logger.ts";
import { addMs, type Clock } from "../core/clock.ts";
import type { BridgeState } from "../core/domain.ts";
import { toOtjError } from "../core/errors.ts";
import type { MediaBridge } from "../core/ports/media-bridge.ts";
import type { BridgeSession, BridgeSessionPatch, NewLoggedEvent, Store } from "../core/ports/store.ts";
import { isFinal, type NoticeKind, type SessionEvent, type Transition, transition } from "./session-machine.ts";

/** The logger slice the bridge uses (pino's shape). */
export type BridgeLogger = ComponentLogger;
export { SILENT_LOGGER };

/** Tells a room about its session (device-notice.ts). Never throws. */
export interface SessionNotifier {
  notify(session: BridgeSession, notice: NoticeKind): Promise<void>;
}

export interface SessionActionsOptions {
  store: Store;
  clock: Clock;
  /** Null when no `bridge.adapter` is configured. */
  bridge: MediaBridge | null;
  notifier?: SessionNotifier | null;
  logger?: BridgeLogger;
  /** `bridge.lobbyTimeoutSeconds`. */
  lobbyTimeoutSeconds: number;
  /**
   * After a start request, when the scheduler looks again if the bridge has not reported: the
   * Graph adapter counts a call still establishing after 15 s as waiting in the lobby; null waits for the bridge until the lobby deadline.
   */
  assumeLobbyAfterMs?: number | null;
  /**
   * With a bridge whose start is idempotent: how soon a session without the bridge's id (just
   * started, or reported in the lobby or admitted before the reply was recorded) is looked at
   * again, to send its start request again and learn the id (default 30 s). The reply, when it is
   * recorded, moves the look back, so normally only an instance that reclaims the session after
   * a crash gets there.
   */
  confirmStartMs?: number;
}

export type ApplyOutcome =
  | { applied: true; session: BridgeSession; transition: Transition }
  | { applied: false; session: BridgeSession | null; reason: string };

export interface ApplyOptions {
  /** Fields to write with the transition (merged over the times of {@link timesFor}). */
  patch?: (session: BridgeSession, transition: Transition) => BridgeSessionPatch;
  /** When the reported change happened (a callback's `at`); default now. */
  at?: Date;
  /** Extra facts for the event log entry (never secrets). */
  data?: Record<string, unknown>;
}

/** Compare-and-set retries before giving up on a session that keeps changing under us. */
const MAX_CAS_ATTEMPTS = 8;
/** Event log rows per INSERT when flushing (6 parameters a row, far below PostgreSQL's limit). */
const LOG_CHUNK = 2_000;

export class SessionActions {
  readonly store: Store;
  readonly clock: Clock;
  readonly bridge: MediaBridge | null;
  readonly logger: BridgeLogger;
  readonly lobbyTimeoutMs: number;
  readonly assumeLobbyAfterMs: number | null;
  /** See {@link SessionActionsOptions.confirmStartMs}; null when the bridge's start is not idempotent. */
  readonly confirmStartMs: number | null;
  readonly #notifier: SessionNotifier | null;
  #pendingLog: NewLoggedEvent[] = [];
  #flushing: Promise<void> | null = null;
  #flushScheduled = false;
  readonly #externalIdListeners: Array<(session: BridgeSession, externalId: string) => void> = [];
  readonly #finishedListeners: Array<(session: BridgeSession, t: Transition) => void> = [];

  constructor(options: SessionActionsOptions) {
    this.store = options.store;
    this.clock = options.clock;
    this.bridge = options.bridge;
    this.#notifier = options.notifier ?? null;
    this.logger = options.logger ?? SILENT_LOGGER;
    this.lobbyTimeoutMs = options.lobbyTimeoutSeconds * 1000;
    this.assumeLobbyAfterMs = options.assumeLobbyAfterMs ?? null;
    this.confirmStartMs = options.bridge?.idempotentStart === true ? (options.confirmStartMs ?? 30_000) : null;
  }

  /**
   * The times a session gets when it enters `to` at `at`: when the scheduler must look at it
   * next (`dueAt`) and the lobby deadline.
   */
  timesFor(session: BridgeSession, to: BridgeState, at: Date): BridgeSessionPatch {
    const notAfter = session.notAfter.getTime();
    // A session the bridge reports on before otj has recorded its id (the reply is still on its
    // way, or its instance died first) is looked at again soon, to ask for the id: without it otj
    // could not hang up. The reply, when it comes, moves the look back (recordExternalIds).
    const look = (ms: number) => (session.externalId === null && this.confirmStartMs !== null ? Math.min(ms, at.getTime() + this.confirmStartMs) : ms);
    const min = (ms: number) => new Date(Math.min(ms, notAfter));
    switch (to) {
      case "starting": {
        const { lobbyDeadline, nextDueAt } = this.startTimes(at);
        return { lobbyDeadline, dueAt: min(nextDueAt.getTime()) };
      }
      case "lobby": {
        const deadline = addMs(at, this.lobbyTimeoutMs);
        return { lobbyDeadline: deadline, dueAt: min(look(deadline.getTime())) };
      }
      case "admitted":
        return { dueAt: min(look(notAfter)) };
      default:
        return {};
    }
  }

  /**
   * The times of a session started at `at`, before its `notAfter` caps `nextDueAt`: a bridge that
   * never reports still gets a deadline, the lobby timeout counted from the start.
   */
  startTimes(at: Date): { lobbyDeadline: Date; nextDueAt: Date } {
    const lobbyDeadline = addMs(at, this.lobbyTimeoutMs);
    let look = lobbyDeadline.getTime();
    if (this.assumeLobbyAfterMs !== null) look = Math.min(look, at.getTime() + this.assumeLobbyAfterMs);
    if (this.confirmStartMs !== null) look = Math.min(look, at.getTime() + this.confirmStartMs);
    return { lobbyDeadline, nextDueAt: new Date(look) };
  }

  /**
   * Applies `event` to the session (by occurrence key, or a copy just read). Returns what
   * happened; an event the machine ignores (stale, duplicate, final session) is not an error.
   * @throws OtjError from the store (OTJ_STORE_UNREACHABLE ...).
   */
  async apply(target: string | BridgeSession, event: SessionEvent, options: ApplyOptions = {}): Promise<ApplyOutcome> {
    const key = typeof target === "string" ? target : target.occurrenceKey;
    let session = typeof target === "string" ? await this.store.bridgeSessions.get(key) : target;
    for (let attempt = 0; attempt < MAX_CAS_ATTEMPTS; attempt++) {
      if (session === null) return { applied: false, session: null, reason: "unknown session" };
      const result = transition(session.state, event);
      if (!result.ok) return { applied: false, session, reason: result.reason };
      const t = result.transition;
      const now = this.clock.now();
      const at = options.at && options.at.getTime() < now.getTime() ? options.at : now;
      const patch: BridgeSessionPatch = { ...this.timesFor(session, t.to, at), ...(options.patch?.(session, t) ?? {}) };
      if (isFinal(t.to) && patch.endedReason === undefined) patch.endedReason = t.cause;
      const updated = await this.store.bridgeSessions.transition(key, { from: [session.state], to: t.to, patch }, now);
      if (updated === null) {
        session = await this.store.bridgeSessions.get(key);
        continue;
      }
      this.#record(updated, t, options.data);
      // Before the effects (a device notice may take seconds): a start request held for its instant must not leave.
      if (isFinal(t.to)) for (const listener of this.#finishedListeners) listener(updated, t);
      await this.#runEffects(updated, t);
      return { applied: true, session: updated, transition: t };
    }
    return { applied: false, session, reason: "the session kept changing; gave up" };
  }

  /**
   * Writes `patch` without changing the state (compare-and-set on the state read), unless the
   * session is final or gone. Returns the session as it is afterwards.
   */
  async patchLive(key: string, patch: BridgeSessionPatch | ((session: BridgeSession) => BridgeSessionPatch | null)): Promise<BridgeSession | null> {
    for (let attempt = 0; attempt < MAX_CAS_ATTEMPTS; attempt++) {
      const session = await this.store.bridgeSessions.get(key);
      if (session === null || isFinal(session.state)) return session;
      const values = typeof patch === "function" ? patch(session) : patch;
      if (values === null) return session;
      const updated = await this.store.bridgeSessions.transition(key, { from: [session.state], to: session.state, patch: values }, this.clock.now());
      if (updated !== null) return updated;
    }
    return this.store.bridgeSessions.get(key);
  }

  /**
   * Registers a listener told when a start request's reply gave a session its external id (the
   * Graph callbacks replay notifications that arrived before it).
   */
  onExternalId(listener: (session: BridgeSession, externalId: string) => void): void {
    this.#externalIdListeners.push(listener);
  }

  /**
   * Registers a listener told when this instance has moved a session to a final state (the start
   * pipeline drops a start request it holds for the session's instant).
   */
  onFinished(listener: (session: BridgeSession, t: Transition) => void): void {
    this.#finishedListeners.push(listener);
  }

  /** Called by the scheduler once a session's external id is stored. */
  externalIdRecorded(session: BridgeSession, externalId: string): void {
    for (const listener of this.#externalIdListeners) listener(session, externalId);
  }

  /** Leaves the meeting; failures are logged (the bridge also leaves by `notAfter`). */
  async stopBridge(session: BridgeSession, externalId: string | null = session.externalId): Promise<void> {
    if (this.bridge === null || externalId === null) return;
    try {
      await this.bridge.stop(externalId);
    } catch (error) {
      const e = toOtjError(error, "OTJ_BRIDGE_UNAVAILABLE");
      this.logger.warn({ component: "bridge", occurrenceKey: session.occurrenceKey, code: e.code }, "bridge stop failed");
      this.log({
        at: this.clock.now(),
        kind: "bridge.stop-failed",
        roomId: session.roomId,
        occurrenceKey: session.occurrenceKey,
        message: `${e.code}: ${e.message}`,
        data: { sessionId: session.sessionId, externalId },
      });
    }
  }

  /** Queues an event log entry; entries are written in order, many per statement. */
  log(entry: NewLoggedEvent): void {
    this.#pendingLog.push(entry);
    if (this.#flushScheduled) return;
    this.#flushScheduled = true;
    setImmediate(() => {
      this.#flushScheduled = false;
      void this.flush();
    });
  }

  /** Writes every queued event log entry. Never throws (a failure is logged). */
  async flush(): Promise<void> {
    while (this.#flushing !== null) await this.#flushing;
    if (this.#pendingLog.length === 0) return;
    const entries = this.#pendingLog;
    this.#pendingLog = [];
    this.#flushing = (async () => {
      for (let i = 0; i < entries.length; i += LOG_CHUNK) {
        try {
          await this.store.eventLog.append(entries.slice(i, i + LOG_CHUNK));
        } catch (error) {
          this.logger.warn({ component: "bridge", error: toOtjError(error).message, entries: entries.length }, "event log write failed");
        }
      }
    })();
    try {
      await this.#flushing;
    } finally {
      this.#flushing = null;
    }
    if (this.#pendingLog.length > 0) await this.flush();
  }

  #record(session: BridgeSession, t: Transition, data?: Record<string, unknown>): void {
    this.log({
      at: this.clock.now(),
      kind: `bridge.${t.to}`,
      roomId: session.roomId,
      occurrenceKey: session.occurrenceKey,
      message: t.cause,
      data: {
        sessionId: session.sessionId,
        from: t.from,
        to: t.to,
        ...(session.externalId !== null ? { externalId: session.externalId } : {}),
        ...(data ?? {}),
      },
    });
    this.announce(session, t);
  }

  /**
   * Logs a transition (the process log; the event log entry is written by whoever wrote the
   * transition: {@link apply}, or the store's batched start).
   */
  announce(session: BridgeSession, t: Transition): void {
    const level = t.to === "failed" || t.to === "timeout" || t.to === "denied" ? "warn" : "info";
    this.logger[level]({ component: "bridge", occurrenceKey: session.occurrenceKey, from: t.from, to: t.to }, t.cause);
  }

  async #runEffects(session: BridgeSession, t: Transition): Promise<void> {
    for (const effect of t.effects) {
      if (effect.kind === "stop-bridge") await this.stopBridge(session);
      else if (this.#notifier !== null) await this.#notifier.notify(session, effect.notice);
    }
  }
}
