/**
 * Devices that read their meetings from otj (pull API, ICS feed, EWS feed): the one record of
 * each device's last fetch (store.alarms.recordFetch, table device_fetch) and the one staleness
 * check over it. The alarm code and the setting follow the device family (contract names):
 * `ews` rooms raise OTJ_DEVICE_NOT_FETCHING after `alarms.ewsFetchStaleMinutes`, other pulling
 * rooms (pull, macro) OTJ_DEVICE_PULL_STALE after `alarms.pullStaleMinutes`.
 */
import type { Logger } from "../../core/logger.ts";
import type { DeviceFetch } from "../../core/ports/alarm-store.ts";
import type { Room, Store } from "../../core/ports/store.ts";

/** Whether a room's device reads its meetings from otj (and so should keep fetching). */
export function pullsMeetings(room: Pick<Room, "device" | "delivery">): boolean {
  return (
    room.device.family === "ews" || room.device.family === "pull" || room.device.family === "macro" || room.delivery === "macro" || room.delivery === "both"
  );
}

export interface StaleFetchSettings {
  /** `alarms.ewsFetchStaleMinutes` (ews rooms; 0 or absent: off). */
  ewsFetchStaleMinutes?: number;
  /** `alarms.pullStaleMinutes` (other pulling rooms; absent: off). */
  pullStaleMinutes?: number;
}

export interface FetchBaselines {
  /** When the engine started: a device that never fetched counts from here. */
  startedAt?: Date | null;
  /** When an ews room's password was issued: its device cannot read before that. */
  credentialIssuedAt?: Date | null;
}

export interface StaleFetchAlarm {
  code: "OTJ_DEVICE_NOT_FETCHING" | "OTJ_DEVICE_PULL_STALE";
  since: string;
  message: string;
}

/**
 * The staleness check: the alarm of a room whose device has not fetched for longer than its
 * family's setting, counted from its last fetch or, when it never fetched, from the later of its
 * credential's issue and the engine's start; null when fine, off, or nothing to count from.
 */
export function staleFetchAlarm(
  room: Pick<Room, "device" | "delivery" | "enabled">,
  last: DeviceFetch | undefined,
  now: Date,
  settings: StaleFetchSettings,
  baselines: FetchBaselines = {},
): StaleFetchAlarm | null {
  if (!room.enabled || !pullsMeetings(room)) return null;
  const ews = room.device.family === "ews";
  // An ews room without a password has no device that could read yet.
  if (ews && !baselines.credentialIssuedAt && last === undefined) return null;
  const minutes = (ews ? settings.ewsFetchStaleMinutes : settings.pullStaleMinutes) ?? 0;
  if (minutes <= 0) return null;
  const starts = [baselines.credentialIssuedAt, baselines.startedAt].filter((d): d is Date => d instanceof Date);
  const since = last?.at ?? (starts.length === 0 ? null : new Date(Math.max(...starts.map((d) => d.getTime()))));
  if (since === null || now.getTime() - since.getTime() <= minutes * 60_000) return null;
  const what = ews ? "read the EWS feed" : "fetched its meetings";
  const message =
    last === undefined
      ? `the device has not ${what} since ${since.getTime() === baselines.credentialIssuedAt?.getTime() ? "its password was issued" : "otj started"} (more than ${minutes} min)`
      : `the device last ${what} at ${last.at.toISOString()} (more than ${minutes} min ago)`;
  return { code: ews ? "OTJ_DEVICE_NOT_FETCHING" : "OTJ_DEVICE_PULL_STALE", since: since.toISOString(), message };
}

/**
 * Records device fetches, at most one write per room a minute (a device's poll is several
 * requests); a failed write is logged and retried on the next fetch.
 */
export class FetchRecorder {
  readonly #written = new Map<string, number>();
  readonly #store: Pick<Store, "alarms">;
  readonly #logger: Logger;

  constructor(store: Pick<Store, "alarms">, logger: Logger) {
    this.#store = store;
    this.#logger = logger;
  }

  /** Settles when written (or skipped); never rejects. */
  async record(roomId: string, via: string, now: Date): Promise<void> {
    const last = this.#written.get(roomId);
    if (last !== undefined && now.getTime() - last < 60_000 && now.getTime() >= last) return;
    this.#written.set(roomId, now.getTime());
    try {
      await this.#store.alarms.recordFetch(roomId, now, via);
    } catch (error) {
      this.#written.delete(roomId);
      this.#logger.warn({ err: (error as Error).message }, "device fetch not recorded");
    }
  }
}
