/**
 * The one row the Graph subscription and Google channel stores' `failing()` queries return (the
 * count of failing records, with the most recently touched one's error), as the port's result.
 */
import type { NotificationFailures } from "../../core/ports/notification-failures.ts";

export interface FailingRow {
  rooms: string | number;
  last_error_code: string | null;
  last_error: string | null;
}

export function toNotificationFailures(row: FailingRow | undefined): NotificationFailures {
  return row === undefined
    ? { rooms: 0, lastCode: null, lastMessage: null }
    : { rooms: Number(row.rooms), lastCode: row.last_error_code, lastMessage: row.last_error };
}
