/**
 * The one place otj speaks HTTP to Exchange Web Services: authentication (Basic over TLS, NTLM
 * (NTLMv2 on kept-alive connections, ews-http.ts), or an OAuth client-credentials bearer token for
 * hybrid), the impersonation header, a private CA,
 * admission control, the request timeout, and classification of every failure (HTTP status, SOAP
 * fault, error response message) with EWS_ERROR_TABLE. Never retries; the source schedules retries.
 */

import { Agent, fetch as undiciFetch } from "undici";
import { OtjError } from "../../core/errors.ts";
import { ClientCredentialsTokenProvider } from "../graph/client-credentials-token-provider.ts";
import { type RequestGate, UNLIMITED_GATE } from "../graph/request-gate.ts";
import { SendFailure, sendWithTimeout } from "../timed-send.ts";
import { isLoopback } from "../graph/graph-endpoints.ts";
import { type EwsFailure, isTlsFailure, mapEwsFailure } from "./ews-error-mapper.ts";
import { type EwsReply, MAX_RESPONSE_CHARS, NtlmConnections, readReply } from "./ews-http.ts";
import { attr, backOffOf, buildEnvelope, child, children, parseXml, readFault, soapBody, text, type Xml, type XmlNode } from "./ews-soap.ts";

/** The `ews.*` slice the client reads. */
export interface EwsClientConfig {
  /** The EWS endpoint (`https://host/EWS/Exchange.asmx`); http:// only on loopback. */
  readonly url: string;
  readonly username: string;
  readonly password: string;
  readonly auth: "basic" | "ntlm" | "oauth";
  /** Send `ExchangeImpersonation` for the room (else delegate access). */
  readonly impersonation: boolean;
  /** PEM text of an extra trusted CA. */
  readonly ca?: string | null;
  /** OAuth token endpoint (required for `oauth`). */
  readonly tokenUrl?: string | null;
  /** Per HTTP request, default 30 s. */
  readonly requestTimeoutMs?: number;
}

export interface EwsClientDeps {
  readonly clock: { now(): Date };
  /** Default: undici's fetch (with the CA's dispatcher). */
  readonly fetch?: typeof fetch;
  readonly gate?: RequestGate;
}

export class EwsClient {
  readonly #config: EwsClientConfig;
  readonly #fetch: typeof fetch;
  readonly #gate: RequestGate;
  readonly #timeoutMs: number;
  readonly #basic: string | null;
  readonly #tokens: ClientCredentialsTokenProvider | null;
  /** `ntlm`: the authenticated connections. */
  readonly #ntlm: NtlmConnections | null;
  #requests = 0;

  constructor(config: EwsClientConfig, deps: EwsClientDeps) {
    const url = checkUrl("ews.url", config.url);
    this.#config = { ...config, url };
    this.#gate = deps.gate ?? UNLIMITED_GATE;
    this.#timeoutMs = config.requestTimeoutMs ?? 30_000;
    if (deps.fetch) this.#fetch = deps.fetch;
    else {
      const dispatcher = config.ca ? new Agent({ connect: { ca: config.ca } }) : undefined;
      this.#fetch = ((input: string, init: RequestInit) =>
        undiciFetch(input, { ...(init as object), ...(dispatcher ? { dispatcher } : {}) } as Parameters<typeof undiciFetch>[1])) as unknown as typeof fetch;
    }
    this.#ntlm = null;
    if (config.auth === "basic") {
      this.#basic = `Basic ${Buffer.from(`${config.username}:${config.password}`, "utf8").toString("base64")}`;
      this.#tokens = null;
    } else if (config.auth === "ntlm") {
      this.#basic = null;
      this.#tokens = null;
      this.#ntlm = new NtlmConnections({ url, username: config.username, password: config.password, ca: config.ca ?? null, clock: deps.clock });
    } else {
      if (!config.tokenUrl) throw configError("ews.tokenUrl", "the OAuth token endpoint when ews.auth is oauth");
      this.#basic = null;
      this.#tokens = new ClientCredentialsTokenProvider({
        tokenUrl: checkUrl("ews.tokenUrl", config.tokenUrl),
        clientId: config.username,
        clientSecret: config.password,
        scope: `${new URL(url).origin}/.default`,
        clock: deps.clock,
        fetch: this.#fetch,
        timeoutMs: this.#timeoutMs,
      });
    }
  }

  /** NTLM handshakes done so far (0 for other methods): a kept-alive connection needs none. */
  get ntlmHandshakes(): number {
    return this.#ntlm?.handshakes ?? 0;
  }

  /** Closes kept-alive NTLM connections. */
  async close(): Promise<void> {
    await this.#ntlm?.close();
  }

  /** SOAP requests sent to EWS so far (token requests and NTLM handshakes excluded). */
  get requestCount(): number {
    return this.#requests;
  }

  get impersonation(): boolean {
    return this.#config.impersonation;
  }

  /** Obtains credentials (an OAuth token; nothing to do for Basic and NTLM). @throws OTJ_EWS_AUTH / OTJ_EWS_UNAVAILABLE. */
  async connect(signal: AbortSignal): Promise<void> {
    await this.#authorization(signal);
  }

  /**
   * Sends one operation and returns its response messages (`<Operation>ResponseMessage` elements of
   * `ResponseMessages`), each still to be checked with `messageError`.
   * @param mailbox the room the request reads: impersonated (when configured), anchor mailbox,
   *   and the gate's key; null for directory requests.
   * @throws OtjError classified by EWS_ERROR_TABLE for a non-2xx answer, a SOAP fault, a transport
   *   failure or a body that is not SOAP. The signal's reason when aborted.
   */
  async call(operation: string, body: XmlNode, mailbox: string | null, signal: AbortSignal): Promise<Xml[]> {
    const context = `${operation}${mailbox ? ` for ${mailbox}` : ""}`;
    const envelope = buildEnvelope(operation, body, { impersonate: this.#config.impersonation ? mailbox : null });
    const authorization = await this.#authorization(signal);
    const release = await this.#gate.acquire(mailbox ? [mailbox] : [], signal);
    let status: number;
    let reply: string;
    try {
      const headers: Record<string, string> = {
        "Content-Type": "text/xml; charset=utf-8",
        Accept: "text/xml",
        SOAPAction: `"http://schemas.microsoft.com/exchange/services/2006/messages/${operation}"`,
        ...(authorization !== null ? { Authorization: authorization } : {}),
        ...(mailbox ? { "X-AnchorMailbox": mailbox } : {}),
      };
      ({ status, reply } = await sendWithTimeout(signal, this.#timeoutMs, (timed) => {
        this.#requests++;
        return this.#exchange(headers, envelope, timed);
      }));
    } catch (error) {
      if (!(error instanceof SendFailure)) throw error;
      const cause = error.cause;
      // An NTLM challenge otj cannot read is already classified.
      if (cause instanceof OtjError) throw cause;
      throw mapEwsFailure(error.timedOut ? { kind: "timeout", cause } : isTlsFailure(cause) ? { kind: "tls", cause } : { kind: "network", cause }, context);
    } finally {
      release();
    }
    const tree = reply.length > 0 && reply.length <= MAX_RESPONSE_CHARS ? parseXml(reply) : null;
    const soap = tree === null ? null : soapBody(tree);
    const fault = readFault(soap);
    if (fault !== null) {
      throw mapEwsFailure({ kind: "ews", status, responseCode: fault.responseCode, message: fault.message, backOffMs: fault.backOffMs }, context);
    }
    if (status < 200 || status > 299) {
      throw mapEwsFailure({ kind: "ews", status, responseCode: null, message: null, backOffMs: null }, context);
    }
    const messages = child(child(soap, `${operation}Response`), "ResponseMessages");
    if (messages === null) {
      throw new OtjError("OTJ_EWS_BAD_RESPONSE", `${context}: the answer is not a ${operation} SOAP response`, {
        // Not retried inside the round: a proxy's page rarely changes within seconds; the poller retries later.
        details: { status, backoff: "none" },
      });
    }
    return children(messages, `${operation}ResponseMessage`);
  }

  /** One POST and its answer: on an NTLM connection, or with the request's own credentials. */
  async #exchange(headers: Record<string, string>, body: string, signal: AbortSignal): Promise<EwsReply> {
    if (this.#ntlm !== null) return this.#ntlm.post(headers, body, signal);
    return readReply(await this.#fetch(this.#config.url, { method: "POST", headers, body, signal, redirect: "manual" }), signal);
  }

  /** The Authorization header of a request; null for NTLM (the connection is authenticated). */
  async #authorization(signal: AbortSignal): Promise<string | null> {
    if (this.#basic !== null) return this.#basic;
    if (this.#ntlm !== null) return null;
    try {
      return `Bearer ${await this.#tokens!.getToken(signal)}`;
    } catch (error) {
      if (signal.aborted || !(error instanceof OtjError)) throw error;
      // The token endpoint's failures in EWS terms, so callers see one family of codes.
      const code = error.code === "OTJ_GRAPH_AUTH" ? "OTJ_EWS_AUTH" : error.retryable ? "OTJ_EWS_UNAVAILABLE" : "OTJ_EWS_BAD_RESPONSE";
      throw new OtjError(code, `EWS OAuth token: ${error.message}`, {
        retryable: error.retryable,
        details: error.details as Record<string, unknown>,
        cause: error,
      });
    }
  }
}

/**
 * The error of one response message, or null when it succeeded (`ResponseClass` Success or
 * Warning). `ErrorServerBusy` inside a message carries its BackOffMilliseconds like a fault.
 */
export function messageError(message: Xml, context: string): OtjError | null {
  const responseClass = attr(message, "ResponseClass");
  if (responseClass === "Success" || responseClass === "Warning") return null;
  const failure: EwsFailure = {
    kind: "ews",
    status: 200,
    responseCode: text(message, "ResponseCode"),
    message: text(message, "MessageText"),
    backOffMs: backOffOf(child(message, "MessageXml")),
  };
  return mapEwsFailure(failure, context);
}

function checkUrl(key: string, value: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw configError(key, "an absolute https URL");
  }
  if (url.username || url.password || url.hash) throw configError(key, "a URL without credentials or fragment");
  if (url.protocol !== "https:" && !(url.protocol === "http:" && isLoopback(url.hostname))) {
    throw configError(key, "https:// (http:// only on a loopback address)");
  }
  return url.toString();
}

function configError(key: string, expected: string): OtjError {
  return new OtjError("OTJ_CONFIG_INVALID", `${key}: expected ${expected}`, { details: { key } });
}
