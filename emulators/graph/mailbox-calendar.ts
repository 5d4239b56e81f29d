/**
 * One mailbox's calendar in the Graph emulator: single meetings, series with their occurrences
 * and exceptions, and a change counter that drives `calendarView/delta`.
 *
 * Every change bumps the mailbox's version and moves the changed instance to the end of an
 * insertion-ordered map, so "what changed after version v" is a walk over the map's tail and a
 * round is a slice `(since, upTo]` of it. Deleted instances stay as tombstones so later rounds
 * can report them as `@removed`. Recurrence is expanded when a series is written (UTC days;
 * bounded), which keeps reads cheap for thousands of mailboxes.
 */

import { createHash } from "node:crypto";

export type DayOfWeek = "sunday" | "monday" | "tuesday" | "wednesday" | "thursday" | "friday" | "saturday";
const DAYS: readonly DayOfWeek[] = ["sunday", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday"];

export interface EmailAddress {
  name: string;
  address: string;
}

/** What a test gives to create a meeting; anything left out gets Graph's usual default. */
export interface EventInput {
  /** Force the id (otherwise a Graph-like opaque id). */
  id?: string;
  iCalUId?: string;
  subject?: string;
  /** HTML by default. */
  body?: { contentType: "html" | "text"; content: string };
  /** Instants (ISO 8601 with `Z` or an offset). */
  start: string;
  end: string;
  isAllDay?: boolean;
  /** The organiser's zone as Graph names it (Windows name), for `originalStartTimeZone`. */
  originalStartTimeZone?: string;
  organizer?: EmailAddress;
  attendees?: Array<EmailAddress & { type?: "required" | "optional" | "resource"; response?: string }>;
  sensitivity?: "normal" | "personal" | "private" | "confidential";
  isCancelled?: boolean;
  isOnlineMeeting?: boolean;
  onlineMeetingProvider?: "unknown" | "teamsForBusiness" | "skypeForBusiness" | "skypeForConsumer";
  onlineMeeting?: { joinUrl: string; conferenceId?: string; tollNumber?: string; tollFreeNumbers?: string[] } | null;
  location?: { displayName: string; locationType?: string; locationUri?: string };
  /** The room's response; default accepted. */
  responseStatus?: { response: string; time?: string };
  showAs?: string;
  /** Further Graph properties, merged into the JSON as given. */
  extra?: Record<string, unknown>;
}

export interface RecurrenceInput {
  type: "daily" | "weekly";
  /** Every n days/weeks (default 1). */
  interval?: number;
  /** Number of occurrences; or `until` (an instant, inclusive); neither means one year. */
  count?: number;
  until?: string;
  /** Weekly only; default the first start's day. */
  daysOfWeek?: DayOfWeek[];
}

export interface SeriesInput extends EventInput {
  /** `start`/`end` are those of the first occurrence. */
  recurrence: RecurrenceInput;
}

export type EventPatch = Partial<Omit<EventInput, "id" | "iCalUId">>;

/** Exchange `Set-CalendarProcessing` effects on the room's stored copy (docs/deploy-microsoft-365.md). Applied when an event is written. */
export interface RoomProcessing {
  deleteComments: boolean;
  deleteSubject: boolean;
  addOrganizerToSubject: boolean;
  removePrivateProperty: boolean;
  removeCanceledMeetings: boolean;
  /** When false, meetings from organisers outside the tenant's domains are not booked. */
  processExternal: boolean;
  /** Whether a stripped copy also loses `onlineMeeting` (unconfirmed in the real service). */
  stripOnlineMeeting: boolean;
  /** Prefix `Canceled: ` to cancelled meetings' subjects (unconfirmed in the real service). */
  cancelledSubjectPrefix: boolean;
  /** Mail that is not a meeting message is deleted on arrival. */
  deleteNonCalendarItems: boolean;
}

/** The recommended settings (nothing stripped); the real service's defaults strip. */
export const RECOMMENDED_PROCESSING: Readonly<RoomProcessing> = {
  deleteComments: false,
  deleteSubject: false,
  addOrganizerToSubject: false,
  removePrivateProperty: false,
  removeCanceledMeetings: false,
  processExternal: true,
  stripOnlineMeeting: false,
  cancelledSubjectPrefix: false,
  deleteNonCalendarItems: false,
};

export type EventFields = Omit<EventInput, "id" | "iCalUId" | "start" | "end">;

export type InstanceType = "singleInstance" | "occurrence" | "exception";

/** One calendarView item (a single meeting, an occurrence or an exception), or its tombstone. */
export interface StoredEvent {
  readonly id: string;
  type: InstanceType;
  readonly seriesMasterId: string | null;
  readonly iCalUId: string;
  fields: EventFields;
  startMs: number;
  endMs: number;
  readonly originalStartMs: number | null;
  version: number;
  changeKey: string;
  readonly createdMs: number;
  lastModifiedMs: number;
  deleted: boolean;
}

export interface SeriesMaster {
  readonly id: string;
  readonly iCalUId: string;
  fields: EventFields;
  startMs: number;
  endMs: number;
  recurrence: RecurrenceInput;
  occurrenceIds: string[];
  version: number;
  changeKey: string;
  readonly createdMs: number;
  lastModifiedMs: number;
  deleted: boolean;
}

/** What change notifications report. */
export interface CalendarChange {
  readonly id: string;
  readonly changeType: "created" | "updated" | "deleted";
  readonly changeKey: string;
}

export interface DeltaEntry {
  readonly event: StoredEvent;
  readonly removed: boolean;
}

const MAX_OCCURRENCES = 1000;
const DAY = 86_400_000;
const CLASS_ID = "040000008200E00074C5B7101A82E008";

function digest(text: string): Buffer {
  return createHash("sha256").update(text).digest();
}

/** Graph-looking opaque ids, deterministic for a given seed and sequence. */
export class IdFactory {
  #n = 0;
  readonly #seed: string;
  constructor(seed: string) {
    this.#seed = seed;
  }
  eventId(): string {
    return `AAMkAGI${digest(`${this.#seed}:${++this.#n}`)
      .toString("base64url")
      .slice(0, 56)}AAA=`;
  }
  uid(createdMs: number): string {
    const filetime = (BigInt(createdMs) + 11_644_473_600_000n) * 10_000n;
    const tail = digest(`${this.#seed}:uid:${++this.#n}`)
      .toString("hex")
      .slice(0, 32)
      .toUpperCase();
    return `${CLASS_ID}00000000${filetime.toString(16).padStart(16, "0").toUpperCase()}000000000000000010000000${tail}`;
  }
}

/** The id of the occurrence of `masterId` originally at `originalStartMs`. */
export function occurrenceIdOf(masterId: string, originalStartMs: number): string {
  return `AAMkAGI${digest(`${masterId}|${originalStartMs}`).toString("base64url").slice(0, 56)}AAE=`;
}

/** Graph's per-occurrence iCalUId: the series UID with the occurrence's date in bytes 16-19. */
function occurrenceUid(seriesUid: string, originalStartMs: number): string {
  const d = new Date(originalStartMs);
  const date =
    d.getUTCFullYear().toString(16).padStart(4, "0") + (d.getUTCMonth() + 1).toString(16).padStart(2, "0") + d.getUTCDate().toString(16).padStart(2, "0");
  return `${seriesUid.slice(0, 32)}${date.toUpperCase()}${seriesUid.slice(40)}`;
}

function instant(value: string, what: string): number {
  const ms = Date.parse(value);
  if (Number.isNaN(ms)) throw new RangeError(`${what}: not an instant: ${value}`);
  return ms;
}

export function expandRecurrence(firstStartMs: number, r: RecurrenceInput): number[] {
  const interval = Math.max(1, Math.floor(r.interval ?? 1));
  const untilMs = r.until !== undefined ? instant(r.until, "recurrence.until") : firstStartMs + 365 * DAY;
  const count = Math.min(r.count ?? MAX_OCCURRENCES, MAX_OCCURRENCES);
  const starts: number[] = [];
  if (r.type === "daily") {
    for (let t = firstStartMs; starts.length < count && t <= untilMs; t += interval * DAY) starts.push(t);
    return starts;
  }
  const first = new Date(firstStartMs);
  const days = (r.daysOfWeek ?? [DAYS[first.getUTCDay()]!]).map((d) => DAYS.indexOf(d)).sort((a, b) => a - b);
  if (days.some((d) => d < 0)) throw new RangeError("recurrence.daysOfWeek: unknown day");
  const timeOfDay = firstStartMs - Date.UTC(first.getUTCFullYear(), first.getUTCMonth(), first.getUTCDate());
  const weekStart = Date.UTC(first.getUTCFullYear(), first.getUTCMonth(), first.getUTCDate()) - first.getUTCDay() * DAY;
  for (let week = 0; starts.length < count; week += interval) {
    for (const day of days) {
      const t = weekStart + week * 7 * DAY + day * DAY + timeOfDay;
      if (t < firstStartMs) continue;
      if (t > untilMs || starts.length >= count) return starts;
      starts.push(t);
    }
  }
  return starts;
}

function fieldsOf(input: EventInput): EventFields {
  const { id: _id, iCalUId: _uid, start: _s, end: _e, ...fields } = input;
  return { ...fields };
}

export class MailboxCalendar {
  processing: RoomProcessing = { ...RECOMMENDED_PROCESSING };
  /** Called after every change of an instance or a series master. */
  onChange: ((change: CalendarChange) => void) | null = null;
  #version = 0;
  readonly #instances = new Map<string, StoredEvent>();
  readonly #masters = new Map<string, SeriesMaster>();
  readonly #ids: IdFactory;
  readonly #now: () => number;
  readonly #isInternal: (address: string) => boolean;

  constructor(
    /** Lowercased address. */
    readonly address: string,
    readonly userId: string,
    ids: IdFactory,
    now: () => number,
    isInternal: (address: string) => boolean,
  ) {
    this.#ids = ids;
    this.#now = now;
    this.#isInternal = isInternal;
  }

  /** The version of the last change (0: never changed). */
  get version(): number {
    return this.#version;
  }

  /** Every instance, tombstones included, oldest change first. */
  instances(): IterableIterator<StoredEvent> {
    return this.#instances.values();
  }

  masters(): IterableIterator<SeriesMaster> {
    return this.#masters.values();
  }

  instance(id: string): StoredEvent | undefined {
    return this.#instances.get(id);
  }

  master(id: string): SeriesMaster | undefined {
    return this.#masters.get(id);
  }

  /** Books a single meeting. @returns null when the room's processing rejects it. */
  add(input: EventInput): StoredEvent | null {
    if (!this.#accepts(input)) return null;
    const startMs = instant(input.start, "start");
    const endMs = instant(input.end, "end");
    if (endMs < startMs) throw new RangeError("end before start");
    const created = this.#now();
    const event: StoredEvent = {
      id: input.id ?? this.#ids.eventId(),
      type: "singleInstance",
      seriesMasterId: null,
      iCalUId: input.iCalUId ?? this.#ids.uid(created),
      fields: this.#process(fieldsOf(input)),
      startMs,
      endMs,
      originalStartMs: null,
      version: 0,
      changeKey: "",
      createdMs: created,
      lastModifiedMs: created,
      deleted: false,
    };
    this.#assertNewId(event.id);
    this.#touch(event);
    return event;
  }

  /** Books a series; its occurrences are materialised. @returns null when rejected. */
  addSeries(input: SeriesInput): SeriesMaster | null {
    if (!this.#accepts(input)) return null;
    const created = this.#now();
    const { recurrence, ...rest } = input;
    const master: SeriesMaster = {
      id: input.id ?? this.#ids.eventId(),
      iCalUId: input.iCalUId ?? this.#ids.uid(created),
      fields: this.#process(fieldsOf(rest)),
      startMs: instant(input.start, "start"),
      endMs: instant(input.end, "end"),
      recurrence,
      occurrenceIds: [],
      version: 0,
      changeKey: "",
      createdMs: created,
      lastModifiedMs: created,
      deleted: false,
    };
    this.#assertNewId(master.id);
    this.#touchMaster(master);
    this.#masters.set(master.id, master);
    this.#expand(master);
    return master;
  }

  #expand(master: SeriesMaster): void {
    const duration = master.endMs - master.startMs;
    master.occurrenceIds = [];
    for (const original of expandRecurrence(master.startMs, master.recurrence)) {
      const id = occurrenceIdOf(master.id, original);
      const previous = this.#instances.get(id);
      const occurrence: StoredEvent = {
        id,
        type: "occurrence",
        seriesMasterId: master.id,
        iCalUId: occurrenceUid(master.iCalUId, original),
        fields: { ...master.fields },
        startMs: original,
        endMs: original + duration,
        originalStartMs: original,
        version: 0,
        changeKey: "",
        createdMs: previous?.createdMs ?? master.createdMs,
        lastModifiedMs: master.lastModifiedMs,
        deleted: false,
      };
      master.occurrenceIds.push(id);
      this.#touch(occurrence);
    }
  }

  /**
   * Changes a meeting. On an occurrence it makes an exception; on a series master it changes
   * every occurrence that is not an exception, and a new time or recurrence re-creates them all.
   */
  update(id: string, patch: EventPatch & { recurrence?: RecurrenceInput }): void {
    const master = this.#masters.get(id);
    if (master && !master.deleted) {
      const { start, end, recurrence, ...fields } = patch;
      master.fields = this.#process({ ...master.fields, ...fields });
      if (start !== undefined || end !== undefined || recurrence !== undefined) {
        if (start !== undefined) master.startMs = instant(start, "start");
        if (end !== undefined) master.endMs = instant(end, "end");
        if (recurrence !== undefined) master.recurrence = recurrence;
        this.#touchMaster(master);
        for (const oid of master.occurrenceIds) this.#tombstone(oid);
        this.#expand(master);
        return;
      }
      this.#touchMaster(master);
      for (const oid of master.occurrenceIds) {
        const occurrence = this.#instances.get(oid);
        if (occurrence && !occurrence.deleted && occurrence.type === "occurrence") {
          occurrence.fields = { ...master.fields };
          this.#touch(occurrence);
        }
      }
      return;
    }
    const event = this.#live(id);
    const { start, end, ...fields } = patch;
    event.fields = this.#process({ ...event.fields, ...fields });
    if (start !== undefined) event.startMs = instant(start, "start");
    if (end !== undefined) event.endMs = instant(end, "end");
    if (event.type === "occurrence") event.type = "exception";
    this.#touch(event);
  }

  /** The organiser cancelled: `isCancelled` (kept on the calendar unless the room removes cancelled meetings). */
  cancel(id: string): void {
    if (this.processing.removeCanceledMeetings) {
      this.delete(id);
      return;
    }
    const cancelFields = (fields: EventFields): EventFields => ({
      ...fields,
      isCancelled: true,
      subject: this.processing.cancelledSubjectPrefix && fields.subject ? `Canceled: ${fields.subject}` : fields.subject,
    });
    const master = this.#masters.get(id);
    if (master && !master.deleted) {
      master.fields = cancelFields(master.fields);
      this.#touchMaster(master);
      for (const oid of master.occurrenceIds) {
        const occurrence = this.#instances.get(oid);
        if (occurrence && !occurrence.deleted) {
          occurrence.fields = cancelFields(occurrence.fields);
          this.#touch(occurrence);
        }
      }
      return;
    }
    const event = this.#live(id);
    event.fields = cancelFields(event.fields);
    if (event.type === "occurrence") event.type = "exception";
    this.#touch(event);
  }

  /** Removes a meeting (a series with all its occurrences). */
  delete(id: string): void {
    const master = this.#masters.get(id);
    if (master && !master.deleted) {
      master.deleted = true;
      this.#touchMaster(master);
      for (const oid of master.occurrenceIds) this.#tombstone(oid);
      return;
    }
    this.#live(id);
    this.#tombstone(id);
  }

  /** Live instances overlapping `[startMs, endMs)`, by start. */
  inWindow(startMs: number, endMs: number): StoredEvent[] {
    const found: StoredEvent[] = [];
    for (const e of this.#instances.values()) if (!e.deleted && overlaps(e, startMs, endMs)) found.push(e);
    return found.sort((a, b) => a.startMs - b.startMs || (a.id < b.id ? -1 : 1));
  }

  /**
   * One delta page: changes with `after < version <= upTo`, at most `limit` entries (more when
   * `keepSeriesTogether` and a series straddles the boundary, like the real service).
   * An initial round (`since` 0) lists live in-window instances only; later rounds report every
   * other change as removed (deleted, or outside the window).
   */
  deltaPage(q: { startMs: number; endMs: number; since: number; after: number; upTo: number; limit: number; keepSeriesTogether: boolean }): {
    entries: DeltaEntry[];
    last: number;
    more: boolean;
  } {
    const entries: DeltaEntry[] = [];
    let last = q.after;
    for (const e of this.#instances.values()) {
      if (e.version <= q.after) continue;
      if (e.version > q.upTo) break;
      const inWindow = !e.deleted && overlaps(e, q.startMs, q.endMs);
      if (q.since === 0 && !inWindow) continue;
      const previous = entries[entries.length - 1];
      if (entries.length >= q.limit) {
        const sameSeries = q.keepSeriesTogether && previous?.event.seriesMasterId != null && previous.event.seriesMasterId === e.seriesMasterId;
        if (!sameSeries) return { entries, last, more: true };
      }
      entries.push({ event: e, removed: !inWindow });
      last = e.version;
    }
    return { entries, last, more: false };
  }

  /** The `n` most recently changed live in-window instances with version ≤ `atMost` (for replays). */
  recent(startMs: number, endMs: number, atMost: number, n: number): StoredEvent[] {
    if (n <= 0) return [];
    const found: StoredEvent[] = [];
    const all = [...this.#instances.values()];
    for (let i = all.length - 1; i >= 0 && found.length < n; i--) {
      const e = all[i]!;
      if (e.version <= atMost && !e.deleted && overlaps(e, startMs, endMs)) found.push(e);
    }
    return found;
  }

  #accepts(input: EventInput): boolean {
    const organizer = input.organizer?.address;
    return this.processing.processExternal || organizer === undefined || this.#isInternal(organizer);
  }

  #process(fields: EventFields): EventFields {
    const p = this.processing;
    const out: EventFields = { ...fields };
    if (p.deleteComments) {
      out.body = { contentType: "html", content: "" };
      if (p.stripOnlineMeeting) {
        out.isOnlineMeeting = false;
        out.onlineMeeting = null;
        out.onlineMeetingProvider = "unknown";
      }
    }
    if (p.deleteSubject) out.subject = p.addOrganizerToSubject ? (out.organizer?.name ?? "") : "";
    else if (p.addOrganizerToSubject && out.organizer) out.subject = `${out.organizer.name} ${out.subject ?? ""}`.trim();
    if (p.removePrivateProperty && out.sensitivity === "private") out.sensitivity = "normal";
    return out;
  }

  #live(id: string): StoredEvent {
    const event = this.#instances.get(id);
    if (!event || event.deleted) throw new RangeError(`${this.address}: no event ${id}`);
    return event;
  }

  #assertNewId(id: string): void {
    if (this.#instances.has(id) || this.#masters.has(id)) throw new RangeError(`${this.address}: event id ${id} exists`);
  }

  #tombstone(id: string): void {
    const event = this.#instances.get(id);
    if (!event || event.deleted) return;
    event.deleted = true;
    this.#touch(event);
  }

  #touch(event: StoredEvent): void {
    const changeType = event.deleted ? "deleted" : event.version === 0 ? "created" : "updated";
    event.version = ++this.#version;
    event.changeKey = digest(`${event.id}#${event.version}`).toString("base64").slice(0, 28);
    event.lastModifiedMs = this.#now();
    this.#instances.delete(event.id);
    this.#instances.set(event.id, event);
    this.onChange?.({ id: event.id, changeType, changeKey: event.changeKey });
  }

  #touchMaster(master: SeriesMaster): void {
    const changeType = master.deleted ? "deleted" : master.version === 0 ? "created" : "updated";
    master.version = ++this.#version;
    master.changeKey = digest(`${master.id}#${master.version}`).toString("base64").slice(0, 28);
    master.lastModifiedMs = this.#now();
    this.onChange?.({ id: master.id, changeType, changeKey: master.changeKey });
  }
}

function overlaps(e: StoredEvent, startMs: number, endMs: number): boolean {
  return e.startMs === e.endMs ? e.startMs >= startMs && e.startMs < endMs : e.startMs < endMs && e.endMs > startMs;
}
