/**
 * The EWS emulator's calendar data: per mailbox, single meetings and recurring series (a daily or
 * weekly rule with a count), their exceptions and deleted occurrences. Every change gives the
 * item a new ChangeKey; a change to a series gives all its unmodified occurrences the series'
 * new ChangeKey, as Exchange does. ItemIds are opaque base64 but decodable here, so GetItem
 * resolves occurrence ids the way Exchange does (master id + instance index).
 */

export type Sensitivity = "Normal" | "Personal" | "Private" | "Confidential";
export type ResponseType = "Organizer" | "Accept" | "Tentative" | "Decline" | "NoResponseReceived" | "Unknown";

export interface EventInput {
  subject?: string;
  /** ISO instants. */
  start: string;
  end: string;
  body?: string;
  bodyType?: "HTML" | "Text";
  organizer?: { name: string; email: string };
  attendees?: readonly string[];
  location?: string;
  sensitivity?: Sensitivity;
  allDay?: boolean;
  /** The room's own response (default Accept). */
  response?: ResponseType;
  /** `JoinOnlineMeetingUrl` (Skype/Teams meetings created by Outlook on Exchange 2019). */
  joinUrl?: string;
  uid?: string;
  /** A series: `count` occurrences every `intervalDays` days. */
  recurrence?: { count: number; intervalDays: number };
}

export interface StoredEvent {
  readonly seq: number;
  readonly id: string;
  changeKey: string;
  lastModified: string;
  uid: string;
  data: Omit<EventInput, "recurrence" | "uid">;
  cancelled: boolean;
  readonly recurrence: { count: number; intervalDays: number } | null;
  /** Instance index → the exception's own fields and ChangeKey. */
  readonly exceptions: Map<number, { changeKey: string; data: Omit<EventInput, "recurrence" | "uid"> }>;
  readonly deletedInstances: Set<number>;
}

/** One item as a CalendarView or GetItem shows it. */
export interface ViewItem {
  readonly id: string;
  readonly changeKey: string;
  readonly type: "Single" | "Occurrence" | "Exception";
  readonly recurrenceId: string | null;
  readonly event: StoredEvent;
  readonly data: Omit<EventInput, "recurrence" | "uid">;
}

const DAY_MS = 86_400_000;

export class EmulatedMailbox {
  readonly events = new Map<number, StoredEvent>();
  readonly #next: { seq: () => number; changeKey: () => string; now: () => string };

  constructor(
    readonly address: string,
    next: { seq: () => number; changeKey: () => string; now: () => string },
  ) {
    this.#next = next;
  }

  create(input: EventInput): StoredEvent {
    const seq = this.#next.seq();
    const { recurrence, uid, ...data } = input;
    const event: StoredEvent = {
      seq,
      id: itemId({ mailbox: this.address, seq, instance: null }),
      changeKey: this.#next.changeKey(),
      lastModified: this.#next.now(),
      uid: uid ?? `040000008200E00074C5B7101A82E008000000000000000000000000000000000${seq.toString(16).padStart(8, "0")}`.toUpperCase(),
      data: { response: "Accept", ...data },
      cancelled: false,
      recurrence: recurrence ?? null,
      exceptions: new Map(),
      deletedInstances: new Set(),
    };
    this.events.set(seq, event);
    return event;
  }

  /** Changes a single meeting or a whole series (its unmodified occurrences follow). */
  update(event: StoredEvent, patch: Partial<Omit<EventInput, "recurrence" | "uid">>): void {
    event.data = { ...event.data, ...patch };
    this.#touch(event);
  }

  cancel(event: StoredEvent): void {
    event.cancelled = true;
    event.data = { ...event.data, subject: `Canceled: ${event.data.subject ?? ""}` };
    this.#touch(event);
  }

  /** Makes instance `index` of a series an exception with `patch`. */
  modifyOccurrence(event: StoredEvent, index: number, patch: Partial<Omit<EventInput, "recurrence" | "uid">>): void {
    const current = event.exceptions.get(index)?.data ?? this.#instanceData(event, index);
    event.exceptions.set(index, { changeKey: this.#next.changeKey(), data: { ...current, ...patch } });
  }

  deleteOccurrence(event: StoredEvent, index: number): void {
    event.deletedInstances.add(index);
    event.exceptions.delete(index);
  }

  delete(event: StoredEvent): void {
    this.events.delete(event.seq);
  }

  #touch(event: StoredEvent): void {
    event.changeKey = this.#next.changeKey();
    event.lastModified = this.#next.now();
  }

  #instanceData(event: StoredEvent, index: number): Omit<EventInput, "recurrence" | "uid"> {
    const shift = index * (event.recurrence?.intervalDays ?? 0) * DAY_MS;
    return { ...event.data, start: shiftIso(event.data.start, shift), end: shiftIso(event.data.end, shift) };
  }

  /** Every single meeting and occurrence (series expanded), in start order. */
  expand(): ViewItem[] {
    const items: ViewItem[] = [];
    for (const event of this.events.values()) {
      if (event.recurrence === null) {
        items.push({ id: event.id, changeKey: event.changeKey, type: "Single", recurrenceId: null, event, data: event.data });
        continue;
      }
      for (let i = 0; i < event.recurrence.count; i++) {
        if (event.deletedInstances.has(i)) continue;
        const exception = event.exceptions.get(i);
        items.push({
          id: itemId({ mailbox: this.address, seq: event.seq, instance: i }),
          changeKey: exception?.changeKey ?? event.changeKey,
          type: exception ? "Exception" : "Occurrence",
          recurrenceId: this.#instanceData(event, i).start,
          event,
          data: exception?.data ?? this.#instanceData(event, i),
        });
      }
    }
    return items.sort((a, b) => Date.parse(a.data.start) - Date.parse(b.data.start) || (a.id < b.id ? -1 : 1));
  }

  /** The item an ItemId names, or null when it does not exist (any more). */
  find(id: string): ViewItem | null {
    const ref = decodeItemId(id);
    if (ref === null || ref.mailbox !== this.address) return null;
    const event = this.events.get(ref.seq);
    if (!event) return null;
    if (ref.instance === null) {
      return event.recurrence === null ? { id, changeKey: event.changeKey, type: "Single", recurrenceId: null, event, data: event.data } : null;
    }
    return this.expand().find((item) => item.id === id) ?? null;
  }
}

function shiftIso(iso: string, ms: number): string {
  return new Date(Date.parse(iso) + ms).toISOString();
}

interface ItemRef {
  readonly mailbox: string;
  readonly seq: number;
  readonly instance: number | null;
}

function itemId(ref: ItemRef): string {
  return Buffer.from(`AAMk|${ref.mailbox}|${ref.seq}|${ref.instance ?? ""}`, "utf8").toString("base64");
}

export function decodeItemId(id: string): ItemRef | null {
  const parts = Buffer.from(id, "base64").toString("utf8").split("|");
  if (parts.length !== 4 || parts[0] !== "AAMk") return null;
  const seq = Number(parts[2]);
  const instance = parts[3] === "" ? null : Number(parts[3]);
  if (!Number.isInteger(seq) || (instance !== null && !Number.isInteger(instance))) return null;
  return { mailbox: parts[1]!, seq, instance };
}
