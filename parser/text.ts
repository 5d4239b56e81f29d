/** Small string helpers shared by the extractors. All linear-time. */

const SPACE_LIKE = /[\u00A0\u2007\u2009\u202F\u200B\u3000\t\f\v\r\n]+/g;
const NEEDS_NORMALIZING = /[\u00A0\u2007\u2009\u202F\u200B\u3000\t\f\v\r\n\uFF1A]| {2}/;

/**
 * Normalises line breaks, non-breaking and exotic spaces to ' ', fullwidth colons to ':', and
 * collapses runs of spaces (HTML text nodes carry source line breaks inside labels).
 */
export function normalizeLine(line: string): string {
  if (!NEEDS_NORMALIZING.test(line)) return line.trim();
  return line
    .replace(SPACE_LIKE, " ")
    .replace(/\uFF1A/g, ":")
    .replace(/ {2,}/g, " ")
    .trim();
}

/** Percent-decodes once, byte-wise to UTF-8. Returns null on a malformed sequence. */
export function percentDecodeOnce(value: string): string | null {
  if (!value.includes("%")) return value;
  const ascii = decodeAsciiEscapes(value);
  if (ascii !== null) return ascii;
  try {
    return decodeURIComponent(value);
  } catch {
    // decodeURIComponent rejects lone '%' and invalid UTF-8; retry leaving bad escapes alone.
    let out = "";
    const bytes: number[] = [];
    const flush = () => {
      if (bytes.length) {
        out += Buffer.from(bytes).toString("utf8");
        bytes.length = 0;
      }
    };
    for (let i = 0; i < value.length; i++) {
      const c = value[i];
      if (c === "%" && /^[0-9A-Fa-f]{2}$/.test(value.slice(i + 1, i + 3))) {
        bytes.push(Number.parseInt(value.slice(i + 1, i + 3), 16));
        i += 2;
      } else {
        flush();
        out += c;
      }
    }
    flush();
    return out.includes("\uFFFD") ? null : out;
  }
}

function hexDigit(c: number): number {
  if (c >= 48 && c <= 57) return c - 48;
  if (c >= 65 && c <= 70) return c - 55;
  if (c >= 97 && c <= 102) return c - 87;
  return -1;
}

/**
 * decodeURIComponent for the common case where every '%' starts an escape of an ASCII byte
 * (below %80); null otherwise. V8's decodeURIComponent is slow on short values.
 */
function decodeAsciiEscapes(value: string): string | null {
  let out = "";
  let from = 0;
  for (let pct = value.indexOf("%"); pct >= 0; pct = value.indexOf("%", from)) {
    const high = hexDigit(value.charCodeAt(pct + 1));
    const low = hexDigit(value.charCodeAt(pct + 2));
    if (high < 0 || high >= 8 || low < 0) return null;
    out += value.slice(from, pct) + String.fromCharCode(high * 16 + low);
    from = pct + 3;
  }
  return out + value.slice(from);
}

/** Decodes repeatedly (at most `times`) until no %xx escape remains. */
export function percentDecodeFully(value: string, times = 3): string {
  let current = value;
  for (let i = 0; i < times && /%[0-9A-Fa-f]{2}/.test(current); i++) {
    const next = percentDecodeOnce(current);
    if (next === null || next === current) break;
    current = next;
  }
  return current;
}

const NAMED_ENTITIES: Record<string, string> = { amp: "&", lt: "<", gt: ">", quot: '"', apos: "'", nbsp: "\u00A0" };

/** Decodes the few HTML character references that appear in text copies of HTML links. */
export function decodeBasicEntities(value: string): string {
  if (!value.includes("&")) return value;
  return value.replace(/&(#x[0-9a-fA-F]{1,6}|#[0-9]{1,7}|[a-zA-Z]{2,6});/g, (whole, ref: string) => {
    if (ref[0] === "#") {
      const code = ref[1] === "x" || ref[1] === "X" ? Number.parseInt(ref.slice(2), 16) : Number.parseInt(ref.slice(1), 10);
      return code > 0 && code <= 0x10ffff ? String.fromCodePoint(code) : whole;
    }
    return NAMED_ENTITIES[ref.toLowerCase()] ?? whole;
  });
}

export function digitsOnly(value: string): string {
  return value.replace(/[^0-9]/g, "");
}

/** Lowercase GUID check, accepting any case on input. */
export function normalizeGuid(value: unknown): string | null {
  if (typeof value !== "string") return null;
  const v = value.trim().toLowerCase();
  return /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/.test(v) ? v : null;
}

/** Splits on CRLF, CR or LF. */
export function splitLines(text: string): string[] {
  return text.split(/\r\n|\r|\n/);
}

/**
 * value.slice(at, at + word.length).toLowerCase() === word, for a lowercase ASCII `word`,
 * without allocating. Only U+212A KELVIN SIGN lowercases to ASCII from outside ASCII (U+0130
 * lowercases to two characters, so it never matches).
 */
export function asciiWordAt(value: string, at: number, word: string): boolean {
  if (at < 0 || at + word.length > value.length) return false;
  for (let k = 0; k < word.length; k++) {
    let c = value.charCodeAt(at + k);
    if (c >= 65 && c <= 90) c += 32;
    else if (c === 0x212a) c = 107;
    if (c !== word.charCodeAt(k)) return false;
  }
  return true;
}

/** Lowercases without changing the string's length (so indexes stay valid in the original). */
export function lowerSameLength(value: string): string {
  const lower = value.toLowerCase();
  if (lower.length === value.length) return lower;
  let out = "";
  for (const c of value) {
    const l = c.toLowerCase();
    out += l.length === c.length ? l : c;
  }
  return out;
}
