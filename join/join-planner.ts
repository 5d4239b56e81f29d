/**
 * planJoin: one parsed invite + one room -> route, dial string, IVR fallback and the subject the
 * room shows (docs/formats.md; docs/cli.md PlanOutput and privacy flags). Pure: `now` is passed in.
 */
import type { Invite, IvrFallback, PrivateJoin, PrivateMeetings, Route, SubjectReplace, WebrtcPlatform } from "../core/domain.ts";
import { occurrenceKey, sessionIdFor } from "../core/identities.ts";
import type { PlanResult, RuleTrace } from "../core/plan.ts";
import { isPrivate } from "../core/privacy.ts";
import type { InviteDetail } from "../parser/index.ts";
import { TEAMS_HOSTS } from "../parser/providers/teams.ts";
import {
  buildSgjDialString,
  DEFAULT_SGJ_DOMAIN,
  DEFAULT_SGJ_TEMPLATE,
  isValidDialString,
  lowerHost,
  planCvi,
  type ProviderDialInfo,
  templatePlaceholders,
} from "./dial-string.ts";
import { providerDirectAddress } from "./provider-address.ts";
import type { CompiledRule } from "./rules.ts";

export interface PrivacyPolicy {
  privateMeetings: PrivateMeetings;
  subjectReplace: SubjectReplace;
  subjectTemplate: string;
  privateJoin: PrivateJoin;
}

export const DEFAULT_PRIVACY: PrivacyPolicy = {
  privateMeetings: "process",
  subjectReplace: "private",
  subjectTemplate: "Private meeting",
  privateJoin: "enabled",
};

export interface RoomPlanInput {
  /** The room's mailbox; "" when planning without a room (otj plan without --room). */
  mailbox: string;
  privacy: PrivacyPolicy;
  /** The room's CVI provider record (decides SGJ), or null for the built-in defaults. */
  provider: ProviderDialInfo | null;
  /** Platforms the room's device joins natively over WebRTC (absent: none). */
  webrtc?: readonly WebrtcPlatform[];
  /**
   * A stored room the engine serves (set by planForRoom): a dial string on an `.invalid` domain
   * (the illustration default of `otj plan` without a room) is then never planned.
   */
  stored?: boolean;
}

/** Whether a dial string's host is on an `.invalid` domain (RFC 2606): nothing can reach it. */
export function isUnroutable(dialString: string): boolean {
  const host = dialString.slice(dialString.lastIndexOf("@") + 1).toLowerCase();
  return host === "invalid" || host.endsWith(".invalid");
}

/**
 * Why the provider's SGJ cannot give a routable address (SGJ enabled, no SIP domain, and a
 * template that needs `{domain}`), or null. The planner plans such meetings `none`; the status
 * raises an alarm.
 */
export function sgjDomainProblem(provider: Pick<ProviderDialInfo, "name" | "sipDomain" | "sgjEnabled" | "sgjTemplate">): string | null {
  if (!provider.sgjEnabled || provider.sipDomain !== null) return null;
  const template = provider.sgjTemplate ?? DEFAULT_SGJ_TEMPLATE;
  if (!templatePlaceholders(template).includes("domain") && !isUnroutable(template)) return null;
  return `provider ${provider.name} enables SIP Guest Join without a SIP domain: no routable SGJ address (set its SIP domain, or disable SGJ)`;
}

export interface PlanSettings {
  /** Every configured provider (CVI partner detection by tenant key). */
  providers: readonly ProviderDialInfo[];
  rules: readonly CompiledRule[];
  /** For expiry warnings; null skips them. */
  now: Date | null;
}

const EXPIRY_MS = 60 * 86_400_000;

/** The subject a room shows, after its privacy rules (docs/cli.md `rooms add` privacy flags). */
export function subjectShown(invite: Invite, privacy: PrivacyPolicy): string | null {
  const organizerName = invite.organizer?.name?.trim() || invite.organizer?.email?.trim() || "";
  const replace = privacy.subjectReplace === "all" || (privacy.subjectReplace === "private" && isPrivate(invite));
  if (replace) {
    const shown = privacy.subjectTemplate
      .replace(/\{organizerName\}/g, organizerName)
      .replace(/\{subject\}/g, invite.subject?.trim() ?? "")
      .trim();
    return shown === "" ? organizerName || null : shown;
  }
  const subject = invite.subject?.trim() ?? "";
  return subject !== "" ? subject : organizerName || null;
}

function fillTemplate(template: string, values: Record<string, string | null | undefined>): string | null {
  let missing = false;
  const out = template.replace(/\{([A-Za-z][A-Za-z0-9_]{0,40})\}/g, (_w, name: string) => {
    const v = values[name];
    if (v === null || v === undefined || v === "") missing = true;
    return v ?? "";
  });
  return missing ? null : out;
}

function ruleFieldText(rule: CompiledRule, detail: InviteDetail): Array<[string, string]> {
  const url = detail.invite.join?.url ?? "";
  const fields: Array<[string, string]> = [];
  if (rule.field === "url" || rule.field === "any") fields.push(["url", url]);
  if (rule.field === "location" || rule.field === "any") fields.push(["location", detail.context.location]);
  if (rule.field === "text" || rule.field === "any") fields.push(["text", detail.context.text]);
  return fields.filter(([, v]) => v !== "");
}

interface CustomOutcome {
  route: Route;
  dialString: string;
  ivr: IvrFallback | null;
  matched: string;
}

function tryCustom(rule: CompiledRule, detail: InviteDetail, sessionId: string, sgjDomain: string): CustomOutcome | string {
  const join = detail.invite.join;
  if (rule.provider !== null && join?.provider !== rule.provider) return `provider is ${join?.provider ?? "none"}, rule wants ${rule.provider}`;
  for (const [field, text] of ruleFieldText(rule, detail)) {
    const m = rule.regex.exec(text);
    if (!m) continue;
    const values: Record<string, string | null> = {
      meetingId: join?.teams?.meetingId ?? null,
      passcode: join?.teams?.passcode ?? null,
      sessionId,
      domain: sgjDomain,
      ...(m.groups ?? {}),
    };
    const dial = fillTemplate(rule.template, values);
    const dialString = dial === null ? null : lowerHost(dial.replace(/^sips?:/i, ""));
    if (dialString === null || !isValidDialString(dialString)) return `${field} matched, but the template gives no valid dial string`;
    let ivr: IvrFallback | null = null;
    if (rule.ivr) {
      const address = fillTemplate(rule.ivr.address, values);
      const dtmf = fillTemplate(rule.ivr.dtmf, values);
      if (address && dtmf) ivr = { address, dtmf };
    }
    return { route: rule.route, dialString, ivr, matched: `${field}: ${m[0].slice(0, 200)}` };
  }
  return `regex did not match ${rule.field === "any" ? "url, location or text" : rule.field}`;
}

/**
 * The link a device opens for a Teams WebRTC join: the classic join URL, else the short link;
 * only https links on a Teams host (the device fetches it, so nothing else is handed over).
 */
function teamsWebrtcUrl(t: { joinUrl: string | null; shortUrl: string | null }): string | null {
  for (const candidate of [t.joinUrl, t.shortUrl]) {
    if (candidate && httpsOnHost(candidate, (host) => TEAMS_HOSTS[host] !== undefined)) return candidate;
  }
  return null;
}

/** The Meet link a device opens: https on meet.google.com only. */
function meetWebrtcUrl(url: string | null): string | null {
  return url && httpsOnHost(url, (host) => host === "meet.google.com") ? url : null;
}

function httpsOnHost(text: string, hostOk: (host: string) => boolean): boolean {
  try {
    const u = new URL(text);
    return u.protocol === "https:" && hostOk(u.hostname.toLowerCase()) && text.length <= 2048;
  } catch {
    return false;
  }
}

/** Plans one invite for one room. */
export function planJoin(detail: InviteDetail, room: RoomPlanInput, settings: PlanSettings): PlanResult {
  const invite = detail.invite;
  const join = invite.join;
  const key = occurrenceKey(room.mailbox, invite.uid, invite.recurrenceId, invite.start);
  const sessionId = sessionIdFor(key);
  const provider = room.provider;
  const sgjDomain = (provider?.sipDomain ?? DEFAULT_SGJ_DOMAIN).toLowerCase();
  // The .invalid default only illustrates (otj plan without a room); a room is never given it.
  const routableOnly = provider !== null || room.stored === true;
  const trace: RuleTrace[] = [];
  const warnings: string[] = [];
  const shown = subjectShown(invite, room.privacy);

  const now = settings.now?.getTime() ?? null;
  const endMs = invite.end ? Date.parse(invite.end) : Number.NaN;
  const expired = now !== null && !invite.recurring && Number.isFinite(endMs) && now > endMs + EXPIRY_MS;

  let decided: { route: Route; dialString: string | null; ivr: IvrFallback | null; rule: string; matched: string | null } | null = null;
  const decide = (rule: string, route: Route, dialString: string | null, ivr: IvrFallback | null, matched: string | null, reason: string) => {
    trace.push({ rule, outcome: "matched", reason });
    decided = { route, dialString, ivr, rule, matched };
  };
  const skip = (rule: string, reason: string) => trace.push({ rule, outcome: "not matched", reason });

  const customEarly = [...settings.rules].filter((r) => r.priority < 100).sort((a, b) => a.priority - b.priority || a.order - b.order);
  const customLate = [...settings.rules].filter((r) => r.priority >= 100).sort((a, b) => a.priority - b.priority || a.order - b.order);
  const priv = isPrivate(invite);
  const webrtc = room.webrtc ?? [];

  const steps: Array<[string, () => void]> = [
    ["cancelled", () => (invite.cancelled ? decide("cancelled", "none", null, null, null, "the invite is cancelled") : skip("cancelled", "not cancelled"))],
    [
      "private-skipped",
      () =>
        priv && room.privacy.privateMeetings === "skip"
          ? decide("private-skipped", "none", null, null, null, `private (${invite.sensitivity}) and the room skips private meetings`)
          : skip("private-skipped", priv ? "the room processes private meetings" : "not private"),
    ],
    [
      "private-join-disabled",
      () =>
        priv && room.privacy.privateJoin === "disabled"
          ? decide("private-join-disabled", "none", null, null, null, "private and the room disables joining private meetings")
          : skip("private-join-disabled", priv ? "joining private meetings is enabled" : "not private"),
    ],
    [
      "custom rules (priority < 100)",
      () => {
        for (const rule of customEarly) {
          const r = tryCustom(rule, detail, sessionId, sgjDomain);
          if (typeof r === "string") skip(`custom:${rule.id}`, r);
          else if (routableOnly && isUnroutable(r.dialString))
            skip(`custom:${rule.id}`, "the dial string is on an .invalid domain (the provider has no SIP domain)");
          else return decide(`custom:${rule.id}`, r.route, r.dialString, r.ivr, r.matched, `priority ${rule.priority} rule matched`);
        }
      },
    ],
    [
      "teams-cvi",
      () => {
        if (join?.provider !== "teams" || !join.teams) return skip("teams-cvi", join ? `provider is ${join.provider}` : "no meeting found");
        const cvi = join.teams.cvi;
        if (!cvi) return skip("teams-cvi", "no CVI coordinates in the invite (external organisation or no CVI partner)");
        const plan = planCvi(cvi, settings.providers);
        if (expired) warnings.push("CVI coordinates may have expired (meeting ended more than 60 days ago)");
        decide(
          "teams-cvi",
          "cvi",
          plan.dialString,
          plan.ivr,
          `${cvi.tenantKey} / ${cvi.videoConferenceId}`,
          `CVI coordinates found; partner ${plan.partner} (decided by ${plan.decidedBy})`,
        );
      },
    ],
    [
      "teams-webrtc",
      () => {
        if (join?.provider !== "teams" || !join.teams) return skip("teams-webrtc", join ? `provider is ${join.provider}` : "no meeting found");
        if (!webrtc.includes("teams")) return skip("teams-webrtc", "the room does not join Teams over WebRTC (--webrtc teams)");
        const url = teamsWebrtcUrl(join.teams);
        if (url === null) return skip("teams-webrtc", "no Teams join link to open");
        decide(
          "teams-webrtc",
          "webrtc",
          url,
          null,
          url,
          "Teams meeting without CVI coordinates and the room joins Teams over WebRTC: the device opens the join link",
        );
      },
    ],
    [
      "teams-sgj",
      () => {
        if (join?.provider !== "teams" || !join.teams) return skip("teams-sgj", join ? `provider is ${join.provider}` : "no meeting found");
        const t = join.teams;
        if (provider && !provider.sgjEnabled) {
          return decide("teams-sgj-disabled", "none", null, null, null, `SIP Guest Join is disabled for provider ${provider.name}`);
        }
        if (!t.meetingId && !t.threadId) return decide("teams-unjoinable", "none", null, null, null, "no Meeting ID and no parsable join link");
        const template = provider?.sgjTemplate ?? DEFAULT_SGJ_TEMPLATE;
        const built = buildSgjDialString(template, { meetingId: t.meetingId, passcode: t.passcode, sessionId, domain: sgjDomain });
        if (built.dialString === null)
          return decide("teams-sgj-invalid", "none", null, null, null, "no valid SGJ dial string could be built (check the provider's SIP domain)");
        if (routableOnly && isUnroutable(built.dialString)) {
          const problem = provider
            ? (sgjDomainProblem(provider) ?? `provider ${provider.name}'s SGJ address is on an .invalid domain`)
            : "the room has no provider: no SGJ domain";
          warnings.push(problem);
          return decide("teams-sgj-no-domain", "none", null, null, null, problem);
        }
        if (built.usedFallback && template !== DEFAULT_SGJ_TEMPLATE) {
          const names = templatePlaceholders(template);
          warnings.push(`SGJ template needs ${names.filter((n) => n === "meetingId" || n === "passcode").join(" and ")}; used the session form`);
        }
        if (expired && !t.joinUrl && t.shortUrl) warnings.push("short join link may have expired (meeting ended more than 60 days ago)");
        decide(
          "teams-sgj",
          "sgj",
          built.dialString,
          null,
          t.joinUrl ?? t.shortUrl ?? `Meeting ID ${t.meetingId}`,
          "Teams meeting without CVI coordinates: guest join through the bridge",
        );
      },
    ],
    [
      "sip-uri",
      () =>
        join?.provider === "sip" && join.sipUri
          ? decide("sip-uri", "direct", join.sipUri, null, join.sipUri, "SIP address")
          : skip("sip-uri", "no SIP URI as the join"),
    ],
    [
      "h323-uri",
      () =>
        join?.provider === "h323" && join.sipUri
          ? decide("h323-uri", "direct", join.sipUri, null, join.sipUri, "H.323 address")
          : skip("h323-uri", "no H.323 address as the join"),
    ],
    [
      "provider video address",
      () => {
        if (!join) return skip("provider-sip", "no meeting found");
        const addr = providerDirectAddress(join, detail.context);
        if (!addr) return skip("provider-sip", `provider ${join.provider} has no video address convention`);
        if (addr.address === null) return skip(addr.rule, addr.reason);
        const dial = lowerHost(addr.address);
        if (!isValidDialString(dial)) return skip(addr.rule, "the address is not a valid dial string");
        decide(addr.rule, "direct", dial, null, dial, `${addr.source} ${join.provider} video address`);
      },
    ],
    [
      "meet-webrtc",
      () => {
        if (join?.provider !== "google-meet") return skip("meet-webrtc", join ? `provider is ${join.provider}` : "no meeting found");
        if (!webrtc.includes("meet")) return skip("meet-webrtc", "the room does not join Google Meet over WebRTC (--webrtc meet)");
        const url = meetWebrtcUrl(join.url);
        if (url === null) return skip("meet-webrtc", "no Google Meet link to open");
        decide("meet-webrtc", "webrtc", url, null, url, "Google Meet meeting and the room joins Meet over WebRTC: the device opens the meeting link");
      },
    ],
    [
      "custom rules (priority >= 100)",
      () => {
        for (const rule of customLate) {
          const r = tryCustom(rule, detail, sessionId, sgjDomain);
          if (typeof r === "string") skip(`custom:${rule.id}`, r);
          else if (routableOnly && isUnroutable(r.dialString))
            skip(`custom:${rule.id}`, "the dial string is on an .invalid domain (the provider has no SIP domain)");
          else return decide(`custom:${rule.id}`, r.route, r.dialString, r.ivr, r.matched, `priority ${rule.priority} rule matched`);
        }
      },
    ],
    [
      "provider-no-gateway / none",
      () =>
        join
          ? decide("provider-no-gateway", "none", null, null, join.url ?? join.sipUri, `provider ${join.provider} has no dial-in for room systems`)
          : decide("none", "none", null, null, null, "no meeting found in the invite"),
    ],
  ];
  for (const [name, step] of steps) {
    if (decided) trace.push({ rule: name, outcome: "not reached", reason: "an earlier rule decided" });
    else step();
  }
  const final = decided ?? { route: "none" as Route, dialString: null, ivr: null, rule: "none", matched: null };
  return {
    entry: { uid: invite.uid, route: final.route, dialString: final.dialString, ivr: final.ivr, rule: final.rule, warnings, subjectShown: shown },
    occurrenceKey: key,
    sessionId,
    matchedText: final.matched,
    trace,
  };
}
