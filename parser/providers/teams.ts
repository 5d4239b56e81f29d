/**
 * Microsoft Teams join URLs (docs/formats.md, T3, T4): classic meetup-join, short /meet/, launcher,
 * hash-route and app-scheme forms; and the Teams URLs that are not joins (T3.6).
 */
import type { TeamsCloud } from "../../core/domain.ts";
import { asciiWordAt, normalizeGuid, percentDecodeFully, percentDecodeOnce } from "../text.ts";
import { isDangerousScheme, isRejected, parseUrl, parseWebUrl } from "../url-safety.ts";
import { rawParam } from "../unwrap/wrappers.ts";

export const TEAMS_HOSTS: Readonly<Record<string, TeamsCloud>> = {
  "teams.microsoft.com": "commercial",
  "teams.cloud.microsoft": "commercial",
  "gov.teams.microsoft.us": "gcch",
  "dod.teams.microsoft.us": "dod",
  "teams.live.com": "consumer",
  "teams.microsoftonline.cn": "china",
};

export interface TeamsLink {
  kind: "classic" | "short";
  /** The join URL as carried (rebuilt for launcher, hash-route and app-scheme forms). */
  url: string;
  cloud: TeamsCloud;
  threadId: string | null;
  messageId: string | null;
  tenantId: string | null;
  organizerId: string | null;
  /** Short URLs: the path digits. */
  meetingId: string | null;
  /** Context `IsBroadcastMeeting: true` (Teams live event). */
  broadcast: boolean;
}

export type TeamsUrlClass =
  | { kind: "join"; link: TeamsLink }
  | { kind: "non-join"; host: string }
  | { kind: "rejected"; reason: "userinfo" | "port" | "ip-host" | "scheme" | "unparsable" }
  | { kind: "foreign" };

const THREAD_ID = /^19:(?:[A-Za-z]{1,10}:)?meeting_[A-Za-z0-9+/=_-]{1,200}@thread\.v2$|^19:[^@/\s]{1,200}@thread\.(?:tacv2|skype)$/;

/** Turns msteams: app links into https URLs (host kept, else teams.microsoft.com). */
function fromAppScheme(value: string): string | null {
  const m = /^msteams:\/{0,3}(.*)$/i.exec(value.trim());
  if (!m) return null;
  const rest = m[1] ?? "";
  if (/^(?:l\/|meet\/|_#|v2\/)/i.test(rest)) return `https://teams.microsoft.com/${rest}`;
  return `https://${rest}`;
}

/** Decodes a context JSON (percent-encoded up to 3 times, or raw). */
function readContext(raw: string | null): { tid: string | null; oid: string | null; broadcast: boolean } {
  const none = { tid: null, oid: null, broadcast: false };
  if (raw === null) return none;
  const text = percentDecodeFully(raw, 3);
  let obj: Record<string, unknown> | null = null;
  try {
    const parsed: unknown = JSON.parse(text);
    if (parsed && typeof parsed === "object" && !Array.isArray(parsed)) obj = parsed as Record<string, unknown>;
  } catch {
    obj = null;
  }
  if (obj === null) {
    // Tolerate a truncated or slightly broken context: read the keys one by one.
    return { tid: normalizeGuid(pickGuid(text, "tid")), oid: normalizeGuid(pickGuid(text, "oid")), broadcast: /"IsBroadcastMeeting"\s*:\s*true/i.test(text) };
  }
  // Keys compare case-insensitively; the first match wins (JSON values are never undefined).
  let tid: unknown;
  let oid: unknown;
  let broadcast: unknown;
  for (const k in obj) {
    if (!Object.hasOwn(obj, k)) continue;
    const lower = k.toLowerCase();
    if (lower === "tid") {
      if (tid === undefined) tid = obj[k];
    } else if (lower === "oid") {
      if (oid === undefined) oid = obj[k];
    } else if (lower === "isbroadcastmeeting" && broadcast === undefined) {
      broadcast = obj[k];
    }
  }
  return { tid: normalizeGuid(tid), oid: normalizeGuid(oid), broadcast: broadcast === true || broadcast === "true" };
}

const PICK_GUID = { tid: /"tid"\s*:\s*"([0-9a-fA-F-]{36})"/i, oid: /"oid"\s*:\s*"([0-9a-fA-F-]{36})"/i };

function pickGuid(text: string, key: "tid" | "oid"): string | null {
  return PICK_GUID[key].exec(text)?.[1] ?? null;
}

function classicLink(url: string, host: string, cloud: TeamsCloud, pathAndQuery: string): TeamsLink | null {
  // pathAndQuery starts with "/l/meetup-join/".
  const q = pathAndQuery.indexOf("?");
  const path = q < 0 ? pathAndQuery : pathAndQuery.slice(0, q);
  // The first two path segments after the prefix: the thread and the message id.
  const rest = path.slice("/l/meetup-join/".length);
  const slash = rest.indexOf("/");
  const threadRaw = slash < 0 ? rest : rest.slice(0, slash);
  const slash2 = slash < 0 ? -1 : rest.indexOf("/", slash + 1);
  const messageSegment = slash < 0 ? "" : rest.slice(slash + 1, slash2 < 0 ? rest.length : slash2);
  const threadId = percentDecodeFully(threadRaw, 3);
  if (!THREAD_ID.test(threadId)) return null;
  const messageRaw = messageSegment ? percentDecodeOnce(messageSegment) : null;
  const messageId = messageRaw && /^\d{1,20}$/.test(messageRaw) ? messageRaw : null;
  const ctx = readContext(q < 0 ? null : rawParam(pathAndQuery, "context"));
  void host;
  return {
    kind: "classic",
    url,
    cloud,
    threadId,
    messageId,
    tenantId: ctx.tid,
    organizerId: ctx.oid,
    meetingId: null,
    broadcast: ctx.broadcast,
  };
}

/** Classifies one URL (already unwrapped) as a Teams join, a Teams non-join, or foreign. */
export function classifyTeamsUrl(input: string): TeamsUrlClass {
  let value = input.trim();
  if (isDangerousScheme(value)) return { kind: "rejected", reason: "scheme" };
  if (/^msteams:/i.test(value)) {
    const rebuilt = fromAppScheme(value);
    if (rebuilt === null) return { kind: "foreign" };
    value = rebuilt;
  }
  if (/[\s\u0000-\u001F\u007F]/.test(value)) return { kind: "rejected", reason: "unparsable" };
  const parsed = parseWebUrl(value);
  if (isRejected(parsed)) {
    // Only report a rejection when the URL otherwise targets a Teams host.
    const u = parseUrl(value);
    if (u !== null && (TEAMS_HOSTS[u.hostname.toLowerCase()] !== undefined || u.hostname.toLowerCase().startsWith("teams."))) {
      return { kind: "rejected", reason: parsed.rejected };
    }
    return { kind: "foreign" };
  }
  const { url, host } = parsed;
  const cloud = TEAMS_HOSTS[host];
  if (cloud === undefined) return { kind: "foreign" };

  const slashes = value.indexOf("//") + 2;
  const authorityEnd = value.slice(slashes).search(/[/?#]/);
  const origin = authorityEnd < 0 ? value : value.slice(0, slashes + authorityEnd);
  const afterOrigin = value.slice(origin.length);
  let pathAndQuery = afterOrigin;

  // Launcher: /dl/launcher/launcher.html?url=%2f_%23%2fl%2fmeetup-join%2f...
  if (url.pathname.toLowerCase() === "/dl/launcher/launcher.html") {
    const inner = rawParam(value, "url");
    const decoded = inner === null ? null : percentDecodeOnce(inner);
    if (!decoded) return { kind: "non-join", host };
    pathAndQuery = decoded.replace(/^\/?_#/, "");
    pathAndQuery = pathAndQuery.replace(/[?&]anon=true(?=&|$)/, (m) => (m.startsWith("?") ? "?" : "")).replace(/\?$/, "");
    pathAndQuery = pathAndQuery.replace(/\?&/, "?");
  } else {
    // Hash routes: /_#/l/meetup-join/..., /v2/?meetingjoin=true#/l/meetup-join/...
    const hash = afterOrigin.indexOf("#/l/");
    if (hash >= 0 && /^\/(?:_|v2\/(?:\?[^#]*)?)?$/.test(afterOrigin.slice(0, hash))) pathAndQuery = afterOrigin.slice(hash + 1);
  }
  if (!pathAndQuery.startsWith("/")) pathAndQuery = `/${pathAndQuery}`;
  const rebuilt = `https://${host}${pathAndQuery}`;
  const joinUrl = pathAndQuery === afterOrigin && /^https:\/\//.test(value) ? value : rebuilt;

  if (asciiWordAt(pathAndQuery, 0, "/l/meetup-join/")) {
    const link = classicLink(joinUrl, host, cloud, pathAndQuery);
    return link ? { kind: "join", link } : { kind: "non-join", host };
  }
  const short = /^\/meet\/(\d{9,16})(?:[/?#]|$)/.exec(pathAndQuery);
  if (short) {
    return {
      kind: "join",
      link: {
        kind: "short",
        url: joinUrl,
        cloud,
        threadId: null,
        messageId: null,
        tenantId: null,
        organizerId: null,
        meetingId: short[1]!,
        broadcast: false,
      },
    };
  }
  return { kind: "non-join", host };
}

export interface MeetingOptionsIds {
  threadId: string | null;
  tenantId: string | null;
  organizerId: string | null;
}

/** Reads organizer, tenant and thread ids from a meetingOptions link (gap filling only, T3.6). */
export function parseMeetingOptionsUrl(value: string): MeetingOptionsIds | null {
  const parsed = parseWebUrl(value);
  if (isRejected(parsed) || TEAMS_HOSTS[parsed.host] === undefined) return null;
  if (!parsed.url.pathname.toLowerCase().startsWith("/meetingoptions")) return null;
  const read = (name: string) => {
    const raw = rawParam(value, name);
    return raw === null ? null : percentDecodeFully(raw, 3);
  };
  const threadRaw = read("threadId");
  const threadId = threadRaw ? threadRaw.replace(/^19_/, "19:") : null;
  return {
    threadId: threadId && THREAD_ID.test(threadId) ? threadId : null,
    tenantId: normalizeGuid(read("tenantId")),
    organizerId: normalizeGuid(read("organizerId")),
  };
}

/** Thread id from X-MICROSOFT-ONLINEMEETINGCONFLINK (`...!19:meeting_<id>-thread.v2!...`). */
export function threadFromConfLink(value: string): string | null {
  const m = /!(19:(?:[A-Za-z]{1,10}:)?meeting_[A-Za-z0-9+/=_-]{1,200})-thread\.v2!/.exec(value);
  return m ? `${m[1]}@thread.v2` : null;
}

export function isValidThreadId(value: string): boolean {
  return THREAD_ID.test(value);
}
