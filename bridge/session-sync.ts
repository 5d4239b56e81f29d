/**
 * Syncing sessions from the calendar: one session per `sgj` occurrence, scheduled at
 * `start - bridge.leadSeconds`, rescheduled while still scheduled when the meeting moves,
 * cancelled (and stopped when live) when the occurrence is removed, cancelled, declined or no
 * longer routed `sgj`.
 */
import { addMs } from "../core/clock.ts";
import { toOtjError } from "../core/errors.ts";
import { type BridgeSession, LIVE_BRIDGE_STATES, type ScheduleBridgeSession, type Store } from "../core/ports/store.ts";
import { type SchedulerContext, unwantedReason } from "./scheduler-context.ts";
import { isFinal } from "./session-machine.ts";

export interface SyncRoomReport {
  created: number;
  rescheduled: number;
  cancelled: number;
}

export interface SessionSyncHooks {
  /** The session id of an occurrence. */
  sessionIdFor(occurrenceKey: string): string;
  /** Forgets this instance's timer of a session (it moved). */
  disarm(occurrenceKey: string): void;
  /** Claims what is due within the window now. */
  tick(): Promise<unknown>;
}

export class SessionSync {
  readonly #ctx: SchedulerContext;
  readonly #hooks: SessionSyncHooks;

  constructor(ctx: SchedulerContext, hooks: SessionSyncHooks) {
    this.#ctx = ctx;
    this.#hooks = hooks;
  }

  /**
   * Brings the room's sessions in line with its meetings as of `now`. Idempotent. A session
   * first seen after `start + bridge.lateStartSeconds` is cancelled with that cause; one first
   * seen after `start - lead` but before that is due at once. A session created or moved into
   * the claim window is claimed at once (this runs a tick), so it never waits for the next tick.
   */
  async syncRoom(roomId: string, now: Date): Promise<SyncRoomReport> {
    const { store, actions } = this.#ctx;
    const report: SyncRoomReport = { created: 0, rescheduled: 0, cancelled: 0 };
    const { leadSeconds, lateStartSeconds, endBufferMinutes, endGraceSeconds } = this.#ctx.settings;
    const meetings = await store.meetings.list(roomId, { from: addMs(now, -86_400_000), includeCancelled: true });
    const byKey = new Map(meetings.map((m) => [m.occurrenceKey, m]));
    let dueSoon = false;
    for (const meeting of meetings) {
      if (unwantedReason(meeting) !== null) continue;
      const notAfter = addMs(meeting.end, endBufferMinutes * 60_000 + endGraceSeconds * 1000);
      if (notAfter.getTime() <= now.getTime()) continue;
      const dueAt = addMs(meeting.start, -leadSeconds * 1000);
      const { session, change } = await this.#schedule(
        {
          occurrenceKey: meeting.occurrenceKey,
          sessionId: this.#hooks.sessionIdFor(meeting.occurrenceKey),
          roomId,
          dueAt,
          notAfter,
          dialString: meeting.dialString,
        },
        now,
      );
      if (change === "created") {
        report.created++;
        this.#event(session, now, "bridge.scheduled", `session scheduled for ${dueAt.toISOString()}`);
        const lateBy = now.getTime() - meeting.start.getTime();
        if (lateBy >= lateStartSeconds * 1000) {
          const reason = `first seen ${Math.round(lateBy / 1000)} s after the meeting started, later than bridge.lateStartSeconds (${lateStartSeconds} s): too late to join`;
          if ((await actions.apply(session, { type: "cancel", reason })).applied) report.cancelled++;
          continue;
        }
      } else if (change === "rescheduled") {
        report.rescheduled++;
        this.#event(session, now, "bridge.rescheduled", `meeting moved: session now due ${dueAt.toISOString()}`);
        this.#hooks.disarm(session.occurrenceKey);
        if (session.leaseOwner === store.owner) await store.bridgeSessions.release(session.occurrenceKey, now);
      } else if (!isFinal(session.state) && session.state !== "scheduled" && session.notAfter.getTime() !== notAfter.getTime()) {
        // The meeting's end moved while the bridge is in it: it now leaves at the new end.
        await actions.patchLive(session.occurrenceKey, (s) => {
          if (s.state === "scheduled") return null;
          const deadline = s.state === "admitted" || s.lobbyDeadline === null ? Number.POSITIVE_INFINITY : s.lobbyDeadline.getTime();
          const next = s.dueAt.getTime() === s.notAfter.getTime() ? deadline : s.dueAt.getTime();
          const dueAt = new Date(Math.min(next, notAfter.getTime()));
          return { notAfter, dueAt };
        });
      }
      // Created or moved into the claim window: claim it now rather than at the next tick.
      if (change !== "unchanged" && session.state === "scheduled" && dueAt.getTime() <= now.getTime() + this.#ctx.horizonMs) dueSoon = true;
    }
    for (const session of await store.bridgeSessions.list({ roomId, states: LIVE_BRIDGE_STATES })) {
      const meeting = byKey.get(session.occurrenceKey) ?? (await store.meetings.get(session.occurrenceKey));
      const reason = unwantedReason(meeting);
      if (reason === null) continue;
      if ((await actions.apply(session, { type: "cancel", reason })).applied) report.cancelled++;
    }
    await actions.flush();
    if (dueSoon && !this.#ctx.stopped) await this.#hooks.tick();
    return report;
  }

  /**
   * store.schedule, once more after a unique-key conflict: when two instances create the same
   * session at once, PostgreSQL can report the session id's unique index instead of resolving the
   * occurrence key's ON CONFLICT; the second try finds the row and changes nothing.
   */
  async #schedule(input: ScheduleBridgeSession, now: Date): ReturnType<Store["bridgeSessions"]["schedule"]> {
    try {
      return await this.#ctx.store.bridgeSessions.schedule(input, now);
    } catch (error) {
      if (toOtjError(error).code !== "OTJ_STORE_CONFLICT") throw error;
      return this.#ctx.store.bridgeSessions.schedule(input, now);
    }
  }

  #event(session: BridgeSession, at: Date, kind: string, message: string): void {
    this.#ctx.actions.log({ at, kind, roomId: session.roomId, occurrenceKey: session.occurrenceKey, message, data: { sessionId: session.sessionId } });
  }
}
