/**
 * Bodies as text lines with their links (docs/formats.md, T1.3, T1.4). HTML and plain text both become
 * a BodyDoc, so one set of rules (labels, blocks, quoting) reads every layout by visible order.
 */
import { scanHtml, TAG_BLOCK } from "./html-scan.ts";
import { LABELS } from "./labels/index.ts";
import { LIMITS } from "./limits.ts";
import { asciiWordAt, lowerSameLength, normalizeLine, splitLines } from "./text.ts";
import { isDangerousScheme } from "./url-safety.ts";

export interface BodyLink {
  /** Target as carried (entities decoded for HTML; originalsrc preferred over href). */
  url: string;
  /** Visible text of the anchor, or the text before a bare URL on its line. */
  label: string;
  title: string | null;
  className: string | null;
  /** True for an <a> or an Outlook text link `label<url>`; false for a bare URL in text. */
  explicit: boolean;
}

/**
 * One line of visible text. Its normalized text and lowercase form are computed on first use:
 * most lines of a long body only ever answer the cheap questions below, which the raw text
 * settles exactly (normalizing only turns whitespace runs into one space, trims the ends and
 * turns U+FF1A into ':'; every other character stays, in order).
 */
export class BodyLine {
  #normalized: string | null = null;
  #lowered: string | null = null;
  #leads: string | null | undefined = undefined;
  /** Inside a quoted earlier message (reply/forward). */
  quoted = false;

  constructor(
    /** Visible text before normalizeLine. */
    readonly raw: string,
    readonly links: BodyLink[],
  ) {}

  /** Normalized visible text (normalizeLine(raw)). */
  get text(): string {
    this.#normalized ??= normalizeLine(this.raw);
    return this.#normalized;
  }

  /** lowerSameLength(text). */
  get lower(): string {
    this.#lowered ??= lowerSameLength(this.text);
    return this.#lowered;
  }

  /** text.charCodeAt(0) (NaN when empty). A printable ASCII first raw character is kept as is. */
  firstCharCode(): number {
    const c = this.raw.charCodeAt(0);
    return c > 32 && c < 127 ? c : this.text.charCodeAt(0);
  }

  /** text.includes(":"). */
  hasColon(): boolean {
    const leads = this.colonLeads();
    return leads === null || leads.length > 0;
  }

  /**
   * The character before each colon, lowercased, when every colon of the raw text follows a
   * printable ASCII character and there is no U+FF1A: these are then exactly the colons of `text`
   * and the characters right before them. Null when that does not hold.
   */
  colonLeads(): string | null {
    if (this.#leads === undefined) {
      const raw = this.raw;
      let leads: string | null = "";
      if (raw.includes("\uFF1A")) leads = null;
      else {
        for (let colon = raw.indexOf(":"); colon >= 0; colon = raw.indexOf(":", colon + 1)) {
          const c = raw.charCodeAt(colon - 1);
          if (!(c > 32 && c < 127)) {
            leads = null;
            break;
          }
          leads += String.fromCharCode(c >= 65 && c <= 90 ? c + 32 : c);
        }
      }
      this.#leads = leads;
    }
    return this.#leads;
  }
}

export interface BodyDoc {
  kind: "html" | "text";
  lines: BodyLine[];
  warnings: string[];
}

const QUOTE_MARKERS = LABELS.quoteMarkers.map((m) => m.toLowerCase());
const URL_START = /(?<![A-Za-z0-9])(?:https?:\/\/|msteams:)/gi;

/** Cheap necessary condition for URL_START: a "://" or a case-insensitive "msteams:". */
function mayHaveUrlStart(text: string): boolean {
  for (let c = text.indexOf(":"); c >= 0; c = text.indexOf(":", c + 1)) {
    if (text.charCodeAt(c + 1) === 47 && text.charCodeAt(c + 2) === 47) return true;
    if (asciiWordAt(text, c - 7, "msteams")) return true;
  }
  return false;
}

/** Ends a bare URL: whitespace, quotes, angle brackets, backslash (ICS) and unbalanced ')'. */
export function extractBareUrls(text: string, max: number): Array<{ url: string; index: number }> {
  const found: Array<{ url: string; index: number }> = [];
  if (!mayHaveUrlStart(text)) return found;
  URL_START.lastIndex = 0;
  // Position of the next "}" at or after the scan (>>> 0 turns "none" into a huge number).
  let nextClose = -1;
  for (let m = URL_START.exec(text); m !== null && found.length < max; m = URL_START.exec(text)) {
    const start = m.index;
    let end = start;
    let depth = 0;
    while (end < text.length && end - start < LIMITS.urlChars) {
      const c = text[end]!;
      // Chat and markdown markup ends a URL: `[label](url)`, `<url|label>`, `**url**`, backticks.
      if (c <= " " || c === '"' || c === "<" || c === ">" || c === "\\" || c === "\u00A0" || c === "'" || c === "|" || c === "]" || c === "[" || c === "`")
        break;
      if (c === "{" && depth === 0 && text.startsWith("context=", end - 8)) {
        // A raw JSON context (`context={"Tid":"…","Oid":"…"}`) runs to its closing brace.
        // The next "}" is found once and reused while it lies ahead: a line of unclosed contexts
        // stays linear.
        if (nextClose < end) nextClose = text.indexOf("}", end) >>> 0;
        const close = nextClose;
        if (close - start < LIMITS.urlChars && !/[\s<>]/.test(text.slice(end, close))) {
          end = close + 1;
          continue;
        }
      }
      if (c === "(") depth++;
      if (c === ")") {
        if (depth === 0) break;
        depth--;
      }
      end++;
    }
    let url = text.slice(start, end);
    while (/[.,;:!?*~]$/.test(url)) url = url.slice(0, -1);
    // `_https://…_` (markdown emphasis): the closing mark is not part of the URL.
    if (start > 0 && text[start - 1] === "_" && url.endsWith("_")) url = url.slice(0, -1);
    if (url.length > 10) found.push({ url, index: start });
    URL_START.lastIndex = Math.max(end, start + 1);
  }
  return found;
}

/** The links of every line without links (shared, and frozen so that nothing adds to it). */
const NO_LINKS = Object.freeze([]) as unknown as BodyLink[];

function makeLine(raw: string, links: BodyLink[]): BodyLine {
  return new BodyLine(raw, links.length === 0 ? NO_LINKS : links);
}

/** Cheap necessary condition for the From: pattern below: its first letter (f, v, d or l, any case). */
function mayStartReplyHeader(firstCharCode: number): boolean {
  const c = firstCharCode | 32;
  return c === 102 || c === 118 || c === 100 || c === 108;
}

/** Marks lines after a quote marker (Outlook "Original Appointment", From:/Sent: headers) and `>` lines. */
function markQuotes(lines: BodyLine[], fromIndex: number | null): void {
  let quoteFrom = fromIndex ?? Number.POSITIVE_INFINITY;
  for (let i = 0; i < lines.length && i < quoteFrom; i++) {
    const line = lines[i]!;
    const first = line.firstCharCode();
    if (first === 45 /* - */ && line.text.startsWith("-----") && QUOTE_MARKERS.some((m) => line.lower.startsWith(m))) {
      quoteFrom = i;
      break;
    }
    // Outlook reply header: "From: ..." followed within 3 lines by "Sent: ..." (or localized forms).
    if (mayStartReplyHeader(first) && line.hasColon() && /^(?:from|von|de|van|fra|da|lähettäjä):\s/i.test(line.text)) {
      for (let j = i + 1; j <= i + 3 && j < lines.length; j++) {
        if (/^(?:sent|gesendet|envoyé|enviado|verzonden|sendt|inviato|lähetetty|date):\s/i.test(lines[j]!.text)) {
          quoteFrom = i;
          break;
        }
      }
      if (quoteFrom === i) break;
    }
  }
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    if (i >= quoteFrom || line.firstCharCode() === 62 /* > */) line.quoted = true;
  }
}

/** A `<scheme:...` link left open at the end of a line (wrapped by the sender). */
const OPEN_LINK_AT_END = /<(?:https?:\/\/|msteams:|mailto:|tel:|sips?:)[^<>]*$/i;
/** An Outlook text link `label<url>`; global, reset before each line. */
const BRACKET_LINK = /<((?:https?:\/\/|msteams:|mailto:|tel:|sips?:|h323:)[^<>\s|]*(?:\|[^<>]{0,200})?)>/gi;

const QUOTE_PREFIX = /^(?:[ \t]{0,3}>)+[ \t]?/;
/** A continuation: one token of URL characters carrying URL syntax (%xx, =, /, &). */
const URL_CONTINUATION = /^[A-Za-z0-9%._~:/?#@!$&'()*+,;=-]{2,}$/;

/**
 * True when `line` ends in a bare URL that a fixed-width wrap (72-78 columns, or a list archive)
 * cut, and `next` carries its rest: a long line, and a next line that is one token of URL syntax.
 */
function brokenBareUrl(line: string, next: string): boolean {
  if (line.length < 60) return false;
  const rest = next.trim();
  if (rest === "" || rest !== next.trimEnd() || rest.length > LIMITS.urlChars || /^https?:/i.test(rest)) return false;
  if (!URL_CONTINUATION.test(rest) || !/[%=/&]/.test(rest)) return false;
  if (line.length !== line.trimEnd().length) return false;
  // The last token of the line must be (or end in) a URL: one linear scan of that token only.
  const token = line.slice(Math.max(line.lastIndexOf(" "), line.lastIndexOf("\t")) + 1);
  const at = token.search(/https?:\/\//i);
  return at >= 0 && token.length - at >= 16 && !/[<>"]/.test(token.slice(at));
}

export function textToDoc(input: string): BodyDoc {
  const warnings: string[] = [];
  let text = input;
  if (text.length > LIMITS.partChars) {
    text = text.slice(0, LIMITS.partChars);
    warnings.push(`body truncated to ${LIMITS.partChars} characters`);
  }
  let rawLines = splitLines(text);
  if (rawLines.length > LIMITS.bodyLines) {
    rawLines = rawLines.slice(0, LIMITS.bodyLines);
    warnings.push(`body truncated to ${LIMITS.bodyLines} lines`);
  }
  // Quoted replies (`> `, `>> `): the marks are taken off so that labels, separators and links
  // read as in the original; the lines stay marked as quoted.
  const quotedRaw: boolean[] = [];
  for (let i = 0; i < rawLines.length; i++) {
    const line = rawLines[i]!;
    const first = line.charCodeAt(0);
    if (first !== 62 /* > */ && !(first === 32 && line.trimStart().startsWith(">"))) {
      quotedRaw.push(false);
      continue;
    }
    const m = QUOTE_PREFIX.exec(line);
    quotedRaw.push(m !== null);
    if (m) rawLines[i] = line.slice(m[0].length);
  }
  // Join "<https://...>" links that the sender wrapped over several lines, and bare URLs that a
  // mail client or list archive broke at a fixed width.
  const joined: string[] = [];
  const joinedQuoted: boolean[] = [];
  for (let i = 0; i < rawLines.length; i++) {
    let line = rawLines[i]!;
    const quoted = quotedRaw[i]!;
    let guard = 0;
    for (;;) {
      if (i + 1 >= rawLines.length || guard++ > 20 || line.length > LIMITS.urlChars * 2 || quotedRaw[i + 1] !== quoted) break;
      const open = line.includes("<") ? line.search(OPEN_LINK_AT_END) : -1;
      if (open < 0 && !brokenBareUrl(line, rawLines[i + 1]!)) break;
      line += rawLines[++i]!.trim();
    }
    joined.push(line);
    joinedQuoted.push(quoted);
  }
  const lines: BodyLine[] = [];
  let candidates = 0;
  let links: BodyLink[] = [];
  for (const raw of joined) {
    if (links.length > 0) links = [];
    let visible = "";
    let last = 0;
    const bracket = BRACKET_LINK;
    bracket.lastIndex = 0;
    for (let m = raw.includes("<") ? bracket.exec(raw) : null; m !== null; m = bracket.exec(raw)) {
      const before = raw.slice(last, m.index);
      visible += before;
      if (candidates++ < LIMITS.urlCandidates) {
        // Slack writes `<url|label>`: the URL ends at the bar, the label follows it.
        const bar = m[1]!.indexOf("|");
        const url = bar < 0 ? m[1]! : m[1]!.slice(0, bar);
        const label = bar < 0 ? before : m[1]!.slice(bar + 1);
        links.push({ url, label: normalizeLine(label), title: null, className: null, explicit: true });
      }
      last = m.index + m[0].length;
    }
    visible += raw.slice(last);
    for (const bare of extractBareUrls(visible, LIMITS.urlCandidates - candidates)) {
      candidates++;
      links.push({ url: bare.url, label: normalizeLine(visible.slice(0, bare.index)), title: null, className: null, explicit: false });
    }
    lines.push(makeLine(visible, links));
  }
  if (candidates > LIMITS.urlCandidates) warnings.push(`more than ${LIMITS.urlCandidates} links; the rest were not examined`);
  markQuotes(lines, null);
  for (let i = 0; i < lines.length; i++) if (joinedQuoted[i]) lines[i]!.quoted = true;
  return { kind: "text", lines, warnings };
}

export function htmlToDoc(input: string): BodyDoc {
  const warnings: string[] = [];
  let html = input;
  if (html.length > LIMITS.partChars) {
    html = html.slice(0, LIMITS.partChars);
    warnings.push(`HTML body truncated to ${LIMITS.partChars} characters`);
  }
  const lines: BodyLine[] = [];
  let current = "";
  let currentLinks: BodyLink[] = [];
  let quoteDepth = 0;
  let quoteFromLine: number | null = null;
  let candidates = 0;
  const quotedLines = new Set<number>();
  const anchors: Array<{ url: string | null; title: string | null; className: string | null; text: string; depth: number }> = [];

  const endLine = () => {
    if (current.trim() !== "" || currentLinks.length > 0) {
      for (const bare of extractBareUrls(current, LIMITS.urlCandidates - candidates)) {
        if (currentLinks.some((l) => l.url === bare.url)) continue;
        candidates++;
        currentLinks.push({ url: bare.url, label: normalizeLine(current.slice(0, bare.index)), title: null, className: null, explicit: false });
      }
      if (quoteDepth > 0) quotedLines.add(lines.length);
      lines.push(makeLine(current, currentLinks));
      if (lines.length >= LIMITS.bodyLines) warnings.push(`body truncated to ${LIMITS.bodyLines} lines`);
      // The line keeps this array unless it is empty (see makeLine).
      if (currentLinks.length > 0) currentLinks = [];
    }
    current = "";
  };

  const closeAnchor = () => {
    const anchor = anchors.pop();
    if (anchor?.url && candidates < LIMITS.urlCandidates) {
      candidates++;
      currentLinks.push({ url: anchor.url, label: normalizeLine(anchor.text), title: anchor.title, className: anchor.className, explicit: true });
    }
  };
  const replyMarkers = html.includes("RplyFwdMsg") || html.includes("OutlookMessageHeader");
  scanHtml(html, {
    wantsAttributes: (name) => name === "a" || name === "img" || replyMarkers,
    openTag(name, attribs, kind) {
      if (lines.length >= LIMITS.bodyLines) return;
      const id = attribs.id;
      if (
        (id !== undefined && /^(?:x_)?divRplyFwdMsg$/i.test(id)) ||
        (attribs.class !== undefined && /(?:^|\s)(?:x_)?OutlookMessageHeader(?:\s|$)/.test(attribs.class))
      ) {
        endLine();
        if (quoteFromLine === null) quoteFromLine = lines.length;
      }
      if (name === "blockquote") {
        endLine();
        quoteDepth++;
      } else if ((kind & TAG_BLOCK) !== 0) {
        endLine();
      }
      if (name === "a") {
        // An <a> inside an open <a> closes it (HTML's adoption rules, simplified).
        if (anchors.length > 0) closeAnchor();
        const original = attribs.originalsrc ?? attribs["data-originalsrc"] ?? null;
        let url: string | null = original?.trim() || attribs.href?.trim() || null;
        if (url !== null && isDangerousScheme(url)) url = null;
        anchors.push({ url, title: attribs.title ?? null, className: attribs.class ?? null, text: "", depth: anchors.length });
      } else if (name === "img" && attribs.alt && anchors.length > 0) {
        anchors[anchors.length - 1]!.text += attribs.alt;
      }
    },
    text(text) {
      if (lines.length >= LIMITS.bodyLines) return;
      current += text;
      if (anchors.length > 0) anchors[anchors.length - 1]!.text += text;
    },
    closeTag(name, kind) {
      if (name === "a") {
        if (anchors.length > 0) closeAnchor();
        return;
      }
      if (name === "blockquote") {
        endLine();
        if (quoteDepth > 0) quoteDepth--;
      } else if ((kind & TAG_BLOCK) !== 0) {
        endLine();
      }
    },
  });
  while (anchors.length > 0) closeAnchor();
  endLine();
  markQuotes(lines, quoteFromLine);
  for (const i of quotedLines) lines[i]!.quoted = true;
  return { kind: "html", lines, warnings };
}

/** Heuristic: does a string look like HTML (for bodies whose content type is unknown)? */
export function looksLikeHtml(text: string): boolean {
  return /<(?:html|body|div|p|a|span|table|br|meta)[\s>/]/i.test(text.slice(0, 4096));
}
