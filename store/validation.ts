/**
 * Validation and normalisation of room and provider input (CLI flags, CSV rows, HTTP bodies).
 * Pure: no database. Each validator returns every problem at once, in words an operator can act on.
 */
import {
  CALENDAR_SOURCES,
  type CalendarSourceName,
  type Delivery,
  type DeviceFamily,
  type Partner,
  type PrivateJoin,
  type PrivateMeetings,
  type SubjectReplace,
  type WebrtcPlatform,
} from "../core/domain.ts";
import type { NewProvider, NewRoom, Provider } from "../core/ports/store.ts";
import { sgjTemplateProblem } from "../core/sgj-template.ts";
import { normalizeDnsName, normalizeHost, normalizeSipAddress } from "../core/sip-address.ts";

export const DEVICE_FAMILIES: readonly DeviceFamily[] = ["xapi", "xapi-legacy", "webex-cloud", "pull", "macro", "ews"];
export const WEBRTC_PLATFORMS: readonly WebrtcPlatform[] = ["teams", "meet"];
export const DELIVERIES: readonly Delivery[] = ["xapi", "macro", "both"];
/** Families otj never pushes to: the device (or a panel, or the RoomOS macro) pulls. */
const PULLED_FAMILIES: readonly DeviceFamily[] = ["pull", "macro", "ews"];

/** Parses `--webrtc teams,meet` (a list or comma-separated text); problems name the bad entries. */
export function parseWebrtcPlatforms(value: string | readonly string[] | null | undefined, problems: string[]): WebrtcPlatform[] {
  if (value === undefined || value === null) return [];
  const items = (typeof value === "string" ? value.split(/[,;\s]+/) : value).map((v) => v.trim().toLowerCase()).filter((v) => v !== "" && v !== "none");
  const out: WebrtcPlatform[] = [];
  for (const item of items) {
    if (!(WEBRTC_PLATFORMS as readonly string[]).includes(item)) problems.push(`webrtc must list ${WEBRTC_PLATFORMS.join(", ")} (got ${quote(item)})`);
    else if (!out.includes(item as WebrtcPlatform)) out.push(item as WebrtcPlatform);
  }
  return WEBRTC_PLATFORMS.filter((p) => out.includes(p));
}
export const PARTNERS: readonly Partner[] = ["pexip", "cisco", "poly", "bluejeans", "generic"];
export const PRIVATE_MEETINGS: readonly PrivateMeetings[] = ["process", "skip"];
export const SUBJECT_REPLACE: readonly SubjectReplace[] = ["never", "private", "all"];
export const PRIVATE_JOIN: readonly PrivateJoin[] = ["enabled", "disabled"];
export const DEFAULT_SUBJECT_TEMPLATE = "Private meeting";
const SUBJECT_PLACEHOLDERS = ["organizerName", "subject"];

function templatePlaceholders(template: string): string[] {
  return [...template.matchAll(/\{([^{}]*)\}/g)].map((m) => m[1] ?? "");
}

/** User input echoed in a message: JSON-quoted (no raw line breaks), at most 80 characters. */
function quote(value: string): string {
  return JSON.stringify(value.length > 80 ? `${value.slice(0, 77)}...` : value);
}

export type Validated<T> = { ok: true; value: T } | { ok: false; problems: string[] };

const CONTROL = /[\u0000-\u001f\u007f]/;
/** A mailbox address, lowercased, or null when it is not one. */
export function normalizeMailbox(value: string): string | null {
  const mailbox = value.trim().toLowerCase();
  if (mailbox.length > 254) return null;
  const at = mailbox.lastIndexOf("@");
  if (at <= 0) return null;
  const local = mailbox.slice(0, at);
  if (local.length > 64 || !/^[a-z0-9!#$%&'*+/=?^_`{|}~-]+(\.[a-z0-9!#$%&'*+/=?^_`{|}~-]+)*$/.test(local)) return null;
  const domain = normalizeDnsName(mailbox.slice(at + 1));
  return domain === null || domain !== mailbox.slice(at + 1) ? null : `${local}@${domain}`;
}

/** Whether an `http(s)://host[:port]` origin names this machine (an emulator, a local tunnel). */
function isLoopbackAddress(origin: string): boolean {
  const host = new URL(origin).hostname.replace(/^\[|\]$/g, "").toLowerCase();
  return host === "localhost" || host === "::1" || /^127(\.\d{1,3}){3}$/.test(host);
}

/**
 * A device address for an xAPI family: `https://host[:port]` or `http://host[:port]`; a bare host
 * means https. No path, query, or credentials. Returns the normalised origin or a problem.
 */
export function normalizeDeviceAddress(value: string): { address: string } | { problem: string } {
  const text = value.trim();
  const withScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(text) ? text : `https://${text}`;
  let url: URL;
  try {
    url = new URL(withScheme);
  } catch {
    return { problem: `device address ${quote(text)} is not https://host[:port], http://host[:port] or a bare host` };
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") {
    return { problem: `device address ${quote(text)} must use https:// or http://` };
  }
  if (url.username || url.password) return { problem: "device address must not carry credentials; use --device-username/--device-password" };
  if ((url.pathname !== "/" && url.pathname !== "") || url.search || url.hash) {
    return { problem: `device address ${quote(text)} must be host[:port] only; otj appends the device's paths` };
  }
  const host = url.hostname.startsWith("[") ? url.hostname : normalizeHost(url.hostname);
  if (host === null) return { problem: `device address ${quote(text)} has an invalid host` };
  return { address: `${url.protocol}//${url.host}` };
}

function validWebexAddress(value: string): string | null {
  const match = /^webex:\/\/([A-Za-z0-9+/=_-]{1,512})$/.exec(value.trim());
  return match ? `webex://${match[1]}` : null;
}

function oneOf<T extends string>(label: string, allowed: readonly T[], value: string | undefined, fallback: T, problems: string[]): T {
  if (value === undefined || value === "") return fallback;
  const normalized = value.trim().toLowerCase();
  if ((allowed as readonly string[]).includes(normalized)) return normalized as T;
  problems.push(`${label} must be one of ${allowed.join(", ")} (got ${quote(value)})`);
  return fallback;
}

function optionalText(value: string | null | undefined): string | null {
  if (value === undefined || value === null) return null;
  const trimmed = value.trim();
  return trimmed === "" ? null : trimmed;
}

/** Why a subject template is refused, or null. */
export function checkSubjectTemplate(template: string): string | null {
  if (template.length > 256) return "subject template is longer than 256 characters";
  if (CONTROL.test(template)) return "subject template contains control characters";
  const unknown = templatePlaceholders(template).filter((name) => !SUBJECT_PLACEHOLDERS.includes(name));
  return unknown.length === 0 ? null : `subject template has unknown placeholder ${unknown.map((n) => `{${n}}`).join(", ")} (use {organizerName}, {subject})`;
}

/** A room's fields after validation; the provider is still a name to resolve. */
export interface ValidRoom {
  mailbox: string;
  displayName: string;
  provider: string;
  deviceFamily: DeviceFamily;
  deviceAddress: string | null;
  deviceUsername: string | null;
  devicePassword: string | null;
  insecureTls: boolean;
  allowInsecureHttp: boolean;
  sipUri: string | null;
  deviceToken: string | null;
  privateMeetings: PrivateMeetings;
  subjectReplace: SubjectReplace;
  subjectTemplate: string;
  privateJoin: PrivateJoin;
  timeZone: string | null;
  webrtc: WebrtcPlatform[];
  delivery: Delivery;
  source: CalendarSourceName;
}

/** Validates and normalises a new room (all problems at once). */
export function validateNewRoom(input: NewRoom): Validated<ValidRoom> {
  const problems: string[] = [];
  const mailbox = normalizeMailbox(input.mailbox ?? "");
  if (mailbox === null) problems.push(`mailbox ${quote(input.mailbox ?? "")} is not a valid mailbox address`);
  const displayName = (input.displayName ?? "").trim();
  if (displayName === "") problems.push("display name is empty");
  else if (displayName.length > 256 || CONTROL.test(displayName)) problems.push("display name is longer than 256 characters or has control characters");
  const provider = (input.provider ?? "").trim();
  if (provider === "") problems.push("provider is empty");

  const familyText = (input.deviceFamily ?? "").trim().toLowerCase();
  const family = (DEVICE_FAMILIES as readonly string[]).includes(familyText) ? (familyText as DeviceFamily) : null;
  if (family === null) problems.push(`device family must be one of ${DEVICE_FAMILIES.join(", ")} (got ${quote(input.deviceFamily ?? "")})`);

  let deviceAddress: string | null = null;
  const addressText = optionalText(input.deviceAddress);
  const deviceUsername = optionalText(input.deviceUsername);
  const devicePassword = input.devicePassword === undefined || input.devicePassword === null || input.devicePassword === "" ? null : input.devicePassword;
  if (family === "xapi" || family === "xapi-legacy") {
    if (addressText === null) problems.push(`a ${family} room needs a device address (https://host[:port])`);
    else {
      const normalized = normalizeDeviceAddress(addressText);
      if ("problem" in normalized) problems.push(normalized.problem);
      else deviceAddress = normalized.address;
      if (deviceAddress?.startsWith("http://") && !isLoopbackAddress(deviceAddress) && input.allowInsecureHttp !== true) {
        problems.push(
          `device address ${quote(deviceAddress)} is plain http: the device password would cross the network in clear; use https://, or opt in for this room (--insecure-http, CSV column insecureHttp, the console's checkbox)`,
        );
      }
    }
  } else if (family === "webex-cloud") {
    if (addressText === null) problems.push("a webex-cloud room needs a device address webex://<deviceId>");
    else {
      deviceAddress = validWebexAddress(addressText);
      if (deviceAddress === null) problems.push(`device address ${quote(addressText)} is not webex://<deviceId>`);
    }
  } else if ((family === "pull" || family === "macro" || family === "ews") && addressText !== null) {
    problems.push(`a ${family} room has no device address (the device calls otj)`);
  }
  if (family !== null && family !== "xapi" && family !== "xapi-legacy" && (deviceUsername !== null || devicePassword !== null)) {
    problems.push(`device username and password apply to xapi and xapi-legacy rooms, not ${family}`);
  }
  if (devicePassword !== null && CONTROL.test(devicePassword)) problems.push("device password contains control characters");

  let sipUri: string | null = null;
  const sipText = optionalText(input.sipUri);
  if (sipText !== null) {
    sipUri = normalizeSipAddress(sipText);
    if (sipUri === null) problems.push(`SIP URI ${quote(sipText)} is not a SIP address user@host`);
  }
  const deviceToken = optionalText(input.deviceToken);
  if (deviceToken !== null && !/^[A-Za-z0-9._~-]{16,200}$/.test(deviceToken)) {
    problems.push("device token must be 16-200 characters of A-Z, a-z, 0-9, . _ ~ -");
  }
  const privateMeetings = oneOf("private meetings", PRIVATE_MEETINGS, input.privateMeetings, "process", problems);
  const subjectReplace = oneOf("subject replace", SUBJECT_REPLACE, input.subjectReplace, "private", problems);
  const privateJoin = oneOf("private join", PRIVATE_JOIN, input.privateJoin, "enabled", problems);
  const subjectTemplate = input.subjectTemplate === undefined || input.subjectTemplate === "" ? DEFAULT_SUBJECT_TEMPLATE : input.subjectTemplate;
  const templateProblem = checkSubjectTemplate(subjectTemplate);
  if (templateProblem !== null) problems.push(templateProblem);
  const webrtc = parseWebrtcPlatforms(input.webrtc, problems);
  const pulled = family !== null && PULLED_FAMILIES.includes(family);
  let delivery = oneOf("delivery", DELIVERIES, input.delivery, pulled ? "macro" : "xapi", problems);
  if (pulled && delivery !== "macro") {
    problems.push(`a ${family} room is never pushed to: its delivery is macro (got ${quote(delivery)})`);
    delivery = "macro";
  }
  const timeZone = optionalText(input.timeZone);
  if (timeZone !== null) {
    try {
      new Intl.DateTimeFormat("en", { timeZone });
    } catch {
      problems.push(`time zone ${quote(timeZone)} is not an IANA time zone`);
    }
  }
  const source = oneOf("calendar source", CALENDAR_SOURCES, input.source, "graph", problems);
  if (problems.length > 0 || mailbox === null || family === null) return { ok: false, problems };
  return {
    ok: true,
    value: {
      mailbox,
      displayName,
      provider,
      deviceFamily: family,
      deviceAddress,
      deviceUsername,
      devicePassword,
      insecureTls: input.insecureTls ?? false,
      allowInsecureHttp: input.allowInsecureHttp ?? false,
      sipUri,
      deviceToken,
      privateMeetings,
      subjectReplace,
      subjectTemplate,
      privateJoin,
      timeZone,
      webrtc,
      delivery,
      source,
    },
  };
}

/** A provider record's fields after validation. */
export type ValidProvider = Omit<Provider, "id" | "createdAt" | "updatedAt">;

/** Validates and normalises a complete provider record (all problems at once). */
export function validateProvider(input: NewProvider): Validated<ValidProvider> {
  const problems: string[] = [];
  const name = (input.name ?? "").trim();
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/.test(name)) {
    problems.push(`provider name ${quote(input.name ?? "")} must be 1-64 characters of A-Z, a-z, 0-9, . _ - (starting with a letter or digit)`);
  }
  const partnerText = (input.partner ?? "").trim().toLowerCase();
  const partner = (PARTNERS as readonly string[]).includes(partnerText) ? (partnerText as Partner) : null;
  if (partner === null) problems.push(`partner must be one of ${PARTNERS.join(", ")} (got ${quote(input.partner ?? "")})`);

  let tenantKey: string | null = null;
  const tenantText = optionalText(input.tenantKey);
  if (tenantText !== null) {
    // Kept as printed (dial strings keep the local part's case); only the scheme is dropped.
    tenantKey = normalizeSipAddress(tenantText) === null ? null : tenantText.replace(/^sips?:/i, "");
    if (tenantKey === null) problems.push(`tenant key ${quote(tenantText)} is not a SIP address like contoso@m.webex.com`);
  }
  let sipDomain: string | null = null;
  const domainText = optionalText(input.sipDomain);
  if (domainText !== null) {
    sipDomain = normalizeDnsName(domainText);
    if (sipDomain === null) problems.push(`SIP domain ${quote(domainText)} is not a DNS name`);
  }
  let ivrAddress: string | null = null;
  const ivrText = optionalText(input.ivrAddress);
  if (ivrText !== null) {
    ivrAddress = normalizeSipAddress(ivrText);
    if (ivrAddress === null) problems.push(`IVR address ${quote(ivrText)} is not a SIP address user@host`);
  }
  const sgjTemplate = optionalText(input.sgjTemplate);
  if (sgjTemplate !== null) {
    const problem = sgjTemplateProblem(sgjTemplate);
    if (problem !== null) problems.push(problem);
  }
  let instructionUrl: string | null = null;
  const urlText = optionalText(input.instructionUrl);
  if (urlText !== null) {
    try {
      const url = new URL(urlText);
      if (url.protocol !== "https:" && url.protocol !== "http:") throw new Error("scheme");
      instructionUrl = url.toString();
    } catch {
      problems.push(`instruction URL ${quote(urlText)} is not an http(s) URL`);
    }
  }
  // SGJ needs a routable gateway address: the provider's SIP domain, or a template with its own
  // host. SGJ is on by default only where it can work; asked for without a domain, it is refused.
  const needsDomain = sgjTemplate === null || templatePlaceholders(sgjTemplate).includes("domain");
  if (sgjTemplate !== null && /\.invalid$/i.test(sgjTemplate.slice(sgjTemplate.lastIndexOf("@") + 1))) {
    problems.push(`SGJ template ${quote(sgjTemplate)} is on an .invalid domain that nothing can reach`);
  }
  const sgjEnabled = input.sgjEnabled ?? (sipDomain !== null || !needsDomain);
  if (sgjEnabled && needsDomain && sipDomain === null && domainText === null) {
    problems.push(
      "SIP Guest Join is enabled but the provider has no SIP domain, so its SGJ address would be unroutable: give the SIP domain of the SGJ bridge (--sip-domain), an SGJ template with its own domain, or disable SGJ (--no-sgj)",
    );
  }
  if (problems.length > 0 || partner === null) return { ok: false, problems };
  return {
    ok: true,
    value: { name, partner, tenantKey, sipDomain, ivrAddress, sgjEnabled, sgjTemplate, instructionUrl },
  };
}
