/**
 * GraphMediaBridge: joins a Teams meeting as a guest through Microsoft Graph cloud
 * communications (`bridge.adapter = graph`): `POST /communications/calls`
 * with a guest identity (the room's name), service-hosted media, and either
 * joinMeetingIdMeetingInfo (meeting ID + passcode) or organizerMeetingInfo + chatInfo from the
 * classic meetup-join URL; `DELETE /communications/calls/{id}` to leave. Never any lobby-bypass
 * or authenticated-join option: Graph offers none to guests, and otj sends none.
 *
 * Also the pure reading of call notifications (call state and the roster's `isInLobby`) into
 * the bridge states of the session machine; bridge/callbacks.ts feeds it.
 */
import { createHash } from "node:crypto";
import { type ErrorCode, OtjError, toOtjError } from "../../core/errors.ts";
import type { BridgeReportedState, BridgeStartRequest, MediaBridge } from "../../core/ports/media-bridge.ts";

/** The part of calendar/graph/graph-client.ts's GraphClient this adapter uses. */
export interface GraphCallsClient {
  post(path: string, body: unknown, options: { signal: AbortSignal }): Promise<{ status: number; body: unknown }>;
  delete(path: string, options: { signal: AbortSignal }): Promise<{ status: number }>;
}

export interface GraphMediaBridgeConfig {
  /** `graph.tenantId`: sent when the invite names no organizer tenant (short /meet/ links). */
  tenantId: string;
  /** `http.publicUrl` + `/v1/callbacks/graph-calls`. */
  callbackUri: string;
}

/** Graph failure -> bridge failure. Rows not listed are final (the request or app is wrong). */
const FAILURES: ReadonlyArray<{ from: readonly ErrorCode[]; to: ErrorCode }> = [
  { from: ["OTJ_GRAPH_THROTTLED", "OTJ_GRAPH_UNAVAILABLE"], to: "OTJ_BRIDGE_UNAVAILABLE" },
  { from: ["OTJ_GRAPH_AUTH", "OTJ_GRAPH_ACCESS_DENIED", "OTJ_GRAPH_REQUEST_INVALID", "OTJ_GRAPH_NOT_FOUND"], to: "OTJ_BRIDGE_REJECTED" },
];

function bridgeError(error: unknown, what: string): OtjError {
  const e = toOtjError(error, "OTJ_GRAPH_UNAVAILABLE");
  const row = FAILURES.find((r) => r.from.includes(e.code));
  const code = row?.to ?? (e.retryable ? "OTJ_BRIDGE_UNAVAILABLE" : "OTJ_BRIDGE_REJECTED");
  return new OtjError(code, `${what}: ${e.message}`, { cause: error, details: { graphCode: e.code } });
}

/** Our guest's id in the meeting: stable per session, so rosters can be matched to it. */
export function guestIdFor(sessionId: string): string {
  const h = createHash("sha256").update(`otj-guest:${sessionId}`).digest("hex");
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-${((Number.parseInt(h[16]!, 16) & 3) | 8).toString(16)}${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

/** Thread id, message id and the context's Tid/Oid of a classic meetup-join URL, or null. */
export function classicJoinCoordinates(
  joinUrl: string | null,
): { threadId: string; messageId: string; tenantId: string | null; organizerId: string | null } | null {
  if (joinUrl === null) return null;
  let url: URL;
  try {
    url = new URL(joinUrl);
  } catch {
    return null;
  }
  const segments = url.pathname.split("/").filter((s) => s !== "");
  const at = segments.findIndex((s) => s.toLowerCase() === "meetup-join");
  if (at === -1 || segments[at + 1] === undefined) return null;
  let threadId: string;
  let context: Record<string, unknown> = {};
  try {
    threadId = decodeURIComponent(segments[at + 1]!);
    const raw = url.searchParams.get("context");
    if (raw !== null) context = JSON.parse(raw) as Record<string, unknown>;
  } catch {
    return null;
  }
  const str = (v: unknown) => (typeof v === "string" && v !== "" ? v.toLowerCase() : null);
  return {
    threadId,
    messageId: segments[at + 2] ? decodeURIComponent(segments[at + 2]!) : "0",
    tenantId: str(context["Tid"]),
    organizerId: str(context["Oid"]),
  };
}

/**
 * The `POST /communications/calls` body for a guest join. Prefers the meeting ID + passcode;
 * otherwise the organizer and chat thread of the classic URL.
 * @throws OtjError OTJ_BRIDGE_REJECTED when the invite gives neither.
 */
export function buildGuestCall(request: BridgeStartRequest, config: GraphMediaBridgeConfig): Record<string, unknown> {
  const t = request.teams;
  const classic = classicJoinCoordinates(t.joinUrl);
  const organizerTenant = t.tenantId ?? classic?.tenantId ?? null;
  const organizerId = t.organizerId ?? classic?.organizerId ?? null;
  const threadId = t.threadId ?? classic?.threadId ?? null;
  const body: Record<string, unknown> = {
    "@odata.type": "#microsoft.graph.call",
    callbackUri: config.callbackUri,
    requestedModalities: ["audio"],
    mediaConfig: { "@odata.type": "#microsoft.graph.serviceHostedMediaConfig" },
    source: {
      "@odata.type": "#microsoft.graph.participantInfo",
      identity: {
        "@odata.type": "#microsoft.graph.identitySet",
        guest: { "@odata.type": "#microsoft.graph.identity", id: guestIdFor(request.sessionId), displayName: request.guestDisplayName },
      },
    },
  };
  if (t.meetingId !== null && t.passcode !== null) {
    body["meetingInfo"] = { "@odata.type": "#microsoft.graph.joinMeetingIdMeetingInfo", joinMeetingId: t.meetingId, passcode: t.passcode };
    body["tenantId"] = organizerTenant ?? config.tenantId;
  } else if (threadId !== null && organizerId !== null && organizerTenant !== null) {
    body["chatInfo"] = { "@odata.type": "#microsoft.graph.chatInfo", threadId, messageId: classic?.messageId ?? "0" };
    body["meetingInfo"] = {
      "@odata.type": "#microsoft.graph.organizerMeetingInfo",
      organizer: {
        "@odata.type": "#microsoft.graph.identitySet",
        user: { "@odata.type": "#microsoft.graph.identity", id: organizerId, tenantId: organizerTenant },
      },
    };
    body["tenantId"] = organizerTenant;
  } else if (t.meetingId !== null) {
    // Printed without a passcode: the meeting ID alone.
    body["meetingInfo"] = { "@odata.type": "#microsoft.graph.joinMeetingIdMeetingInfo", joinMeetingId: t.meetingId };
    body["tenantId"] = organizerTenant ?? config.tenantId;
  } else {
    throw new OtjError("OTJ_BRIDGE_REJECTED", "the invite has neither a meeting ID nor a classic join URL with organizer and thread");
  }
  return body;
}

/** A Graph call, through the MediaBridge port. The external id is the Graph call id. */
export class GraphMediaBridge implements MediaBridge {
  readonly #client: GraphCallsClient;
  readonly #config: GraphMediaBridgeConfig;

  constructor(client: GraphCallsClient, config: GraphMediaBridgeConfig) {
    this.#client = client;
    this.#config = config;
  }

  async start(request: BridgeStartRequest, signal?: AbortSignal): Promise<{ externalId: string }> {
    const body = buildGuestCall(request, this.#config);
    let reply: { status: number; body: unknown };
    try {
      reply = await this.#client.post("/communications/calls", body, { signal: signal ?? new AbortController().signal });
    } catch (error) {
      throw bridgeError(error, "Graph refused the guest call");
    }
    const id = (reply.body as { id?: unknown } | null)?.id;
    if (typeof id !== "string" || id === "") throw new OtjError("OTJ_BRIDGE_UNAVAILABLE", "Graph answered without a call id");
    return { externalId: id };
  }

  async stop(externalId: string, signal?: AbortSignal): Promise<void> {
    try {
      await this.#client.delete(`/communications/calls/${encodeURIComponent(externalId)}`, { signal: signal ?? new AbortController().signal });
    } catch (error) {
      if (toOtjError(error).code === "OTJ_GRAPH_NOT_FOUND") return;
      throw bridgeError(error, "Graph hang-up failed");
    }
  }
}

// ---- notifications ------------------------------------------------------------------------------

/** What otj has learnt about its call from notifications so far (kept with the session). */
export interface GraphCallView {
  /** Last call state (`establishing`, `established`, `terminated` ...), or null. */
  call: string | null;
  /** Highest roster sequence number seen for our participant; -1 before any. */
  rosterSeq: number;
  /** Our participant's `isInLobby`, or null before any roster. */
  inLobby: boolean | null;
}

export const EMPTY_CALL_VIEW: GraphCallView = { call: null, rosterSeq: -1, inLobby: null };

/** Reads a view stored by {@link serializeCallView}; anything else is the empty view. */
export function parseCallView(text: string | null): GraphCallView {
  if (text === null || !text.startsWith("{")) return EMPTY_CALL_VIEW;
  try {
    const v = JSON.parse(text) as Partial<GraphCallView>;
    return {
      call: typeof v.call === "string" ? v.call : null,
      rosterSeq: typeof v.rosterSeq === "number" ? v.rosterSeq : -1,
      inLobby: typeof v.inLobby === "boolean" ? v.inLobby : null,
    };
  } catch {
    return EMPTY_CALL_VIEW;
  }
}

export function serializeCallView(view: GraphCallView): string {
  return JSON.stringify(view);
}

export interface CallSelf {
  guestId: string;
  /** The room's name: matches our participant when the roster does not echo our guest id. */
  displayName: string | null;
}

export interface CallReading {
  view: GraphCallView;
  /** The bridge state the view now means (the machine drops repeats), or null. */
  report: { state: BridgeReportedState; detail: string | null } | null;
}

/** The call id a notification is about (`/communications/calls/{id}[/participants]`), or null. */
export function notificationCallId(notification: unknown): string | null {
  const url = (notification as { resourceUrl?: unknown } | null)?.resourceUrl;
  if (typeof url !== "string") return null;
  const m = /\/communications\/calls\/([^/?#]+)/i.exec(url);
  return m ? decodeURIComponent(m[1]!) : null;
}

interface Participant {
  id?: unknown;
  isInLobby?: unknown;
  rosterSequenceNumber?: unknown;
  info?: { identity?: { guest?: { id?: unknown; displayName?: unknown } } };
}

function findSelf(roster: Participant[], self: CallSelf): Participant | null {
  const byId = roster.find((p) => p.info?.identity?.guest?.id === self.guestId);
  if (byId) return byId;
  if (self.displayName === null) return null;
  const named = roster.filter((p) => p.info?.identity?.guest?.displayName === self.displayName);
  return named.length === 1 ? named[0]! : null;
}

/**
 * Applies one commsNotification to the view and says what it means:
 * `terminated` -> ended (the machine makes it denied in the lobby, failed before it); our
 * participant `isInLobby:true` -> lobby; `established` with `isInLobby:false` -> admitted;
 * `establishing` -> joining. A roster update whose sequence number is not above the last one seen
 * is stale and changes nothing.
 */
export function interpretCallNotification(view: GraphCallView, notification: unknown, self: CallSelf): CallReading {
  const n = (notification ?? {}) as { resourceUrl?: unknown; resourceData?: unknown };
  const url = typeof n.resourceUrl === "string" ? n.resourceUrl : "";
  let next = view;
  let detail: string | null = null;
  if (/\/participants(\/|$|\?)/i.test(url)) {
    const roster = (Array.isArray(n.resourceData) ? n.resourceData : [n.resourceData]).filter((p): p is Participant => p !== null && typeof p === "object");
    const me = findSelf(roster, self);
    if (me === null) return { view, report: null };
    const seq = typeof me.rosterSequenceNumber === "number" ? me.rosterSequenceNumber : null;
    if (seq !== null && seq <= view.rosterSeq) return { view, report: null };
    if (typeof me.isInLobby !== "boolean") return { view, report: null };
    next = { ...view, rosterSeq: seq ?? view.rosterSeq, inLobby: me.isInLobby };
  } else {
    const call = (Array.isArray(n.resourceData) ? n.resourceData[0] : n.resourceData) as
      | { state?: unknown; resultInfo?: { code?: unknown; subcode?: unknown; message?: unknown } }
      | undefined;
    if (typeof call?.state !== "string") return { view, report: null };
    // A terminated call stays terminated whatever arrives late.
    if (view.call === "terminated") return { view, report: null };
    next = { ...view, call: call.state };
    const r = call.resultInfo;
    if (call.state === "terminated" && r)
      detail = `resultInfo ${String(r.code ?? "?")}/${String(r.subcode ?? "?")}${typeof r.message === "string" ? ` ${r.message.slice(0, 200)}` : ""}`;
  }
  return { view: next, report: reportFor(next, detail) };
}

function reportFor(view: GraphCallView, detail: string | null): CallReading["report"] {
  if (view.call === "terminated") return { state: "ended", detail: detail ?? "call terminated" };
  if (view.inLobby === true) return { state: "lobby", detail: null };
  if (view.call === "established" && view.inLobby === false) return { state: "admitted", detail: null };
  if (view.call === "establishing" || view.call === "established") return { state: "joining", detail: null };
  return null;
}
