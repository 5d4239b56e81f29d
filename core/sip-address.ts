/**
 * The one grammar of host names and SIP addresses (docs/formats.md: `user@host[:port]`), used
 * both where admins type them (rooms, providers: store/validation.ts) and where otj builds dial
 * strings (join/dial-string.ts).
 */
import { isIPv6 } from "node:net";

const SIP_USER = /^[A-Za-z0-9._+~!$&'*=%-]{1,64}$/;
const DNS_LABEL = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;
const IPV4 = /^(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(?:\.(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;
/** The characters of a bracketed IPv6 literal; the address itself is checked by node:net (`[..]` is not one). */
const IPV6_BRACKETED = /^\[[0-9a-fA-F:.]{2,45}\]$/;
/** A dial string is at most this long (SIP addresses in devices' phonebooks and bookings). */
const MAX_ADDRESS_LENGTH = 255;

export function isIpv4(value: string): boolean {
  return IPV4.test(value);
}

/** A DNS name of 2-10 labels (lowercased, trailing dot dropped), or null. */
export function normalizeDnsName(value: string): string | null {
  const host = value.trim().toLowerCase().replace(/\.$/, "");
  if (host.length === 0 || host.length > 253) return null;
  const labels = host.split(".");
  if (labels.length < 2 || labels.length > 10 || !labels.every((l) => DNS_LABEL.test(l))) return null;
  if (/^\d+$/.test(labels[labels.length - 1] ?? "")) return null;
  return host;
}

/** An IPv4 address, a bracketed IPv6 address (lowercased) or a DNS name (lowercased), or null. */
export function normalizeHost(value: string): string | null {
  if (IPV4.test(value)) return value;
  if (IPV6_BRACKETED.test(value)) return isIPv6(value.slice(1, -1)) ? value.toLowerCase() : null;
  return normalizeDnsName(value);
}

/**
 * A SIP address as docs/formats.md writes it: `user@host[:port]`, scheme (`sip:`/`sips:`) and URI
 * parameters dropped, host lowercased. Null when it is not one (or carries `?headers`).
 */
export function normalizeSipAddress(value: string): string | null {
  let text = value.trim().replace(/^sips?:/i, "");
  if (text.includes("?")) return null;
  text = text.split(";")[0] ?? "";
  const at = text.lastIndexOf("@");
  if (at <= 0) return null;
  const user = text.slice(0, at);
  if (!SIP_USER.test(user)) return null;
  const match = /^(\[[^\]]+\]|[^:]+)(?::(\d{1,5}))?$/.exec(text.slice(at + 1));
  if (!match) return null;
  const host = normalizeHost(match[1] ?? "");
  if (host === null) return null;
  const port = match[2];
  if (port !== undefined && (Number(port) < 1 || Number(port) > 65535)) return null;
  const address = port === undefined ? `${user}@${host}` : `${user}@${host}:${port}`;
  return address.length > MAX_ADDRESS_LENGTH ? null : address;
}

/** True when `value` is already a SIP address in the form {@link normalizeSipAddress} gives. */
export function isValidSipAddress(value: string): boolean {
  return normalizeSipAddress(value) === value;
}
