/**
 * Shared URL hygiene for classification (FORMATS.md B6): dangerous schemes, userinfo, ports,
 * IP hosts. Every classifier parses with WHATWG URL and compares hostnames exactly.
 */

const DANGEROUS_SCHEME = /^(?:javascript|data|vbscript|file|blob):/;

/** True for javascript:, data:, vbscript:, file:, blob: even when obfuscated with whitespace. */
export function isDangerousScheme(value: string): boolean {
  // Browsers drop ASCII whitespace and control characters anywhere in the scheme.
  const head = value.slice(0, 64).replace(/[\u0000-\u0020\u007F]/g, "").toLowerCase();
  return DANGEROUS_SCHEME.test(head);
}

export interface SafeUrl {
  url: URL;
  /** Lowercased host without a trailing dot. */
  host: string;
}

export type UrlRejection = "unparsable" | "userinfo" | "port" | "ip-host" | "scheme";

/** Parses an http(s) URL and applies the allow-list preconditions; returns why it was refused. */
export function parseWebUrl(value: string, allowHttp = false): SafeUrl | { rejected: UrlRejection } {
  if (isDangerousScheme(value)) return { rejected: "scheme" };
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return { rejected: "unparsable" };
  }
  if (url.protocol !== "https:" && !(allowHttp && url.protocol === "http:")) return { rejected: "scheme" };
  if (url.username !== "" || url.password !== "") return { rejected: "userinfo" };
  if (url.port !== "") return { rejected: "port" };
  const host = url.hostname.toLowerCase().replace(/\.$/, "");
  if (/^\d{1,3}(?:\.\d{1,3}){3}$/.test(host) || host.startsWith("[")) return { rejected: "ip-host" };
  return { url, host };
}

export function isRejected(value: SafeUrl | { rejected: UrlRejection }): value is { rejected: UrlRejection } {
  return "rejected" in value;
}
