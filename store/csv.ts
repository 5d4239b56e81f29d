/**
 * A small RFC 4180 CSV reader: comma-separated fields, records ending in CRLF (LF and lone CR are
 * accepted too), double-quoted fields that may hold commas, line breaks and `""` for a quote. A
 * leading UTF-8 BOM is dropped. Strict about quotes: a quote inside an unquoted field, text after a
 * closing quote, or a quote never closed is an error naming its line. Linear time.
 */

export interface CsvRecord {
  /** 1-based physical line where the record starts. */
  line: number;
  fields: string[];
}

export class CsvSyntaxError extends Error {
  constructor(
    readonly line: number,
    message: string,
  ) {
    super(`line ${line}: ${message}`);
    this.name = "CsvSyntaxError";
  }
}

/** Parses CSV text into records. Throws CsvSyntaxError. An empty line is a record of one empty field. */
export function parseCsv(input: string): CsvRecord[] {
  const text = input.charCodeAt(0) === 0xfeff ? input.slice(1) : input;
  const records: CsvRecord[] = [];
  const length = text.length;
  let line = 1;
  let i = 0;
  while (i < length) {
    const recordLine = line;
    const fields: string[] = [];
    for (;;) {
      // One field, starting at i.
      if (text[i] === '"') {
        const fieldLine = line;
        let value = "";
        let start = i + 1;
        i = start;
        for (;;) {
          const quote = text.indexOf('"', i);
          if (quote === -1) throw new CsvSyntaxError(fieldLine, "a quoted field is never closed");
          for (let k = i; k < quote; k++) if (text.charCodeAt(k) === 10 || (text.charCodeAt(k) === 13 && text.charCodeAt(k + 1) !== 10)) line++;
          if (text[quote + 1] === '"') {
            value += text.slice(start, quote + 1);
            i = quote + 2;
            start = i;
            continue;
          }
          value += text.slice(start, quote);
          i = quote + 1;
          break;
        }
        const next = text[i];
        if (next !== undefined && next !== "," && next !== "\r" && next !== "\n") {
          throw new CsvSyntaxError(line, "unexpected text after a closing quote (a quote inside a field must be doubled)");
        }
        fields.push(value);
      } else {
        let end = i;
        while (end < length) {
          const c = text.charCodeAt(end);
          if (c === 44 || c === 10 || c === 13) break;
          if (c === 34) throw new CsvSyntaxError(line, "a quote inside an unquoted field (quote the whole field and double the quote)");
          end++;
        }
        fields.push(text.slice(i, end));
        i = end;
      }
      if (text[i] === ",") {
        i++;
        continue;
      }
      break;
    }
    // End of record: CRLF, LF, CR, or end of input.
    if (text[i] === "\r") i += text[i + 1] === "\n" ? 2 : 1;
    else if (text[i] === "\n") i++;
    line++;
    records.push({ line: recordLine, fields });
  }
  return records;
}
