/**
 * The EWS adapter's pure parts: the failure table, SOAP reading and writing, the cursor codec,
 * the item mapper and the factory's configuration checks.
 */

import { describe, expect, it } from "vitest";
import { decodeCursor, encodeCursor } from "../../calendar/ews/ews-calendar-source.ts";
import { type EwsFailure, mapEwsFailure } from "../../calendar/ews/ews-error-mapper.ts";
import { ewsCalendarSourceFromConfig } from "../../calendar/ews/ews-from-config.ts";
import { mapEwsItem } from "../../calendar/ews/ews-item-mapper.ts";
import { buildEnvelope, child, children, parseXml, readFault, soapBody } from "../../calendar/ews/ews-soap.ts";
import { retryDelayMs } from "../../calendar/graph/graph-error-mapper.ts";
import { resolveConfig } from "../../core/config.ts";
import { ERROR_CODES } from "../../core/errors.ts";

const ews = (status: number, responseCode: string | null, backOffMs: number | null = null): EwsFailure => ({
  kind: "ews",
  status,
  responseCode,
  message: null,
  backOffMs,
});

describe("EWS failure table", () => {
  const cases: [string, EwsFailure, string, boolean][] = [
    ["server busy (fault)", ews(500, "ErrorServerBusy", 2500), "OTJ_EWS_THROTTLED", true],
    ["mailbox missing", ews(500, "ErrorNonExistentMailbox"), "OTJ_EWS_NOT_FOUND", false],
    ["access denied", ews(200, "ErrorAccessDenied"), "OTJ_EWS_ACCESS_DENIED", false],
    ["impersonation denied", ews(500, "ErrorImpersonateUserDenied"), "OTJ_EWS_ACCESS_DENIED", false],
    ["store unavailable", ews(200, "ErrorMailboxStoreUnavailable"), "OTJ_EWS_UNAVAILABLE", true],
    ["schema validation (fault, HTTP 500)", ews(500, "ErrorSchemaValidation"), "OTJ_EWS_REQUEST_INVALID", false],
    ["bad credentials", ews(401, null), "OTJ_EWS_AUTH", false],
    ["forbidden", ews(403, null), "OTJ_EWS_ACCESS_DENIED", false],
    ["bare 503", ews(503, null), "OTJ_EWS_UNAVAILABLE", true],
    ["unknown fault on 500", ews(500, "ErrorSomethingNew"), "OTJ_EWS_UNAVAILABLE", true],
    ["unknown error message on 200", ews(200, "ErrorSomethingNew"), "OTJ_EWS_REQUEST_INVALID", false],
    ["network", { kind: "network", cause: new Error("ECONNRESET") }, "OTJ_EWS_UNAVAILABLE", true],
    ["timeout", { kind: "timeout", cause: new Error("timed out") }, "OTJ_EWS_UNAVAILABLE", true],
    ["untrusted certificate", { kind: "tls", cause: new Error("self-signed certificate") }, "OTJ_EWS_TLS", false],
    ["a redirect (OWA sign-in page)", ews(302, null), "OTJ_EWS_REQUEST_INVALID", false],
    ["nonsense status", ews(600, null), "OTJ_EWS_BAD_RESPONSE", false],
  ];
  for (const [name, failure, code, retryable] of cases) {
    it(`${name} → ${code}`, () => {
      const error = mapEwsFailure(failure, "FindItem for room@x");
      expect(error.code).toBe(code);
      expect(error.retryable).toBe(retryable);
      expect(ERROR_CODES[error.code]).toBeDefined();
    });
  }

  it("waits BackOffMilliseconds for ErrorServerBusy, exponentially for transient errors, never for final ones", () => {
    expect(retryDelayMs(mapEwsFailure(ews(500, "ErrorServerBusy", 2500), "x"), 0, () => 0.5)).toBe(2500);
    expect(retryDelayMs(mapEwsFailure(ews(500, "ErrorServerBusy"), "x"), 1, () => 0.5)).toBe(1500);
    expect(retryDelayMs(mapEwsFailure(ews(503, null), "x"), 0, () => 0.5)).toBe(750);
    expect(retryDelayMs(mapEwsFailure(ews(500, "ErrorNonExistentMailbox"), "x"), 0, () => 0.5)).toBeNull();
  });
});

describe("SOAP", () => {
  it("escapes every value it writes, so a hostile address stays one text node", () => {
    const xml = buildEnvelope(
      "FindItem",
      { "m:ParentFolderIds": { "t:Mailbox": { "t:EmailAddress": `a</t:EmailAddress><x y="1">&` } } },
      { impersonate: `"><evil/>` },
    );
    const tree = parseXml(xml)!;
    const body = soapBody(tree);
    expect(child(child(child(body, "FindItem"), "ParentFolderIds"), "Mailbox")).toEqual({ EmailAddress: `a</t:EmailAddress><x y="1">&` });
    expect(xml).not.toContain("<evil/>");
  });

  it("refuses DOCTYPEs and text that is not XML", () => {
    expect(parseXml(`<!DOCTYPE a [<!ENTITY e "x">]><a>&e;</a>`)).toBeNull();
    expect(parseXml("<a><b></a>")).toBeNull();
  });

  it("reads a fault's response code and BackOffMilliseconds", () => {
    const xml = `<?xml version="1.0"?><s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body><s:Fault><faultcode xmlns:a="t">a:ErrorServerBusy</faultcode><faultstring>busy</faultstring><detail><e:ResponseCode xmlns:e="e">ErrorServerBusy</e:ResponseCode><t:MessageXml xmlns:t="t"><t:Value Name="Other">1</t:Value><t:Value Name="BackOffMilliseconds">29794</t:Value></t:MessageXml></detail></s:Fault></s:Body></s:Envelope>`;
    expect(readFault(soapBody(parseXml(xml)!))).toEqual({ faultCode: "a:ErrorServerBusy", message: "busy", responseCode: "ErrorServerBusy", backOffMs: 29794 });
  });
});

describe("cursor", () => {
  it("round-trips the view and refuses anything else", () => {
    const view = new Map([
      ["AAMkAGI2=", "DwAAABYA1"],
      ["AAMkAGI3+/", "DwAAABYA2"],
    ]);
    expect(decodeCursor(encodeCursor(view))).toEqual(view);
    expect(decodeCursor(encodeCursor(new Map()))).toEqual(new Map());
    expect(decodeCursor("ews1.AAAA")).toBeNull();
    expect(decodeCursor(`ews1.${Buffer.from("{}").toString("base64url")}`)).toBeNull();
    expect(decodeCursor("https://graph.microsoft.com/v1.0/x?$deltatoken=1")).toBeNull();
  });
});

describe("item mapper", () => {
  const item = (fields: string) => children(child(parseXml(`<r xmlns:t="t">${fields}</r>`), "r"), "CalendarItem")[0]!;

  it("maps an exception with its original slot, the room's decline and a private sensitivity", () => {
    const mapped = mapEwsItem(
      item(
        `<t:CalendarItem><t:ItemId Id="X1" ChangeKey="CK1"/><t:Subject>Sync</t:Subject><t:Sensitivity>Private</t:Sensitivity><t:Body BodyType="HTML">&lt;p&gt;hi&lt;/p&gt;</t:Body><t:UID>UID-1</t:UID><t:RecurrenceId>2025-03-05T08:30:00Z</t:RecurrenceId><t:Start>2025-03-05T10:00:00Z</t:Start><t:End>2025-03-05T10:30:00Z</t:End><t:IsCancelled>false</t:IsCancelled><t:CalendarItemType>Exception</t:CalendarItemType><t:MyResponseType>Decline</t:MyResponseType></t:CalendarItem>`,
      ),
    );
    expect(mapped.ok).toBe(true);
    if (!mapped.ok) return;
    expect(mapped.occurrence).toMatchObject({
      sourceId: "X1",
      changeKey: "CK1",
      kind: "exception",
      uid: "UID-1",
      seriesId: "UID-1",
      recurrenceId: "2025-03-05T08:30:00.000Z",
      start: "2025-03-05T10:00:00.000Z",
      sensitivity: "private",
      roomResponse: "declined",
      hasBody: true,
    });
  });

  it("skips a recurring master and an item without times, with a reason", () => {
    const master = mapEwsItem(
      item(`<t:CalendarItem><t:ItemId Id="M" ChangeKey="C"/><t:CalendarItemType>RecurringMaster</t:CalendarItemType></t:CalendarItem>`),
    );
    expect(master).toMatchObject({ ok: false, id: "M" });
    const timeless = mapEwsItem(item(`<t:CalendarItem><t:ItemId Id="T" ChangeKey="C"/></t:CalendarItem>`));
    expect(timeless.ok).toBe(false);
  });
});

describe("ewsCalendarSourceFromConfig", () => {
  const clock = { now: () => new Date(0), setTimer: () => () => {} };
  it("names the missing keys and refuses an oauth without token URL; builds basic and ntlm", () => {
    expect(() => ewsCalendarSourceFromConfig(resolveConfig({}, { env: {}, cwd: "/", source: "t" }), { clock })).toThrow(
      /ews\.url, ews\.username, ews\.password/,
    );
    const base = { url: "https://mail.contoso.example/EWS/Exchange.asmx", username: "CONTOSO\\svc", password: "p" };
    expect(ewsCalendarSourceFromConfig(resolveConfig({ ews: { ...base, auth: "ntlm" } }, { env: {}, cwd: "/", source: "t" }), { clock }).source).toBeDefined();
    expect(() => ewsCalendarSourceFromConfig(resolveConfig({ ews: { ...base, auth: "oauth" } }, { env: {}, cwd: "/", source: "t" }), { clock })).toThrow(
      /ews\.tokenUrl/,
    );
    expect(() =>
      ewsCalendarSourceFromConfig(resolveConfig({ ews: { ...base, caFile: "/nonexistent/ca.pem" } }, { env: {}, cwd: "/", source: "t" }), { clock }),
    ).toThrow(/ews\.caFile/);
    expect(ewsCalendarSourceFromConfig(resolveConfig({ ews: base }, { env: {}, cwd: "/", source: "t" }), { clock }).source).toBeDefined();
  });

  it("refuses plain http:// except on loopback", () => {
    expect(() => resolveConfig({ ews: { url: "http://mail.contoso.example/EWS/Exchange.asmx" } }, { env: {}, cwd: "/", source: "t" })).toThrow(/ews\.url/);
    expect(resolveConfig({ ews: { url: "http://127.0.0.1:8443/EWS/Exchange.asmx" } }, { env: {}, cwd: "/", source: "t" }).ews.url).toBe(
      "http://127.0.0.1:8443/EWS/Exchange.asmx",
    );
  });
});
