/**
 * Pure domain rules about a meeting's privacy, shared by the planner, the calendar sync and the
 * audit log: a meeting whose sensitivity is anything but `normal` is private, so its subject is
 * neither shown nor logged unless the room's privacy settings say otherwise.
 */
import type { Sensitivity } from "./domain.ts";

/** Whether a meeting (an invite, a stored occurrence) is private: its sensitivity is not `normal`. */
export function isPrivate(meeting: { readonly sensitivity: Sensitivity }): boolean {
  return meeting.sensitivity !== "normal";
}
