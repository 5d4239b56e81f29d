/**
 * MultiCalendarSource: one CalendarSource over several calendar systems. Each room is served by
 * the adapter of its own `source` (graph, google, ews), so one instance serves rooms of all of
 * them; the poller and the stores see a single source.
 *
 * Cursors are tagged with the source that made them (`google:` + token; Graph's stay untagged,
 * as they were before rooms had a source), so a room moved to another source never hands one
 * system's cursor to another: its next round is a full one.
 *
 * The poller hands each room's source with its lease (the lease query reads it); `sourceOf` is
 * asked only when it is not given (room checks, callers without a lease).
 */
import type { CalendarSourceName } from "../core/domain.ts";
import { OtjError } from "../core/errors.ts";
import type { CalendarSource, DiscoveredRoom, RoomCheck, RoomHints, RoomSyncResult, SyncCursor, TimeWindow } from "../core/ports/calendar-source.ts";

/** The source of a room's calendar, by mailbox (null: not a known room; the default applies). */
export type RoomSourceLookup = (mailbox: string, signal: AbortSignal) => Promise<CalendarSourceName | null>;

export interface MultiCalendarSourceOptions {
  /** The configured adapters; a room whose source has none fails with OTJ_CONFIG_INVALID. */
  readonly sources: Partial<Record<CalendarSourceName, CalendarSource>>;
  readonly sourceOf: RoomSourceLookup;
  /** For unknown rooms and for `listRooms` (default graph). */
  readonly defaultSource?: CalendarSourceName;
}

const UNTAGGED: CalendarSourceName = "graph";

export class MultiCalendarSource implements CalendarSource {
  readonly #sources: Partial<Record<CalendarSourceName, CalendarSource>>;
  readonly #sourceOf: RoomSourceLookup;
  readonly #default: CalendarSourceName;

  constructor(options: MultiCalendarSourceOptions) {
    this.#sources = options.sources;
    this.#sourceOf = options.sourceOf;
    this.#default = options.defaultSource ?? "graph";
  }

  /** The configured adapter of one source, or null. */
  adapter(name: CalendarSourceName): CalendarSource | null {
    return this.#sources[name] ?? null;
  }

  async syncRoom(mailbox: string, cursor: SyncCursor | null, window: TimeWindow, signal: AbortSignal, hints?: RoomHints): Promise<RoomSyncResult> {
    const name = hints?.source ?? (await this.#sourceOf(mailbox, signal)) ?? this.#default;
    const source = this.#require(name);
    const own = cursor === null ? null : untag(cursor, name);
    const result = await source.syncRoom(mailbox, own, window, signal, { source: name });
    return { ...result, cursor: tag(result.cursor, name) };
  }

  /** The default source's directory (`otj rooms discover --source` picks an adapter itself). */
  listRooms(signal: AbortSignal): Promise<DiscoveredRoom[]> {
    return this.#require(this.#default).listRooms(signal);
  }

  /** Each mailbox is checked by its own source; results keep the order given. */
  async checkRooms(mailboxes: readonly string[], signal: AbortSignal): Promise<RoomCheck[]> {
    const groups = new Map<CalendarSourceName, number[]>();
    for (let i = 0; i < mailboxes.length; i++) {
      const name = (await this.#sourceOf(mailboxes[i]!, signal)) ?? this.#default;
      groups.set(name, [...(groups.get(name) ?? []), i]);
    }
    const results: RoomCheck[] = new Array(mailboxes.length);
    for (const [name, indexes] of groups) {
      const source = this.#sources[name];
      if (!source) {
        for (const i of indexes) results[i] = { mailbox: mailboxes[i]!.trim().toLowerCase(), ok: false, error: notConfigured(name) };
        continue;
      }
      const checked = await source.checkRooms(
        indexes.map((i) => mailboxes[i]!),
        signal,
      );
      indexes.forEach((i, n) => {
        results[i] = checked[n]!;
      });
    }
    return results;
  }

  /** Connects every configured source; the first failure rejects. */
  async connect(signal: AbortSignal): Promise<void> {
    await Promise.all(Object.values(this.#sources).map((s) => s!.connect(signal)));
  }

  #require(name: CalendarSourceName): CalendarSource {
    const source = this.#sources[name];
    if (!source) throw notConfigured(name);
    return source;
  }
}

function notConfigured(name: CalendarSourceName): OtjError {
  return new OtjError("OTJ_CONFIG_INVALID", `the room's calendar source ${name} is not configured (see docs/configuration.md, ${name}.*)`, {
    details: { source: name },
  });
}

function tag(cursor: SyncCursor, name: CalendarSourceName): SyncCursor {
  return name === UNTAGGED ? cursor : { token: `${name}:${cursor.token}`, window: cursor.window };
}

/** The cursor without its tag when `name` made it, else null (a full round follows). */
function untag(cursor: SyncCursor, name: CalendarSourceName): SyncCursor | null {
  const match = /^(google|ews):/.exec(cursor.token);
  const owner: CalendarSourceName = match ? (match[1] as CalendarSourceName) : UNTAGGED;
  if (owner !== name) return null;
  return match ? { token: cursor.token.slice(match[0].length), window: cursor.window } : cursor;
}
