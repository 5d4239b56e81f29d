/**
 * MultiCalendarSource with fakes of the CalendarSource port: each room goes to the adapter of its
 * source, cursors carry their source, a room moved to another source starts over, and a source
 * that is not configured fails that room only.
 */
import { describe, expect, it } from "vitest";
import { StoreRoomSources } from "../../app/calendar-sources.ts";
import { MultiCalendarSource } from "../../calendar/multi-calendar-source.ts";
import type { CalendarSourceName } from "../../core/domain.ts";
import { OtjError } from "../../core/errors.ts";
import type { CalendarSource, RoomSyncResult, SyncCursor, TimeWindow } from "../../core/ports/calendar-source.ts";
import type { Room } from "../../core/ports/store.ts";

const WINDOW: TimeWindow = { start: "2026-12-07T00:00:00.000Z", end: "2026-12-16T00:00:00.000Z" };

class FakeSource implements CalendarSource {
  readonly calls: Array<{ mailbox: string; cursor: SyncCursor | null }> = [];
  readonly #name: string;
  constructor(name: string) {
    this.#name = name;
  }
  async syncRoom(mailbox: string, cursor: SyncCursor | null, window: TimeWindow): Promise<RoomSyncResult> {
    this.calls.push({ mailbox, cursor });
    return {
      mailbox,
      full: cursor === null,
      reason: cursor === null ? "initial" : null,
      changed: [],
      removedIds: [],
      cursor: { token: `${this.#name}-token-${this.calls.length}`, window },
      warnings: [],
      stats: { pages: 1, requests: 1, retries: 0, waitedMs: 0 },
    };
  }
  async listRooms() {
    return [{ mailbox: `${this.#name}@x.example`, displayName: this.#name, capacity: null, building: null, floor: null, roomLists: [] }];
  }
  async checkRooms(mailboxes: readonly string[]) {
    return mailboxes.map((m) => ({ mailbox: m, ok: true as const }));
  }
  async connect() {}
}

function setup(rooms: Record<string, CalendarSourceName>, configured: CalendarSourceName[] = ["graph", "google"]) {
  const fakes = { graph: new FakeSource("graph"), google: new FakeSource("google"), ews: new FakeSource("ews") };
  const sources = Object.fromEntries(configured.map((n) => [n, fakes[n]]));
  const multi = new MultiCalendarSource({ sources, sourceOf: async (m) => rooms[m] ?? null });
  return { multi, fakes, rooms };
}

const signal = () => AbortSignal.timeout(5_000);

describe("MultiCalendarSource", () => {
  it("sends each room to its own source; unknown rooms to the default (graph)", async () => {
    const { multi, fakes } = setup({ "g@acme.example": "google", "m@contoso.example": "graph" });
    await multi.syncRoom("g@acme.example", null, WINDOW, signal());
    await multi.syncRoom("m@contoso.example", null, WINDOW, signal());
    await multi.syncRoom("new@contoso.example", null, WINDOW, signal());
    expect(fakes.google.calls.map((c) => c.mailbox)).toEqual(["g@acme.example"]);
    expect(fakes.graph.calls.map((c) => c.mailbox)).toEqual(["m@contoso.example", "new@contoso.example"]);
  });

  it("tags non-Graph cursors with their source and hands them back untagged; Graph cursors stay as they were", async () => {
    const { multi, fakes } = setup({ "g@acme.example": "google", "m@contoso.example": "graph" });
    const g = await multi.syncRoom("g@acme.example", null, WINDOW, signal());
    expect(g.cursor.token).toBe("google:google-token-1");
    await multi.syncRoom("g@acme.example", g.cursor, WINDOW, signal());
    expect(fakes.google.calls[1]!.cursor).toEqual({ token: "google-token-1", window: WINDOW });
    const m = await multi.syncRoom("m@contoso.example", null, WINDOW, signal());
    expect(m.cursor.token).toBe("graph-token-1");
    await multi.syncRoom("m@contoso.example", m.cursor, WINDOW, signal());
    expect(fakes.graph.calls[1]!.cursor!.token).toBe("graph-token-1");
  });

  it("a room moved to another source starts with a full round there", async () => {
    const { multi, fakes, rooms } = setup({ "r@acme.example": "graph" });
    const first = await multi.syncRoom("r@acme.example", null, WINDOW, signal());
    rooms["r@acme.example"] = "google";
    const moved = await multi.syncRoom("r@acme.example", first.cursor, WINDOW, signal());
    expect(fakes.google.calls[0]!.cursor).toBeNull();
    expect(moved.full).toBe(true);
    rooms["r@acme.example"] = "graph";
    await multi.syncRoom("r@acme.example", moved.cursor, WINDOW, signal());
    expect(fakes.graph.calls[1]!.cursor).toBeNull();
  });

  it("takes the source given with the room's lease and then never asks the store", async () => {
    const fakes = { graph: new FakeSource("graph"), google: new FakeSource("google") };
    let lookups = 0;
    const multi = new MultiCalendarSource({
      sources: fakes,
      sourceOf: async () => {
        lookups++;
        return "graph";
      },
    });
    await multi.syncRoom("g@acme.example", null, WINDOW, signal(), { source: "google" });
    expect(fakes.google.calls.map((c) => c.mailbox)).toEqual(["g@acme.example"]);
    expect(lookups).toBe(0);
    await multi.syncRoom("m@contoso.example", null, WINDOW, signal());
    expect(lookups).toBe(1);
  });

  it("a room of a source that is not configured fails alone with OTJ_CONFIG_INVALID", async () => {
    const { multi } = setup({ "e@acme.example": "ews", "g@acme.example": "google" });
    const error = await multi.syncRoom("e@acme.example", null, WINDOW, signal()).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OtjError);
    expect((error as OtjError).code).toBe("OTJ_CONFIG_INVALID");
    await expect(multi.syncRoom("g@acme.example", null, WINDOW, signal())).resolves.toMatchObject({ full: true });
    const checks = await multi.checkRooms(["g@acme.example", "e@acme.example", "x@contoso.example"], signal());
    expect(checks.map((c) => c.ok)).toEqual([true, false, true]);
    expect(checks.map((c) => c.mailbox)).toEqual(["g@acme.example", "e@acme.example", "x@contoso.example"]);
  });
});

describe("StoreRoomSources", () => {
  it("reads a room's source from the store each time (no cache: a moved room is seen at once)", async () => {
    let reads = 0;
    let source: CalendarSourceName = "google";
    const store = {
      rooms: {
        get: async (mailbox: string) => {
          reads++;
          return mailbox === "g@acme.example" ? ({ source } as Room) : null;
        },
      },
    } as unknown as ConstructorParameters<typeof StoreRoomSources>[0];
    const lookup = new StoreRoomSources(store);
    expect(await lookup.sourceOf("G@acme.example", signal())).toBe("google");
    source = "graph";
    expect(await lookup.sourceOf("g@acme.example", signal())).toBe("graph");
    expect(await lookup.sourceOf("nobody@acme.example", signal())).toBeNull();
    expect(reads).toBe(3);
  });
});
