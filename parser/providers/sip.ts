/**
 * SIP and H.323 addresses printed in invites (docs/formats.md, B2.3), and the provider video addresses
 * of B2.2 that belong to a provider rather than being separate SIP meetings.
 */
import { containsPhrase, LABELS } from "../labels/index.ts";
import { asciiWordAt } from "../text.ts";

export interface SipAddress {
  provider: "sip" | "h323";
  /** Without scheme: `user@host[:port]` or `198.51.100.7##4455`. */
  address: string;
  /** 0 = explicit scheme, 1 = bare address on a video line, 2 = H.323 IP form. */
  strength: 0 | 1 | 2;
}

export interface PrintedVideoAddress {
  provider: "zoom" | "webex" | "chime" | "gotomeeting";
  address: string;
  /** Zoom: the numeric passcode part printed in the address, if any. */
  passcode: string | null;
}

const USER = "[A-Za-z0-9._+~!$&'*=%-]{1,64}";
const LABEL = "[A-Za-z0-9-]{1,63}";
const HOST = `${LABEL}(?:\\.${LABEL}){1,9}`;
const IPV4 = "(?:25[0-5]|2[0-4]\\d|1\\d\\d|[1-9]?\\d)(?:\\.(?:25[0-5]|2[0-4]\\d|1\\d\\d|[1-9]?\\d)){3}";
const SCHEMED = new RegExp(`\\b(sips?|h323):(${USER}@(?:${HOST}|${IPV4}|\\[[0-9A-Fa-f:]{2,45}\\])(?::\\d{1,5})?|${HOST}|${IPV4})`, "gi");
const BARE = new RegExp(`(?<![A-Za-z0-9._%+~'=-])(${USER})@(${HOST}|${IPV4})(?::(\\d{1,5}))?(?![A-Za-z0-9-])`, "g");
const H323_HASH = new RegExp(`(?<![\\d.])(${IPV4})##(\\d{1,20})(?:#(\\d{1,12}))?(?![\\d])`, "g");

/** Hosts whose addresses are never a separate SIP meeting (mail, meeting web hosts, provider gateways, CVI). */
const EXCLUDED_HOST =
  /(?:^|\.)(?:teams\.microsoft\.com|microsoft\.com|zoom\.us|zoomgov\.com|outlook\.com|office365\.com|office\.com|gmail\.com|google\.com|zoomcrc\.com|webex\.com|chime\.in|bjn\.vc|plcm\.vc|onpexip\.com)$/;
const GOTO_IP = "67.217.95.2";

const ZOOM_ADDR = /\b(\d{9,11})(?:\.(\d{1,10}))?@((?:global\.)?zoomcrc\.com)\b/gi;
const WEBEX_ADDR = /\b(?:sip:)?([A-Za-z0-9._-]{1,64})@([a-z0-9-]{1,63})\.webex\.com\b/gi;
const CHIME_ADDR = /\b(\d{10})@meet\.chime\.in\b/gi;
const GOTO_ADDR = /\b(\d{9})@67\.217\.95\.2\b|\b67\.217\.95\.2##(\d{9})\b/g;

function cleanHost(host: string): string {
  return host.toLowerCase();
}

/** Provider video addresses printed on one line (B2.2). */
export function findPrintedVideoAddresses(line: string): PrintedVideoAddress[] {
  const out: PrintedVideoAddress[] = [];
  if (line.includes("@") || line.includes("##")) {
    for (const m of line.matchAll(ZOOM_ADDR))
      out.push({ provider: "zoom", address: `${m[1]}${m[2] ? `.${m[2]}` : ""}@${m[3]!.toLowerCase()}`, passcode: m[2] ?? null });
    for (const m of line.matchAll(WEBEX_ADDR)) {
      const site = m[2]!.toLowerCase();
      if (site === "lync" || site === "m") continue;
      out.push({ provider: "webex", address: `${m[1]}@${site}.webex.com`, passcode: null });
    }
    for (const m of line.matchAll(CHIME_ADDR)) out.push({ provider: "chime", address: `${m[1]}@meet.chime.in`, passcode: null });
    for (const m of line.matchAll(GOTO_ADDR)) {
      out.push({ provider: "gotomeeting", address: m[1] ? `${m[1]}@${GOTO_IP}` : `${GOTO_IP}##${m[2]}`, passcode: null });
    }
  }
  return out;
}

export interface SipScanContext {
  /** Addresses never to report (tenant keys, mailto targets, organizer/attendees), lowercased. */
  exclude: Set<string>;
}

/**
 * False only when findSipAddresses(line) would find nothing: its text has no '@', no "##" and no
 * SIP/H.323 scheme (which ends in p, s or 3 right before a colon). Answered from the raw text:
 * normalizing never adds or joins these characters.
 */
export function mayHaveSipAddress(line: { readonly raw: string; colonLeads(): string | null }): boolean {
  const raw = line.raw;
  if (raw.includes("@") || raw.includes("##")) return true;
  const leads = line.colonLeads();
  if (leads === null) return raw.includes("\uFF1A") || hasSipScheme(raw);
  // A scheme ends in "p", "s" or "3" right before its colon.
  for (let k = 0; k < leads.length; k++) {
    const c = leads.charCodeAt(k);
    if (c === 112 || c === 115 || c === 51) return hasSipScheme(raw);
  }
  return false;
}

/** Same as /(?:sips?|h323):/i.test(line), looking only behind each colon. */
function hasSipScheme(line: string): boolean {
  for (let c = line.indexOf(":"); c >= 0; c = line.indexOf(":", c + 1)) {
    if (asciiWordAt(line, c - 3, "sip") || asciiWordAt(line, c - 4, "sips") || asciiWordAt(line, c - 4, "h323")) return true;
  }
  return false;
}

/** SIP/H.323 addresses on one line (location or body), strongest first. */
export function findSipAddresses(input: string | { readonly text: string; readonly lower: string }, ctx: SipScanContext, isLocation = false): SipAddress[] {
  const line = typeof input === "string" ? input : input.text;
  const hasAt = line.includes("@");
  const hasHash = line.includes("##");
  if (!hasAt && !hasHash && !line.includes(":")) return [];
  const hasScheme = hasSipScheme(line);
  if (!hasAt && !hasHash && !hasScheme) return [];
  const out: SipAddress[] = [];
  const seen = new Set<string>();
  const push = (a: SipAddress) => {
    const key = a.address.toLowerCase();
    if (seen.has(key) || ctx.exclude.has(key)) return;
    seen.add(key);
    out.push(a);
  };
  for (const m of hasScheme ? line.matchAll(SCHEMED) : []) {
    const scheme = m[1]!.toLowerCase();
    let address = m[2]!.replace(/;.*$/, "");
    const at = address.lastIndexOf("@");
    if (at >= 0) address = address.slice(0, at + 1) + cleanHost(address.slice(at + 1));
    if (at >= 0 && EXCLUDED_HOST.test(address.slice(at + 1).replace(/:\d+$/, "")) && !/zoomcrc|webex|chime|bjn|plcm|onpexip/.test(address)) continue;
    push({ provider: scheme === "h323" ? "h323" : "sip", address, strength: 0 });
  }
  for (const m of hasHash ? line.matchAll(H323_HASH) : []) {
    if (m[1] === GOTO_IP) continue;
    push({ provider: "h323", address: `${m[1]}##${m[2]}${m[3] ? `#${m[3]}` : ""}`, strength: 2 });
  }
  if (!hasAt) return out.sort((a, b) => a.strength - b.strength);
  const videoLine = isLocation || containsPhrase(typeof input === "string" ? line.toLowerCase() : input.lower, LABELS.videoWords);
  for (const m of line.matchAll(BARE)) {
    const user = m[1]!;
    const host = cleanHost(m[2]!);
    const before = line.slice(Math.max(0, m.index! - 8), m.index!).toLowerCase();
    if (/(?:mailto|sips?|h323):$/.test(before)) continue;
    if (EXCLUDED_HOST.test(host) || host === GOTO_IP) continue;
    const address = `${user}@${host}${m[3] ? `:${m[3]}` : ""}`;
    if (/^\d{1,3}(?:\.\d{1,3}){3}$/.test(host) && /^\d{1,20}$/.test(user)) {
      push({ provider: "h323", address, strength: 2 });
    } else if (videoLine) {
      push({ provider: "sip", address, strength: 1 });
    }
  }
  return out.sort((a, b) => a.strength - b.strength);
}
