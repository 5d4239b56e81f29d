/**
 * The HTTP server's defences over real HTTP on real PostgreSQL: connection and request limits,
 * callback bodies handled as raw bytes before any parsing, per-client limits on failed token
 * guesses, query-string tokens, store failures and internal errors answered with a code only.
 */
import { once } from "node:events";
import { connect, type Socket } from "node:net";
import { Writable } from "node:stream";
import type { FastifyInstance } from "fastify";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { buildHttpServer, type HttpServerDeps } from "../../app/http/server.ts";
import { EngineMetrics } from "../../app/metrics.ts";
import { signBody, verifyBody } from "../../bridge/bridge-signature.ts";
import { OtjError } from "../../core/errors.ts";
import { createLogger } from "../../core/logger.ts";
import type { Store } from "../../core/ports/store.ts";
import { withOverrides } from "../support/delegate.ts";
import { FakeClock } from "../support/fake-clock.ts";
import { testStoreForFile } from "../support/file-test-store.ts";

const ADMIN = "security-admin-token-0123456789abcdef";
const db = testStoreForFile();
let clock: FakeClock;
let logLines: string[];
const servers: FastifyInstance[] = [];

beforeEach(async () => {
  await db.truncate();
  clock = new FakeClock("2026-03-02T08:00:00.000Z");
  logLines = [];
  await db.store.providers.add({ name: "webex", partner: "cisco", tenantKey: "contoso@m.webex.com" }, clock.now());
});
afterEach(async () => {
  for (const s of servers.splice(0)) await s.close();
});

/** A server on a free port; `store` replaces the test store (to make it fail). */
async function start(overrides: Partial<HttpServerDeps> = {}): Promise<{ app: FastifyInstance; base: string; port: number }> {
  const sink = new Writable({
    write(chunk, _encoding, done) {
      logLines.push(String(chunk));
      done();
    },
  });
  const app = await buildHttpServer({
    store: db.store,
    clock,
    logger: createLogger("info", sink),
    metrics: new EngineMetrics(),
    adminToken: ADMIN,
    settings: { startBufferMinutes: 5, endBufferMinutes: 0, windowFutureDays: 7, pollFailuresBeforeAlarm: 3, pushFailuresBeforeAlarm: 3 },
    readiness: async () => ({ database: true }),
    ...overrides,
  });
  servers.push(app);
  await app.listen({ host: "127.0.0.1", port: 0 });
  const port = (app.server.address() as { port: number }).port;
  return { app, base: `http://127.0.0.1:${port}`, port };
}

/** A store whose `rooms` methods named in `failing` throw what a lost database connection throws. */
function failingStore(failing: Array<keyof Store["rooms"]>, counter?: { calls: number }): Store {
  const rooms = new Proxy(db.store.rooms, {
    get(target, name, receiver) {
      const value = Reflect.get(target, name, receiver);
      if (typeof value !== "function") return value;
      return (...args: unknown[]) => {
        if (counter && name === "verifyDeviceToken") counter.calls++;
        if (failing.includes(name as keyof Store["rooms"])) {
          return Promise.reject(
            new OtjError("OTJ_STORE_UNREACHABLE", "connect ECONNREFUSED 10.1.2.3:5432 (password authentication for user otj)", {
              cause: new Error("ECONNREFUSED"),
            }),
          );
        }
        return (value as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
  return withOverrides<Store>(db.store, { rooms });
}

async function openSocket(port: number): Promise<{ socket: Socket; closed: () => boolean; received: () => string }> {
  const socket = connect(port, "127.0.0.1");
  await once(socket, "connect");
  let closed = false;
  let received = "";
  socket.on("data", (chunk) => {
    received += String(chunk);
  });
  socket.on("error", () => undefined);
  socket.on("close", () => {
    closed = true;
  });
  return { socket, closed: () => closed, received: () => received };
}

async function pullRoom(mailbox = "panel1@contoso.example") {
  const { room, deviceToken } = await db.store.rooms.add({ mailbox, displayName: "Panel 1", provider: "webex", deviceFamily: "pull" }, clock.now());
  return { room, token: deviceToken! };
}

describe("connection and request limits (http.*)", () => {
  it("closes a connection whose body never completes, with 408", async () => {
    const { port } = await start({ limits: { requestTimeoutMs: 300, headersTimeoutMs: 200 } });
    const slow = await openSocket(port);
    slow.socket.write('POST /v1/callbacks/bridge HTTP/1.1\r\nHost: otj\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"sessionId":');
    await expect.poll(slow.closed, { timeout: 15_000, interval: 50 }).toBe(true);
    expect(slow.received()).toMatch(/^HTTP\/1\.1 408/);
  });

  it("closes a connection whose headers never complete", async () => {
    const { port } = await start({ limits: { requestTimeoutMs: 300, headersTimeoutMs: 200 } });
    const slow = await openSocket(port);
    slow.socket.write("GET /healthz HTTP/1.1\r\nHost: otj\r\nX-Slow: ");
    await expect.poll(slow.closed, { timeout: 15_000, interval: 50 }).toBe(true);
  });

  it("answers 431 to headers over http.maxHeaderBytes", async () => {
    const { base } = await start({ limits: { maxHeaderBytes: 2_048 } });
    expect((await fetch(`${base}/healthz`, { headers: { "x-filler": "a".repeat(1_000) } })).status).toBe(200);
    expect((await fetch(`${base}/healthz`, { headers: { "x-filler": "a".repeat(4_000) } })).status).toBe(431);
  });

  it("drops connections beyond http.maxConnections at once", async () => {
    const { app, port } = await start({ limits: { maxConnections: 2 } });
    const held = [await openSocket(port), await openSocket(port)];
    await expect.poll(() => new Promise<number>((resolve) => app.server.getConnections((_e, n) => resolve(n)))).toBe(2);
    const third = await openSocket(port);
    await expect.poll(third.closed, { timeout: 15_000, interval: 50 }).toBe(true);
    expect(held.map((h) => h.closed())).toEqual([false, false]);
    for (const h of held) h.socket.destroy();
  });
});

describe("callback bodies: raw bytes, capped, checked before parsing", () => {
  const SECRET = "bridge-hmac-secret-for-tests";

  it("hands the bridge handler the exact bytes, so a signed body with invalid UTF-8 or bad JSON still verifies", async () => {
    const seen: Buffer[] = [];
    const { base } = await start({
      callbacks: {
        bridge: async (raw, signature) => {
          seen.push(raw);
          return { status: verifyBody(SECRET, raw, signature) ? 204 : 401 };
        },
      },
    });
    const bytes = Buffer.concat([
      Buffer.from('{"sessionId":"sgj_0123456789ab","state":"lobby","at":"2026-03-02T08:00:00Z","detail":"'),
      Buffer.from([0xff, 0xfe, 0xc3]),
      Buffer.from('"}'),
    ]);
    const signed = await fetch(`${base}/v1/callbacks/bridge`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-otj-signature": signBody(SECRET, bytes) },
      body: bytes,
    });
    expect(signed.status).toBe(204);
    expect(Buffer.compare(seen[0]!, bytes)).toBe(0);
    const notJson = Buffer.from("{not json");
    const r = await fetch(`${base}/v1/callbacks/bridge`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-otj-signature": "sha256=00" },
      body: notJson,
    });
    expect(r.status).toBe(401);
    expect(seen).toHaveLength(2);
  });

  it("refuses a bridge body over its cap (413) without calling the handler", async () => {
    let calls = 0;
    const { base } = await start({ callbacks: { bridge: async () => ({ status: 204 + 0 * calls++ }) } });
    const r = await fetch(`${base}/v1/callbacks/bridge`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: `{"detail":"${"x".repeat(64 * 1024)}"}`,
    });
    expect(r.status).toBe(413);
    expect(calls).toBe(0);
  });

  it("passes Graph call notifications unparsed to the handler (which checks the JWT first), capped", async () => {
    const seen: unknown[] = [];
    const { base } = await start({
      callbacks: {
        graphCalls: async (_headers, raw) => {
          seen.push(raw);
          return { status: 401 };
        },
      },
    });
    const nested = `${"[".repeat(50_000)}${"]".repeat(50_000)}`;
    expect((await fetch(`${base}/v1/callbacks/graph-calls`, { method: "POST", headers: { "content-type": "application/json" }, body: nested })).status).toBe(
      401,
    );
    expect(Buffer.isBuffer(seen[0])).toBe(true);
    expect(String(seen[0])).toBe(nested);
    expect(
      (await fetch(`${base}/v1/callbacks/graph-calls`, { method: "POST", headers: { "content-type": "application/json" }, body: "x".repeat(1024 * 1024) }))
        .status,
    ).toBe(413);
    expect(seen).toHaveLength(1);
  });

  it("refuses a deeply nested or oversized change notification before parsing it", async () => {
    const seen: Buffer[] = [];
    const { base } = await start({
      callbacks: {
        notifications: async (_query, raw) => {
          seen.push(raw);
          return { status: 202 };
        },
      },
    });
    const post = (body: string) => fetch(`${base}/v1/notifications/graph`, { method: "POST", headers: { "content-type": "application/json" }, body });
    expect((await post(`{"value":${"[".repeat(100)}${"]".repeat(100)}}`)).status).toBe(400);
    expect((await post(`{"value":[${'{"a":"x"},'.repeat(20_000)}{}]}`)).status).toBe(413);
    expect(seen).toHaveLength(0);
    expect((await post('{"value":[{"subscriptionId":"s","clientState":"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["}]}')).status).toBe(202);
    expect(seen).toHaveLength(1);
  });
});

describe("tokens", () => {
  it("takes ?token= only on calendar.ics and only a device token, never the admin token", async () => {
    const { base } = await start();
    const { room, token } = await pullRoom();
    expect((await fetch(`${base}/v1/rooms/${room.id}/calendar.ics?token=${token}`)).status).toBe(200);
    expect((await fetch(`${base}/v1/rooms/${room.id}/calendar.ics?token=${ADMIN}`)).status).toBe(401);
    expect((await fetch(`${base}/v1/rooms/${room.id}/meetings?token=${token}`)).status).toBe(401);
    expect((await fetch(`${base}/v1/rooms/${room.id}/meetings?token=${token}&x=.ics`)).status).toBe(401);
    expect((await fetch(`${base}/v1/rooms/${room.id}/meetings`, { headers: { authorization: `Bearer ${token}` } })).status).toBe(200);
  });

  it("answers 503, not 401, when the store fails while checking a device token", async () => {
    const { room, token } = await pullRoom();
    const { base } = await start({ store: failingStore(["verifyDeviceToken"]) });
    const r = await fetch(`${base}/v1/rooms/${room.id}/meetings`, { headers: { authorization: `Bearer ${token}` } });
    expect(r.status).toBe(503);
    const text = await r.text();
    expect(JSON.parse(text)).toEqual({ error: { code: "OTJ_STORE_UNREACHABLE", message: "temporarily unavailable" } });
    expect(text).not.toMatch(/ECONNREFUSED|10\.1\.2\.3|password/);
    expect(logLines.join("")).toContain("ECONNREFUSED");
    expect(logLines.join("")).not.toContain(token);
  });

  it("limits failed device-token guesses per client: past the limit no query is made", async () => {
    const { room, token } = await pullRoom();
    const counter = { calls: 0 };
    const { base } = await start({ store: failingStore([], counter), failureLimit: 5, pullRateLimit: 1_000 });
    const guess = (t: string) => fetch(`${base}/v1/rooms/${room.id}/meetings`, { headers: { authorization: `Bearer ${t}` } });
    for (let i = 0; i < 3; i++) expect((await guess(token)).status).toBe(200);
    for (let i = 0; i < 5; i++) expect((await guess(`wrong-${i}`)).status).toBe(401);
    expect(counter.calls).toBe(8);
    const limited = await guess("wrong-again");
    expect(limited.status).toBe(429);
    expect(Number(limited.headers.get("retry-after"))).toBeGreaterThan(0);
    expect((await guess(token)).status).toBe(429);
    expect(counter.calls).toBe(8);
    clock.advance(61_000);
    expect((await guess(token)).status).toBe(200);
  });

  it("limits failed API bearer guesses per client, and counts only failures", async () => {
    const { base } = await start({ failureLimit: 5, trustProxy: "127.0.0.1" });
    const status = (token: string, client: string) =>
      fetch(`${base}/v1/rooms`, { headers: { authorization: `Bearer ${token}`, "x-forwarded-for": client } }).then((r) => r.status);
    for (let i = 0; i < 20; i++) expect(await status(ADMIN, "192.0.2.1")).toBe(200);
    for (let i = 0; i < 5; i++) expect(await status(`guess-${i}`, "192.0.2.66")).toBe(401);
    expect(await status("guess-5", "192.0.2.66")).toBe(429);
    expect(await status(ADMIN, "192.0.2.66")).toBe(429);
    expect(await status(ADMIN, "192.0.2.1")).toBe(200);
  });

  it("without http.trustProxy, X-Forwarded-For does not change who the client is", async () => {
    const { base } = await start({ failureLimit: 3 });
    const status = (token: string, client: string) =>
      fetch(`${base}/v1/rooms`, { headers: { authorization: `Bearer ${token}`, "x-forwarded-for": client } }).then((r) => r.status);
    for (let i = 0; i < 3; i++) expect(await status(`guess-${i}`, `192.0.2.${i}`)).toBe(401);
    expect(await status(ADMIN, "192.0.2.200")).toBe(429);
  });
});

describe("internal errors", () => {
  it("answers a 5xx with a code only and logs its cause", async () => {
    const { base } = await start({ store: failingStore(["list"]) });
    const r = await fetch(`${base}/v1/rooms`, { headers: { authorization: `Bearer ${ADMIN}` } });
    expect(r.status).toBe(503);
    const text = await r.text();
    expect(text).not.toMatch(/ECONNREFUSED|10\.1\.2\.3/);
    expect(JSON.parse(text).error.code).toBe("OTJ_STORE_UNREACHABLE");
    const logged = logLines.map((l) => JSON.parse(l) as { msg: string; err?: { message: string }; route?: string }).find((l) => l.msg === "request failed");
    expect(logged?.err?.message).toContain("ECONNREFUSED");
    expect(logged?.route).toBe("/v1/rooms");
    expect(logLines.join("")).not.toContain(ADMIN);
  });

  it("a callback handler's 5xx reaches the sender as a code only", async () => {
    const { base } = await start({
      callbacks: {
        bridge: async () => ({ status: 503, body: { error: "bad callback", message: "the database connection failed: connect ECONNREFUSED 10.1.2.3:5432" } }),
      },
    });
    const r = await fetch(`${base}/v1/callbacks/bridge`, { method: "POST", headers: { "content-type": "application/json" }, body: "{}" });
    expect(r.status).toBe(503);
    expect(await r.json()).toEqual({ error: { code: "OTJ_STORE_UNREACHABLE", message: "temporarily unavailable" } });
    expect(logLines.join("")).toContain("connect ECONNREFUSED 10.1.2.3:5432");
  });

  it("/readyz names failing checks without their reasons, which go to the log", async () => {
    const { base } = await start({ readiness: async () => ({ database: "connect ECONNREFUSED 127.0.0.1:5432", graph: true }) });
    const r = await fetch(`${base}/readyz`);
    expect(r.status).toBe(503);
    expect(await r.json()).toEqual({ ready: false, checks: { database: "unavailable", graph: true } });
    expect(logLines.join("")).toContain("connect ECONNREFUSED 127.0.0.1:5432");
  });

  it("route parameters with control characters are not found, never a database error", async () => {
    const { base } = await start();
    const { token } = await pullRoom();
    expect((await fetch(`${base}/v1/rooms/a%00b`, { method: "DELETE", headers: { authorization: `Bearer ${ADMIN}` } })).status).toBe(404);
    expect((await fetch(`${base}/v1/rooms/a%00b/meetings`, { headers: { authorization: `Bearer ${token}` } })).status).toBe(401);
    expect(logLines.join("")).not.toContain("request failed");
  });
});

describe("headers", () => {
  it("sends nosniff on every reply, also open routes and the validationToken echo", async () => {
    const { base } = await start();
    const replies = [
      await fetch(`${base}/v1/notifications/graph?validationToken=${encodeURIComponent("<html><script>alert(1)</script>")}`, { method: "POST" }),
      await fetch(`${base}/healthz`),
      await fetch(`${base}/v1/rooms`),
      await fetch(`${base}/nowhere`, { headers: { authorization: `Bearer ${ADMIN}` } }),
    ];
    expect(replies.map((r) => r.status)).toEqual([200, 200, 401, 404]);
    for (const r of replies) expect(r.headers.get("x-content-type-options")).toBe("nosniff");
    expect(replies[0]!.headers.get("content-type")).toMatch(/^text\/plain/);
  });
});
