/**
 * What the parts of the BridgeScheduler share: the store, the clock, the settings, the session
 * actions, the store lanes, and the lifecycle's `stopped` flag and work tracking.
 */
import type { CancelTimer, Clock } from "../core/clock.ts";
import { toOtjError } from "../core/errors.ts";
import type { BridgeStartRequest, MediaBridge } from "../core/ports/media-bridge.ts";
import type { BridgeSession, Meeting, Store } from "../core/ports/store.ts";
import type { Semaphore } from "../core/semaphore.ts";
import type { BridgeLogger, SessionActions } from "./session-actions.ts";

/** The `bridge.*` and `join.*` settings the scheduler reads. */
export interface BridgeSchedulerSettings {
  leadSeconds: number;
  lobbyTimeoutSeconds: number;
  lateStartSeconds: number;
  endGraceSeconds: number;
  /** `join.endBufferMinutes`. */
  endBufferMinutes: number;
  /** Where an HTTP bridge reports: `http.publicUrl` + `/v1/callbacks/bridge`. */
  callbackUrl: string;
}

export type Prepared = { ok: true; request: BridgeStartRequest } | { ok: false; reason: string };

/** A claimed session waiting in this instance for its instant. */
export interface Armed {
  /** The session as claimed. */
  session: BridgeSession;
  dueAt: number;
  leaseUntil: number;
  cancel: CancelTimer;
  /** The start request, read ahead (null: nothing to read, or the read failed). */
  prepared: Promise<Prepared | null> | null;
  /** What `prepared` gave, once it has (undefined until then, or when the read failed). */
  ready?: Prepared;
}

export interface SchedulerContext {
  readonly store: Store;
  readonly clock: Clock;
  /** Null when `bridge.adapter` is unset. */
  readonly bridge: MediaBridge | null;
  /** The adapter name recorded on each started session. */
  readonly adapter: string | null;
  readonly settings: BridgeSchedulerSettings;
  readonly actions: SessionActions;
  readonly logger: BridgeLogger;
  readonly horizonMs: number;
  readonly leaseMs: number;
  readonly batchSize: number;
  /**
   * Store work, kept below the connection pool's size: due work (a compare-and-set at the
   * instant, deadlines) in the urgent lane; bookkeeping (reading ahead, recording ids, releasing
   * claims) in the normal lane, so a burst of starts is not slowed by its own aftermath.
   */
  readonly lanes: Semaphore;
  /** True once the scheduler shuts down or is abandoned. */
  readonly stopped: boolean;
  /** Counts `work` as running until it settles (see BridgeScheduler.idle). */
  track<T>(work: Promise<T>): Promise<T>;
}

/** Why an occurrence no longer wants a session, or null when it does. */
export function unwantedReason(meeting: Meeting | null): string | null {
  if (meeting === null) return "meeting removed from the calendar";
  if (meeting.cancelled) return "meeting cancelled";
  if (meeting.declined) return "the room declined the meeting";
  if (meeting.route !== "sgj") return `meeting no longer routed sgj (now ${meeting.route})`;
  return null;
}

export function stepFailed(ctx: SchedulerContext, key: string, error: unknown): void {
  const e = toOtjError(error);
  ctx.logger.warn({ component: "bridge", occurrenceKey: key, code: e.code, error: e.message }, "bridge session step failed; the claim will be retried");
}
