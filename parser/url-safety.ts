/**
 * Shared URL hygiene for classification (docs/formats.md, B6): dangerous schemes, userinfo, ports,
 * IP hosts. Every classifier parses with WHATWG URL and compares hostnames exactly.
 */

const DANGEROUS_SCHEME = /^(?:javascript|data|vbscript|file|blob):/;
const DANGEROUS_NAMES = new Set(["javascript", "data", "vbscript", "file", "blob"]);

function isAsciiLetter(c: number): boolean {
  return (c >= 65 && c <= 90) || (c >= 97 && c <= 122);
}

/** True for javascript:, data:, vbscript:, file:, blob: even when obfuscated with whitespace. */
export function isDangerousScheme(value: string): boolean {
  // Common case: a plain `letters:` scheme with nothing for a browser to drop before the colon.
  let i = 0;
  while (i < 11 && isAsciiLetter(value.charCodeAt(i))) i++;
  if (value.charCodeAt(i) === 58 /* : */) return (i === 4 || i === 8 || i === 10) && DANGEROUS_NAMES.has(value.slice(0, i).toLowerCase());
  // Browsers drop ASCII whitespace and control characters anywhere in the scheme.
  const head = value
    .slice(0, 64)
    .replace(/[\u0000-\u0020\u007F]/g, "")
    .toLowerCase();
  return DANGEROUS_SCHEME.test(head);
}

interface Parsed {
  value: string | null;
  url: URL | null;
  /** Lowercased hostname without a trailing dot, once computed. */
  host: string | null;
  /** parseWebUrl(value, false) and parseWebUrl(value, true), once computed. */
  strict: SafeUrl | { rejected: UrlRejection } | null;
  lenient: SafeUrl | { rejected: UrlRejection } | null;
}

/**
 * The last few parses are kept because one link goes through several classifiers in a row
 * (unwrapping, Teams, other providers, hygiene); results are shared, so callers must not mutate
 * them.
 */
const recent: Parsed[] = [0, 1, 2].map(() => ({ value: null, url: null, host: null, strict: null, lenient: null }));
let next = 0;

function parsed(value: string): Parsed {
  for (const entry of recent) if (entry.value === value) return entry;
  let url: URL | null;
  try {
    url = new URL(value);
  } catch {
    url = null;
  }
  const entry: Parsed = { value, url, host: null, strict: null, lenient: null };
  recent[next] = entry;
  next = (next + 1) % recent.length;
  return entry;
}

/** WHATWG parse of `value`, or null when it does not parse. The URL is shared: do not mutate it. */
export function parseUrl(value: string): URL | null {
  return parsed(value).url;
}

function hostOfEntry(entry: Parsed, url: URL): string {
  if (entry.host === null) {
    let host = url.hostname.toLowerCase();
    if (host.endsWith(".")) host = host.slice(0, -1);
    entry.host = host;
  }
  return entry.host;
}

/** The parsed URL of `value` with its lowercased hostname (no trailing dot), or null. */
export function parseUrlWithHost(value: string): { url: URL; host: string } | null {
  const entry = parsed(value);
  return entry.url === null ? null : { url: entry.url, host: hostOfEntry(entry, entry.url) };
}

export interface SafeUrl {
  url: URL;
  /** Lowercased host without a trailing dot. */
  host: string;
}

export type UrlRejection = "unparsable" | "userinfo" | "port" | "ip-host" | "scheme";

/** Parses an http(s) URL and applies the allow-list preconditions; returns why it was refused. */
export function parseWebUrl(value: string, allowHttp = false): SafeUrl | { rejected: UrlRejection } {
  const entry = parsed(value);
  if (allowHttp) {
    entry.lenient ??= checkWebUrl(value, entry, true);
    return entry.lenient;
  }
  entry.strict ??= checkWebUrl(value, entry, false);
  return entry.strict;
}

function checkWebUrl(value: string, entry: Parsed, allowHttp: boolean): SafeUrl | { rejected: UrlRejection } {
  const url = entry.url;
  if (isDangerousScheme(value)) return { rejected: "scheme" };
  if (url === null) return { rejected: "unparsable" };
  const protocol = url.protocol;
  if (protocol !== "https:" && !(allowHttp && protocol === "http:")) return { rejected: "scheme" };
  if (url.username !== "" || url.password !== "") return { rejected: "userinfo" };
  if (url.port !== "") return { rejected: "port" };
  const host = hostOfEntry(entry, url);
  if (/^\d{1,3}(?:\.\d{1,3}){3}$/.test(host) || host.startsWith("[")) return { rejected: "ip-host" };
  return { url, host };
}

export function isRejected(value: SafeUrl | { rejected: UrlRejection }): value is { rejected: UrlRejection } {
  return "rejected" in value;
}
