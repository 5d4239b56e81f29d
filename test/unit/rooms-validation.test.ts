import { describe, expect, it } from "vitest";
import type { NewRoom } from "../../core/ports/store.ts";
import { normalizeSipAddress } from "../../core/sip-address.ts";
import { newRoomId } from "../../store/ids.ts";
import { sgjTemplateProblem as checkSgjTemplate } from "../../core/sgj-template.ts";
import { checkSubjectTemplate, normalizeDeviceAddress, normalizeMailbox, validateNewRoom, validateProvider } from "../../store/validation.ts";

const base: NewRoom = { mailbox: "room101@contoso.example", displayName: "Room 101", provider: "contoso", deviceFamily: "xapi", deviceAddress: "10.0.0.5" };

function problems(input: Partial<NewRoom>): string[] {
  const result = validateNewRoom({ ...base, ...input });
  return result.ok ? [] : result.problems;
}

describe("room ids", () => {
  it("are rm_ and 10 characters, and differ", () => {
    const ids = new Set(Array.from({ length: 1000 }, newRoomId));
    expect(ids.size).toBe(1000);
    for (const id of ids) expect(id).toMatch(/^rm_[0-9a-z]{10}$/);
  });
});

describe("mailboxes", () => {
  it("are lowercased; anything that is not an address is refused", () => {
    expect(normalizeMailbox(" Room.101+vc@Contoso.Example ")).toBe("room.101+vc@contoso.example");
    for (const bad of [
      "",
      "room",
      "@contoso.example",
      "room@",
      "room@localhost",
      "a b@contoso.example",
      "room@contoso..example",
      ".room@contoso.example",
      "room@-x.example",
      "room@contoso.example\nx",
    ]) {
      expect(normalizeMailbox(bad), bad).toBeNull();
    }
    expect(normalizeMailbox(`${"a".repeat(65)}@contoso.example`)).toBeNull();
  });
});

describe("device addresses", () => {
  it("accepts https/http origins and bare hosts (https), nothing else", () => {
    expect(normalizeDeviceAddress("10.0.0.5")).toEqual({ address: "https://10.0.0.5" });
    expect(normalizeDeviceAddress("Room101.Contoso.Example:8443")).toEqual({ address: "https://room101.contoso.example:8443" });
    expect(normalizeDeviceAddress("http://10.0.0.5:8080/")).toEqual({ address: "http://10.0.0.5:8080" });
    expect(normalizeDeviceAddress("https://[fd00::5]")).toEqual({ address: "https://[fd00::5]" });
    for (const bad of ["ftp://x.example", "https://x.example/putxml", "https://admin:pw@x.example", "https://x.example?a=1", "not a host", "https://"]) {
      expect("problem" in normalizeDeviceAddress(bad), bad).toBe(true);
    }
  });

  it("depends on the device family", () => {
    expect(problems({})).toEqual([]);
    expect(problems({ deviceAddress: null })).toEqual(["a xapi room needs a device address (https://host[:port])"]);
    expect(problems({ deviceFamily: "webex-cloud", deviceAddress: "webex://Y2lzY29zcGFyazovL3VzL0RFVklDRS8xMjM=" })).toEqual([]);
    expect(problems({ deviceFamily: "webex-cloud", deviceAddress: "https://x.example" })).toEqual([
      'device address "https://x.example" is not webex://<deviceId>',
    ]);
    expect(problems({ deviceFamily: "pull", deviceAddress: null })).toEqual([]);
    expect(problems({ deviceFamily: "pull" })).toEqual(["a pull room has no device address (the device calls otj)"]);
    expect(problems({ deviceFamily: "pull", deviceAddress: null, devicePassword: "x" })).toEqual([
      "device username and password apply to xapi and xapi-legacy rooms, not pull",
    ]);
    expect(problems({ deviceFamily: "Fax" })[0]).toContain("device family must be one of xapi, xapi-legacy, webex-cloud, pull");
  });
});

describe("room fields", () => {
  it("applies the privacy defaults and normalises the SIP URI", () => {
    const result = validateNewRoom({ ...base, sipUri: "sip:Room101@Video.Contoso.Example;transport=tls", deviceFamily: "XAPI" });
    expect(result).toMatchObject({
      ok: true,
      value: {
        deviceFamily: "xapi",
        deviceAddress: "https://10.0.0.5",
        sipUri: "Room101@video.contoso.example",
        privateMeetings: "process",
        subjectReplace: "private",
        subjectTemplate: "Private meeting",
        privateJoin: "enabled",
        insecureTls: false,
      },
    });
  });

  it("reports every problem at once, quoting input safely", () => {
    const all = problems({
      mailbox: "bad\nmailbox",
      displayName: "  ",
      provider: "",
      sipUri: "sip:x@y.example?subject=hi",
      privateMeetings: "sometimes",
      subjectReplace: "x",
      privateJoin: "y",
      subjectTemplate: "{organizer}",
      deviceToken: "short",
      timeZone: "Mars/Olympus",
    });
    expect(all).toEqual([
      'mailbox "bad\\nmailbox" is not a valid mailbox address',
      "display name is empty",
      "provider is empty",
      'SIP URI "sip:x@y.example?subject=hi" is not a SIP address user@host',
      "device token must be 16-200 characters of A-Z, a-z, 0-9, . _ ~ -",
      'private meetings must be one of process, skip (got "sometimes")',
      'subject replace must be one of never, private, all (got "x")',
      'private join must be one of enabled, disabled (got "y")',
      "subject template has unknown placeholder {organizer} (use {organizerName}, {subject})",
      'time zone "Mars/Olympus" is not an IANA time zone',
    ]);
  });

  it("checks subject templates", () => {
    expect(checkSubjectTemplate("Meeting of {organizerName}: {subject}")).toBeNull();
    expect(checkSubjectTemplate("x".repeat(257))).toContain("longer than 256");
  });
});

describe("SIP addresses", () => {
  it("follow docs/formats.md", () => {
    expect(normalizeSipAddress("sips:Board@Video.Fabrikam.Example:5061")).toBe("Board@video.fabrikam.example:5061");
    expect(normalizeSipAddress("1198563286.contoso@m.webex.com")).toBe("1198563286.contoso@m.webex.com");
    expect(normalizeSipAddress("4455@198.51.100.7")).toBe("4455@198.51.100.7");
    for (const bad of ["board", "board@", "bo ard@x.example", "board@x", "board@x.example:0", "board@x.example:70000", "x@y.example?h=1"]) {
      expect(normalizeSipAddress(bad), bad).toBeNull();
    }
  });
});

describe("providers", () => {
  it("validate like the cmdlets' records", () => {
    expect(
      validateProvider({
        name: "contoso-webex",
        partner: "Cisco",
        tenantKey: "sip:contoso@m.webex.com",
        sipDomain: "M.Webex.Com",
        ivrAddress: "ivr@x.example",
      }),
    ).toEqual({
      ok: true,
      value: {
        name: "contoso-webex",
        partner: "cisco",
        tenantKey: "contoso@m.webex.com",
        sipDomain: "m.webex.com",
        ivrAddress: "ivr@x.example",
        sgjEnabled: true,
        sgjTemplate: null,
        instructionUrl: null,
      },
    });
    const bad = validateProvider({ name: "-x", partner: "zoom", tenantKey: "nope", sipDomain: "localhost", instructionUrl: "ftp://x" });
    expect(bad.ok ? [] : bad.problems).toEqual([
      'provider name "-x" must be 1-64 characters of A-Z, a-z, 0-9, . _ - (starting with a letter or digit)',
      'partner must be one of pexip, cisco, poly, bluejeans, generic (got "zoom")',
      'tenant key "nope" is not a SIP address like contoso@m.webex.com',
      'SIP domain "localhost" is not a DNS name',
      'instruction URL "ftp://x" is not an http(s) URL',
    ]);
  });

  it("check SGJ templates (docs/formats.md, a SIP address result)", () => {
    expect(checkSgjTemplate("{sessionId}@{domain}")).toBeNull();
    expect(checkSgjTemplate("{meetingId}.{passcode}@sgj.contoso.example")).toBeNull();
    expect(checkSgjTemplate("{meetingId}@{host}")).toContain("unknown placeholder {host}");
    expect(checkSgjTemplate("{meetingId}")).toContain("does not give a SIP address");
  });
});
