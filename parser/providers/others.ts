/**
 * Meeting providers other than Teams (docs/formats.md, B2.1): accepted hosts and path shapes, and the
 * fields each URL carries. Hosts are compared on whole labels after WHATWG parsing.
 */
import type { JoinProvider } from "../../core/domain.ts";
import { isRejected, parseWebUrl } from "../url-safety.ts";

export interface ProviderLink {
  provider: Exclude<JoinProvider, "teams" | "sip" | "h323" | "other">;
  /** WHATWG-serialised URL. */
  url: string;
  /** Provider meeting id (digits or code), when the URL carries one. */
  meetingId: string | null;
  /** Webex site, Zoom vanity host, etc. */
  site: string | null;
  /** Webex personal room / Jitsi room / GoTo personal room name. */
  name: string | null;
  /** Zoom `pwd` token (never dialed). */
  token: string | null;
  /** True for Zoom Gov hosts. */
  gov: boolean;
}

/** `host` is `base` or one label under it. `base` must be one of the constants below. */
function label(host: string, base: string): boolean {
  return (
    host === base ||
    (host.endsWith(base) && host.charCodeAt(host.length - base.length - 1) === 46 /* . */ && /^[a-z0-9-]{1,63}$/.test(host.slice(0, -base.length - 1)))
  );
}

function link(provider: ProviderLink["provider"], url: URL, fields: Partial<ProviderLink> = {}): ProviderLink {
  return { provider, url: url.href, meetingId: null, site: null, name: null, token: null, gov: false, ...fields };
}

/** Returns the provider link for an accepted URL shape, else null. */
export function classifyProviderUrl(value: string): ProviderLink | null {
  const parsed = parseWebUrl(value, true);
  if (isRejected(parsed)) return null;
  const { url, host } = parsed;
  const path = url.pathname;
  const https = url.protocol === "https:";

  // Zoom, Zoom for Government, and Zoom X (zoom-x.de, operated for Zoom by Deutsche Telekom).
  if (label(host, "zoom.us") || label(host, "zoomgov.com") || label(host, "zoom-x.de")) {
    const gov = label(host, "zoomgov.com");
    const m = /^\/(?:j|w|s|wc\/join|wc)\/(\d{9,11})(?:\/join)?\/?$/.exec(path);
    if (m) return link("zoom", url, { meetingId: m[1]!, site: host, token: url.searchParams.get("pwd"), gov });
    // The legacy join form: /join?confno=<id>[&pwd=<token>].
    const confno = /^\/join\/?$/.test(path) ? url.searchParams.get("confno") : null;
    if (confno !== null && /^\d{9,11}$/.test(confno)) return link("zoom", url, { meetingId: confno, site: host, token: url.searchParams.get("pwd"), gov });
    const my = /^\/my\/([A-Za-z0-9._-]{1,64})\/?$/.exec(path);
    if (my) return link("zoom", url, { name: my[1]!, site: host, token: url.searchParams.get("pwd"), gov });
    return null;
  }
  if (host.endsWith(".webex.com") && /^[a-z0-9-]{1,63}\.webex\.com$/.test(host)) {
    const site = host.slice(0, -".webex.com".length);
    if (site === "m" || site === "lync" || path.toLowerCase().startsWith("/msteams")) return null;
    const personal = /^\/(?:[a-z0-9-]{1,63}\/)?(?:meet|join)\/([A-Za-z0-9._-]{1,64})\/?$/i.exec(path);
    if (personal) {
      const isMeet = /\/meet\//i.test(path);
      return link("webex", url, { site, name: isMeet ? personal[1]! : null });
    }
    if (/^\/[a-z0-9-]{1,63}\/(?:k2\/)?[je]\.php$/i.test(path) && url.searchParams.has("MTID")) return link("webex", url, { site });
    // Webex's newer meeting pages: /webappng/sites/<site>/meeting/info/<hex> (host only).
    if (/^\/webappng\/sites\/[a-z0-9-]{1,63}\/meeting\/info\/[0-9a-f]{8,64}\/?$/i.test(path)) return link("webex", url, { site });
    if (/^\/wbxmjs\/joinservice\/sites\/[a-z0-9-]{1,63}\/meeting\/download\/[0-9a-f]{8,64}$/i.test(path)) return link("webex", url, { site });
    return null;
  }
  if (!https) return null;
  // Google's short link for Meet: g.co/meet/<code>.
  if (host === "g.co") {
    const m = /^\/meet\/([a-z]{3}-[a-z]{4}-[a-z]{3})\/?$/.exec(path);
    return m ? link("google-meet", url, { meetingId: m[1]! }) : null;
  }
  if (host === "meet.google.com") {
    const m = /^\/([a-z]{3}-[a-z]{4}-[a-z]{3})\/?$/.exec(path);
    if (m) return link("google-meet", url, { meetingId: m[1]! });
    const lookup = /^\/lookup\/([A-Za-z0-9_-]{1,64})\/?$/.exec(path);
    if (lookup) return link("google-meet", url, { name: lookup[1]! });
    return null;
  }
  if (host === "global.gotomeeting.com" || host === "www.gotomeeting.com" || host === "gotomeeting.com") {
    const m = /^\/join\/(\d{9})\/?$/.exec(path);
    return m ? link("gotomeeting", url, { meetingId: m[1]! }) : null;
  }
  if (host === "meet.goto.com") {
    const m = /^\/(\d{9})\/?$/.exec(path);
    if (m) return link("gotomeeting", url, { meetingId: m[1]! });
    const named = /^\/([A-Za-z][A-Za-z0-9_-]{0,63})\/?$/.exec(path);
    return named ? link("gotomeeting", url, { name: named[1]! }) : null;
  }
  if (host === "app.goto.com") {
    const m = /^\/meeting\/(\d{9})\/?$/.exec(path);
    return m ? link("gotomeeting", url, { meetingId: m[1]! }) : null;
  }
  if (host === "gotomeet.me") {
    const m = /^\/([A-Za-z0-9_-]{1,64})\/?$/.exec(path);
    return m ? link("gotomeeting", url, { name: m[1]! }) : null;
  }
  if (host === "bluejeans.com" || host === "www.bluejeans.com") {
    const m = /^\/(\d{6,12})(?:\/(\d{1,10}))?(?:\/webrtc)?\/?$/.exec(path);
    return m ? link("bluejeans", url, { meetingId: m[1]!, token: m[2] ?? null }) : null;
  }
  if (host === "chime.aws") {
    const m = /^\/(\d{10})\/?$/.exec(path);
    return m ? link("chime", url, { meetingId: m[1]! }) : null;
  }
  if (host === "app.chime.aws") {
    const m = /^\/meetings\/(\d{10})\/?$/.exec(path);
    return m ? link("chime", url, { meetingId: m[1]! }) : null;
  }
  if (host === "meet.jit.si") {
    const m = /^\/([A-Za-z0-9_-]{1,64})\/?$/.exec(path);
    return m ? link("jitsi", url, { name: m[1]! }) : null;
  }
  return null;
}

/**
 * Skype for Business / Lync meeting links: `https://meet.lync.com/<tenant>/<user>/<id>` (Skype for
 * Business Online) and `https://meet.<company domain>/<user>/<id>` (Skype for Business Server's
 * simple URL). They are meetings, but not Teams ones and not dialable by otj: provider "other".
 */
export function isSkypeMeetingUrl(value: string): boolean {
  const parsed = parseWebUrl(value, true);
  if (isRejected(parsed)) return false;
  const { host, url } = parsed;
  if (host === "meet.lync.com") return /^\/[A-Za-z0-9._-]{1,64}\/[A-Za-z0-9._-]{1,64}\/[A-Za-z0-9]{6,12}\/?$/.test(url.pathname);
  return host.startsWith("meet.") && /^\/[A-Za-z0-9._-]{1,64}\/[A-Z0-9]{8}\/?$/.test(url.pathname);
}

/**
 * The provider a bare host names (a Mimecast `domain=` value, B1.6): only whole known hosts, so a
 * look-alike (`zoom.us.evil.example`) names none.
 */
export function providerOfHost(host: string | null): ProviderLink["provider"] | null {
  if (host === null || !/^[a-z0-9.-]{1,253}$/.test(host)) return null;
  if (label(host, "zoom.us") || label(host, "zoomgov.com") || label(host, "zoom-x.de")) return "zoom";
  if (label(host, "webex.com")) return "webex";
  if (host === "meet.google.com") return "google-meet";
  if (host === "global.gotomeeting.com" || host === "meet.goto.com" || host === "app.goto.com") return "gotomeeting";
  if (host === "bluejeans.com" || host === "www.bluejeans.com") return "bluejeans";
  if (host === "chime.aws" || host === "app.chime.aws") return "chime";
  if (host === "meet.jit.si") return "jitsi";
  return null;
}

/** Hosts whose URLs are never meetings: help, dial-in, download and CVI info pages (T3.6, T7). */
export function isKnownNonMeetingUrl(value: string): boolean {
  const parsed = parseWebUrl(value, true);
  if (isRejected(parsed)) return false;
  const { host, url } = parsed;
  const path = url.pathname.toLowerCase();
  return (
    host === "aka.ms" ||
    host === "go.microsoft.com" ||
    host === "www.microsoft.com" ||
    host === "microsoft.com" ||
    host.startsWith("dialin.teams.") ||
    host === "mysettings.lync.com" ||
    host === "api.scheduler.teams.microsoft.com" ||
    host === "dialin.plcm.vc" ||
    host === "pexip.me" ||
    (host.endsWith("webex.com") && path.startsWith("/msteams")) ||
    /^\/teams\/?$/.test(path)
  );
}
