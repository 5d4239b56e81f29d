/**
 * `otj bridge check --url URL --token T --hmac-secret S [--json]`: a conformance run against a
 * partner bridge (docs/bridge-protocol.md, "Conformance"). It starts one test session for a
 * meeting that does not exist, receives the bridge's callbacks on a local receiver, stops the
 * session, and prints each check as PASS or FAIL. Exit 0 only when every check passes.
 */
import { randomBytes } from "node:crypto";
import http from "node:http";
import type { AddressInfo } from "node:net";
import type { Command } from "commander";
import { parseBridgeCallback, SIGNATURE_HEADER, signBody, verifyBody } from "../../bridge/bridge-signature.ts";
import { CliExit, type CliIo } from "../cli-context.ts";

export interface CheckResult {
  name: string;
  ok: boolean;
  detail: string;
}

interface Flags {
  url: string;
  token: string;
  hmacSecret: string;
  json?: boolean;
  callbackListen: string;
  callbackUrl?: string;
  timeoutSeconds: string;
  callbackWaitSeconds: string;
}

interface Reply {
  status: number;
  body: string;
}

interface ReceivedCallback {
  signed: boolean;
  raw: string;
}

/** The local receiver of the bridge's callbacks: answers like otj's `/v1/callbacks/bridge`. */
class CallbackReceiver {
  readonly received: ReceivedCallback[] = [];
  readonly #server: http.Server;
  #waiters: Array<() => void> = [];
  readonly #secret: string;

  constructor(secret: string) {
    this.#secret = secret;
    this.#server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      req.on("data", (c: Buffer) => {
        size += c.length;
        if (size <= 64 * 1024) chunks.push(c);
      });
      req.on("end", () => {
        const raw = Buffer.concat(chunks).toString("utf8");
        const signed = verifyBody(this.#secret, Buffer.concat(chunks), req.headers[SIGNATURE_HEADER] as string | undefined);
        this.received.push({ signed, raw });
        res.writeHead(!signed ? 401 : parseBridgeCallback(raw) === null ? 400 : 204);
        res.end();
        for (const w of this.#waiters) w();
        this.#waiters = [];
      });
    });
  }

  async listen(hostPort: string): Promise<{ host: string; port: number }> {
    const m = /^\[?([^\]]*?)\]?:(\d+)$/.exec(hostPort);
    if (!m) throw new CliUsage(`--callback-listen must be HOST:PORT, got ${hostPort}`);
    await new Promise<void>((resolve, reject) => {
      this.#server.once("error", reject);
      this.#server.listen(Number(m[2]), m[1], () => resolve());
    });
    return { host: m[1]!, port: (this.#server.address() as AddressInfo).port };
  }

  /** Resolves when a callback arrives that `done` accepts, or after `ms` (false). */
  async waitFor(done: () => boolean, ms: number): Promise<boolean> {
    const deadline = Date.now() + ms;
    while (!done()) {
      const left = deadline - Date.now();
      if (left <= 0) return false;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.#waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
    return true;
  }

  async close(): Promise<void> {
    this.#server.closeAllConnections();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }
}

class CliUsage extends Error {}

/** How far ahead the waits-for-not-before check sets notBefore, and the clock skew it allows. */
const NOT_BEFORE_AHEAD_MS = 2_000;
const CLOCK_SKEW_MS = 500;

function seconds(value: string, name: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0 || n > 3600) throw new CliUsage(`${name} must be a number of seconds between 0 and 3600, got ${value}`);
  return n;
}

/** Runs every check against the bridge at `url`; never throws for the bridge's behaviour. */
export async function checkBridge(options: {
  url: string;
  token: string;
  hmacSecret: string;
  callbackListen: string;
  callbackUrl?: string;
  timeoutMs: number;
  callbackWaitMs: number;
}): Promise<CheckResult[]> {
  let base: URL;
  try {
    base = new URL(options.url);
  } catch {
    throw new CliUsage(`--url is not a URL: ${options.url}`);
  }
  if (base.protocol !== "http:" && base.protocol !== "https:") throw new CliUsage(`--url must be http(s), got ${base.protocol}`);
  const root = options.url.replace(/\/+$/, "");
  const receiver = new CallbackReceiver(options.hmacSecret);
  const { host, port } = await receiver.listen(options.callbackListen);
  const callbackUrl =
    options.callbackUrl ?? `http://${host === "0.0.0.0" || host === "" ? "127.0.0.1" : host.includes(":") ? `[${host}]` : host}:${port}/v1/callbacks/bridge`;
  const results: CheckResult[] = [];
  const record = (name: string, ok: boolean, detail: string) => results.push({ name, ok, detail });

  const send = async (method: "POST" | "DELETE", path: string, body: string, headers: Record<string, string>): Promise<Reply> => {
    const response = await fetch(`${root}${path}`, {
      method,
      headers: { ...(method === "POST" ? { "content-type": "application/json" } : {}), ...headers },
      ...(method === "POST" ? { body } : {}),
      signal: AbortSignal.timeout(options.timeoutMs),
      redirect: "manual",
    });
    const text = await response.text();
    return { status: response.status, body: text.slice(0, 2000) };
  };
  const signed = (body: string, secret = options.hmacSecret) => ({ authorization: `Bearer ${options.token}`, [SIGNATURE_HEADER]: signBody(secret, body) });
  const attempt = async (name: string, work: () => Promise<void>) => {
    try {
      await work();
    } catch (error) {
      record(name, false, `request failed: ${(error as Error).message}`);
    }
  };
  const idOf = (reply: Reply): string | null => {
    try {
      const id = (JSON.parse(reply.body) as { id?: unknown }).id;
      return typeof id === "string" && id !== "" ? id : null;
    } catch {
      return null;
    }
  };

  const sessionId = `sgj_${randomBytes(6).toString("hex")}`;
  const now = Date.now();
  const request = {
    sessionId,
    teams: {
      joinUrl: "https://teams.microsoft.com/l/meetup-join/19%3ameeting_b3RqLWJyaWRnZS1jaGVjaw%40thread.v2/0",
      meetingId: "100000000000001",
      passcode: "otjChk",
      tenantId: null,
      threadId: "19:meeting_b3RqLWJyaWRnZS1jaGVjaw@thread.v2",
      organizerId: null,
    },
    guestDisplayName: "otj bridge check",
    dialString: `${sessionId}@sgj.otj.invalid`,
    vtcDialString: null,
    notBefore: new Date(now).toISOString(),
    notAfter: new Date(now + 5 * 60_000).toISOString(),
    callbackUrl,
    lobbyBypass: false,
  };
  const body = JSON.stringify(request);
  const refused = (status: number) => status === 401 || status === 403;

  try {
    await attempt("auth-required", async () => {
      const r = await send("POST", "/sessions", body, {
        authorization: `Bearer ${options.token}-wrong`,
        [SIGNATURE_HEADER]: signBody(options.hmacSecret, body),
      });
      record("auth-required", refused(r.status), `a wrong bearer token answered HTTP ${r.status}${refused(r.status) ? "" : " (expected 401 or 403)"}`);
    });
    await attempt("signature-required", async () => {
      const r = await send("POST", "/sessions", body, signed(body, `${options.hmacSecret}-wrong`));
      record("signature-required", refused(r.status), `a wrong signature answered HTTP ${r.status}${refused(r.status) ? "" : " (expected 401 or 403)"}`);
    });
    await attempt("lobby-bypass-refused", async () => {
      const bypass = JSON.stringify({ ...request, lobbyBypass: true });
      const r = await send("POST", "/sessions", bypass, signed(bypass));
      const ok = r.status >= 400 && r.status < 500;
      record("lobby-bypass-refused", ok, `lobbyBypass:true answered HTTP ${r.status}${ok ? "" : " (expected a 4xx refusal)"}`);
    });
    await attempt("target-required", async () => {
      const untargeted = JSON.stringify({ ...request, teams: { ...request.teams, joinUrl: null, meetingId: null } });
      const r = await send("POST", "/sessions", untargeted, signed(untargeted));
      const ok = r.status >= 400 && r.status < 500;
      record("target-required", ok, `a start without joinUrl and meetingId answered HTTP ${r.status}${ok ? "" : " (expected a 4xx refusal)"}`);
    });

    let id: string | null = null;
    await attempt("create", async () => {
      const r = await send("POST", "/sessions", body, signed(body));
      id = idOf(r);
      const ok = r.status === 201 && id !== null;
      const why =
        r.status === 200
          ? " (200: the bridge already knew this sessionId, so a refused request above created a session)"
          : id === null
            ? " (expected 201 with a non-empty id)"
            : " (expected 201)";
      record("create", ok, `a correct start answered HTTP ${r.status}${id ? ` with id ${id}` : ""}${ok ? "" : why}`);
    });
    await attempt("create-idempotent", async () => {
      const r = await send("POST", "/sessions", body, signed(body));
      const again = idOf(r);
      const ok = r.status === 200 && id !== null && again === id;
      record(
        "create-idempotent",
        ok,
        `the same start again answered HTTP ${r.status}${again ? ` with id ${again}` : ""}${ok ? "" : ` (expected 200 with id ${id ?? "of the first start"}: one session per sessionId)`}`,
      );
    });

    // A start whose notBefore is ahead: the bridge answers at once and joins only at notBefore
    // (otj sends starts bridge.sendAheadSeconds early). A callback before then (less a little
    // clock skew) means it joined early; the session is stopped before its notBefore either way.
    await attempt("waits-for-not-before", async () => {
      const earlyId = `sgj_${randomBytes(6).toString("hex")}`;
      const notBefore = Date.now() + NOT_BEFORE_AHEAD_MS;
      const early = JSON.stringify({ ...request, sessionId: earlyId, dialString: `${earlyId}@sgj.otj.invalid`, notBefore: new Date(notBefore).toISOString() });
      const r = await send("POST", "/sessions", early, signed(early));
      const earlyBridgeId = idOf(r);
      if (r.status !== 201 || earlyBridgeId === null) {
        record("waits-for-not-before", false, `a start with notBefore ${NOT_BEFORE_AHEAD_MS / 1000} s ahead answered HTTP ${r.status} (expected 201)`);
        return;
      }
      const its = () => receiver.received.filter((c) => parseBridgeCallback(c.raw)?.sessionId === earlyId);
      const joinedEarly = await receiver.waitFor(() => its().length > 0, notBefore - CLOCK_SKEW_MS - Date.now());
      const first = its()[0];
      await send("DELETE", `/sessions/${encodeURIComponent(earlyBridgeId)}`, "", signed(""));
      record(
        "waits-for-not-before",
        !joinedEarly,
        joinedEarly
          ? `the bridge reported ${first ? (parseBridgeCallback(first.raw)?.state ?? "a state") : "a state"} before notBefore (it must not join earlier; otj sends starts ahead of notBefore)`
          : `no callback in the ${(NOT_BEFORE_AHEAD_MS - CLOCK_SKEW_MS) / 1000} s before notBefore; the session was stopped before it`,
      );
    });

    const ours = () => receiver.received.filter((c) => parseBridgeCallback(c.raw)?.sessionId === sessionId || !c.signed);
    const arrived = await receiver.waitFor(() => ours().length > 0, options.callbackWaitMs);
    const judgeCallbacks = (): CheckResult => {
      const list = ours();
      if (!arrived || list.length === 0)
        return { name: "callback-signed", ok: false, detail: `no callback arrived at ${callbackUrl} within ${options.callbackWaitMs / 1000} s` };
      for (const c of list) {
        if (!c.signed) return { name: "callback-signed", ok: false, detail: "a callback's X-Otj-Signature does not match its body under the secret" };
        const parsed = parseBridgeCallback(c.raw);
        if (parsed === null) return { name: "callback-signed", ok: false, detail: `a callback body is not a valid callback: ${c.raw.slice(0, 200)}` };
        const skew = Math.abs(Date.parse(parsed.at) - Date.now());
        if (skew > 300_000)
          return { name: "callback-signed", ok: false, detail: `a callback's at (${parsed.at}) is ${Math.round(skew / 1000)} s from this machine's clock` };
      }
      const states = list.map((c) => parseBridgeCallback(c.raw)!.state);
      return { name: "callback-signed", ok: true, detail: `${list.length} signed callback(s): ${states.join(", ")}` };
    };

    if (id === null) {
      for (const name of ["stop-signature-required", "stop", "stop-idempotent"]) record(name, false, "skipped: no session id from the start");
    } else {
      const path = `/sessions/${encodeURIComponent(id)}`;
      await attempt("stop-signature-required", async () => {
        const r = await send("DELETE", path, "", signed("", `${options.hmacSecret}-wrong`));
        record(
          "stop-signature-required",
          refused(r.status),
          `a DELETE with a wrong signature answered HTTP ${r.status}${refused(r.status) ? "" : " (expected 401 or 403)"}`,
        );
      });
      await attempt("stop", async () => {
        const r = await send("DELETE", path, "", signed(""));
        const ok = r.status === 204 || r.status === 200;
        record("stop", ok, `DELETE answered HTTP ${r.status}${ok ? "" : " (expected 204)"}`);
      });
      await attempt("stop-idempotent", async () => {
        const r = await send("DELETE", path, "", signed(""));
        const ok = r.status === 204 || r.status === 200 || r.status === 404;
        record("stop-idempotent", ok, `the same DELETE again answered HTTP ${r.status}${ok ? "" : " (expected 204 or 404)"}`);
      });
    }
    await attempt("stop-unknown", async () => {
      const r = await send("DELETE", `/sessions/otj-check-unknown-${randomBytes(4).toString("hex")}`, "", signed(""));
      const ok = r.status === 404 || r.status === 204 || r.status === 200;
      record("stop-unknown", ok, `a DELETE of an unknown id answered HTTP ${r.status}${ok ? "" : " (expected 404 or 204)"}`);
    });
    // Judged last, so a callback sent on stop (e.g. `ended`) is checked too when it came in time.
    const callbacks = judgeCallbacks();
    results.splice(
      results.findIndex((r) => r.name === "stop-signature-required" || r.name === "stop"),
      0,
      callbacks,
    );
  } finally {
    await receiver.close();
  }
  return results;
}

export function registerBridgeCheckCommand(program: Command, io: CliIo): void {
  const bridge = program.command("bridge").description("partner media bridge tools (docs/bridge-protocol.md)");
  bridge
    .command("check")
    .description("conformance run against a partner bridge: exit 0 only when it implements docs/bridge-protocol.md")
    .requiredOption("--url <url>", "the bridge's base URL (bridge.http.baseUrl)")
    .requiredOption("--token <token>", "bearer token the bridge expects (bridge.http.token)")
    .requiredOption("--hmac-secret <secret>", "shared HMAC-SHA256 secret (bridge.http.hmacSecret)")
    .option("--json", "print {conforms, checks[]} as JSON")
    .option("--callback-listen <host:port>", "where the local callback receiver listens", "127.0.0.1:0")
    .option("--callback-url <url>", "the URL the bridge should call back (default: the receiver's own address)")
    .option("--timeout-seconds <n>", "per request", "10")
    .option("--callback-wait-seconds <n>", "how long to wait for the first callback", "30")
    .action(async (flags: Flags) => {
      let results: CheckResult[];
      try {
        results = await checkBridge({
          url: flags.url,
          token: flags.token,
          hmacSecret: flags.hmacSecret,
          callbackListen: flags.callbackListen,
          ...(flags.callbackUrl ? { callbackUrl: flags.callbackUrl } : {}),
          timeoutMs: seconds(flags.timeoutSeconds, "--timeout-seconds") * 1000,
          callbackWaitMs: seconds(flags.callbackWaitSeconds, "--callback-wait-seconds") * 1000,
        });
      } catch (error) {
        if (error instanceof CliUsage) {
          io.stderr(`otj bridge check: ${error.message}\n`);
          throw new CliExit(2);
        }
        throw error;
      }
      const conforms = results.every((r) => r.ok);
      if (flags.json) io.stdout(`${JSON.stringify({ conforms, checks: results }, null, 2)}\n`);
      else {
        for (const r of results) io.stdout(`${r.ok ? "PASS" : "FAIL"}  ${r.name.padEnd(24)} ${r.detail}\n`);
        const failed = results.filter((r) => !r.ok).length;
        io.stdout(
          conforms
            ? "The bridge conforms to the otj bridge protocol v1.\n"
            : `The bridge does not conform: ${failed} of ${results.length} checks failed (see docs/bridge-protocol.md).\n`,
        );
      }
      if (!conforms) throw new CliExit(1);
    });
}
