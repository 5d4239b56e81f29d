/**
 * Control characters in names, subjects and addresses: an encoded display name from an outside
 * sender can decode to CR/LF, which would otherwise travel into logs, device bookings and the
 * iCalendar feed. Everything taken from an invite for display passes through here once, where
 * occurrences are mapped; writers that emit older stored rows apply it again.
 */
import type { Person } from "./domain.ts";

/** C0 and C1 controls (CR, LF, TAB, NUL, ESC, NEL, ...) and the Unicode line and paragraph separators. */
const CONTROL_RUN = /[\p{Cc}\u2028\u2029]+/gu;

/** `value` with every run of control characters replaced by one space; null stays null. */
export function stripControlCharacters<T extends string | null>(value: T): T {
  return (value === null ? null : value.replace(CONTROL_RUN, " ")) as T;
}

/** A person with control characters stripped from the name and the address. */
export function stripPersonControls(person: Person | null): Person | null {
  if (person === null) return null;
  // An address has no spaces: its control characters are dropped rather than replaced.
  return { name: stripControlCharacters(person.name), email: person.email === null ? null : person.email.replace(CONTROL_RUN, "") };
}
