/**
 * Builds one Invite's join and alternatives from its sources, in docs/formats.md, T8 precedence:
 * structured fields (Graph onlineMeeting, ICS X-MICROSOFT-*), then the HTML body's Teams block,
 * then the text body's, then anything else; other providers and SIP per B2.4.
 */
import type { CviCoordinates, Join, TeamsJoin } from "../core/domain.ts";
import { type BodyAnalysis, type ClassifiedLink, analyzeBody, mostComplete, type TeamsBlock } from "./analyze-body.ts";
import { type BodyDoc, htmlToDoc, textToDoc } from "./body.ts";
import { type ProviderLink, providerOfHost } from "./providers/others.ts";
import { findPrintedVideoAddresses, findSipAddresses, mayHaveSipAddress, type PrintedVideoAddress, type SipAddress } from "./providers/sip.ts";
import { classifyTeamsUrl, isValidThreadId, TEAMS_HOSTS, type TeamsLink } from "./providers/teams.ts";
import { parseUrl } from "./url-safety.ts";

export interface InviteSources {
  /** Structured Teams/meeting URLs in precedence order (Graph onlineMeeting.joinUrl, ICS X-MICROSOFT-SKYPETEAMSMEETINGURL, ...). */
  structuredUrls: string[];
  /** Thread id known without a URL (SKYPETEAMSPROPERTIES.cid, CONFLINK). */
  structuredThreadId: string | null;
  /** URLs that name the meeting outside the body (Graph onlineMeetingUrl, locations[].locationUri, ICS URL/CONFERENCE). */
  meetingUrls: string[];
  html: string | null;
  text: string | null;
  location: string | null;
  /** Addresses that are people, never SIP meetings (organizer, attendees). */
  peopleAddresses: string[];
}

export interface InviteContext {
  /** Plain text of the body (for custom rules `field: text`), at most 64 KiB. */
  text: string;
  location: string;
  /** Provider video addresses printed in the body (B2.2), in order. */
  printedVideoAddresses: PrintedVideoAddress[];
  /** The provider link chosen as join, when not Teams (for dial-string derivation). */
  providerLink: ProviderLink | null;
  /** Passcode printed near the chosen provider's link (numeric Zoom passcodes), if any. */
  providerPasscode: string | null;
  /** Meeting number printed near the chosen provider's link, if any. */
  providerMeetingNumber: string | null;
}

export interface Assembled {
  join: Join | null;
  alternatives: Join[];
  warnings: string[];
  context: InviteContext;
}

const TEXT_CONTEXT_CHARS = 64 * 1024;

function teamsJoin(link: TeamsLink | null, short: TeamsLink | null): TeamsJoin {
  const main = link ?? short;
  return {
    cloud: main?.cloud ?? "commercial",
    joinUrl: link?.url ?? null,
    shortUrl: short?.url ?? null,
    threadId: link?.threadId ?? null,
    messageId: link?.messageId ?? null,
    tenantId: link?.tenantId ?? null,
    organizerId: link?.organizerId ?? null,
    meetingId: short?.meetingId ?? null,
    passcode: null,
    cvi: null,
  };
}

/** WHATWG serialisation (docs/formats.md, B6 output hygiene); TeamsJoin keeps the bytes as carried. */
function serialised(url: string | null): string | null {
  return url === null ? null : (parseUrl(url)?.href ?? null);
}

function joinOf(teams: TeamsJoin, fallbackUrl: string | null = null): Join {
  return { provider: "teams", url: serialised(teams.joinUrl ?? teams.shortUrl ?? fallbackUrl), sipUri: null, teams };
}

function pickBlock(analysis: BodyAnalysis | null): { block: TeamsBlock; quoted: boolean } | null {
  if (!analysis) return null;
  const unquoted = analysis.blocks.filter((b) => !b.quoted);
  const pool = unquoted.length > 0 ? unquoted : analysis.blocks;
  const last = pool[pool.length - 1];
  if (!last) return null;
  // The same meeting's link repeated outside its block (a pasted copy, a raw JSON form below the
  // rule): the block that prints the Meeting ID keeps it, and the most complete link is used.
  const thread = last.classic?.threadId ?? null;
  if (thread !== null && last.meetingId === null) {
    const richer = [...pool].reverse().find((b) => b !== last && b.classic?.threadId === thread && b.meetingId !== null);
    if (richer) {
      const classic = mostComplete(richer.classic!, [last.classic!]);
      return { block: { ...richer, classic }, quoted: richer.quoted };
    }
  }
  return { block: last, quoted: last.quoted };
}

function sameMeeting(a: TeamsJoin, block: TeamsBlock): boolean {
  const blockThread = block.classic?.threadId ?? null;
  if (a.threadId && blockThread) return a.threadId === blockThread;
  const blockMeeting = block.meetingId ?? block.short?.meetingId ?? null;
  if (a.meetingId && blockMeeting) return a.meetingId === blockMeeting;
  // Nothing to compare: the body's block is taken as the same meeting (T8.2).
  return true;
}

function blockTeamsJoin(block: TeamsBlock): TeamsJoin {
  const t = teamsJoin(block.classic, block.short);
  t.meetingId = block.meetingId ?? block.short?.meetingId ?? null;
  t.passcode = t.meetingId !== null && block.meetingId !== null ? block.passcode : null;
  t.cvi = block.cvi;
  return t;
}

function dedupeKey(j: Join): string {
  if (j.teams) return `teams|${j.teams.threadId ?? j.teams.meetingId ?? j.url ?? ""}`;
  return `${j.provider}|${(j.url ?? j.sipUri ?? "").toLowerCase()}`;
}

function providerKey(link: ProviderLink): string {
  return `${link.provider}|${link.meetingId ?? link.name ?? link.url}`.toLowerCase();
}

/**
 * Builds the join, its alternatives and warnings from one invite's sources. With
 * `withContext` false the planner's context (body text, printed addresses, provider facts) is
 * left empty, which saves work when only the ParseOutput is wanted.
 */
export function assembleJoin(sources: InviteSources, withContext = true): Assembled {
  const warnings = new Set<string>();
  const htmlDoc: BodyDoc | null = sources.html ? htmlToDoc(sources.html) : null;
  const htmlAnalysis = htmlDoc ? analyzeBody(htmlDoc) : null;
  let textDoc: BodyDoc | null = null;
  let textAnalysis: BodyAnalysis | null = null;
  const htmlUseful = htmlAnalysis?.links.some((l) => l.kind !== "ignored") ?? false;
  if (sources.text && (!htmlAnalysis || htmlAnalysis.blocks.length === 0 || !htmlUseful)) {
    textDoc = textToDoc(sources.text);
    textAnalysis = analyzeBody(textDoc);
  }
  const locationDoc = sources.location ? textToDoc(sources.location) : null;
  const locationAnalysis = locationDoc ? analyzeBody(locationDoc) : null;
  for (const a of [htmlAnalysis, textAnalysis, locationAnalysis]) for (const w of a?.warnings ?? []) warnings.add(w);

  // 1. Structured Teams links.
  let sClassic: TeamsLink | null = null;
  let sShort: TeamsLink | null = null;
  const otherStructured: string[] = [];
  for (const url of sources.structuredUrls) {
    const c = classifyTeamsUrl(url);
    if (c.kind === "join") {
      if (c.link.kind === "classic") sClassic ??= c.link;
      else sShort ??= c.link;
    } else {
      otherStructured.push(url);
    }
  }

  // 2. Body Teams block: HTML first, then text; locations last.
  const picked = pickBlock(htmlAnalysis) ?? pickBlock(textAnalysis) ?? pickBlock(locationAnalysis);
  const alternatives: Join[] = [];
  let teams: TeamsJoin | null = null;
  let teamsFallbackUrl: string | null = null;

  if (sClassic || sShort) {
    teams = teamsJoin(sClassic, sShort);
    if (picked) {
      if (sameMeeting(teams, picked.block)) {
        const b = picked.block;
        if (b.classic && (!teams.joinUrl || (sClassic !== null && mostComplete(sClassic, [b.classic]) === b.classic))) {
          teams = { ...teamsJoin(b.classic, sShort ?? b.short) };
        }
        teams.shortUrl ??= b.short?.url ?? null;
        const printed = b.meetingId;
        const fromUrl = teams.meetingId ?? b.short?.meetingId ?? null;
        if (printed && fromUrl && printed !== fromUrl) warnings.add("printed Meeting ID differs from the short link's digits; the printed one is used");
        teams.meetingId = printed ?? fromUrl;
        teams.passcode = printed ? b.passcode : null;
        teams.cvi = b.cvi;
        if (picked.quoted) warnings.add("Teams details taken from a quoted earlier invite");
      } else {
        warnings.add("the Teams meeting in the body differs from the calendar's; the calendar's is used");
        alternatives.push(joinOf(blockTeamsJoin(picked.block)));
      }
    }
  } else if (picked) {
    teams = blockTeamsJoin(picked.block);
    if (picked.quoted) warnings.add("Teams details taken from a quoted earlier invite");
    // An opaque (Mimecast) link stands for the join only when its domain= names a Teams host (B1.6).
    const opaque = picked.block.opaqueJoin;
    if (!teams.joinUrl && !teams.shortUrl && opaque && opaque.domain !== null && TEAMS_HOSTS[opaque.domain] !== undefined) teamsFallbackUrl = opaque.url;
  } else if (sources.structuredThreadId && isValidThreadId(sources.structuredThreadId)) {
    // A Teams meeting known only by its thread id (no link anywhere): nothing joinable by URL.
    teams = teamsJoin(null, null);
    teams.threadId = sources.structuredThreadId;
  }

  if (teams) {
    if (!teams.threadId && sources.structuredThreadId && isValidThreadId(sources.structuredThreadId)) {
      if (!teams.joinUrl) teams.threadId = sources.structuredThreadId;
    }
    const block = picked?.block;
    if (block?.options && (block.classic || block.short) && (!teams.threadId || teams.threadId === block.options.threadId)) {
      teams.threadId ??= block.options.threadId;
      teams.tenantId ??= block.options.tenantId;
      teams.organizerId ??= block.options.organizerId;
    }
    if (!teams.joinUrl && !teams.shortUrl) {
      if (teams.meetingId || teams.cvi || teamsFallbackUrl) warnings.add("no Teams join link found; cloud assumed commercial");
    }
    if ((sClassic?.broadcast ?? false) || (picked?.block.classic?.broadcast ?? false)) {
      warnings.add("Teams live event: devices cannot join as attendees");
    }
  }

  // 3. Other Teams meetings anywhere (other blocks, extra links, location) become alternatives.
  const chosenKey = teams ? dedupeKey(joinOf(teams)) : null;
  const seen = new Set<string>(chosenKey ? [chosenKey] : []);
  const seenTeamsUrls = new Set<string>([teams?.joinUrl, teams?.shortUrl].filter((u): u is string => !!u));
  for (const a of alternatives) seen.add(dedupeKey(a));
  const addAlternative = (j: Join) => {
    const key = dedupeKey(j);
    if (seen.has(key)) return;
    seen.add(key);
    alternatives.push(j);
  };
  const sameAsChosen = (link: TeamsLink): boolean =>
    !!teams &&
    ((link.threadId !== null && link.threadId === teams.threadId) ||
      (link.meetingId !== null && link.meetingId === teams.meetingId) ||
      seenTeamsUrls.has(link.url));
  for (const analysis of [htmlAnalysis, textAnalysis, locationAnalysis]) {
    if (!analysis) continue;
    for (const block of analysis.blocks) {
      // A quoted older invite is ignored when the message has its own Teams block (T7).
      if (block.quoted && picked && !picked.quoted) continue;
      if (picked && block === picked.block) {
        for (const extra of block.extraLinks)
          if (!sameAsChosen(extra)) addAlternative(joinOf(teamsJoin(extra.kind === "classic" ? extra : null, extra.kind === "short" ? extra : null)));
        continue;
      }
      for (const link of [block.classic, block.short, ...block.extraLinks]) {
        if (link && !sameAsChosen(link)) addAlternative(joinOf(teamsJoin(link.kind === "classic" ? link : null, link.kind === "short" ? link : null)));
      }
    }
  }

  // 4. Other providers and SIP/H.323, in B2.4 order: location/structured first, then body order.
  const providerJoins: Array<{ join: Join; link: ProviderLink | null; priority: number; order: number; line: number }> = [];
  const providerSeen = new Set<string>();
  let order = 0;
  const addProvider = (c: ClassifiedLink, priority: number) => {
    if (c.kind === "provider") {
      const key = providerKey(c.link);
      if (providerSeen.has(key)) return;
      providerSeen.add(key);
      providerJoins.push({
        join: { provider: c.link.provider, url: c.link.url, sipUri: null, teams: null },
        link: c.link,
        priority,
        order: order++,
        line: c.line,
      });
    } else if (c.kind === "opaque") {
      // A Mimecast link whose domain= names a provider stands for that provider's join (B1.6);
      // its fields come from the printed Meeting ID and video lines.
      const provider = providerOfHost(c.domain);
      if (provider === null || provider === "jitsi") return;
      const key = `opaque|${provider}`;
      if (providerSeen.has(key)) return;
      providerSeen.add(key);
      const link: ProviderLink = {
        provider,
        url: c.url,
        meetingId: null,
        site: c.domain,
        name: null,
        token: null,
        gov: provider === "zoom" && /zoomgov\.com$/.test(c.domain ?? ""),
      };
      providerJoins.push({
        join: { provider, url: serialised(c.url), sipUri: null, teams: null },
        link,
        priority: priority + 0.25,
        order: order++,
        line: c.line,
      });
    } else if (c.kind === "other") {
      const key = `other|${c.url}`;
      if (providerSeen.has(key)) return;
      providerSeen.add(key);
      // Teams-like text on a foreign host is never the join (T7).
      providerJoins.push({
        join: { provider: "other", url: c.url, sipUri: null, teams: null },
        link: null,
        priority: c.phishing ? 9 : priority + 1,
        order: order++,
        line: c.line,
      });
    }
  };
  for (const url of [...otherStructured, ...sources.meetingUrls]) {
    const analysis = analyzeBody(textToDoc(url));
    for (const c of analysis.links) addProvider(c, 1);
  }
  for (const c of locationAnalysis?.links ?? []) addProvider(c, 1);
  const bodyAnalysis = htmlAnalysis && htmlUseful ? htmlAnalysis : (textAnalysis ?? htmlAnalysis);
  const bodyDoc = bodyAnalysis === htmlAnalysis ? htmlDoc : textDoc;
  for (const c of bodyAnalysis?.links ?? []) addProvider(c, 3);
  if (bodyAnalysis !== htmlAnalysis && htmlAnalysis) for (const c of htmlAnalysis.links) addProvider(c, 3);

  // SIP/H.323: exclude people, tenant keys, mailto targets and provider gateway addresses.
  const exclude = new Set<string>(sources.peopleAddresses.map((a) => a.toLowerCase()));
  for (const b of [...(htmlAnalysis?.blocks ?? []), ...(textAnalysis?.blocks ?? [])]) if (b.cvi) exclude.add(b.cvi.tenantKey.toLowerCase());
  const sipFound: Array<{ sip: SipAddress; priority: number; order: number }> = [];
  const printed: PrintedVideoAddress[] = [];
  const printedLines: number[] = [];
  const sipSeen = new Set<string>();
  const sipContext = { exclude };
  const scanSip = (doc: BodyDoc | null, isLocation: boolean) => {
    if (!doc) return;
    for (const line of doc.lines) {
      for (const l of line.links) if (/^mailto:/i.test(l.url)) exclude.add(l.url.slice(7).split("?")[0]!.toLowerCase());
    }
    for (let li = 0; li < doc.lines.length; li++) {
      const line = doc.lines[li]!;
      if (line.quoted) continue;
      const raw = line.raw;
      if (raw.includes("@") || raw.includes("##")) {
        for (const p of findPrintedVideoAddresses(line.text)) {
          printed.push(p);
          if (!isLocation) printedLines.push(li);
        }
      }
      const hits = mayHaveSipAddress(line) ? findSipAddresses(line, sipContext, isLocation) : [];
      for (const l of line.links) if (/^(?:sips?|h323):/i.test(l.url)) hits.push(...findSipAddresses(l.url, sipContext, isLocation));
      for (const sip of hits) {
        const key = sip.address.toLowerCase();
        if (sipSeen.has(key)) continue;
        sipSeen.add(key);
        sipFound.push({ sip, priority: isLocation ? 1 : 3, order: order++ });
      }
    }
  };
  scanSip(locationDoc, true);
  scanSip(bodyDoc, false);
  for (const p of sipFound) {
    providerJoins.push({
      join: { provider: p.sip.provider, url: null, sipUri: p.sip.address, teams: null },
      link: null,
      priority: p.priority + (p.sip.strength === 1 ? 0.5 : 0),
      order: p.order,
      line: -1,
    });
  }

  // 5. Choose the join.
  let join: Join | null = teams ? joinOf(teams, teamsFallbackUrl) : null;
  let providerLink: ProviderLink | null = null;
  const ranked = [...providerJoins].sort((a, b) => a.priority - b.priority || a.order - b.order);
  let providerLine = -1;
  // A provider's printed video address outranks bare SIP/H.323 lines of the body when no link
  // names a meeting: Zoom's H.323 lines (`<ip>##<id>`) sit beside its `…@zoomcrc.com` (B2.4).
  const printedInBody = printed.length > 0 && printedLines.length > 0;
  if (!join) {
    const first = ranked.find(
      (r) => r.priority < 9 && !(printedInBody && r.link === null && r.priority >= 3 && (r.join.provider === "sip" || r.join.provider === "h323")),
    );
    if (first) {
      join = first.join;
      providerLink = first.link;
      providerLine = first.line;
    }
  }
  // No link for the meeting (wrapped opaquely, or stripped), but the body prints a provider's
  // video address (`…@zoomcrc.com`, `…@<site>.webex.com`): that provider's meeting is the join.
  if (!join && printedInBody) {
    join = { provider: printed[0]!.provider, url: null, sipUri: null, teams: null };
    providerLine = Math.max(0, printedLines[0]! - 10);
  }
  for (const r of ranked) if (r.join !== join) addAlternative(r.join);

  // Plain text and provider facts for the planner.
  let text = "";
  if (withContext) {
    for (const line of (bodyDoc ?? htmlDoc ?? textDoc)?.lines ?? []) {
      if (text.length >= TEXT_CONTEXT_CHARS) break;
      text += `${line.text}\n`;
    }
  }
  const providerFacts = join && !join.teams && withContext && providerLine >= 0 ? nearbyFacts(bodyDoc, providerLine) : { passcode: null, meetingNumber: null };
  // An opaque (Mimecast) provider link carries no id: the printed Meeting ID stands in (B1.6).
  if (providerLink && providerLink.meetingId === null && providerLink.name === null && providerFacts.meetingNumber !== null) {
    providerLink = { ...providerLink, meetingId: providerFacts.meetingNumber };
  }
  return {
    join,
    alternatives,
    warnings: [...warnings],
    context: {
      text: text.slice(0, TEXT_CONTEXT_CHARS),
      location: sources.location ?? "",
      printedVideoAddresses: printed,
      providerLink,
      providerPasscode: providerFacts.passcode,
      providerMeetingNumber: providerFacts.meetingNumber,
    },
  };
}

const PASSCODE_LINE =
  /(?:^|[^\p{L}])(?:passcode|password|kenncode|code secret|code d'accès|código de acceso|código de acesso|senha|kod dostępu|lösenord|passord|wachtwoord|toegangscode|heslo|geçiş kodu|パスコード|密码|密碼|암호|pin)\s*:\s*([^\s]{1,32})/iu;
const PASSCODE_LABEL_ONLY = /(?:^|[^\p{L}])(?:passcode|password|kenncode|senha|lösenord|passord|heslo|パスコード|密码|密碼|암호)\s*:$/iu;
const MEETING_NUMBER_LINE = /\b(?:meeting (?:id|number)|meeting-id|besprechungs-id|access code|webinar id)(?: \([^()]{0,30}\))?\s*:\s*(\d(?: ?\d){5,14})/i;
/** Zoom's H.323 dial form `<ip>##<meeting id>#<passcode>`. */
const H323_WITH_PASSCODE = /\d##\d{9,11}#(\d{1,10})(?!\d)/;

/**
 * Passcode and meeting number printed within the 60 lines after a provider's link. A Zoom invite
 * can print two passcodes: the web one (letters) under the link and a numeric one beside the
 * SIP/H.323 lines for room systems; the numeric one is the one a room dials, so it wins.
 */
function nearbyFacts(doc: BodyDoc | null, fromLine: number): { passcode: string | null; meetingNumber: string | null } {
  let passcode: string | null = null;
  let numeric: string | null = null;
  let meetingNumber: string | null = null;
  if (!doc) return { passcode, meetingNumber };
  const start = Math.max(0, fromLine);
  // Lines quoted differently from the provider's own line belong to another message.
  const quoted = doc.lines[start]?.quoted ?? false;
  for (let i = start; i < doc.lines.length && i < start + 60; i++) {
    const line = doc.lines[i]!;
    if (line.quoted !== quoted) continue;
    const t = line.text;
    if (!t.includes(":") && !t.includes("#")) continue;
    const p = PASSCODE_LINE.exec(t);
    let value = p ? p[1]!.replace(/[.,;]$/, "") : null;
    // Label and value in separate cells or lines: "Passcode:" / "654321".
    if (value === null && PASSCODE_LABEL_ONLY.test(t)) value = /^\S{1,32}/.exec(doc.lines[i + 1]?.text ?? "")?.[0] ?? null;
    if (value !== null) {
      passcode ??= value;
      if (numeric === null && /^\d{1,10}$/.test(value)) numeric = value;
    }
    const h: RegExpExecArray | null = numeric === null ? H323_WITH_PASSCODE.exec(t) : null;
    if (h) numeric = h[1]!;
    const n = MEETING_NUMBER_LINE.exec(t);
    if (n && meetingNumber === null) meetingNumber = n[1]!.replace(/ /g, "");
  }
  return { passcode: numeric ?? passcode, meetingNumber };
}

export type { CviCoordinates };
