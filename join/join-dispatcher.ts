/**
 * JoinDispatcher: keeps each room's device in step with its planned meetings. `refreshRoom`
 * records what the device should hold (a hash); `tick` claims due pushes (SKIP LOCKED + lease),
 * pushes the whole list, and records success or a failure with backoff. A push happens only
 * when the list changed; a repeated push of the same list is harmless (Bookings Put replaces).
 */
import { type ComponentLogger, SILENT_LOGGER } from "../core/logger.ts";
import { backoffMs } from "../core/backoff.ts";
import type { Clock } from "../core/clock.ts";
import { isOtjError, toOtjError } from "../core/errors.ts";
import type { DevicePusher, DeviceTarget } from "../core/ports/device-pusher.ts";
import type { DeviceState, Store } from "../core/ports/store.ts";
import { type BookingSettings, bookingHash, desiredBookings, listHash, pushesTo, visibleMeetings } from "./device-bookings.ts";

export type DispatcherLogger = ComponentLogger;

export interface JoinDispatcherOptions {
  store: Store;
  pusher: DevicePusher;
  clock: Clock;
  settings: BookingSettings;
  logger?: DispatcherLogger;
  /** First retry delay; doubles per attempt up to maxBackoffMs, with jitter (core/backoff.ts). */
  baseBackoffMs?: number;
  maxBackoffMs?: number;
  /** Draws the jitter (uniform in [0, 1)); default Math.random. Tests pinning retry times pass `() => 1` (no jitter). */
  random?: () => number;
  /** Claims per tick and pushes in flight at once. */
  batchSize?: number;
  concurrency?: number;
  /** Called after each push attempt (metrics). */
  onPush?: (result: "ok" | "error") => void;
}

export interface TickReport {
  claimed: number;
  pushed: number;
  failed: number;
}

const silent: DispatcherLogger = SILENT_LOGGER;

export class JoinDispatcher {
  readonly #store: Store;
  readonly #logger: DispatcherLogger;
  readonly #options: JoinDispatcherOptions;

  constructor(options: JoinDispatcherOptions) {
    this.#options = options;
    this.#store = options.store;
    this.#logger = options.logger ?? silent;
  }

  /** The meetings window read for a room's list (a day back covers the end buffer). */
  async #roomBookings(roomId: string, now: Date) {
    const meetings = await this.#store.meetings.list(roomId, { from: new Date(now.getTime() - 86_400_000) });
    return desiredBookings(meetings, now, this.#options.settings);
  }

  /** Records what the room's device should hold now; a push becomes due when it changed. */
  async refreshRoom(roomId: string): Promise<void> {
    const now = this.#options.clock.now();
    const bookings = await this.#roomBookings(roomId, now);
    await this.#store.deviceStates.setDesired(roomId, listHash(bookings), now);
  }

  /**
   * Recomputes every enabled room's list: meetings enter the shown window as time passes without
   * any calendar change, so this runs periodically (every 15 minutes in `otj run`).
   */
  async refreshAll(signal?: AbortSignal): Promise<number> {
    const rooms = await this.#store.rooms.list({ enabled: true });
    for (const room of rooms) {
      signal?.throwIfAborted();
      await this.refreshRoom(room.id);
    }
    return rooms.length;
  }

  /** Claims due pushes and performs them. Never throws for one device's failure. */
  async tick(signal?: AbortSignal): Promise<TickReport> {
    const now = this.#options.clock.now();
    const claimed = await this.#store.deviceStates.claimDue(now, this.#options.batchSize ?? 50, signal ? { signal } : {});
    const report: TickReport = { claimed: claimed.length, pushed: 0, failed: 0 };
    const queue = [...claimed];
    const workers = Array.from({ length: Math.min(this.#options.concurrency ?? 8, queue.length) }, async () => {
      for (let state = queue.shift(); state; state = queue.shift()) {
        if (await this.#pushOne(state, signal)) report.pushed++;
        else report.failed++;
      }
    });
    await Promise.all(workers);
    return report;
  }

  #backoffMs(attempts: number): number {
    const base = this.#options.baseBackoffMs ?? 30_000;
    // Jittered: devices that failed together (a site's network down) do not all retry in step.
    return backoffMs(attempts, { baseMs: base, capMs: this.#options.maxBackoffMs ?? 15 * 60_000 }, this.#options.random);
  }

  async #pushOne(state: DeviceState, signal?: AbortSignal): Promise<boolean> {
    const now = this.#options.clock.now();
    const room = await this.#store.rooms.get(state.roomId);
    if (!room) return false;
    const meetings = await this.#store.meetings.list(room.id, { from: new Date(now.getTime() - 86_400_000) });
    const visible = visibleMeetings(meetings, now, this.#options.settings);
    const bookings = desiredBookings(meetings, now, this.#options.settings);
    const hash = listHash(bookings);
    const entries = visible.map((m, i) => ({ key: m.occurrenceKey, hash: bookingHash(bookings[i]!) }));
    try {
      if (pushesTo(room)) {
        const creds = await this.#store.rooms.deviceCredentials(room.id);
        const target: DeviceTarget = {
          family: room.device.family,
          address: room.device.address ?? "",
          username: creds?.username ?? room.device.username,
          password: creds?.password ?? null,
          insecureTls: room.device.insecureTls,
        };
        await this.#options.pusher.pushBookings(target, bookings, signal);
      }
      const recorded = await this.#store.deviceStates.recordPushed(room.id, { hash, entries }, this.#options.clock.now());
      await this.#store.eventLog.append([
        {
          at: this.#options.clock.now(),
          kind: "device.pushed",
          roomId: room.id,
          message: `${bookings.length} booking(s) on ${room.device.family} device`,
          data: { hash },
        },
      ]);
      this.#logger.info({ component: "dispatcher", roomId: room.id, bookings: bookings.length }, "device updated");
      this.#options.onPush?.("ok");
      return recorded;
    } catch (error) {
      const e = toOtjError(error, "OTJ_DEVICE_UNREACHABLE");
      const attempts = state.attempts + 1;
      // Non-retryable failures (bad credentials, TLS) are retried too, but slowly: an admin fixes them.
      const delay = isOtjError(error) && !e.retryable ? (this.#options.maxBackoffMs ?? 15 * 60_000) : this.#backoffMs(attempts - 1);
      const at = this.#options.clock.now();
      await this.#store.deviceStates.recordFailed(room.id, { code: e.code, message: e.message, retryAt: new Date(at.getTime() + delay) }, at);
      await this.#store.eventLog.append([
        { at, kind: "device.push-failed", roomId: room.id, message: `${e.code}: ${e.message}`, data: { attempts, retryInMs: delay } },
      ]);
      this.#logger.warn({ component: "dispatcher", roomId: room.id, code: e.code, attempts }, "device push failed");
      this.#options.onPush?.("error");
      return false;
    }
  }
}
