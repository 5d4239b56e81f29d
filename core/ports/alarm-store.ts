/**
 * Alarm history (docs/operations.md, "Alarms and notifications"): every alarm from the moment it
 * is raised until it clears, with who acknowledged it and who muted it until when; and when each
 * pulling device last fetched its meetings.
 */
import type { StoreCallOptions } from "./store.ts";

/** An alarm as the evaluator sees it now: one per key. */
export interface ActiveAlarm {
  /** Stable identity: the same condition on the same room/provider gives the same key. */
  key: string;
  code: string;
  /** The room's id for a room alarm, null for an engine-wide one. */
  roomId: string | null;
  /** What it is about, for people: a mailbox, a provider name, `engine`. Never a secret. */
  subject: string;
  message: string;
}

export interface AlarmRecord extends ActiveAlarm {
  id: string;
  raisedAt: Date;
  /** Null while the alarm is open. */
  clearedAt: Date | null;
  ackedBy: string | null;
  ackedAt: Date | null;
  mutedBy: string | null;
  mutedUntil: Date | null;
}

export interface AlarmTransitions {
  raised: AlarmRecord[];
  cleared: AlarmRecord[];
}

export interface AlarmStore {
  /**
   * Brings the open alarms in line with `active`: opens those not open yet (raised at `now`),
   * closes open ones no longer active (cleared at `now`), updates the message of the others.
   * Returns what changed. Racing callers never open the same key twice.
   */
  reconcile(active: readonly ActiveAlarm[], now: Date, options?: StoreCallOptions): Promise<AlarmTransitions>;
  /** Open alarms, oldest first. */
  listOpen(options?: StoreCallOptions): Promise<AlarmRecord[]>;
  /** Alarms raised or cleared before `before` (default: any), newest first, at most `limit`. */
  history(query: { limit: number; before?: Date }, options?: StoreCallOptions): Promise<AlarmRecord[]>;
  get(id: string, options?: StoreCallOptions): Promise<AlarmRecord | null>;
  /** Records who acknowledged an alarm. @throws OTJ_STORE_NOT_FOUND */
  acknowledge(id: string, by: string, now: Date, options?: StoreCallOptions): Promise<AlarmRecord>;
  /** Mutes an alarm (no notifications) until `until`; null unmutes. @throws OTJ_STORE_NOT_FOUND */
  mute(id: string, by: string, until: Date | null, options?: StoreCallOptions): Promise<AlarmRecord>;
  /**
   * A device fetched its meetings at `at` (pull API, ICS feed or EWS feed: the one record of last
   * fetch per device); `via` says what it read (`pull`, `ics`, `ews:<operation>`). Never moves back.
   */
  recordFetch(roomId: string, at: Date, via?: string | null, options?: StoreCallOptions): Promise<void>;
  /** When each device last fetched and what, by room id (one query). */
  lastFetches(options?: StoreCallOptions): Promise<Map<string, DeviceFetch>>;
}

/** A device's last fetch (table device_fetch). */
export interface DeviceFetch {
  at: Date;
  via: string | null;
}
