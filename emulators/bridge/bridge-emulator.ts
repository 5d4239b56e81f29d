/**
 * A partner media bridge emulator for otj's HTTP bridge protocol (docs/bridge-protocol.md):
 * POST /sessions (bearer + signature, idempotent on sessionId), DELETE /sessions/{id}, a lobby
 * model per session on an injected clock, and signed callbacks with fault knobs.
 */
import http from "node:http";
import type { AddressInfo } from "node:net";
import type { CancelTimer, Clock } from "../../core/clock.ts";
import type { BridgeStartRequest } from "../../core/ports/media-bridge.ts";
import { BodyTooLargeError, parseJson, readBodyBytes } from "../shared/request-body.ts";
import { EMULATOR_SIGNATURE_HEADER, emulatorSign, emulatorVerify } from "./emulator-signature.ts";

export type LobbyPlan = { kind: "admit"; afterMs: number } | { kind: "deny"; afterMs: number } | { kind: "never" } | { kind: "fail"; afterMs: number };

export type CallbackState = "joining" | "lobby" | "admitted" | "denied" | "timeout" | "ended" | "failed";

export interface EmulatedSession {
  id: string;
  request: BridgeStartRequest & { lobbyBypass?: unknown };
  state: CallbackState | "created";
  createdAt: number;
  stoppedAt: number | null;
  timers: CancelTimer[];
}

export interface BridgeKnobs {
  /** Fail the next N creates with 503. */
  createFailures: number;
  /** Answer creates with this 4xx status. */
  rejectCreateStatus: number | null;
  /** Delay before answering a create, in real ms (for client timeouts). */
  createDelayMs: number;
  /** Delay callbacks by this much clock time. */
  callbackDelayMs: number;
  duplicateCallbacks: boolean;
  /** Deliver each callback with a corrupted signature. */
  badSignatures: boolean;
  /** Drop callbacks instead of sending them. */
  loseCallbacks: boolean;
}

export interface BridgeEmulatorOptions {
  clock: Clock;
  token: string;
  hmacSecret: string;
  /** Lobby behaviour per session (default: admitted after 5 s). */
  plan?: (request: BridgeStartRequest) => LobbyPlan;
}

export class BridgeEmulator {
  readonly sessions = new Map<string, EmulatedSession>();
  readonly knobs: BridgeKnobs = {
    createFailures: 0,
    rejectCreateStatus: null,
    createDelayMs: 0,
    callbackDelayMs: 0,
    duplicateCallbacks: false,
    badSignatures: false,
    loseCallbacks: false,
  };
  /** Raw request bodies received, for assertions (e.g. never a bypass flag). */
  readonly bodies: string[] = [];
  readonly callbacksSent: Array<{ sessionId: string; state: CallbackState; status: number | null }> = [];
  creates = 0;
  /** TCP connections accepted (keep-alive reuse shows as fewer connections than requests). */
  connections = 0;
  url = "";
  #server: http.Server | null = null;
  #nextId = 1;
  /** Sessions by the caller's sessionId (creates are idempotent on it). */
  readonly #bySession = new Map<string, EmulatedSession>();
  readonly #inFlight = new Set<Promise<void>>();
  readonly #options: BridgeEmulatorOptions;

  constructor(options: BridgeEmulatorOptions) {
    this.#options = options;
  }

  plan: (request: BridgeStartRequest) => LobbyPlan = (r) => this.#options.plan?.(r) ?? { kind: "admit", afterMs: 5000 };

  async start(): Promise<string> {
    this.#server = http.createServer((req, res) => {
      void this.#handle(req, res);
    });
    this.#server.on("connection", () => {
      this.connections++;
    });
    await new Promise<void>((resolve) => this.#server!.listen(0, "127.0.0.1", resolve));
    this.url = `http://127.0.0.1:${(this.#server.address() as AddressInfo).port}`;
    return this.url;
  }

  async stop(): Promise<void> {
    for (const s of this.sessions.values()) for (const t of s.timers) t();
    await this.idle();
    if (!this.#server) return;
    this.#server.closeAllConnections();
    await new Promise<void>((resolve) => this.#server!.close(() => resolve()));
    this.#server = null;
  }

  /** Resolves when every callback sent so far has been delivered (or failed). */
  async idle(): Promise<void> {
    while (this.#inFlight.size > 0) await Promise.allSettled([...this.#inFlight]);
  }

  /** Drops every session and count (a benchmark's warm-up), cancelling their timers. */
  async forget(): Promise<void> {
    for (const s of this.sessions.values()) for (const t of s.timers) t();
    await this.idle();
    this.sessions.clear();
    this.#bySession.clear();
    this.bodies.length = 0;
    this.callbacksSent.length = 0;
    this.creates = 0;
  }

  bySessionId(sessionId: string): EmulatedSession | undefined {
    return this.#bySession.get(sessionId);
  }

  async #handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    let rawBytes: Buffer;
    try {
      rawBytes = await readBodyBytes(req);
    } catch (error) {
      if (!(error instanceof BodyTooLargeError)) throw error;
      res.writeHead(413, { "content-type": "application/json" }).end(JSON.stringify({ error: "body too large" }));
      return;
    }
    const raw = rawBytes.toString("utf8");
    this.bodies.push(raw);
    const reply = (status: number, body?: unknown) => {
      res.writeHead(status, body === undefined ? {} : { "content-type": "application/json" });
      res.end(body === undefined ? undefined : JSON.stringify(body));
    };
    if (req.headers.authorization !== `Bearer ${this.#options.token}`) return reply(401, { error: "unauthorized" });
    if (!emulatorVerify(this.#options.hmacSecret, rawBytes, req.headers[EMULATOR_SIGNATURE_HEADER] as string | undefined))
      return reply(401, { error: "bad signature" });
    const path = (req.url ?? "").split("?")[0]!;
    if (req.method === "POST" && path === "/sessions") {
      if (this.knobs.createDelayMs > 0) await new Promise((r) => setTimeout(r, this.knobs.createDelayMs));
      this.creates++;
      if (this.knobs.rejectCreateStatus !== null) return reply(this.knobs.rejectCreateStatus, { error: "rejected" });
      if (this.knobs.createFailures > 0) {
        this.knobs.createFailures--;
        return reply(503, { error: "busy" });
      }
      const json = parseJson<EmulatedSession["request"]>(raw);
      if (!json.ok) return reply(400, { error: "bad json" });
      const request = json.value;
      if (!request.sessionId || !(request.teams?.joinUrl || request.teams?.meetingId) || request.lobbyBypass !== false) {
        return reply(400, { error: "sessionId, teams.joinUrl or teams.meetingId, and lobbyBypass:false are required" });
      }
      const existing = this.bySessionId(request.sessionId);
      if (existing) return reply(200, { id: existing.id });
      const id = `brg-${this.#nextId++}`;
      const session: EmulatedSession = { id, request, state: "created", createdAt: this.#options.clock.now().getTime(), stoppedAt: null, timers: [] };
      this.sessions.set(id, session);
      this.#bySession.set(request.sessionId, session);
      this.#runLobby(session);
      return reply(201, { id });
    }
    const del = /^\/sessions\/([^/]+)$/.exec(path);
    if (req.method === "DELETE" && del) {
      const session = this.sessions.get(decodeURIComponent(del[1]!));
      if (!session) return reply(404, { error: "unknown session" });
      if (session.stoppedAt === null) {
        session.stoppedAt = this.#options.clock.now().getTime();
        for (const t of session.timers) t();
        session.timers = [];
        if (session.state !== "denied" && session.state !== "failed" && session.state !== "ended") this.#emit(session, "ended", "left on request");
      }
      return reply(204);
    }
    return reply(404, { error: "not found" });
  }

  #at(session: EmulatedSession, ms: number, fn: () => void): void {
    session.timers.push(this.#options.clock.setTimer(new Date(ms), fn));
  }

  #runLobby(session: EmulatedSession): void {
    const clock = this.#options.clock;
    const begin = Math.max(clock.now().getTime(), Date.parse(session.request.notBefore));
    const plan = this.plan(session.request);
    this.#at(session, begin, () => {
      this.#emit(session, "joining");
      if (plan.kind === "fail") {
        this.#at(session, begin + plan.afterMs, () => this.#emit(session, "failed", "could not reach the meeting"));
        return;
      }
      this.#emit(session, "lobby");
      if (plan.kind === "admit") this.#at(session, begin + plan.afterMs, () => this.#emit(session, "admitted"));
      if (plan.kind === "deny") this.#at(session, begin + plan.afterMs, () => this.#emit(session, "denied", "the organizer denied entry"));
    });
    this.#at(session, Date.parse(session.request.notAfter), () => {
      if (session.state === "admitted") this.#emit(session, "ended", "notAfter reached");
    });
  }

  #emit(session: EmulatedSession, state: CallbackState, detail: string | null = null): void {
    session.state = state;
    const at = this.#options.clock.now().toISOString();
    const send = () => {
      const body = JSON.stringify({ sessionId: session.request.sessionId, state, at, detail });
      const times = this.knobs.duplicateCallbacks ? 2 : 1;
      for (let i = 0; i < times; i++) {
        if (this.knobs.loseCallbacks) {
          this.callbacksSent.push({ sessionId: session.request.sessionId, state, status: null });
          continue;
        }
        const signature = this.knobs.badSignatures ? emulatorSign(`${this.#options.hmacSecret}x`, body) : emulatorSign(this.#options.hmacSecret, body);
        const p = fetch(session.request.callbackUrl, {
          method: "POST",
          headers: { "content-type": "application/json", [EMULATOR_SIGNATURE_HEADER]: signature },
          body,
        })
          .then((r) => {
            this.callbacksSent.push({ sessionId: session.request.sessionId, state, status: r.status });
          })
          .catch(() => {
            this.callbacksSent.push({ sessionId: session.request.sessionId, state, status: 0 });
          })
          .finally(() => this.#inFlight.delete(p));
        this.#inFlight.add(p);
      }
    };
    if (this.knobs.callbackDelayMs > 0) this.#at(session, this.#options.clock.now().getTime() + this.knobs.callbackDelayMs, send);
    else send();
  }
}
