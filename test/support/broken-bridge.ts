/**
 * A small partner bridge for `otj bridge check` tests: it follows docs/bridge-protocol.md unless
 * told to break one rule (a fault), so each test shows the check catching that one fault.
 */
import http from "node:http";
import type { AddressInfo } from "node:net";
import { SIGNATURE_HEADER, signBody, verifyBody } from "../../bridge/bridge-signature.ts";

export type BridgeFault =
  | "none"
  | "duplicate-sessions"
  | "accepts-bad-signatures"
  | "accepts-lobby-bypass"
  | "unsigned-callbacks"
  | "stop-not-idempotent"
  | "no-callbacks"
  | "joins-early";

export class BrokenBridge {
  url = "";
  readonly callbacks: Array<{ state: string; status: number }> = [];
  #server: http.Server | null = null;
  #next = 1;
  readonly #bySessionId = new Map<string, string>();
  readonly #live = new Map<string, { sessionId: string; callbackUrl: string; stopped: boolean; join: NodeJS.Timeout | null }>();
  readonly #sending = new Set<Promise<void>>();
  readonly #options: { token: string; hmacSecret: string; fault: BridgeFault };

  constructor(options: { token: string; hmacSecret: string; fault: BridgeFault }) {
    this.#options = options;
  }

  async start(): Promise<string> {
    this.#server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => this.#handle(req, Buffer.concat(chunks).toString("utf8"), res));
    });
    await new Promise<void>((resolve) => this.#server!.listen(0, "127.0.0.1", resolve));
    this.url = `http://127.0.0.1:${(this.#server.address() as AddressInfo).port}`;
    return this.url;
  }

  async stop(): Promise<void> {
    while (this.#sending.size > 0) await Promise.allSettled([...this.#sending]);
    this.#server?.closeAllConnections();
    await new Promise<void>((resolve) => this.#server?.close(() => resolve()) ?? resolve());
  }

  #handle(req: http.IncomingMessage, raw: string, res: http.ServerResponse) {
    const fault = this.#options.fault;
    const reply = (status: number, body?: unknown) => {
      res.writeHead(status, body === undefined ? {} : { "content-type": "application/json" });
      res.end(body === undefined ? undefined : JSON.stringify(body));
    };
    if (req.headers.authorization !== `Bearer ${this.#options.token}`) return reply(401, { error: "unauthorized" });
    const signatureOk = verifyBody(this.#options.hmacSecret, raw, req.headers[SIGNATURE_HEADER] as string | undefined);
    if (!signatureOk && fault !== "accepts-bad-signatures") return reply(401, { error: "bad signature" });
    if (req.method === "POST" && req.url === "/sessions") {
      const body = JSON.parse(raw) as {
        sessionId: string;
        lobbyBypass?: unknown;
        callbackUrl: string;
        notBefore: string;
        teams: { joinUrl: string | null; meetingId: string | null };
      };
      if (body.lobbyBypass !== false && fault !== "accepts-lobby-bypass") return reply(400, { error: "lobbyBypass must be false" });
      if (!body.teams.joinUrl && !body.teams.meetingId) return reply(400, { error: "no meeting" });
      const known = this.#bySessionId.get(body.sessionId);
      if (known !== undefined && fault !== "duplicate-sessions") return reply(200, { id: known });
      const id = `bb-${this.#next++}`;
      this.#bySessionId.set(body.sessionId, id);
      const session = { sessionId: body.sessionId, callbackUrl: body.callbackUrl, stopped: false, join: null as NodeJS.Timeout | null };
      this.#live.set(id, session);
      // Joins at notBefore (the fault: at once).
      const wait = fault === "joins-early" ? 0 : Date.parse(body.notBefore) - Date.now();
      if (wait <= 0) this.#callback(id, "joining");
      else
        session.join = setTimeout(() => {
          if (!session.stopped) this.#callback(id, "joining");
        }, wait);
      return reply(201, { id });
    }
    const del = /^\/sessions\/([^/]+)$/.exec(req.url ?? "");
    if (req.method === "DELETE" && del) {
      const session = this.#live.get(decodeURIComponent(del[1]!));
      if (session === undefined) return reply(404, { error: "unknown session" });
      if (session.stopped) return fault === "stop-not-idempotent" ? reply(500, { error: "already stopped" }) : reply(204);
      session.stopped = true;
      if (session.join !== null) clearTimeout(session.join);
      this.#callback(decodeURIComponent(del[1]!), "ended");
      return reply(204);
    }
    return reply(404, { error: "not found" });
  }

  #callback(id: string, state: string): void {
    if (this.#options.fault === "no-callbacks") return;
    const session = this.#live.get(id)!;
    const body = JSON.stringify({ sessionId: session.sessionId, state, at: new Date().toISOString(), detail: null });
    const secret = this.#options.fault === "unsigned-callbacks" ? "some-other-secret" : this.#options.hmacSecret;
    const p = fetch(session.callbackUrl, { method: "POST", headers: { "content-type": "application/json", [SIGNATURE_HEADER]: signBody(secret, body) }, body })
      .then((r) => {
        this.callbacks.push({ state, status: r.status });
      })
      .catch(() => {
        this.callbacks.push({ state, status: 0 });
      })
      .finally(() => this.#sending.delete(p));
    this.#sending.add(p);
  }
}
