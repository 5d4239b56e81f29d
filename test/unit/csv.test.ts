import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { CsvSyntaxError, parseCsv } from "../../store/csv.ts";

const fields = (text: string) => parseCsv(text).map((r) => r.fields);

function syntaxError(text: string): CsvSyntaxError {
  try {
    parseCsv(text);
  } catch (error) {
    if (error instanceof CsvSyntaxError) return error;
    throw error;
  }
  throw new Error("expected a CSV syntax error");
}

describe("parseCsv (RFC 4180)", () => {
  it("splits records on CRLF, LF and lone CR, without a record for the final line break", () => {
    expect(fields("a,b\r\nc,d\r\n")).toEqual([
      ["a", "b"],
      ["c", "d"],
    ]);
    expect(fields("a,b\nc,d")).toEqual([
      ["a", "b"],
      ["c", "d"],
    ]);
    expect(fields("a\rb\r")).toEqual([["a"], ["b"]]);
    expect(fields("")).toEqual([]);
  });

  it("drops a UTF-8 BOM and keeps spaces and empty fields", () => {
    expect(fields("\uFEFFmailbox, name ,\r\n")).toEqual([["mailbox", " name ", ""]]);
    expect(fields(",,\n")).toEqual([["", "", ""]]);
    expect(fields("a\n\nb\n")).toEqual([["a"], [""], ["b"]]);
  });

  it("reads quoted fields with commas, doubled quotes and line breaks", () => {
    expect(fields('"Board room, 5th floor","say ""hi""","two\r\nlines",""\r\nx,"y"\n')).toEqual([
      ["Board room, 5th floor", 'say "hi"', "two\r\nlines", ""],
      ["x", "y"],
    ]);
  });

  it("numbers records by the physical line where they start", () => {
    const records = parseCsv('h1,h2\r\n"a\r\nb",c\r\n"d\ne\nf",g\nlast,x');
    expect(records.map((r) => r.line)).toEqual([1, 2, 4, 7]);
  });

  it("refuses quotes it cannot read, naming the line", () => {
    expect(syntaxError('h\nok\n"never closed\nmore').line).toBe(3);
    expect(syntaxError('h\nok\n"never closed\nmore').message).toBe("line 3: a quoted field is never closed");
    expect(syntaxError('a,b"c\n').message).toContain("line 1: a quote inside an unquoted field");
    expect(syntaxError('h\n"x"y,z\n').message).toContain("line 2: unexpected text after a closing quote");
    expect(syntaxError('h\n"a\nb"c\n').line).toBe(3);
  });

  it("round-trips any table written the RFC 4180 way", () => {
    const cell = fc.string({ unit: fc.constantFrom("a", "Z", "0", " ", ",", '"', "\r", "\n", "é", "\u{1F600}", "\t"), maxLength: 8 });
    const table = fc.array(fc.array(cell, { minLength: 1, maxLength: 5 }), { minLength: 1, maxLength: 20 });
    fc.assert(
      fc.property(table, fc.boolean(), fc.constantFrom("\r\n", "\n"), (rows, bom, eol) => {
        // A record of one empty field would be written as an empty line, so quote it.
        const encode = (value: string, alone: boolean) => ((alone && value === "") || /[",\r\n]/.test(value) ? `"${value.replaceAll('"', '""')}"` : value);
        const text = (bom ? "\uFEFF" : "") + rows.map((row) => row.map((v) => encode(v, row.length === 1)).join(",")).join(eol) + eol;
        expect(parseCsv(text).map((r) => r.fields)).toEqual(rows);
      }),
      { numRuns: 300 },
    );
  });
});
