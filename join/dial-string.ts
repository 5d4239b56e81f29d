/**
 * Dial strings (docs/formats.md): the SIP grammar every dial string must satisfy (core/sip-address.ts), CVI partner
 * detection and direct-dial conventions, SGJ templates and session ids, and the direct
 * addresses of other providers. Pure functions.
 */
import type { CviCoordinates, IvrFallback, Partner } from "../core/domain.ts";
import type { Provider } from "../core/ports/store.ts";
import { isIpv4, isValidSipAddress } from "../core/sip-address.ts";
import { SGJ_PLACEHOLDERS } from "../core/sgj-template.ts";

/** A CVI provider record as far as dialing is concerned (the store's Provider, in part). */
export type ProviderDialInfo = Pick<Provider, "name" | "partner" | "tenantKey" | "sipDomain" | "ivrAddress" | "sgjEnabled" | "sgjTemplate">;

export const DEFAULT_SGJ_DOMAIN = "sgj.otj.invalid";
export const DEFAULT_SGJ_TEMPLATE = "{sessionId}@{domain}";
export const FALLBACK_SGJ_TEMPLATE = "{sessionId}@{domain}";
export { SGJ_PLACEHOLDERS };

/** Valid dial string: a SIP address, or the H.323 `ip##digits` form. */
export function isValidDialString(value: string): boolean {
  if (/^(?:\d{1,3}\.){3}\d{1,3}##\d{1,20}(?:#\d{1,12})?$/.test(value)) return isIpv4(value.split("##")[0]!);
  return isValidSipAddress(value);
}

function splitAddress(address: string): { local: string; domain: string } {
  const at = address.lastIndexOf("@");
  return { local: address.slice(0, at), domain: address.slice(at + 1).toLowerCase() };
}

/** Lowercases the part after the last '@' (dial strings keep the user part as printed). */
export function lowerHost(address: string): string {
  const at = address.lastIndexOf("@");
  return at < 0 ? address : address.slice(0, at + 1) + address.slice(at + 1).toLowerCase();
}

// ------------------------------------------------------------------------- CVI

export interface CviPlan {
  partner: Partner;
  /** How the partner was decided: provider record, more-info URL, tenant-key domain. */
  decidedBy: "provider" | "more-info-url" | "tenant-key-domain" | "default";
  dialString: string | null;
  ivr: IvrFallback;
}

function moreInfoDial(url: string | null, videoId: string): { partner: Partner; dial: string } | null {
  if (!url) return null;
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return null;
  }
  const host = u.hostname.toLowerCase();
  const q = u.searchParams;
  if (host === "pexip.me") {
    const m = /^\/teams\/([a-z0-9.-]{1,253})\/(\d{1,20})\/?$/i.exec(u.pathname);
    if (m && m[2] === videoId) return { partner: "pexip", dial: `${videoId}@${m[1]!.toLowerCase()}` };
    return null;
  }
  if ((host === "www.webex.com" || /^[a-z0-9-]{1,63}\.webex\.com$/.test(host)) && /^\/msteams\/?$/i.test(u.pathname)) {
    const sub = q.get("tenantkey");
    const dom = q.get("domain");
    if (q.get("confid") === videoId && sub && dom) return { partner: "cisco", dial: `${videoId}.${sub}@${dom.toLowerCase()}` };
    return null;
  }
  if (host === "dialin.plcm.vc" && /^\/teams\/?$/i.test(u.pathname)) {
    const key = q.get("key");
    if (q.get("conf") === videoId && key) return { partner: "poly", dial: `${key}.${videoId}@t.plcm.vc` };
    return null;
  }
  if (/^\/teams\/?$/i.test(u.pathname) && q.has("conf") && q.has("d")) {
    if (q.get("conf") !== videoId) return null;
    const prefix = q.get("prefix") ?? "";
    return { partner: "pexip", dial: `${prefix}${videoId}@${q.get("d")!.toLowerCase()}` };
  }
  return null;
}

function partnerFromDomain(domain: string): Partner | null {
  if (domain === "m.webex.com") return "cisco";
  if (domain === "t.plcm.vc") return "poly";
  if (domain === "teams.bjn.vc") return "bluejeans";
  if (domain.endsWith(".onpexip.com")) return "pexip";
  return null;
}

/** B3.3: the direct dial for a partner. `pexipService` picks `<V>@<D>` over Microsoft's form. */
function conventionDial(partner: Partner, local: string, domain: string, videoId: string, pexipService: boolean): string {
  switch (partner) {
    // The partner's row with D as printed (B3.2): m.webex.com, t.plcm.vc, teams.bjn.vc normally.
    case "cisco":
      return `${videoId}.${local}@${domain}`;
    case "poly":
    case "bluejeans":
      return `${local}.${videoId}@${domain}`;
    case "pexip":
      return pexipService ? `${videoId}@${domain}` : `${local}.${videoId}@${domain}`;
    default:
      return `${local}.${videoId}@${domain}`;
  }
}

/** Partner detection (B3.2) and the CVI dial string with its IVR fallback (B3.1, B3.3). */
export function planCvi(cvi: CviCoordinates, providers: readonly ProviderDialInfo[]): CviPlan {
  const { local, domain } = splitAddress(cvi.tenantKey);
  const videoId = cvi.videoConferenceId;
  const record = providers.find((p) => p.tenantKey !== null && p.tenantKey.toLowerCase() === cvi.tenantKey.toLowerCase()) ?? null;
  const ivr: IvrFallback = { address: record?.ivrAddress ?? cvi.tenantKey, dtmf: `${videoId}#` };
  let partner: Partner;
  let decidedBy: CviPlan["decidedBy"];
  let dial: string | null = null;
  const fromUrl = moreInfoDial(cvi.moreInfoUrl, videoId);
  if (record) {
    partner = record.partner;
    decidedBy = "provider";
    if (partner === "pexip" && record.sipDomain && !cvi.moreInfoUrl) dial = `${videoId}@${record.sipDomain.toLowerCase()}`;
    else if (partner === "pexip" && fromUrl?.partner === "pexip") dial = fromUrl.dial;
    else dial = conventionDial(partner, local, domain, videoId, domain.endsWith(".onpexip.com"));
  } else if (fromUrl) {
    partner = fromUrl.partner;
    decidedBy = "more-info-url";
    dial = fromUrl.dial;
  } else {
    const byDomain = partnerFromDomain(domain);
    partner = byDomain ?? "generic";
    decidedBy = byDomain ? "tenant-key-domain" : "default";
    dial = conventionDial(partner, local, domain, videoId, domain.endsWith(".onpexip.com"));
  }
  if (dial !== null) dial = lowerHost(dial);
  return { partner, decidedBy, dialString: dial !== null && isValidDialString(dial) ? dial : null, ivr };
}

// ------------------------------------------------------------------------- SGJ

/** Placeholder names used by a template; unknown names are returned too, for validation. */
export function templatePlaceholders(template: string): string[] {
  return [...template.matchAll(/\{([A-Za-z][A-Za-z0-9_]{0,40})\}/g)].map((m) => m[1]!);
}

export interface SgjValues {
  meetingId: string | null;
  passcode: string | null;
  sessionId: string;
  domain: string;
}

function fill(template: string, values: Record<string, string>): string {
  return template.replace(/\{([A-Za-z][A-Za-z0-9_]{0,40})\}/g, (whole, name: string) => values[name] ?? whole);
}

/** buildSgjDialString (B4.2): the template, else the fallback, else null. */
export function buildSgjDialString(template: string, v: SgjValues): { dialString: string | null; usedFallback: boolean } {
  const attempt = (t: string): string | null => {
    const names = templatePlaceholders(t);
    if (names.includes("meetingId") && (v.meetingId === null || !/^\d{9,20}$/.test(v.meetingId))) return null;
    if (names.includes("passcode") && (v.passcode === null || !/^[A-Za-z0-9]{1,32}$/.test(v.passcode))) return null;
    const result = lowerHost(fill(t, { meetingId: v.meetingId ?? "", passcode: v.passcode ?? "", sessionId: v.sessionId, domain: v.domain.toLowerCase() }));
    return isValidSipAddress(result) ? result : null;
  };
  const primary = attempt(template);
  if (primary !== null) return { dialString: primary, usedFallback: false };
  const fallback = attempt(FALLBACK_SGJ_TEMPLATE);
  return { dialString: fallback, usedFallback: true };
}

/** Redacts the passcode part of an SGJ dial string for logs (`id.***@domain`). */
export function redactSgjDialString(dial: string): string {
  const dot = dial.indexOf(".");
  const at = dial.lastIndexOf("@");
  return dot >= 0 && dot < at ? `${dial.slice(0, dot + 1)}***${dial.slice(at)}` : dial;
}
