/**
 * Change notifications that keep failing, counted for the alarm evaluator
 * (OTJ_NOTIFICATIONS_FAILING): both the Graph subscription store and the Google channel store
 * answer it with one query, whatever the number of rooms.
 */
import type { StoreCallOptions } from "./store/options.ts";

/** The rooms whose subscription (or channel) failed often enough in a row, and the latest failure. */
export interface NotificationFailures {
  /** How many rooms. */
  readonly rooms: number;
  /** The error code of the most recently failed one, or null when `rooms` is 0. */
  readonly lastCode: string | null;
  /** Its error message, or null. */
  readonly lastMessage: string | null;
}

export interface FailingNotifications {
  /**
   * The enabled rooms whose record has failed `minFailures` times or more in a row (a success
   * resets the count), with the latest failure's code and message.
   */
  failing(minFailures: number, options?: StoreCallOptions): Promise<NotificationFailures>;
}
