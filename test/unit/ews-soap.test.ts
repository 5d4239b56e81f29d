/** The EWS feed's SOAP reader: hostile envelopes are refused before any parser expands them, with bounded CPU. */
import { describe, expect, it } from "vitest";
import { EWS_BODY_LIMIT, MAX_XML_DEPTH, SoapFault, parseSoapEnvelope, xmlNestingExceeds } from "../../app/http/ews-feed/soap.ts";

const env = (inner: string, prolog = "") =>
  `<?xml version="1.0"?>${prolog}<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/" xmlns:m="http://schemas.microsoft.com/exchange/services/2006/messages"><soap:Body>${inner}</soap:Body></soap:Envelope>`;

/** The fault a body raises, and the CPU milliseconds spent (CPU time, not wall-clock). */
function refuse(body: string): { fault: SoapFault; cpuMs: number } {
  const before = process.cpuUsage();
  let caught: unknown = null;
  try {
    parseSoapEnvelope(body);
  } catch (error) {
    caught = error;
  }
  const used = process.cpuUsage(before);
  expect(caught).toBeInstanceOf(SoapFault);
  return { fault: caught as SoapFault, cpuMs: (used.user + used.system) / 1000 };
}

describe("parseSoapEnvelope", () => {
  it("reads the operation, its request and the header", () => {
    const parsed = parseSoapEnvelope(
      env(`<m:FindItem Traversal="Shallow"><m:CalendarView StartDate="2025-03-04T00:00:00Z" EndDate="2025-03-05T00:00:00Z"/></m:FindItem>`),
    );
    expect(parsed.operation).toBe("FindItem");
    expect((parsed.request["CalendarView"] as Record<string, string>)["@_StartDate"]).toBe("2025-03-04T00:00:00Z");
  });

  it("refuses an external entity (XXE) before parsing: nothing is read", () => {
    const { fault } = refuse(
      env("<m:ResolveNames><m:UnresolvedEntry>&xxe;</m:UnresolvedEntry></m:ResolveNames>", `<!DOCTYPE r [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>`),
    );
    expect(fault.message).toMatch(/DTDs and entity declarations/);
  });

  it("refuses billion laughs before any expansion, within bounded CPU", () => {
    const lol = `<!DOCTYPE lolz [<!ENTITY lol "lol">${Array.from({ length: 9 }, (_, i) => `<!ENTITY lol${i + 1} "${`&lol${i === 0 ? "" : i};`.repeat(10)}">`).join("")}]>`;
    const { fault, cpuMs } = refuse(env("<m:GetFolder>&lol9;</m:GetFolder>", lol));
    expect(fault.responseCode).toBe("ErrorInvalidRequest");
    expect(cpuMs).toBeLessThan(2_000);
  });

  it("refuses an oversized envelope", () => {
    const { fault } = refuse(env(`<m:GetFolder>${"a".repeat(EWS_BODY_LIMIT)}</m:GetFolder>`));
    expect(fault.httpStatus).toBe(413);
  });

  it("refuses deep nesting before parsing, within bounded CPU", () => {
    const depth = 20_000;
    const { fault, cpuMs } = refuse(env(`${"<a>".repeat(depth)}${"</a>".repeat(depth)}`.slice(0, EWS_BODY_LIMIT - 400)));
    expect(fault.message).toMatch(new RegExp(`deeper than ${MAX_XML_DEPTH}`));
    expect(cpuMs).toBeLessThan(2_000);
  });

  it("refuses text that is not XML, unterminated tags and a body without an operation", () => {
    expect(refuse('{"json":true}').fault.responseCode).toBe("ErrorSchemaValidation");
    expect(refuse(`<a${"<".repeat(60_000)}`).fault.message).toMatch(/not well-formed/);
    expect(refuse(env("")).fault.message).toMatch(/names no operation/);
  });

  it("measures nesting in one pass, comments and CDATA aside", () => {
    expect(xmlNestingExceeds("<a><b/><!-- <c><c><c> --><![CDATA[<d><d>]]></a>", 1)).toBe(false);
    expect(xmlNestingExceeds("<a><b><c/></b></a>", 1)).toBe(true);
    expect(xmlNestingExceeds("<a", 5)).toBe(null);
    expect(xmlNestingExceeds("<a><b>", 5)).toBe(null);
    expect(xmlNestingExceeds("</a>", 5)).toBe(null);
  });
});
