/**
 * Reads one BodyDoc: Teams blocks (join links, Meeting ID, passcode, CVI), other providers'
 * links, and link warnings (docs/formats.md, T2, T5, T6, T7, B2). Pure and linear in the body size.
 */
import type { CviCoordinates } from "../core/domain.ts";
import type { BodyDoc, BodyLine, BodyLink } from "./body.ts";
import { containsPhrase, findLabel, findLabelInLowered, LABELS } from "./labels/index.ts";
import { classifyProviderUrl, isKnownNonMeetingUrl, isSkypeMeetingUrl, type ProviderLink } from "./providers/others.ts";
import { classifyTeamsUrl, type MeetingOptionsIds, parseMeetingOptionsUrl, type TeamsLink } from "./providers/teams.ts";
import { digitsOnly } from "./text.ts";
import { unwrapUrl } from "./unwrap/index.ts";
import { isDangerousScheme, isRejected, parseWebUrl } from "./url-safety.ts";

/** A link after unwrapping and classification. */
export type ClassifiedLink =
  | { kind: "teams"; link: TeamsLink; label: string; line: number; original: BodyLink }
  | { kind: "provider"; link: ProviderLink; line: number }
  | { kind: "other"; url: string; line: number; phishing: boolean }
  | { kind: "options"; ids: MeetingOptionsIds; line: number }
  | { kind: "opaque"; url: string; domain: string | null; line: number }
  | { kind: "ignored"; line: number; url: string };

export interface TeamsBlock {
  quoted: boolean;
  firstLine: number;
  lastLine: number;
  /** Classic meetup-join link chosen for this block, if any. */
  classic: TeamsLink | null;
  short: TeamsLink | null;
  /** Other Teams join links in the block that describe a different meeting. */
  extraLinks: TeamsLink[];
  meetingId: string | null;
  passcode: string | null;
  cvi: CviCoordinates | null;
  options: MeetingOptionsIds | null;
  /** A Mimecast (opaque) wrapped link sits where the join link would be. */
  opaqueJoin: { url: string; domain: string | null } | null;
}

export interface BodyAnalysis {
  blocks: TeamsBlock[];
  links: ClassifiedLink[];
  warnings: string[];
}

/**
 * Rule lines that open and close a block: Outlook's underscores, and the runs of other
 * characters other clients write (dashes, equals signs, box drawing, Google Calendar's
 * `-::~:~::~…::-`), 40 characters or more.
 */
const SEPARATOR = /^(?:_{40,}|[-=~*\u2500\u2501\u2014]{40,}|-::~[:~]{30,}::-)\s*$/;
const SEPARATOR_FIRST = new Set([95, 45, 61, 126, 42, 0x2500, 0x2501, 0x2014]);

export function classifyLink(link: BodyLink, line: number, warnings: Set<string>): ClassifiedLink {
  const raw = link.url.trim();
  if (isDangerousScheme(raw) || /^(?:mailto|tel|sips?|h323|callto|skype):/i.test(raw)) return { kind: "ignored", line, url: raw };
  const unwrapped = unwrapUrl(raw);
  for (const w of unwrapped.warnings) warnings.add(w);
  if (unwrapped.opaque) return { kind: "opaque", url: unwrapped.url, domain: unwrapped.opaque.domain, line };
  // A wrapper that could not be fully undone hides its target: never classify the wrapper itself.
  if (unwrapped.warnings.length > 0) return { kind: "ignored", line, url: unwrapped.url };
  const url = unwrapped.url;
  const teams = classifyTeamsUrl(url);
  if (teams.kind === "join") return { kind: "teams", link: teams.link, label: link.label, line, original: link };
  if (teams.kind === "rejected") {
    if (teams.reason === "userinfo") warnings.add("link-userinfo: a link with user information in its address was ignored");
    return { kind: "ignored", line, url };
  }
  if (teams.kind === "non-join") {
    const ids = parseMeetingOptionsUrl(url);
    return ids ? { kind: "options", ids, line } : { kind: "ignored", line, url };
  }
  const provider = classifyProviderUrl(url);
  if (provider) return { kind: "provider", link: provider, line };
  const parsed = parseWebUrl(url, true);
  if (isRejected(parsed)) {
    if (parsed.rejected === "userinfo") warnings.add("link-userinfo: a link with user information in its address was ignored");
    return { kind: "ignored", line, url };
  }
  if (isKnownNonMeetingUrl(url)) return { kind: "ignored", line, url };
  const lowerLabel = link.label.toLowerCase();
  const teamsLike =
    containsPhrase(lowerLabel, LABELS.joinLink) || (link.title !== null && /meeting join link/i.test(link.title)) || /microsoft teams/i.test(lowerLabel);
  if (teamsLike) {
    warnings.add("Teams-like link text on non-Microsoft host");
    return { kind: "other", url: parsed.url.href, line, phishing: true };
  }
  const looksLikeMeeting =
    isSkypeMeetingUrl(url) ||
    /\bjoin\b|teilnehmen|participer|unirse|deelnemen|partecipa|tilmeld|liity|参加|加入|skype meeting/i.test(link.label) ||
    /\/(?:call|meet|join|meeting|conference)\//i.test(parsed.url.pathname) ||
    parsed.host === "events.teams.microsoft.com";
  return looksLikeMeeting ? { kind: "other", url: parsed.url.href, line, phishing: false } : { kind: "ignored", line, url };
}

/** Value of a label on the same line, or on the next non-empty line when the rest is empty. */
function labelValue(lines: BodyLine[], i: number, end: number, labels: readonly string[]): { value: string; line: number } | null {
  const line = lines[i]!;
  if (!line.hasColon()) return null;
  const hit = findLabel(line, labels);
  if (!hit) return null;
  if (hit.rest !== "") return { value: hit.rest, line: i };
  for (let j = i + 1; j <= end && j <= i + 2; j++) {
    const next = lines[j]!.text;
    if (next !== "") return { value: next, line: j };
  }
  return null;
}

/** T5.1: letters and digits, 4-16, ending at anything that is not one (space, another script, punctuation). */
const PASSCODE_VALUE = /^([A-Za-z0-9]{4,16})(?![A-Za-z0-9])/;
/** Words that start the line after a passcode; a client that joined the lines glues them on. */
const GLUED_NEXT = /^(?:Dial|Join|Download|Need|For|Phone|Meeting|Learn|Or|Call|Video|Tenant|Find|Reset|Help)/;

/** Teams passcodes are 6 or 8 characters: a longer value ending in a next-line word is cut there. */
function passcodeBeforeGluedText(value: string): string {
  if (value.length <= 8) return value;
  for (const n of [6, 8]) if (GLUED_NEXT.test(value.slice(n)) && /[a-z0-9]$/i.test(value.slice(0, n))) return value.slice(0, n);
  return value;
}

const MEETING_ID_VALUE = /^(\d(?: ?\d){8,19})(?![\d#])/;
const VIDEO_ID_VALUE = /^(\d(?: ?\d){8,10})(?![\d#])/;
const EMAIL = /(?:mailto:|sip:)?([A-Za-z0-9._%+~'=-]{1,64})@([A-Za-z0-9-]{1,63}(?:\.[A-Za-z0-9-]{1,63}){1,9})/;

function tenantKeyOf(local: string, domain: string): string {
  return `${local}@${domain.toLowerCase()}`;
}

/** Finds the tenant key for a video id at line `at`: same line before the label (V1), a Tenant key label, or the nearest address above. */
function findTenantKey(lines: BodyLine[], at: number, start: number, labelIndex: number): string | null {
  const sameLine = lines[at]!;
  const before = sameLine.text.slice(0, labelIndex);
  const m1 = EMAIL.exec(before);
  if (m1) return tenantKeyOf(m1[1]!, m1[2]!);
  for (let j = at - 1; j >= start && j >= at - 4; j--) {
    const line = lines[j]!;
    const labelled = findLabel(line, LABELS.tenantKey);
    const source = labelled ? labelled.rest || (lines[j + 1]?.text ?? "") : line.text;
    const fromLink = line.links.find((l) => /^mailto:/i.test(l.url));
    const m = fromLink ? EMAIL.exec(fromLink.url.slice(7)) : EMAIL.exec(source);
    if (m) return tenantKeyOf(m[1]!, m[2]!);
    if (labelled) return null;
  }
  return null;
}

function findMoreInfo(lines: BodyLine[], at: number, end: number, classified: Map<BodyLink, ClassifiedLink>): string | null {
  for (let j = at; j <= end && j <= at + 2; j++) {
    for (const link of lines[j]!.links) {
      if (/^(?:mailto|tel):/i.test(link.url)) continue;
      const c = classified.get(link);
      const url = c && (c.kind === "ignored" || c.kind === "other") ? c.url : null;
      const labelled = containsPhrase(link.label.toLowerCase(), LABELS.cviMoreInfo);
      if (url && /^https?:\/\//i.test(url) && (labelled || j > at || !/microsoft|teams/i.test(url))) {
        const parsed = parseWebUrl(url, true);
        if (!isRejected(parsed) && !parsed.host.endsWith("teams.microsoft.com") && parsed.host !== "aka.ms") return parsed.url.href;
      }
    }
  }
  return null;
}

function analyzeBlock(lines: BodyLine[], start: number, end: number, quoted: boolean, classified: Map<BodyLink, ClassifiedLink>): TeamsBlock | null {
  const teamsLinks: Array<{ link: TeamsLink; preferred: boolean }> = [];
  let options: MeetingOptionsIds | null = null;
  let opaqueJoin: TeamsBlock["opaqueJoin"] = null;
  let meetingId: string | null = null;
  let passcode: string | null = null;
  let meetingIdLine = -1;
  let cvi: CviCoordinates | null = null;
  for (let i = start; i <= end; i++) {
    const line = lines[i]!;
    for (const link of line.links) {
      const c = classified.get(link);
      if (!c) continue;
      if (c.kind === "teams") {
        const lower = c.label.toLowerCase();
        const preferred =
          containsPhrase(lower, LABELS.joinLink) ||
          (link.title !== null && /meeting join link/i.test(link.title)) ||
          /(?:^|\s)(?:x_)?me-email-headline(?:\s|$)/.test(link.className ?? "") ||
          findLabelInLowered(c.label, lower, LABELS.joinPrefix) !== null;
        teamsLinks.push({ link: c.link, preferred });
      } else if (c.kind === "options" && options === null) {
        options = c.ids;
      } else if (c.kind === "opaque" && opaqueJoin === null) {
        opaqueJoin = { url: c.url, domain: c.domain };
      }
    }
    if (meetingId === null) {
      const v = labelValue(lines, i, end, LABELS.meetingId);
      let m = v ? MEETING_ID_VALUE.exec(v.value) : null;
      // A fixed-width wrap can cut the digit groups: "Meeting ID: 391 802" / "564 137".
      if (v && !m && /^\d{1,3}(?: \d{1,3}){0,4}$/.test(v.value) && v.line + 1 <= end) {
        const joined = `${v.value} ${lines[v.line + 1]!.text}`;
        m = MEETING_ID_VALUE.exec(joined);
      }
      if (m) {
        meetingId = digitsOnly(m[1]!);
        meetingIdLine = v!.line;
      }
    }
    if (passcode === null && meetingId !== null) {
      const v = labelValue(lines, i, end, LABELS.passcode);
      // T5.1: letters and digits, 4-16, up to the first whitespace; anything else is not a passcode.
      const m = v ? PASSCODE_VALUE.exec(v.value) : null;
      if (m && i - meetingIdLine <= 6) passcode = passcodeBeforeGluedText(m[1]!);
    }
    if (cvi === null && line.hasColon()) {
      const hit = findLabel(line, LABELS.videoId);
      if (hit) {
        const valueSource = hit.rest !== "" ? hit.rest : (lines[i + 1]?.text ?? "");
        const m = VIDEO_ID_VALUE.exec(valueSource);
        const tenantKey = m ? findTenantKey(lines, i, start, hit.index) : null;
        if (m && tenantKey) {
          cvi = { tenantKey, videoConferenceId: digitsOnly(m[1]!), moreInfoUrl: findMoreInfo(lines, i, end, classified) };
        }
      }
    }
  }
  if (teamsLinks.length === 0 && cvi === null) {
    if (meetingId === null && opaqueJoin === null) return null;
    // A bare Meeting ID is a Teams one only inside a block that says Teams and links no other provider.
    let mentionsTeams = opaqueJoin !== null && /teams/i.test(opaqueJoin.domain ?? "");
    let otherProvider = false;
    for (let i = start; i <= end; i++) {
      if (lines[i]!.lower.includes("microsoft teams") || lines[i]!.lower.includes("teams")) mentionsTeams = true;
      for (const link of lines[i]!.links) if (classified.get(link)?.kind === "provider") otherProvider = true;
    }
    if (!mentionsTeams || otherProvider) return null;
  }
  const classics = teamsLinks.filter((t) => t.link.kind === "classic");
  const shorts = teamsLinks.filter((t) => t.link.kind === "short");
  const chosen = (classics.find((t) => t.preferred) ?? classics[classics.length - 1])?.link ?? null;
  const classic =
    chosen === null
      ? null
      : mostComplete(
          chosen,
          classics.map((t) => t.link),
        );
  const short = (shorts.find((t) => t.preferred) ?? shorts[0])?.link ?? null;
  const extraLinks: TeamsLink[] = [];
  for (const t of teamsLinks) {
    if (t.link === classic || t.link === short) continue;
    const same =
      (t.link.threadId !== null && t.link.threadId === classic?.threadId) ||
      (t.link.meetingId !== null && (t.link.meetingId === short?.meetingId || t.link.meetingId === meetingId));
    if (!same && !extraLinks.some((e) => e.url === t.link.url)) extraLinks.push(t.link);
  }
  return { quoted, firstLine: start, lastLine: end, classic, short, extraLinks, meetingId, passcode, cvi, options, opaqueJoin };
}

/** How much of the meeting a classic link names: tenant, organizer, then length (never a cut copy). */
function completeness(link: TeamsLink): number {
  return (link.tenantId ? 2 : 0) + (link.organizerId ? 2 : 0) + (link.messageId ? 1 : 0);
}

/**
 * The same meeting's link written twice (percent-encoded, and raw JSON or cut by a wrap): the
 * copy that names the most wins, so tenant and organizer are never lost to a truncated form.
 */
export function mostComplete(chosen: TeamsLink, all: readonly TeamsLink[]): TeamsLink {
  let best = chosen;
  for (const other of all) {
    if (other === best || other.threadId === null || other.threadId !== chosen.threadId) continue;
    const a = completeness(other);
    const b = completeness(best);
    if (a > b || (a === b && other.url.length > best.url.length && other.url.startsWith(best.url))) best = other;
  }
  return best;
}

export function analyzeBody(doc: BodyDoc): BodyAnalysis {
  const warnings = new Set<string>(doc.warnings);
  const links: ClassifiedLink[] = [];
  const classified = new Map<BodyLink, ClassifiedLink>();
  doc.lines.forEach((line, i) => {
    for (const link of line.links) {
      const c = classifyLink(link, i, warnings);
      classified.set(link, c);
      links.push(c);
    }
  });
  // Blocks: runs of lines between long underscore rules, split where quoting starts or ends.
  const blocks: TeamsBlock[] = [];
  let start = 0;
  const lines = doc.lines;
  for (let i = 0; i <= lines.length; i++) {
    const atEnd = i === lines.length;
    const isSeparator = !atEnd && SEPARATOR_FIRST.has(lines[i]!.firstCharCode()) && SEPARATOR.test(lines[i]!.text);
    const quoteChange = !atEnd && i > start && lines[i]!.quoted !== lines[start]!.quoted;
    if (atEnd || isSeparator || quoteChange) {
      if (i > start) {
        const block = analyzeBlock(lines, start, i - 1, lines[start]!.quoted, classified);
        if (block) blocks.push(block);
      }
      start = isSeparator ? i + 1 : i;
    }
  }
  return { blocks, links, warnings: [...warnings] };
}
