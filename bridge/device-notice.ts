/**
 * DeviceNotifier: tells a room's video device how its SGJ session is going (waiting to be
 * admitted, admitted, not admitted, nobody admitted) with a Cisco `UserInterface Message Alert`
 * through the DevicePusher. Texts come from noticeText().
 *
 * Pull devices and panels read `bridgeState` from the pull API instead: nothing is pushed to them.
 * A notice is best effort: a device that does not answer is logged, never retried, and never
 * changes the session.
 */
import type { Clock } from "../core/clock.ts";
import { toOtjError } from "../core/errors.ts";
import type { DevicePusher, DeviceTarget } from "../core/ports/device-pusher.ts";
import type { BridgeSession, Room, Store } from "../core/ports/store.ts";
import { type BridgeLogger, type SessionNotifier, SILENT_LOGGER } from "./session-actions.ts";
import { type NoticeKind, noticeText } from "./session-machine.ts";

export interface DeviceNotifierOptions {
  store: Store;
  pusher: DevicePusher;
  clock: Clock;
  logger?: BridgeLogger;
  /** Per notice (default 10 s): a slow device must not hold up a callback. */
  timeoutMs?: number;
}

/** What the room shows when the meeting has no subject to show. */
const FALLBACK_SUBJECT = "Meeting";

export class DeviceNotifier implements SessionNotifier {
  readonly #logger: BridgeLogger;
  readonly #options: DeviceNotifierOptions;

  constructor(options: DeviceNotifierOptions) {
    this.#options = options;
    this.#logger = options.logger ?? SILENT_LOGGER;
  }

  async notify(session: BridgeSession, notice: NoticeKind): Promise<void> {
    const { store } = this.#options;
    let room: Room | null = null;
    try {
      room = await store.rooms.get(session.roomId);
      if (room === null || room.device.family === "pull" || room.device.address === null) return;
      const target = await this.#target(room);
      const signal = AbortSignal.timeout(this.#options.timeoutMs ?? 10_000);
      if (notice === "clear") {
        await this.#options.pusher.clearNotice(target, signal);
        return;
      }
      const meeting = await store.meetings.get(session.occurrenceKey);
      const text = noticeText(notice, meeting?.subjectShown || FALLBACK_SUBJECT);
      if (text !== null) await this.#options.pusher.showNotice(target, text, signal);
    } catch (error) {
      const e = toOtjError(error, "OTJ_DEVICE_UNREACHABLE");
      this.#logger.warn({ component: "bridge", roomId: session.roomId, occurrenceKey: session.occurrenceKey, code: e.code, notice }, "device notice failed");
      try {
        await store.eventLog.append([
          {
            at: this.#options.clock.now(),
            kind: "bridge.notice-failed",
            roomId: session.roomId,
            occurrenceKey: session.occurrenceKey,
            message: `${e.code}: ${e.message}`,
            data: { sessionId: session.sessionId, notice },
          },
        ]);
      } catch {
        // The store is gone too; the warning above is all we can do.
      }
    }
  }

  async #target(room: Room): Promise<DeviceTarget> {
    const creds = await this.#options.store.rooms.deviceCredentials(room.id);
    return {
      family: room.device.family,
      address: room.device.address ?? "",
      username: creds?.username ?? room.device.username,
      password: creds?.password ?? null,
      insecureTls: room.device.insecureTls,
    };
  }
}
