/**
 * HTTP exchanges with Exchange for EwsClient: reading an answer (with a size cap), and NTLM
 * connections. NTLM authenticates a connection, not a request: each connection does the
 * NEGOTIATE → CHALLENGE → AUTHENTICATE handshake once (the AUTHENTICATE goes with the real SOAP
 * request) and then carries requests without credentials while Exchange keeps it open. Idle
 * authenticated connections are kept for the next request; a connection whose request failed is
 * closed. The EWS client's gate bounds how many run at once.
 */
import { randomBytes } from "node:crypto";
import { Client, fetch as undiciFetch } from "undici";
import { abortable } from "../graph/client-credentials-token-provider.ts";
import {
  authenticateMessage,
  fileTime,
  NTLM_FLAGS,
  negotiateMessage,
  ntlmv2Responses,
  ntowfV2,
  parseChallengeMessage,
  splitAccount,
  targetTimestamp,
} from "./ntlm.ts";

/** Largest SOAP answer read (bodies of a GetItem batch); more is a bad response. */
export const MAX_RESPONSE_CHARS = 32 * 1024 * 1024;

/** One HTTP answer as the client needs it: the status and the body text ("" when over the cap). */
export interface EwsReply {
  readonly status: number;
  readonly reply: string;
}

/** Reads an answer's body, or drops it when it says it is larger than the cap. */
export async function readReply(response: Response, signal: AbortSignal): Promise<EwsReply> {
  if (Number(response.headers.get("content-length") ?? 0) > MAX_RESPONSE_CHARS) {
    await response.body?.cancel();
    return { status: response.status, reply: "" };
  }
  return { status: response.status, reply: await abortable(response.text(), signal) };
}

interface Connection {
  readonly client: Client;
  authenticated: boolean;
}

export interface NtlmSettings {
  readonly url: string;
  /** `DOMAIN\user` or a UPN. */
  readonly username: string;
  readonly password: string;
  readonly ca?: string | null;
  readonly clock: { now(): Date };
  /** Client challenges; default crypto.randomBytes. */
  readonly randomBytes?: (size: number) => Buffer;
}

/** Idle connections kept at most. */
const MAX_IDLE = 16;

export class NtlmConnections {
  readonly #settings: NtlmSettings;
  readonly #idle: Connection[] = [];
  readonly #origin: string;
  readonly #key: Buffer;
  readonly #account: { user: string; domain: string };
  #handshakes = 0;

  constructor(settings: NtlmSettings) {
    this.#settings = settings;
    this.#origin = new URL(settings.url).origin;
    this.#account = splitAccount(settings.username);
    // The response key depends on the password and account only: computed once.
    this.#key = ntowfV2(settings.password, this.#account.user, this.#account.domain);
  }

  /** Handshakes done so far (a connection reused needs none). */
  get handshakes(): number {
    return this.#handshakes;
  }

  /** Sends one POST on an authenticated connection (authenticating a new one first). */
  async post(headers: Record<string, string>, body: string, signal: AbortSignal): Promise<EwsReply> {
    const connection = this.#idle.pop() ?? { client: this.#newClient(), authenticated: false };
    let reusable = false;
    try {
      if (connection.authenticated) {
        const answer = await this.#send(connection, headers, body, signal);
        // 401: Exchange dropped the connection's authentication; authenticate it again.
        if (answer.status !== 401) {
          reusable = true;
          return answer;
        }
        connection.authenticated = false;
      }
      const answer = await this.#handshake(connection, headers, body, signal);
      reusable = answer.status !== 401;
      return answer;
    } finally {
      if (reusable && this.#idle.length < MAX_IDLE) this.#idle.push(connection);
      else void connection.client.destroy().catch(() => undefined);
    }
  }

  /** Closes every idle connection. */
  async close(): Promise<void> {
    await Promise.all(this.#idle.splice(0).map((c) => c.client.destroy().catch(() => undefined)));
  }

  async #handshake(connection: Connection, headers: Record<string, string>, body: string, signal: AbortSignal): Promise<EwsReply> {
    this.#handshakes++;
    const negotiate = await this.#fetch(connection, { ...headers, Authorization: `NTLM ${negotiateMessage().toString("base64")}` }, "", signal);
    const offered = /(?:^|,)\s*NTLM\s+([A-Za-z0-9+/=]+)/.exec(negotiate.headers.get("www-authenticate") ?? "");
    await negotiate.body?.cancel();
    // No challenge: Exchange refused NTLM (or this account) outright.
    if (negotiate.status !== 401 || offered === null) return { status: negotiate.status === 200 ? 401 : negotiate.status, reply: "" };
    const challenge = parseChallengeMessage(Buffer.from(offered[1]!, "base64"));
    const timestamp = targetTimestamp(challenge.targetInfo);
    const clientChallenge = (this.#settings.randomBytes ?? randomBytes)(8);
    const responses = ntlmv2Responses(
      this.#key,
      challenge.serverChallenge,
      clientChallenge,
      timestamp ?? fileTime(this.#settings.clock.now()),
      challenge.targetInfo,
      timestamp !== null,
    );
    const authenticate = authenticateMessage({
      // The flags both sides offered.
      flags: challenge.flags & NTLM_FLAGS,
      user: this.#account.user,
      domain: this.#account.domain,
      workstation: "",
      lmResponse: responses.lmResponse,
      ntResponse: responses.ntResponse,
    });
    const answer = await readReply(
      await this.#fetch(connection, { ...headers, Authorization: `NTLM ${authenticate.toString("base64")}` }, body, signal),
      signal,
    );
    connection.authenticated = answer.status !== 401;
    return answer;
  }

  #send(connection: Connection, headers: Record<string, string>, body: string, signal: AbortSignal): Promise<EwsReply> {
    return this.#fetch(connection, headers, body, signal).then((response) => readReply(response, signal));
  }

  #fetch(connection: Connection, headers: Record<string, string>, body: string, signal: AbortSignal): Promise<Response> {
    return undiciFetch(this.#settings.url, {
      method: "POST",
      headers,
      body,
      signal,
      redirect: "manual",
      dispatcher: connection.client,
    }) as unknown as Promise<Response>;
  }

  #newClient(): Client {
    return new Client(this.#origin, { pipelining: 1, ...(this.#settings.ca ? { connect: { ca: this.#settings.ca } } : {}) });
  }
}
