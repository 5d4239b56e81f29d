/**
 * NTLM as IIS does it in front of Exchange, for the EWS emulator: a connection is authenticated by
 * the NEGOTIATE → CHALLENGE (401) → AUTHENTICATE handshake (NTLMv2 responses only, checked with the
 * account's password) and stays authenticated for the requests that follow on it; a request on a
 * connection that is not gets `401 WWW-Authenticate: NTLM`.
 */
import { randomBytes, timingSafeEqual } from "node:crypto";
import type { Socket } from "node:net";
import { challengeMessage, fileTime, messageType, ntlmv2Responses, ntowfV2, parseAuthenticateMessage, splitAccount } from "../../calendar/ews/ntlm.ts";

interface SocketState {
  challenge: Buffer | null;
  authenticated: boolean;
  /** The `forget()` generation the state belongs to. */
  generation: number;
}

/** What the emulator does with a request: serve it, or answer 401 with these headers. */
export type NtlmVerdict = { readonly ok: true } | { readonly ok: false; readonly headers: Record<string, string> };

export class NtlmServer {
  readonly #states = new WeakMap<Socket, SocketState>();
  readonly #account: { user: string; domain: string };
  /** Handshakes completed (AUTHENTICATE messages accepted). */
  handshakes = 0;
  #generation = 0;
  readonly #password: string;
  readonly #clock: { now(): Date };

  constructor(account: string, password: string, clock: { now(): Date }) {
    this.#password = password;
    this.#clock = clock;
    this.#account = splitAccount(account);
  }

  check(socket: Socket, header: string | undefined): NtlmVerdict {
    const known = this.#states.get(socket);
    const state = known && known.generation === this.#generation ? known : { challenge: null, authenticated: false, generation: this.#generation };
    this.#states.set(socket, state);
    const token = /^NTLM\s+([A-Za-z0-9+/=]+)$/.exec(header ?? "");
    if (token === null) return state.authenticated ? { ok: true } : refuse();
    const message = Buffer.from(token[1]!, "base64");
    state.authenticated = false;
    if (messageType(message) === 1) {
      state.challenge = randomBytes(8);
      return { ok: false, headers: { "WWW-Authenticate": `NTLM ${challengeMessage(state.challenge, this.#targetInfo()).toString("base64")}` } };
    }
    const auth = messageType(message) === 3 ? parseAuthenticateMessage(message) : null;
    const challenge = state.challenge;
    state.challenge = null;
    if (auth === null || challenge === null || auth.ntResponse.length < 48) return refuse();
    const sameUser = auth.user.toLowerCase() === this.#account.user.toLowerCase() && auth.domain.toLowerCase() === this.#account.domain.toLowerCase();
    // The blob after NTProofStr carries the client's time, challenge and our target info.
    const blob = auth.ntResponse.subarray(16);
    const key = ntowfV2(this.#password, auth.user, auth.domain);
    const expected = ntlmv2Responses(key, challenge, blob.subarray(16, 24), blob.subarray(8, 16), blob.subarray(28, blob.length - 4)).ntProofStr;
    if (!sameUser || !timingSafeEqual(expected, auth.ntResponse.subarray(0, 16))) return refuse();
    state.authenticated = true;
    this.handshakes++;
    return { ok: true };
  }

  /** Drops every connection's authentication (as IIS may): the next request on it gets a 401. */
  forget(): void {
    this.#generation++;
  }

  /** NetBIOS domain and computer names and the server's time (FILETIME). */
  #targetInfo(): Buffer {
    const pair = (id: number, value: Buffer) => {
      const head = Buffer.alloc(4);
      head.writeUInt16LE(id, 0);
      head.writeUInt16LE(value.length, 2);
      return Buffer.concat([head, value]);
    };
    return Buffer.concat([
      pair(2, Buffer.from(this.#account.domain.toUpperCase() || "CONTOSO", "utf16le")),
      pair(1, Buffer.from("EXCH01", "utf16le")),
      pair(7, fileTime(this.#clock.now())),
      pair(0, Buffer.alloc(0)),
    ]);
  }
}

function refuse(): NtlmVerdict {
  return { ok: false, headers: { "WWW-Authenticate": "NTLM" } };
}
