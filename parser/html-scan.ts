/**
 * A small, tolerant, linear HTML tokenizer for invite bodies. It reads what the body model needs
 * (tags with their attributes, text with character references decoded, comments and raw-text
 * elements skipped) with indexOf-driven scanning, several times faster than a full tree builder.
 * It never throws; malformed markup degrades to text.
 */
import { decodeHTML, decodeHTMLAttribute } from "entities";

/** Bit flags describing an element name, looked up once per tag. */
export const TAG_VOID = 1;
/** Elements whose content is not markup; their text is not visible body text. */
export const TAG_RAW_TEXT = 2;
/** Elements that end a line of visible text (the body model's line breaks). */
export const TAG_BLOCK = 4;

export interface HtmlHandler {
  /** Whether openTag needs the attributes of this tag (skipping them is much faster). */
  wantsAttributes(name: string): boolean;
  /** `kind` is the TAG_* flags of `name`. */
  openTag(name: string, attrs: Record<string, string>, kind: number): void;
  closeTag(name: string, kind: number): void;
  text(text: string): void;
}

const TAG_KINDS = new Map<string, number>();
for (const name of ["script", "style", "title", "textarea", "xml", "template", "noscript", "iframe", "noembed", "noframes", "xmp"]) {
  TAG_KINDS.set(name, TAG_RAW_TEXT);
}
for (const name of ["br", "img", "hr", "meta", "link", "input", "wbr", "col", "area", "base", "embed", "param", "source", "track"]) {
  TAG_KINDS.set(name, TAG_VOID);
}
for (const name of [
  "p",
  "div",
  "br",
  "tr",
  "li",
  "ul",
  "ol",
  "h1",
  "h2",
  "h3",
  "h4",
  "h5",
  "h6",
  "table",
  "hr",
  "blockquote",
  "td",
  "th",
  "section",
  "article",
  "header",
  "footer",
  "pre",
  "center",
  "dt",
  "dd",
  "title",
]) {
  TAG_KINDS.set(name, (TAG_KINDS.get(name) ?? 0) | TAG_BLOCK);
}
const RAW_TEXT_END = new Map<string, RegExp>();

/**
 * Names seen in most bodies, found without slicing and lowercasing the tag: a small table
 * indexed by a hash of the name's ASCII-lowercased characters, verified character by character.
 */
const KNOWN_NAMES = [...TAG_KINDS.keys(), "a", "span", "font", "b", "i", "u", "o:p", "strong", "em", "tbody", "thead", "body", "html", "head", "small", "sup"];
const NAME_SLOTS = 512;
const NAME_TABLE: Array<string | undefined> = new Array(NAME_SLOTS);
const KIND_TABLE = new Uint8Array(NAME_SLOTS);

function nameHash(h: number, c: number): number {
  return (h * 31 + (c | 32)) & (NAME_SLOTS - 1);
}

for (const name of KNOWN_NAMES) {
  let h = 0;
  for (let k = 0; k < name.length; k++) h = nameHash(h, name.charCodeAt(k));
  if (NAME_TABLE[h] === undefined) {
    NAME_TABLE[h] = name;
    KIND_TABLE[h] = TAG_KINDS.get(name) ?? 0;
  }
}

/** html.slice(start, end).toLowerCase() === name, for a lowercase ASCII name, without allocating. */
function sameNameAt(html: string, start: number, end: number, name: string): boolean {
  if (end - start !== name.length) return false;
  for (let k = 0; k < name.length; k++) {
    let c = html.charCodeAt(start + k);
    if (c >= 65 && c <= 90) c += 32;
    else if (c === 0x212a) c = 107; // KELVIN SIGN lowercases to "k"
    if (c !== name.charCodeAt(k)) return false;
  }
  return true;
}

/** Named references common in mail bodies that decode to one fixed character in every mode. */
const SIMPLE_ENTITIES: ReadonlyArray<readonly [string, string]> = [
  ["&amp;", "&"],
  ["&nbsp;", "\u00A0"],
  ["&lt;", "<"],
  ["&gt;", ">"],
  ["&quot;", '"'],
  ["&#39;", "'"],
];

/**
 * Decodes `value` when each '&' in it starts one of SIMPLE_ENTITIES (the same result as the
 * full decoder); returns null otherwise.
 */
function decodeSimpleEntities(value: string): string | null {
  let out = "";
  let from = 0;
  for (let amp = value.indexOf("&"); amp >= 0; amp = value.indexOf("&", from)) {
    let next = -1;
    let replacement = "";
    for (const [entity, char] of SIMPLE_ENTITIES) {
      if (value.startsWith(entity, amp)) {
        next = amp + entity.length;
        replacement = char;
        break;
      }
    }
    if (next < 0) return null;
    out += value.slice(from, amp) + replacement;
    from = next;
  }
  return out + value.slice(from);
}

const NO_ATTRIBUTES: Record<string, string> = Object.freeze({}) as Record<string, string>;

function isNameStart(code: number): boolean {
  return (code >= 65 && code <= 90) || (code >= 97 && code <= 122);
}

function isSpace(code: number): boolean {
  return code === 32 || code === 9 || code === 10 || code === 12 || code === 13;
}

/** indexOf, with the string's length for "not found". */
function indexOrEnd(html: string, needle: string, from: number): number {
  const at = html.indexOf(needle, from);
  return at < 0 ? html.length : at;
}

function decodeText(text: string): string {
  if (!text.includes("&")) return text;
  return decodeSimpleEntities(text) ?? decodeHTML(text);
}

function decodeAttribute(value: string): string {
  if (!value.includes("&")) return value;
  return decodeSimpleEntities(value) ?? decodeHTMLAttribute(value);
}

/** Tokenizes `html`, calling the handler in document order. */
export function scanHtml(html: string, handler: HtmlHandler): void {
  const n = html.length;
  let i = 0;
  let nextGt = -1;
  let nextDq = -1;
  let nextSq = -1;
  while (i < n) {
    const lt = html.charCodeAt(i) === 60 /* < */ ? i : html.indexOf("<", i);
    if (lt < 0) {
      handler.text(decodeText(html.slice(i)));
      return;
    }
    if (lt > i) handler.text(decodeText(html.slice(i, lt)));
    const next = html.charCodeAt(lt + 1);
    if (next === 33 /* ! */) {
      if (html.startsWith("<!--", lt)) {
        const end = html.indexOf("-->", lt + 4);
        i = end < 0 ? n : end + 3;
      } else {
        const end = html.indexOf(">", lt + 2);
        i = end < 0 ? n : end + 1;
      }
      continue;
    }
    if (next === 63 /* ? */) {
      const end = html.indexOf(">", lt + 2);
      i = end < 0 ? n : end + 1;
      continue;
    }
    const closing = next === 47; /* / */
    let p = closing ? lt + 2 : lt + 1;
    if (!isNameStart(html.charCodeAt(p))) {
      if (closing) {
        // "</" + non-letter: a bogus comment up to '>'.
        const end = html.indexOf(">", p);
        i = end < 0 ? n : end + 1;
      } else {
        handler.text("<");
        i = lt + 1;
      }
      continue;
    }
    const nameStart = p;
    let hash = 0;
    while (p < n) {
      const c = html.charCodeAt(p);
      if (isSpace(c) || c === 47 || c === 62) break;
      hash = nameHash(hash, c);
      p++;
    }
    const known = NAME_TABLE[hash];
    let name: string;
    let kind: number;
    if (known !== undefined && sameNameAt(html, nameStart, p, known)) {
      name = known;
      kind = KIND_TABLE[hash]!;
    } else {
      name = html.slice(nameStart, p).toLowerCase();
      kind = TAG_KINDS.get(name) ?? 0;
    }
    // Attributes, honouring quotes, up to the closing '>'.
    const wanted = !closing && handler.wantsAttributes(name);
    const attrs: Record<string, string> = wanted ? {} : NO_ATTRIBUTES;
    let selfClosing = false;
    if (!wanted && html.charCodeAt(p) === 62 /* > */) {
      // No attributes at all (`</p>`, `<br>`): the tag ends here.
      p++;
    } else if (!wanted) {
      // Skip to the closing '>' outside quotes without reading attributes. The next '>', '"' and
      // "'" positions are remembered across tags, so the whole document is searched once.
      for (;;) {
        if (nextGt < p) nextGt = indexOrEnd(html, ">", p);
        if (nextDq < p) nextDq = indexOrEnd(html, '"', p);
        if (nextSq < p) nextSq = indexOrEnd(html, "'", p);
        if (nextGt < nextDq && nextGt < nextSq) {
          selfClosing = html.charCodeAt(nextGt - 1) === 47;
          p = nextGt + 1;
          break;
        }
        if (nextGt === n) {
          p = n;
          break;
        }
        // A quoted run: continue after its closing quote.
        let close: number;
        if (nextDq < nextSq) {
          nextDq = indexOrEnd(html, '"', nextDq + 1);
          close = nextDq;
        } else {
          nextSq = indexOrEnd(html, "'", nextSq + 1);
          close = nextSq;
        }
        if (close === n) {
          p = n;
          break;
        }
        p = close + 1;
      }
    }
    while (p < n && html.charCodeAt(p - 1) !== 62) {
      let c = html.charCodeAt(p);
      if (c === 62 /* > */) {
        p++;
        break;
      }
      if (isSpace(c) || c === 47) {
        if (c === 47 && html.charCodeAt(p + 1) === 62) selfClosing = true;
        p++;
        continue;
      }
      const attrStart = p;
      while (p < n) {
        c = html.charCodeAt(p);
        if (isSpace(c) || c === 61 || c === 62 || (c === 47 && p > attrStart)) break;
        p++;
      }
      const attrName = html.slice(attrStart, p).toLowerCase();
      while (p < n && isSpace(html.charCodeAt(p))) p++;
      let value = "";
      if (html.charCodeAt(p) === 61 /* = */) {
        p++;
        while (p < n && isSpace(html.charCodeAt(p))) p++;
        const q = html.charCodeAt(p);
        if (q === 34 || q === 39) {
          const end = html.indexOf(q === 34 ? '"' : "'", p + 1);
          value = html.slice(p + 1, end < 0 ? n : end);
          p = end < 0 ? n : end + 1;
        } else {
          const vs = p;
          while (p < n) {
            c = html.charCodeAt(p);
            if (isSpace(c) || c === 62) break;
            p++;
          }
          value = html.slice(vs, p);
        }
      }
      if (attrName !== "" && !(attrName in attrs)) attrs[attrName] = decodeAttribute(value);
    }
    i = p;
    if (closing) {
      handler.closeTag(name, kind);
      continue;
    }
    handler.openTag(name, attrs, kind);
    if ((kind & TAG_VOID) !== 0 || selfClosing) {
      if ((kind & TAG_VOID) === 0) handler.closeTag(name, kind);
      continue;
    }
    if ((kind & TAG_RAW_TEXT) !== 0) {
      let re = RAW_TEXT_END.get(name);
      if (re === undefined) {
        re = new RegExp(`</${name}[\\s/>]`, "gi");
        RAW_TEXT_END.set(name, re);
      }
      re.lastIndex = i;
      const m = re.exec(html);
      const end = m ? m.index : n;
      const gt = m ? html.indexOf(">", end) : -1;
      i = gt < 0 ? n : gt + 1;
      handler.closeTag(name, kind);
    }
  }
}
