/**
 * Cloud communications calls in the Graph emulator:
 * `POST /v1.0/communications/calls` (guest joins only), `GET` and `DELETE …/calls/{id}`, a lobby
 * model per call (admitted after N ms, denied after N ms, nobody admits, or the join fails) that
 * drives `commsNotifications` to the call's `callbackUri`, each carrying a JWT signed with the
 * emulator's own RSA key. Its OpenID document and JWKS are served under `/_emulator/`.
 *
 * Notifications are real HTTP POSTs made in the background; `idle()` waits for all of them, so
 * tests wait for a state instead of sleeping. Lobby timers run on the emulator's clock when it
 * can set timers (a test's fake clock), else on the wall clock.
 */
import { generateKeyPairSync, type KeyObject, randomBytes, randomUUID, sign } from "node:crypto";
import { type CancelTimer, type Clock, systemClock } from "../../core/clock.ts";
import { type EmuRequest, type EmuResponse, graphError, json } from "./emulator-http.ts";

export type CallLobbyPlan = { kind: "admit"; afterMs: number } | { kind: "deny"; afterMs: number } | { kind: "never" } | { kind: "fail"; afterMs: number };

export interface EmulatedCall {
  readonly id: string;
  /** The POST body as received. */
  readonly request: Record<string, unknown>;
  state: "establishing" | "established" | "terminated";
  readonly myParticipantId: string;
  readonly guest: { id: string | null; displayName: string };
  readonly callbackUri: string;
  rosterSeq: number;
  inLobby: boolean | null;
  readonly createdAt: number;
  deletedAt: number | null;
  timers: CancelTimer[];
}

export interface CallsKnobs {
  /** Answer the next N creates with 503. */
  createFailures: number;
  /** Answer creates with this status (e.g. 403 for a tenant that did not consent). */
  rejectStatus: number | null;
  /** Sign notifications with a key the JWKS does not hold (same kid). */
  badJwt: boolean;
  /** After each roster update, deliver the previous one again (a stale sequence number). */
  replayStaleRoster: boolean;
  /** Drop notifications instead of delivering them. */
  loseNotifications: boolean;
}

export interface CallNotificationRecord {
  callId: string;
  kind: "call" | "roster";
  state: string;
  /** The receiver's HTTP status, 0 when it did not answer, null when dropped by the knob. */
  status: number | null;
}

export interface CallsEmulatorOptions {
  now: () => Date;
  /** Used for lobby timers when it has `setTimer`. */
  clock?: { now(): Date; setTimer?: Clock["setTimer"] };
  /** The JWT audience: the app's client id (read at signing time, it may change). */
  audience: () => string;
  /** Default `https://api.botframework.com`. */
  issuer?: string;
  /** The root Location headers are written on. */
  publicRoot: string;
}

interface SigningKey {
  kid: string;
  privateKey: KeyObject;
  jwk: Record<string, unknown>;
}

/** Generating an RSA key takes a while; emulators in one process start with the same one. */
let firstKey: SigningKey | null = null;
let throwawayKey: KeyObject | null = null;

function newKey(): SigningKey {
  const { privateKey, publicKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
  const kid = randomBytes(8).toString("hex");
  return { kid, privateKey, jwk: { ...publicKey.export({ format: "jwk" }), kid, use: "sig", alg: "RS256" } };
}

/** Finds a key whose name mentions a bypass anywhere in a JSON value. */
function bypassKey(value: unknown, depth = 0): string | null {
  if (depth > 20 || value === null || typeof value !== "object") return null;
  for (const [k, v] of Object.entries(value)) {
    if (/bypass/i.test(k)) return k;
    const inner = bypassKey(v, depth + 1);
    if (inner !== null) return inner;
  }
  return null;
}

const obj = (v: unknown): Record<string, unknown> | null => (v !== null && typeof v === "object" && !Array.isArray(v) ? (v as Record<string, unknown>) : null);

export class CallsEmulator {
  readonly calls = new Map<string, EmulatedCall>();
  /** Every create body as JSON text, for assertions (never a bypass flag). */
  readonly bodies: string[] = [];
  readonly notifications: CallNotificationRecord[] = [];
  readonly knobs: CallsKnobs = { createFailures: 0, rejectStatus: null, badJwt: false, replayStaleRoster: false, loseNotifications: false };
  /** Creates received (refused ones included) and hang-ups. */
  creates = 0;
  deletes = 0;
  /** The lobby behaviour of a new call (default: admitted after 5 s). */
  plan: (request: Record<string, unknown>) => CallLobbyPlan = () => ({ kind: "admit", afterMs: 5_000 });
  readonly issuer: string;
  #key: SigningKey | null = null;
  readonly #inFlight = new Set<Promise<void>>();
  readonly #options: CallsEmulatorOptions;

  constructor(options: CallsEmulatorOptions) {
    this.#options = options;
    this.issuer = options.issuer ?? "https://api.botframework.com";
  }

  // ---- keys ---------------------------------------------------------------------------------

  get #signingKey(): SigningKey {
    firstKey ??= newKey();
    this.#key ??= firstKey;
    return this.#key;
  }

  /** The OpenID configuration document (`/_emulator/openid`). */
  openIdDocument(baseUrl: string): Record<string, unknown> {
    return { issuer: this.issuer, jwks_uri: `${baseUrl}/_emulator/jwks`, id_token_signing_alg_values_supported: ["RS256"] };
  }

  /** The key set (`/_emulator/jwks`). */
  jwks(): { keys: Record<string, unknown>[] } {
    return { keys: [this.#signingKey.jwk] };
  }

  /** Replaces the signing key (a new kid): receivers must fetch the keys again. */
  rotateSigningKey(): void {
    this.#key = newKey();
  }

  /** A JWT as the emulator signs notifications; `claims` override the defaults (tests craft bad ones). */
  signJwt(claims: Record<string, unknown> = {}, options: { key?: KeyObject } = {}): string {
    const key = this.#signingKey;
    const now = Math.floor(this.#options.now().getTime() / 1000);
    const header = Buffer.from(JSON.stringify({ alg: "RS256", typ: "JWT", kid: key.kid })).toString("base64url");
    const payload = Buffer.from(
      JSON.stringify({ iss: this.issuer, aud: this.#options.audience(), iat: now, nbf: now - 5, exp: now + 3600, ...claims }),
    ).toString("base64url");
    const signature = sign("sha256", Buffer.from(`${header}.${payload}`), options.key ?? key.privateKey).toString("base64url");
    return `${header}.${payload}.${signature}`;
  }

  // ---- HTTP ---------------------------------------------------------------------------------

  /** Handles `/v1.0/communications/calls[/{id}]`; `rest` holds the segments after `calls`. */
  handle(req: EmuRequest, rest: readonly string[]): EmuResponse {
    const now = this.#options.now();
    if (rest.length === 0 && req.method === "POST") return this.#create(req, now);
    if (rest.length === 1) {
      const call = this.calls.get(rest[0]!);
      if (req.method === "GET") return call ? json(200, this.#render(call)) : graphError(req, now, 404, "itemNotFound", "Call not found.");
      if (req.method === "DELETE") {
        if (!call) return graphError(req, now, 404, "itemNotFound", "Call not found.");
        this.deletes++;
        if (call.state !== "terminated") {
          call.deletedAt = now.getTime();
          this.#terminate(call, { code: 200, subcode: 5001, message: "The call was ended by the application." });
        }
        return { status: 204, headers: {}, body: undefined };
      }
    }
    return graphError(req, now, 405, "BadRequest", "The HTTP method is not allowed for this resource.");
  }

  #create(req: EmuRequest, now: Date): EmuResponse {
    this.creates++;
    const body = obj(req.body);
    this.bodies.push(JSON.stringify(req.body ?? null));
    const bad = (message: string) => graphError(req, now, 400, "BadRequest", message);
    if (body === null) return bad("The request body is not a call.");
    if (this.knobs.rejectStatus !== null)
      return graphError(req, now, this.knobs.rejectStatus, "Forbidden", "Insufficient enterprise tenant permissions, cannot access this API.");
    if (this.knobs.createFailures > 0) {
      this.knobs.createFailures--;
      return graphError(req, now, 503, "ServiceUnavailable", "The service is temporarily unavailable. Please retry later.");
    }
    const bypass = bypassKey(body);
    if (bypass !== null) return bad(`Unknown property '${bypass}': guests cannot bypass the lobby.`);
    if (body["@odata.type"] !== "#microsoft.graph.call") return bad("@odata.type must be #microsoft.graph.call.");
    const callbackUri = body["callbackUri"];
    if (typeof callbackUri !== "string" || !/^https?:\/\//.test(callbackUri)) return bad("callbackUri is required.");
    if (obj(body["mediaConfig"])?.["@odata.type"] !== "#microsoft.graph.serviceHostedMediaConfig") {
      return graphError(req, now, 403, "Forbidden", "Application-hosted media needs Calls.AccessMedia.All.");
    }
    const identity = obj(obj(body["source"])?.["identity"]);
    const guest = obj(identity?.["guest"]);
    if (
      identity === null ||
      guest === null ||
      typeof guest["displayName"] !== "string" ||
      identity["user"] !== undefined ||
      identity["application"] !== undefined
    ) {
      return bad("Only guest joins (source.identity.guest with a displayName) are supported.");
    }
    if (typeof body["tenantId"] !== "string") return bad("tenantId is required.");
    const meetingInfo = obj(body["meetingInfo"]);
    const type = meetingInfo?.["@odata.type"];
    if (type === "#microsoft.graph.joinMeetingIdMeetingInfo") {
      if (typeof meetingInfo?.["joinMeetingId"] !== "string") return bad("joinMeetingId is required.");
    } else if (type === "#microsoft.graph.organizerMeetingInfo") {
      const user = obj(obj(meetingInfo?.["organizer"])?.["user"]);
      if (typeof user?.["id"] !== "string" || typeof obj(body["chatInfo"])?.["threadId"] !== "string")
        return bad("organizer.user.id and chatInfo.threadId are required.");
    } else {
      return bad("meetingInfo must be joinMeetingIdMeetingInfo or organizerMeetingInfo.");
    }
    const call: EmulatedCall = {
      id: randomUUID(),
      request: body,
      state: "establishing",
      myParticipantId: randomUUID(),
      guest: { id: typeof guest["id"] === "string" ? guest["id"] : null, displayName: guest["displayName"] as string },
      callbackUri,
      rosterSeq: 0,
      inLobby: null,
      createdAt: now.getTime(),
      deletedAt: null,
      timers: [],
    };
    this.calls.set(call.id, call);
    this.#runLobby(call, this.plan(body));
    return json(201, this.#render(call), { Location: `${this.#options.publicRoot}/v1.0/communications/calls/${call.id}` });
  }

  #render(call: EmulatedCall): Record<string, unknown> {
    return {
      "@odata.type": "#microsoft.graph.call",
      id: call.id,
      state: call.state,
      direction: "outgoing",
      callbackUri: call.callbackUri,
      callChainId: call.id.replace(/^.{8}/, "c0c0c0c0"),
      myParticipantId: call.myParticipantId,
      requestedModalities: call.request["requestedModalities"] ?? ["audio"],
      resultInfo: null,
    };
  }

  // ---- lobby model --------------------------------------------------------------------------

  #at(call: EmulatedCall, ms: number, fn: () => void): void {
    const clock = this.#options.clock;
    const timers: Pick<Clock, "setTimer"> = clock?.setTimer ? { setTimer: clock.setTimer.bind(clock) } : systemClock;
    call.timers.push(timers.setTimer(new Date(ms), fn));
  }

  #runLobby(call: EmulatedCall, plan: CallLobbyPlan): void {
    const begin = call.createdAt;
    this.#at(call, begin, () => {
      this.#notifyCall(call);
      if (plan.kind === "fail") {
        this.#at(call, begin + plan.afterMs, () =>
          this.#terminate(call, { code: 403, subcode: 7504, message: "Insufficient enterprise tenant permissions, cannot access this API." }),
        );
        return;
      }
      this.#roster(call, true);
      if (plan.kind === "admit") {
        this.#at(call, begin + plan.afterMs, () => {
          call.state = "established";
          this.#roster(call, false);
          this.#notifyCall(call);
        });
      } else if (plan.kind === "deny") {
        this.#at(call, begin + plan.afterMs, () => this.#terminate(call, { code: 403, subcode: 5855, message: "The organizer denied entry from the lobby." }));
      }
    });
  }

  #terminate(call: EmulatedCall, resultInfo: { code: number; subcode: number; message: string }): void {
    for (const t of call.timers) t();
    call.timers = [];
    call.state = "terminated";
    this.#notifyCall(call, resultInfo);
  }

  #notifyCall(call: EmulatedCall, resultInfo: Record<string, unknown> | null = null): void {
    const resourceData = {
      "@odata.type": "#microsoft.graph.call",
      id: call.id,
      state: call.state,
      ...(resultInfo ? { resultInfo: { "@odata.type": "#microsoft.graph.resultInfo", ...resultInfo } } : {}),
    };
    this.#deliver(call, "call", call.state, {
      "@odata.type": "#microsoft.graph.commsNotification",
      changeType: call.state === "terminated" ? "deleted" : "updated",
      resourceUrl: `/communications/calls/${call.id}`,
      resourceData,
    });
  }

  #roster(call: EmulatedCall, inLobby: boolean): void {
    const previous = call.inLobby === null ? null : this.#rosterNotification(call, call.inLobby, call.rosterSeq);
    call.rosterSeq++;
    call.inLobby = inLobby;
    this.#deliver(call, "roster", inLobby ? "lobby" : "in-meeting", this.#rosterNotification(call, inLobby, call.rosterSeq));
    if (this.knobs.replayStaleRoster && previous !== null) this.#deliver(call, "roster", "stale", previous);
  }

  #rosterNotification(call: EmulatedCall, inLobby: boolean, seq: number): Record<string, unknown> {
    const organizer = obj(obj(obj(call.request["meetingInfo"])?.["organizer"])?.["user"]);
    return {
      "@odata.type": "#microsoft.graph.commsNotification",
      changeType: "updated",
      resourceUrl: `/communications/calls/${call.id}/participants`,
      resourceData: [
        {
          "@odata.type": "#microsoft.graph.participant",
          id: "0f0f0f0f-organizer",
          isInLobby: false,
          isMuted: false,
          info: { identity: { user: { id: organizer?.["id"] ?? "organizer", displayName: "Organizer" } } },
          rosterSequenceNumber: seq,
        },
        {
          "@odata.type": "#microsoft.graph.participant",
          id: call.myParticipantId,
          isInLobby: inLobby,
          isMuted: false,
          info: { identity: { guest: { displayName: call.guest.displayName, id: call.guest.id } } },
          rosterSequenceNumber: seq,
        },
      ],
    };
  }

  #deliver(call: EmulatedCall, kind: CallNotificationRecord["kind"], state: string, notification: Record<string, unknown>): void {
    if (this.knobs.loseNotifications) {
      this.notifications.push({ callId: call.id, kind, state, status: null });
      return;
    }
    const body = JSON.stringify({ "@odata.type": "#microsoft.graph.commsNotifications", value: [notification] });
    if (this.knobs.badJwt) throwawayKey ??= generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey;
    const token = this.knobs.badJwt && throwawayKey ? this.signJwt({}, { key: throwawayKey }) : this.signJwt();
    const p = fetch(call.callbackUri, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
      body,
      signal: AbortSignal.timeout(10_000),
    })
      .then(async (r) => {
        await r.arrayBuffer();
        this.notifications.push({ callId: call.id, kind, state, status: r.status });
      })
      .catch(() => {
        this.notifications.push({ callId: call.id, kind, state, status: 0 });
      })
      .finally(() => this.#inFlight.delete(p));
    this.#inFlight.add(p);
  }

  /** Resolves when every notification sent so far has been answered (or failed). */
  async idle(): Promise<void> {
    while (this.#inFlight.size > 0) await Promise.allSettled([...this.#inFlight]);
  }

  /** Cancels every lobby timer (the emulator stops). */
  stopTimers(): void {
    for (const call of this.calls.values()) {
      for (const t of call.timers) t();
      call.timers = [];
    }
  }
}
