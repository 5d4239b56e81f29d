/** The engine's HTTP API over real HTTP, on real PostgreSQL. */
import type { FastifyInstance } from "fastify";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import type { MeetingUpsert, Room } from "../../core/ports/store.ts";
import { createLogger } from "../../core/logger.ts";
import { buildHttpServer } from "../../app/http/server.ts";
import { EngineMetrics } from "../../app/metrics.ts";
import { FakeClock } from "../support/fake-clock.ts";
import { openTestStore, type TestStore } from "../support/test-database.ts";
import { plannedMeeting } from "../support/planned-meeting.ts";

const ADMIN = "admin-token-0123456789abcdef0123456789";
let db: TestStore;
let clock: FakeClock;
let app: FastifyInstance;
let base: string;

async function server(adminToken: string | null) {
  const s = await buildHttpServer({
    store: db.store,
    clock,
    logger: createLogger("silent"),
    metrics: new EngineMetrics(),
    adminToken,
    settings: { startBufferMinutes: 5, endBufferMinutes: 0, windowFutureDays: 7, pollFailuresBeforeAlarm: 3, pushFailuresBeforeAlarm: 3 },
    readiness: async () => ({ database: true }),
  });
  await s.listen({ host: "127.0.0.1", port: 0 });
  return s;
}

beforeAll(async () => {
  db = await openTestStore("postgres");
  clock = new FakeClock("2025-03-04T08:00:00.000Z");
  app = await server(ADMIN);
  const addr = app.server.address() as { port: number };
  base = `http://127.0.0.1:${addr.port}`;
});
afterAll(async () => {
  await app.close();
  await db.close();
});
beforeEach(async () => {
  await db.truncate();
  await db.store.providers.add({ name: "webex", partner: "cisco", tenantKey: "contoso@m.webex.com" }, clock.now());
});

const call = (path: string, init: RequestInit & { token?: string | null } = {}) =>
  fetch(base + path, {
    ...init,
    headers: {
      ...(init.body ? { "content-type": "application/json" } : {}),
      ...(init.token ? { authorization: `Bearer ${init.token}` } : {}),
      ...((init.headers as Record<string, string>) ?? {}),
    },
  });

function meeting(room: Room, key: string, minutes: number, extra: Partial<MeetingUpsert> = {}): MeetingUpsert {
  return plannedMeeting(room, key, clock.now(), minutes, extra);
}

describe("auth", () => {
  it("open routes need no token", async () => {
    expect((await call("/healthz")).status).toBe(200);
    expect((await call("/readyz")).status).toBe(200);
    expect(await (await call("/metrics")).text()).toContain("otj_http_requests_total");
    const doc = (await (await call("/openapi.json")).json()) as { paths: Record<string, unknown> };
    expect(Object.keys(doc.paths)).toEqual(expect.arrayContaining(["/v1/rooms", "/v1/status", "/v1/rooms/{id}/meetings", "/v1/callbacks/bridge"]));
  });

  it("admin routes reject a missing or wrong token with a bare 401, before validating the body", async () => {
    for (const token of [null, "wrong", `${ADMIN}x`]) {
      const r = await call("/v1/rooms", { method: "POST", body: "{not json", token });
      expect(r.status).toBe(401);
      expect(JSON.stringify(await r.json())).not.toMatch(/mailbox|json/i);
      expect((await call("/v1/status", { token })).status).toBe(401);
      expect((await call("/v1/rooms/nobody@contoso.example", { method: "DELETE", token })).status).toBe(401);
    }
  });

  it("with no admin token configured every admin route answers 401", async () => {
    const s = await server(null);
    try {
      const r = await s.inject({ method: "GET", url: "/v1/rooms", headers: { authorization: "Bearer " } });
      expect(r.statusCode).toBe(401);
      expect((await s.inject({ method: "GET", url: "/healthz" })).statusCode).toBe(200);
    } finally {
      await s.close();
    }
  });
});

describe("rooms", () => {
  it("adds, lists and removes rooms; never shows passwords", async () => {
    const added = await call("/v1/rooms", {
      method: "POST",
      token: ADMIN,
      body: JSON.stringify({
        mailbox: "Room101@Contoso.example",
        displayName: "Room 101",
        provider: "webex",
        deviceFamily: "xapi",
        deviceAddress: "https://10.0.0.5",
        deviceUsername: "admin",
        devicePassword: "hunter2",
      }),
    });
    expect(added.status).toBe(201);
    const body = (await added.json()) as { id: string; mailbox: string };
    expect(body.id).toMatch(/^rm_.{10}$/);
    expect(body.mailbox).toBe("room101@contoso.example");
    const pull = (await (
      await call("/v1/rooms", {
        method: "POST",
        token: ADMIN,
        body: JSON.stringify({ mailbox: "panel@contoso.example", displayName: "Panel", provider: "webex", deviceFamily: "pull" }),
      })
    ).json()) as { deviceToken: string };
    expect(pull.deviceToken.length).toBeGreaterThan(20);
    const list = await (await call("/v1/rooms", { token: ADMIN })).text();
    expect(list).not.toContain("hunter2");
    expect(JSON.parse(list).rooms.find((r: { mailbox: string }) => r.mailbox === "room101@contoso.example")).toEqual({
      id: body.id,
      mailbox: "room101@contoso.example",
      displayName: "Room 101",
      provider: "webex",
      deviceFamily: "xapi",
      deviceAddress: "https://10.0.0.5",
    });
    // Refused: a mailbox taken already, an unknown device family, a mailbox that is no address.
    for (const [mailbox, deviceFamily, status] of [
      ["room101@contoso.example", "pull", 409],
      ["r@contoso.example", "fax", 400],
      ["not-a-mailbox", "pull", 400],
    ] as const) {
      const refused = await call("/v1/rooms", {
        method: "POST",
        token: ADMIN,
        body: JSON.stringify({ mailbox, displayName: "x", provider: "webex", deviceFamily }),
      });
      expect(refused.status, `${mailbox} as ${deviceFamily}`).toBe(status);
    }
    expect((await call("/v1/rooms/ROOM101@contoso.example", { method: "DELETE", token: ADMIN })).status).toBe(204);
    expect((await call("/v1/rooms/room101@contoso.example", { method: "DELETE", token: ADMIN })).status).toBe(404);
  });
});

describe("pull API and feed", () => {
  async function pullRoom(mailbox: string) {
    const { room, deviceToken } = await db.store.rooms.add({ mailbox, displayName: "Panel 1", provider: "webex", deviceFamily: "pull" }, clock.now());
    return { room, token: deviceToken! };
  }

  it("serves the room's meetings to its own token, in order, without cancelled ones", async () => {
    const { room, token } = await pullRoom("panel1@contoso.example");
    await db.store.meetings.upsert(
      [
        meeting(room, "b", 120),
        meeting(room, "a", 60),
        meeting(room, "gone", 90, { cancelled: true, route: "none" }),
        meeting(room, "zoomless", 150, { route: "none", dialString: null, rule: "provider-no-gateway" }),
      ],
      clock.now(),
    );
    const r = await call(`/v1/rooms/${room.id}/meetings`, { token });
    expect(r.status).toBe(200);
    const body = (await r.json()) as { room: { mailbox: string }; meetings: Array<Record<string, unknown>> };
    expect(body.room.mailbox).toBe("panel1@contoso.example");
    expect(body.meetings.map((m) => m.startTime)).toEqual(["2025-03-04T09:00:00.000Z", "2025-03-04T10:00:00.000Z", "2025-03-04T10:30:00.000Z"]);
    expect(body.meetings[0]).toMatchObject({
      subject: "Supplier review",
      organizerName: "Ana Ruiz",
      alias: "1198563286.contoso@m.webex.com",
      dialString: "1198563286.contoso@m.webex.com",
      route: "cvi",
      bridgeState: null,
      private: false,
      joinFrom: "2025-03-04T08:55:00.000Z",
    });
    expect(body.meetings[2]).toMatchObject({ route: "none", alias: null });
    const ids = (await (await call(`/v1/rooms/${room.mailbox}/meetings?idsOnly=true&limit=1`, { token: ADMIN })).json()) as { meetings: unknown[] };
    expect(ids.meetings).toEqual([{ id: expect.any(String) }]);
    expect((await call(`/v1/rooms/${room.id}/meetings?limit=500`, { token: ADMIN })).status).toBe(400);
  });

  it("a device token opens only its own room; unknown rooms are 404 only for the admin", async () => {
    const one = await pullRoom("panel1@contoso.example");
    const two = await pullRoom("panel2@contoso.example");
    expect((await call(`/v1/rooms/${two.room.id}/meetings`, { token: one.token })).status).toBe(401);
    expect((await call("/v1/rooms/nobody@contoso.example/meetings", { token: one.token })).status).toBe(401);
    expect((await call("/v1/rooms/nobody@contoso.example/meetings", { token: ADMIN })).status).toBe(404);
    expect((await call(`/v1/rooms/${one.room.id}/meetings`)).status).toBe(401);
  });

  it("rate-limits a device token beyond 10 requests a minute, and answers 304 to a matching ETag", async () => {
    const { room, token } = await pullRoom("panel1@contoso.example");
    const first = await call(`/v1/rooms/${room.id}/meetings`, { token });
    const etag = first.headers.get("etag")!;
    expect((await call(`/v1/rooms/${room.id}/meetings`, { token, headers: { "if-none-match": etag } })).status).toBe(304);
    for (let i = 0; i < 8; i++) expect((await call(`/v1/rooms/${room.id}/meetings`, { token })).status).toBe(200);
    const limited = await call(`/v1/rooms/${room.id}/meetings`, { token });
    expect(limited.status).toBe(429);
    expect(Number(limited.headers.get("retry-after"))).toBeGreaterThan(0);
    expect((await call(`/v1/rooms/${room.id}/meetings`, { token: ADMIN })).status).toBe(200);
    clock.advance(61_000);
    expect((await call(`/v1/rooms/${room.id}/meetings`, { token })).status).toBe(200);
  });

  it("serves an ICS feed with ?token=", async () => {
    const { room, token } = await pullRoom("panel1@contoso.example");
    await db.store.meetings.upsert([meeting(room, "a", 60, { subjectShown: "Review, Q1; plan" })], clock.now());
    const r = await call(`/v1/rooms/${room.id}/calendar.ics?token=${encodeURIComponent(token)}`);
    expect(r.status).toBe(200);
    expect(r.headers.get("content-type")).toMatch(/text\/calendar/);
    const text = (await r.text()).replace(/\r\n /g, "");
    expect(text).toContain("SUMMARY:Review\\, Q1\\; plan");
    expect(text).toContain("CONFERENCE;VALUE=URI;FEATURE=VIDEO;LABEL=Join:sip:1198563286.contoso@m.webex.com");
    const start = new Date(clock.now().getTime() + 3_600_000)
      .toISOString()
      .replace(/[-:]/g, "")
      .replace(/\.\d{3}/, "");
    expect(text).toContain(`DTSTART:${start}`);
  });
});

describe("status and notifications", () => {
  it("GET /v1/status returns the StatusOutput of docs/cli.md", async () => {
    const { room } = await db.store.rooms.add(
      { mailbox: "room101@contoso.example", displayName: "Room 101", provider: "webex", deviceFamily: "pull" },
      clock.now(),
    );
    await db.store.meetings.upsert([meeting(room, "a", 60), meeting(room, "c", 70, { cancelled: true })], clock.now());
    const s = (await (await call("/v1/status", { token: ADMIN })).json()) as { rooms: Array<Record<string, unknown>>; bridgeSessions: unknown[] };
    expect(s.bridgeSessions).toEqual([]);
    expect(s.rooms[0]).toMatchObject({
      mailbox: "room101@contoso.example",
      displayName: "Room 101",
      alarms: [],
      lastPoll: { at: null, outcome: "never", error: null },
      device: { family: "pull" },
    });
    const meetings = s.rooms[0]!.meetings as Array<Record<string, unknown>>;
    expect(meetings).toHaveLength(2);
    expect(meetings[1]).toMatchObject({ route: "none", dialString: null });
  });

  it("answers the change-notification validation handshake", async () => {
    const r = await call("/v1/notifications/graph?validationToken=abc%20123", { method: "POST" });
    expect(r.status).toBe(200);
    expect(await r.text()).toBe("abc 123");
  });
});
