/**
 * A small, tolerant, linear HTML tokenizer for invite bodies. It reads what the body model needs
 * (tags with their attributes, text with character references decoded, comments and raw-text
 * elements skipped) with indexOf-driven scanning, several times faster than a full tree builder.
 * It never throws; malformed markup degrades to text.
 */
import { decodeHTML, decodeHTMLAttribute } from "entities";

export interface HtmlHandler {
  /** Whether openTag needs the attributes of this tag (skipping them is much faster). */
  wantsAttributes(name: string): boolean;
  openTag(name: string, attrs: Record<string, string>): void;
  closeTag(name: string): void;
  text(text: string): void;
}

/** Elements whose content is not markup; their text is not visible body text. */
const RAW_TEXT = new Set(["script", "style", "title", "textarea", "xml", "template", "noscript", "iframe", "noembed", "noframes", "xmp"]);
const VOID = new Set(["br", "img", "hr", "meta", "link", "input", "wbr", "col", "area", "base", "embed", "param", "source", "track"]);

const TAG_END = /[>"']/g;
const NO_ATTRIBUTES: Record<string, string> = Object.freeze({}) as Record<string, string>;

function isNameStart(code: number): boolean {
  return (code >= 65 && code <= 90) || (code >= 97 && code <= 122);
}

function isSpace(code: number): boolean {
  return code === 32 || code === 9 || code === 10 || code === 12 || code === 13;
}

function decodeText(text: string): string {
  return text.includes("&") ? decodeHTML(text) : text;
}

/** Tokenizes `html`, calling the handler in document order. */
export function scanHtml(html: string, handler: HtmlHandler): void {
  const n = html.length;
  let i = 0;
  while (i < n) {
    const lt = html.indexOf("<", i);
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
    while (p < n) {
      const c = html.charCodeAt(p);
      if (isSpace(c) || c === 47 || c === 62) break;
      p++;
    }
    const name = html.slice(nameStart, p).toLowerCase();
    // Attributes, honouring quotes, up to the closing '>'.
    const wanted = !closing && handler.wantsAttributes(name);
    const attrs: Record<string, string> = wanted ? {} : NO_ATTRIBUTES;
    let selfClosing = false;
    if (!wanted) {
      // Skip to the closing '>' outside quotes without reading attributes.
      TAG_END.lastIndex = p;
      for (let m = TAG_END.exec(html); ; m = TAG_END.exec(html)) {
        if (m === null) {
          p = n;
          break;
        }
        if (m[0] === ">") {
          selfClosing = html.charCodeAt(m.index - 1) === 47;
          p = m.index + 1;
          break;
        }
        const close = html.indexOf(m[0], m.index + 1);
        if (close < 0) {
          p = n;
          break;
        }
        TAG_END.lastIndex = close + 1;
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
      if (attrName !== "" && !(attrName in attrs)) attrs[attrName] = value.includes("&") ? decodeHTMLAttribute(value) : value;
    }
    i = p;
    if (closing) {
      handler.closeTag(name);
      continue;
    }
    handler.openTag(name, attrs);
    if (VOID.has(name) || selfClosing) {
      if (!VOID.has(name)) handler.closeTag(name);
      continue;
    }
    if (RAW_TEXT.has(name)) {
      const re = new RegExp(`</${name}[\\s/>]`, "gi");
      re.lastIndex = i;
      const m = re.exec(html);
      const end = m ? m.index : n;
      const gt = m ? html.indexOf(">", end) : -1;
      i = gt < 0 ? n : gt + 1;
      handler.closeTag(name);
    }
  }
}
