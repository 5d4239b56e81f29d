/**
 * Link rewriters that mail security gateways put around URLs, and how to undo each offline
 * (docs/formats.md, B1.2-B1.6). Each recogniser looks at the parsed host and path only; payloads are
 * read from the raw string so that percent-encoding is decoded exactly once.
 */
import { percentDecodeOnce } from "../text.ts";
import { parseUrlWithHost } from "../url-safety.ts";

export type WrapperName =
  | "safelinks"
  | "proofpoint-v1"
  | "proofpoint-v2"
  | "proofpoint-v3"
  | "google"
  | "barracuda"
  | "cisco-secure-email"
  | "trendmicro"
  | "sophos"
  | "fireeye"
  | "avanan"
  | "mimecast"
  | "symantec";

export type UnwrapStep =
  | { kind: "unwrapped"; wrapper: WrapperName; url: string }
  | { kind: "opaque"; wrapper: WrapperName; domain: string | null }
  | { kind: "failed"; wrapper: WrapperName };

interface Wrapper {
  name: WrapperName;
  matches(host: string, path: string): boolean;
  unwrap(raw: string, url: URL): UnwrapStep;
}

/** The raw query string (without '?'), fragment excluded, as carried. */
function rawQuery(raw: string): string {
  const q = raw.indexOf("?");
  if (q < 0) return "";
  const hash = raw.indexOf("#", q);
  return raw.slice(q + 1, hash < 0 ? undefined : hash);
}

/**
 * First parameter named exactly `name` (which must not contain '=' or '&'), split on `&` or
 * `&amp;`, still percent-encoded.
 */
export function rawParam(raw: string, name: string): string | null {
  const query = rawQuery(raw);
  let start = 0;
  for (;;) {
    const amp = query.indexOf("&", start);
    const end = amp < 0 ? query.length : amp;
    if (end - start > name.length && query.charCodeAt(start + name.length) === 61 /* = */ && query.startsWith(name, start)) {
      return query.slice(start + name.length + 1, end);
    }
    if (amp < 0) return null;
    start = query.startsWith("amp;", amp + 1) ? amp + 5 : amp + 1;
  }
}

function isAbsoluteHttp(value: string): boolean {
  return /^https?:\/\/[^\s/]/i.test(value);
}

/** Wrapper whose payload is one query parameter, percent-decoded once. */
function paramWrapper(name: WrapperName, param: string, matches: Wrapper["matches"], fallbackParam?: string): Wrapper {
  return {
    name,
    matches,
    unwrap(raw) {
      const value = rawParam(raw, param) ?? (fallbackParam ? rawParam(raw, fallbackParam) : null);
      if (value === null) return { kind: "failed", wrapper: name };
      const decoded = percentDecodeOnce(value);
      if (decoded === null || !isAbsoluteHttp(decoded)) return { kind: "failed", wrapper: name };
      return { kind: "unwrapped", wrapper: name, url: decoded };
    },
  };
}

const oneLabel = "[a-z0-9-]{1,63}";
const safeLinksHost = new RegExp(
  `^(?:safelinks\\.protection\\.outlook\\.com|${oneLabel}\\.safelinks\\.protection\\.outlook\\.com|${oneLabel}\\.safelinks\\.protection\\.office365\\.us|${oneLabel}\\.safelinks\\.protection\\.outlook\\.cn)$`,
);
const sophosHost = new RegExp(`^${oneLabel}\\.protection\\.sophos\\.com$`);
const safeLinksPath = /^\/(?:ap\/[a-z]-[0-9a-f]{8}\/?)?$/i;

function decodeHtmlOnce(value: string): string {
  return value
    .replace(/&amp;/g, "&")
    .replace(/&lt;/g, "<")
    .replace(/&gt;/g, ">")
    .replace(/&quot;/g, '"')
    .replace(/&#39;/g, "'");
}

const PROOFPOINT_RUN_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

function proofpointV3(raw: string): UnwrapStep {
  const name: WrapperName = "proofpoint-v3";
  const start = raw.indexOf("/v3/__");
  if (start < 0) return { kind: "failed", wrapper: name };
  const bodyStart = start + "/v3/__".length;
  const end = raw.indexOf("__;", bodyStart);
  if (end < 0) return { kind: "failed", wrapper: name };
  const encodedUrl = raw.slice(bodyStart, end);
  const bang = raw.indexOf("!", end + 3);
  const b64 = raw.slice(end + 3, bang < 0 ? undefined : bang);
  if (!/^[A-Za-z0-9_-]*$/.test(b64)) return { kind: "failed", wrapper: name };
  const chars = [...Buffer.from(b64.replace(/-/g, "+").replace(/_/g, "/"), "base64").toString("utf8")];
  const url = percentDecodeOnce(encodedUrl);
  if (url === null) return { kind: "failed", wrapper: name };
  let out = "";
  let next = 0;
  for (let i = 0; i < url.length; i++) {
    const c = url[i];
    if (c !== "*") {
      out += c;
      continue;
    }
    let count = 1;
    if (url[i + 1] === "*") {
      const idx = PROOFPOINT_RUN_ALPHABET.indexOf(url[i + 2] ?? "");
      if (idx < 0) return { kind: "failed", wrapper: name };
      count = idx + 2;
      i += 2;
    }
    if (next + count > chars.length) return { kind: "failed", wrapper: name };
    out += chars.slice(next, next + count).join("");
    next += count;
  }
  return isAbsoluteHttp(out) ? { kind: "unwrapped", wrapper: name, url: out } : { kind: "failed", wrapper: name };
}

function proofpointLegacy(raw: string, version: "v1" | "v2"): UnwrapStep {
  const name: WrapperName = version === "v1" ? "proofpoint-v1" : "proofpoint-v2";
  const query = rawQuery(raw);
  const uStart = query.startsWith("u=") ? 2 : query.indexOf("&u=") >= 0 ? query.indexOf("&u=") + 3 : -1;
  if (uStart < 0) return { kind: "failed", wrapper: name };
  const rest = query.slice(uStart);
  const stops = version === "v1" ? ["&k=", "&amp;k="] : ["&d=", "&c=", "&amp;d=", "&amp;c="];
  let end = rest.length;
  for (const stop of stops) {
    const at = rest.indexOf(stop);
    if (at >= 0 && at < end) end = at;
  }
  let value = rest.slice(0, end);
  if (version === "v2") value = value.replace(/-/g, "%").replace(/_/g, "/");
  const decoded = percentDecodeOnce(value);
  if (decoded === null) return { kind: "failed", wrapper: name };
  const url = decodeHtmlOnce(decoded);
  return isAbsoluteHttp(url) ? { kind: "unwrapped", wrapper: name, url } : { kind: "failed", wrapper: name };
}

const WRAPPERS: Wrapper[] = [
  paramWrapper("safelinks", "url", (h, p) => safeLinksHost.test(h) && safeLinksPath.test(p)),
  paramWrapper("safelinks", "url", (h, p) => h === "outlook.office.com" && p === "/mail/safelink.html"),
  paramWrapper(
    "safelinks",
    "url",
    (h, p) =>
      (h === "statics.teams.cdn.office.net" || h === "staticsint.teams.cdn.office.net") && /^\/evergreen-assets\/safelinks\/\d\/atp-safelinks\.html$/.test(p),
  ),
  {
    name: "proofpoint-v1",
    matches: (h, p) => (h === "urldefense.proofpoint.com" || h === "urldefense.com") && p === "/v1/url",
    unwrap: (raw) => proofpointLegacy(raw, "v1"),
  },
  {
    name: "proofpoint-v2",
    matches: (h, p) => (h === "urldefense.proofpoint.com" || h === "urldefense.com") && p === "/v2/url",
    unwrap: (raw) => proofpointLegacy(raw, "v2"),
  },
  {
    name: "proofpoint-v3",
    matches: (h, p) => (h === "urldefense.proofpoint.com" || h === "urldefense.com") && p.startsWith("/v3/__"),
    unwrap: (raw) => proofpointV3(raw),
  },
  paramWrapper("google", "q", (h, p) => /^(?:www\.)?google\.[a-z]{2,3}(?:\.[a-z]{2})?$/.test(h) && p === "/url", "url"),
  paramWrapper("barracuda", "a", (h, p) => h === "linkprotect.cudasvc.com" && p === "/url"),
  {
    name: "cisco-secure-email",
    matches: (h, p) => h === "secure-web.cisco.com" && /^\/[^/]+\/./.test(p),
    unwrap(raw) {
      const afterHost = raw.replace(/^[a-z]+:\/\/[^/]+/i, "");
      const secondSlash = afterHost.indexOf("/", 1);
      const decoded = percentDecodeOnce(afterHost.slice(secondSlash + 1));
      return decoded !== null && isAbsoluteHttp(decoded)
        ? { kind: "unwrapped", wrapper: "cisco-secure-email", url: decoded }
        : { kind: "failed", wrapper: "cisco-secure-email" };
    },
  },
  paramWrapper("trendmicro", "url", (h, p) => h.endsWith(".trendmicro.com") && p === "/wis/clicktime/v1/query"),
  {
    name: "sophos",
    matches: (h, p) => sophosHost.test(h) && (p === "/" || p === ""),
    unwrap(raw) {
      const value = rawParam(raw, "u");
      const b64 = value === null ? null : percentDecodeOnce(value);
      if (!b64 || !/^[A-Za-z0-9+/_-]+={0,2}$/.test(b64)) return { kind: "failed", wrapper: "sophos" };
      const url = Buffer.from(b64.replace(/-/g, "+").replace(/_/g, "/"), "base64").toString("utf8");
      return isAbsoluteHttp(url) ? { kind: "unwrapped", wrapper: "sophos", url } : { kind: "failed", wrapper: "sophos" };
    },
  },
  paramWrapper("fireeye", "u", (h, p) => h === "protect2.fireeye.com" && p === "/v1/url"),
  {
    name: "avanan",
    matches: (h, p) => h === "url.avanan.click" && p.startsWith("/v2/___"),
    unwrap(raw) {
      const start = raw.indexOf("/v2/___");
      const end = raw.indexOf("___.", start + 7);
      if (end < 0) return { kind: "failed", wrapper: "avanan" };
      const url = raw.slice(start + 7, end).replace(/^(https?):\/(?!\/)/i, "$1://");
      return isAbsoluteHttp(url) ? { kind: "unwrapped", wrapper: "avanan", url } : { kind: "failed", wrapper: "avanan" };
    },
  },
  {
    name: "mimecast",
    matches: (h, p) =>
      (/^protect(?:-[a-z0-9]{1,20})?\.mimecast\.com$/.test(h) || h === "protect2.mimecast.com" || h.endsWith(".mimecastprotect.com")) &&
      // `/s/<token>` and the older `/s<token>` (no slash) both carry only a token.
      (p.startsWith("/s/") || /^\/s[A-Za-z0-9_-]/.test(p)),
    unwrap(raw) {
      const domain = rawParam(raw, "domain");
      return { kind: "opaque", wrapper: "mimecast", domain: domain ? domain.toLowerCase() : null };
    },
  },
  {
    name: "symantec",
    matches: (h) => h === "clicktime.symantec.com",
    unwrap(raw) {
      if (rawParam(raw, "u") === null) return { kind: "opaque", wrapper: "symantec", domain: null };
      return paramWrapper("symantec", "u", () => true).unwrap(raw, new URL("https://x"));
    },
  },
];

const WRAPPER_HOST_WORDS = /safelinks|outlook|office|urldefense|google|cudasvc|cisco|trendmicro|sophos|fireeye|avanan|mimecast|symantec/;

/** Applies the first matching wrapper once; null when `raw` is not a known wrapper. */
export function unwrapOnce(raw: string): UnwrapStep | null {
  const parsed = parseUrlWithHost(raw);
  if (parsed === null) return null;
  const { url, host } = parsed;
  if (url.protocol !== "https:" && url.protocol !== "http:") return null;
  if (url.username || url.password) return null;
  const port = url.port;
  const isTrend = host.endsWith(".trendmicro.com");
  if (port && !(isTrend && port === "443")) return null;
  // Every wrapper host contains one of these words: most links are decided by one test.
  if (!WRAPPER_HOST_WORDS.test(host)) return null;
  const path = url.pathname;
  for (const wrapper of WRAPPERS) {
    if (wrapper.matches(host, path)) return wrapper.unwrap(raw, url);
  }
  return null;
}
