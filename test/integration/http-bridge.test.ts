/** HttpMediaBridge against the bridge emulator over real HTTP, with signed callbacks. */
import { readFileSync } from "node:fs";
import http from "node:http";
import https from "node:https";
import type { AddressInfo } from "node:net";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { HttpMediaBridge } from "../../bridge/adapters/http-media-bridge.ts";
import { type BridgeCallback, parseBridgeCallback, SIGNATURE_HEADER, verifyBody } from "../../bridge/bridge-signature.ts";
import type { BridgeStartRequest } from "../../core/ports/media-bridge.ts";
import { BridgeEmulator } from "../../emulators/bridge/bridge-emulator.ts";
import { OtjError } from "../../core/errors.ts";
import { FakeClock } from "../support/fake-clock.ts";

const SECRET = "hmac-secret-for-tests";
let clock: FakeClock;
let emulator: BridgeEmulator;
let receiver: http.Server;
let received: Array<{ valid: boolean; callback: BridgeCallback | null }>;
let callbackUrl: string;

beforeEach(async () => {
  clock = new FakeClock("2025-03-04T08:55:00.000Z");
  emulator = new BridgeEmulator({ clock, token: "bridge-token", hmacSecret: SECRET });
  await emulator.start();
  received = [];
  receiver = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const raw = Buffer.concat(chunks).toString("utf8");
      const valid = verifyBody(SECRET, raw, req.headers[SIGNATURE_HEADER] as string | undefined);
      received.push({ valid, callback: parseBridgeCallback(raw) });
      res.writeHead(valid ? 204 : 401);
      res.end();
    });
  });
  await new Promise<void>((r) => receiver.listen(0, "127.0.0.1", r));
  callbackUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/v1/callbacks/bridge`;
});

afterEach(async () => {
  await emulator.stop();
  await new Promise<void>((r) => receiver.close(() => r()));
});

function request(overrides: Partial<BridgeStartRequest> = {}): BridgeStartRequest {
  return {
    sessionId: "sgj_e3495aaf97d3",
    teams: { joinUrl: null, meetingId: "228859003479315", passcode: "Xy7pQ2", tenantId: null, threadId: null, organizerId: null },
    guestDisplayName: "Room 101",
    dialString: "sgj_e3495aaf97d3@sgj.otj.invalid",
    vtcDialString: null,
    notBefore: "2025-03-04T08:58:00.000Z",
    notAfter: "2025-03-04T09:30:00.000Z",
    callbackUrl,
    ...overrides,
  };
}

const bridge = () => new HttpMediaBridge({ baseUrl: emulator.url, token: "bridge-token", hmacSecret: SECRET, timeoutMs: 10_000 });

describe("HttpMediaBridge", () => {
  it("keeps its connections alive across a burst of starts", async () => {
    emulator.plan = () => ({ kind: "never" });
    const b = bridge();
    const before = emulator.connections;
    for (let round = 0; round < 4; round++) {
      await Promise.all(Array.from({ length: 8 }, (_, i) => b.start(request({ sessionId: `sgj_00000000${round}${i}aa`.slice(0, 16) }))));
      // The pool takes a connection back on its drain event, a turn of the event loop after the reply.
      await new Promise((r) => setImmediate(r));
    }
    expect(emulator.creates).toBeGreaterThanOrEqual(32);
    expect(emulator.connections - before).toBeLessThanOrEqual(8);
    b.close();
  });

  it("never opens more connections than its bound, however many starts are in flight", async () => {
    emulator.plan = () => ({ kind: "never" });
    const b = new HttpMediaBridge({ baseUrl: emulator.url, token: "bridge-token", hmacSecret: SECRET, timeoutMs: 10_000, maxConnections: 4 });
    const before = emulator.connections;
    const created = emulator.creates;
    await Promise.all(Array.from({ length: 40 }, (_, i) => b.start(request({ sessionId: `sgj_${(0xbb0000000000 + i).toString(16)}` }))));
    expect(emulator.creates - created).toBe(40);
    expect(emulator.connections - before).toBeLessThanOrEqual(4);
    b.close();
  });

  it("creates idempotently, waits for notBefore, and reports lobby then admitted", async () => {
    emulator.plan = () => ({ kind: "admit", afterMs: 30_000 });
    const first = await bridge().start(request());
    const again = await bridge().start(request());
    expect(again.externalId).toBe(first.externalId);
    expect(emulator.sessions.size).toBe(1);
    clock.advanceTo(new Date("2025-03-04T08:57:59.000Z"));
    await emulator.idle();
    expect(received).toEqual([]);
    clock.advanceTo(new Date("2025-03-04T08:58:00.000Z"));
    await emulator.idle();
    expect(received.map((r) => r.callback?.state).sort()).toEqual(["joining", "lobby"]);
    clock.advance(30_000);
    await emulator.idle();
    expect(received.at(-1)?.callback).toMatchObject({ sessionId: "sgj_e3495aaf97d3", state: "admitted", at: "2025-03-04T08:58:30.000Z" });
    expect(received.every((r) => r.valid)).toBe(true);
  });

  it("never sends a lobby bypass: every create body says lobbyBypass false", async () => {
    await bridge().start(request());
    const creates = emulator.bodies.filter((b) => b.includes('"sessionId"'));
    expect(creates.length).toBeGreaterThan(0);
    for (const body of creates) {
      expect(JSON.parse(body).lobbyBypass).toBe(false);
      expect(body).not.toMatch(/bypass"\s*:\s*true|authenticated/i);
    }
  });

  it("stops idempotently (404 counts as stopped) and the bridge reports ended", async () => {
    const { externalId } = await bridge().start(request({ notBefore: "2025-03-04T08:55:00.000Z" }));
    clock.advance(0);
    await bridge().stop(externalId);
    await bridge().stop(externalId);
    await bridge().stop("brg-unknown");
    await emulator.idle();
    expect(received.map((r) => r.callback?.state)).toContain("ended");
  });

  it("classifies failures: 5xx retryable, 4xx final, bad token final", async () => {
    emulator.knobs.createFailures = 1;
    await expect(bridge().start(request())).rejects.toMatchObject({ code: "OTJ_BRIDGE_UNAVAILABLE", retryable: true });
    await expect(bridge().start(request())).resolves.toMatchObject({ externalId: expect.stringMatching(/^brg-/) });
    emulator.knobs.rejectCreateStatus = 422;
    await expect(bridge().start(request({ sessionId: "sgj_000000000001" }))).rejects.toMatchObject({ code: "OTJ_BRIDGE_REJECTED", retryable: false });
    const wrong = new HttpMediaBridge({ baseUrl: emulator.url, token: "nope", hmacSecret: SECRET, timeoutMs: 10_000 });
    await expect(wrong.start(request())).rejects.toMatchObject({ code: "OTJ_BRIDGE_REJECTED" });
  });

  it("signs with the shared secret; a wrong secret is refused by the bridge", async () => {
    const wrongSecret = new HttpMediaBridge({ baseUrl: emulator.url, token: "bridge-token", hmacSecret: "other", timeoutMs: 10_000 });
    await expect(wrongSecret.start(request())).rejects.toMatchObject({ code: "OTJ_BRIDGE_REJECTED" });
    expect(emulator.creates).toBe(0);
  });

  it("delivers denial, and corrupted signatures fail verification at the receiver", async () => {
    emulator.plan = () => ({ kind: "deny", afterMs: 10_000 });
    emulator.knobs.badSignatures = true;
    await bridge().start(request({ notBefore: "2025-03-04T08:55:00.000Z" }));
    clock.advance(10_000);
    await emulator.idle();
    expect(received.map((r) => r.callback?.state)).toContain("denied");
    expect(received.every((r) => !r.valid)).toBe(true);
  });
});

describe("HttpMediaBridge transport", () => {
  const failure = async (work: Promise<unknown>) => {
    const error = await work.then(
      () => null,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(OtjError);
    return error as OtjError;
  };

  const listen = async (server: http.Server | https.Server) => {
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    return (server.address() as AddressInfo).port;
  };

  it("a bridge that refuses connections is unavailable (retried), not a refusal", async () => {
    const server = http.createServer();
    const port = await listen(server);
    await new Promise<void>((r) => server.close(() => r()));
    const e = await failure(new HttpMediaBridge({ baseUrl: `http://127.0.0.1:${port}`, token: "t", hmacSecret: SECRET, timeoutMs: 10_000 }).start(request()));
    expect(e.code).toBe("OTJ_BRIDGE_UNAVAILABLE");
    expect(e.retryable).toBe(true);
  });

  it("a bridge slower than timeoutMs is unavailable once the timeout passes", async () => {
    emulator.knobs.createDelayMs = 10_000;
    const b = new HttpMediaBridge({ baseUrl: emulator.url, token: "bridge-token", hmacSecret: SECRET, timeoutMs: 150 });
    const started = Date.now();
    const e = await failure(b.start(request()));
    expect(e.code).toBe("OTJ_BRIDGE_UNAVAILABLE");
    // Given up before the bridge answered (a start that waited for the answer would succeed).
    expect(Date.now() - started).toBeLessThan(10_000);
    b.close();
  });

  it("an abort signal ends a start request in flight", async () => {
    emulator.knobs.createDelayMs = 2_000;
    const b = new HttpMediaBridge({ baseUrl: emulator.url, token: "bridge-token", hmacSecret: SECRET, timeoutMs: 5_000 });
    const controller = new AbortController();
    const pending = failure(b.start(request(), controller.signal));
    controller.abort();
    expect((await pending).code).toBe("OTJ_BRIDGE_UNAVAILABLE");
    b.close();
  });

  it("verifies the bridge's TLS certificate: an untrusted one is refused, not retried", async () => {
    const tls = new URL("../fixtures/tls/", import.meta.url);
    const server = https.createServer(
      { cert: readFileSync(new URL("device-cert.pem", tls)), key: readFileSync(new URL("device-key.pem", tls)) },
      (_req, res) => {
        res.writeHead(201, { "content-type": "application/json" });
        res.end('{"id":"brg-1"}');
      },
    );
    const port = await listen(server);
    try {
      const e = await failure(
        new HttpMediaBridge({ baseUrl: `https://127.0.0.1:${port}`, token: "t", hmacSecret: SECRET, timeoutMs: 10_000 }).start(request()),
      );
      expect(e.code).toBe("OTJ_BRIDGE_REJECTED");
    } finally {
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    }
  });

  it("keeps a path prefix of the base URL, and reads a reply in several chunks", async () => {
    const paths: string[] = [];
    const server = http.createServer((req, res) => {
      paths.push(`${req.method} ${req.url}`);
      req.resume();
      req.on("end", () => {
        if (req.method === "DELETE") {
          res.writeHead(204);
          res.end();
          return;
        }
        res.writeHead(201, { "content-type": "application/json" });
        res.write('{"id":');
        setImmediate(() => res.end('"brg-77"}'));
      });
    });
    const port = await listen(server);
    try {
      const b = new HttpMediaBridge({ baseUrl: `http://127.0.0.1:${port}/partner/otj/`, token: "t", hmacSecret: SECRET, timeoutMs: 10_000 });
      expect(await b.start(request())).toEqual({ externalId: "brg-77" });
      await b.stop("brg/77");
      expect(paths).toEqual(["POST /partner/otj/sessions", "DELETE /partner/otj/sessions/brg%2F77"]);
      b.close();
    } finally {
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    }
  });

  it("stops reading an endless reply, and reads a UTF-8 id split across chunks", async () => {
    let endless = true;
    const server = http.createServer((req, res) => {
      req.resume();
      req.on("end", () => {
        res.writeHead(201, { "content-type": "application/json" });
        if (endless) {
          // Megabytes of nonsense, as a hostile or broken bridge might send.
          const junk = Buffer.alloc(256 * 1024, 0x20);
          let sent = 0;
          const more = () => {
            while (sent < 64 && res.write(junk)) sent++;
            if (sent < 64) res.once("drain", more);
            else res.end();
          };
          more();
          return;
        }
        const bytes = Buffer.from('{"id":"brg-é"}');
        const cut = bytes.indexOf(0xc3) + 1;
        res.write(bytes.subarray(0, cut));
        setImmediate(() => res.end(bytes.subarray(cut)));
      });
    });
    const port = await listen(server);
    try {
      const b = new HttpMediaBridge({ baseUrl: `http://127.0.0.1:${port}`, token: "t", hmacSecret: SECRET, timeoutMs: 10_000 });
      const e = await failure(b.start(request()));
      expect(e.message).toBe("bridge answered without a session id");
      endless = false;
      expect(await b.start(request())).toEqual({ externalId: "brg-é" });
      b.close();
    } finally {
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    }
  });

  it("refuses a base URL that is not http(s)", () => {
    expect(() => new HttpMediaBridge({ baseUrl: "ftp://bridge.example", token: "t", hmacSecret: SECRET, timeoutMs: 10_000 })).toThrow(/http/);
  });
});
