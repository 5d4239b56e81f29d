import { describe, expect, it } from "vitest";
import { unwrapUrl } from "../../parser/unwrap/index.ts";

const TEAMS =
  "https://teams.microsoft.com/l/meetup-join/19%3ameeting_Zm9vYmFy%40thread.v2/0?context=%7b%22Tid%22%3a%22c0ffee00-1111-2222-3333-444455556666%22%7d";

function safeLinks(host: string, path: string, target: string): string {
  return `https://${host}${path}?url=${encodeURIComponent(target)}&data=05%7C02%7Croom101%40contoso.example%7C0a1b2c3d%7C0%7C0%7C638700000000000000%7CUnknown%7CTWFp%7C0%7C%7C%7C&sdata=AbCdEf%2BgH%3D&reserved=0`;
}

describe("Safe Links", () => {
  it("undoes the B1.3 worked example exactly, keeping the inner percent-encoding", () => {
    const href =
      "https://eur02.safelinks.protection.outlook.com/?url=https%3A%2F%2Fteams.microsoft.com%2Fl%2Fmeetup-join%2F19%253ameeting_Zm9vYmFy%2540thread.v2%2F0%3Fcontext%3D%257b%2522Tid%2522%253a%2522c0ffee00-1111-2222-3333-444455556666%2522%257d&data=05%7C02%7Croom101%40contoso.example%7C0a1b2c3d%7C0%7C0%7C638700000000000000%7CUnknown%7CTWFp%7C0%7C%7C%7C&sdata=AbCdEf%2BgH%3D&reserved=0";
    const r = unwrapUrl(href);
    expect(r.url).toBe(TEAMS);
    expect(r.wrappers).toEqual(["safelinks"]);
    expect(r.warnings).toEqual([]);
  });

  it.each([
    ["nam12.safelinks.protection.outlook.com", "/"],
    ["eur01.safelinks.protection.outlook.com", "/ap/t-59584e83/"],
    ["gcc02.safelinks.protection.office365.us", "/"],
    ["safelinks.protection.outlook.com", "/"],
  ])("recognises %s%s", (host, path) => {
    expect(unwrapUrl(safeLinks(host, path, "https://contoso.zoom.us/j/81234567890")).url).toBe("https://contoso.zoom.us/j/81234567890");
  });

  it("recognises the OWA and Teams Safe Links pages", () => {
    const target = "https://meet.google.com/abc-mnop-xyz";
    expect(unwrapUrl(`https://outlook.office.com/mail/safelink.html?url=${encodeURIComponent(target)}`).url).toBe(target);
    expect(unwrapUrl(`https://statics.teams.cdn.office.net/evergreen-assets/safelinks/1/atp-safelinks.html?url=${encodeURIComponent(target)}`).url).toBe(
      target,
    );
  });

  it("keeps a literal '+' and reads '&amp;' as a separator", () => {
    const r = unwrapUrl("https://eur02.safelinks.protection.outlook.com/?url=https%3A%2F%2Ffabrikam.example%2Fa+b&amp;data=x");
    expect(r.url).toBe("https://fabrikam.example/a+b");
  });

  it("does not unwrap look-alike hosts", () => {
    const fake = `https://safelinks.protection.outlook.com.evil.example/?url=${encodeURIComponent(TEAMS)}`;
    expect(unwrapUrl(fake).url).toBe(fake);
    const deep = `https://a.b.safelinks.protection.outlook.com/?url=${encodeURIComponent(TEAMS)}`;
    expect(unwrapUrl(deep).url).toBe(deep);
  });

  it("warns and keeps the wrapper when the payload is broken", () => {
    const r = unwrapUrl("https://eur02.safelinks.protection.outlook.com/?url=%E0%A4%A&data=1");
    expect(r.warnings).toEqual(["unwrap-failed: safelinks"]);
    expect(r.url).toContain("safelinks");
    const noScheme = unwrapUrl("https://eur02.safelinks.protection.outlook.com/?url=javascript%3Aalert(1)");
    expect(noScheme.warnings).toEqual(["unwrap-failed: safelinks"]);
  });
});

describe("Proofpoint", () => {
  it("v1", () => {
    expect(unwrapUrl("https://urldefense.proofpoint.com/v1/url?u=https://fabrikam.example/a%3Fb%3D1&k=Zm9v%0A&r=x&m=y&s=z").url).toBe(
      "https://fabrikam.example/a?b=1",
    );
  });
  it("v2", () => {
    const r = unwrapUrl("https://urldefense.proofpoint.com/v2/url?u=https-3A__contoso.zoom.us_j_81234567890-3Fpwd-3DAbC-2Dd-5F1&d=DwMFaQ&c=AbC&r=x&m=y&s=z&e=");
    expect(r.url).toBe("https://contoso.zoom.us/j/81234567890?pwd=AbC-d_1");
    expect(r.wrappers).toEqual(["proofpoint-v2"]);
  });
  it("v3 single substitutions", () => {
    const r = unwrapUrl("https://urldefense.com/v3/__https://teams.microsoft.com/l/meetup-join/19*3ameeting_Zm9vYmFy*40thread.v2/0__;JSU!!AbCdEf!gHiJkL0123$");
    expect(r.url).toBe("https://teams.microsoft.com/l/meetup-join/19%3ameeting_Zm9vYmFy%40thread.v2/0");
  });
  it("v3 run substitutions", () => {
    const r = unwrapUrl("https://urldefense.com/v3/__https://fabrikam.example/a**Ab*c__;QCMr!!AbCdEf!sig$");
    expect(r.url).toBe("https://fabrikam.example/a@#b+c");
  });
  it("v3 with too few replacement characters fails with a warning", () => {
    const r = unwrapUrl("https://urldefense.com/v3/__https://fabrikam.example/a**Bb__;QA!!x!y$");
    expect(r.warnings).toEqual(["unwrap-failed: proofpoint-v3"]);
  });
  it("accepts either host for any version", () => {
    expect(unwrapUrl("https://urldefense.com/v1/url?u=https://fabrikam.example/x&k=1").url).toBe("https://fabrikam.example/x");
  });
});

describe("other wrappers", () => {
  it("Google redirect, q then url", () => {
    expect(unwrapUrl("https://www.google.com/url?q=https://meet.google.com/abc-mnop-xyz&sa=D&source=calendar&usg=AOv").url).toBe(
      "https://meet.google.com/abc-mnop-xyz",
    );
    expect(unwrapUrl("https://www.google.co.uk/url?url=https%3A%2F%2Fmeet.google.com%2Fabc-mnop-xyz").url).toBe("https://meet.google.com/abc-mnop-xyz");
  });
  it("Barracuda", () => {
    expect(unwrapUrl(`https://linkprotect.cudasvc.com/url?a=${encodeURIComponent(TEAMS)}&c=E,1,abc&typo=1`).url).toBe(TEAMS);
  });
  it("Cisco Secure Email", () => {
    expect(unwrapUrl(`https://secure-web.cisco.com/1AbCdEf/${encodeURIComponent("https://contoso.zoom.us/j/81234567890")}`).url).toBe(
      "https://contoso.zoom.us/j/81234567890",
    );
  });
  it("Trend Micro with :443 and lowercase escapes", () => {
    expect(unwrapUrl("https://imsva91-ctp.trendmicro.com:443/wis/clicktime/v1/query?url=https%3a%2f%2fcontoso.zoom.us%2fj%2f81234567890&umid=x").url).toBe(
      "https://contoso.zoom.us/j/81234567890",
    );
  });
  it("Sophos base64", () => {
    expect(unwrapUrl("https://eu-west-1.protection.sophos.com/?d=zoom.us&u=aHR0cHM6Ly9jb250b3NvLnpvb20udXMvai84MTIzNDU2Nzg5MA==&p=m&i=x").url).toBe(
      "https://contoso.zoom.us/j/81234567890",
    );
  });
  it("FireEye", () => {
    expect(unwrapUrl(`https://protect2.fireeye.com/v1/url?k=abc&u=${encodeURIComponent(TEAMS)}`).url).toBe(TEAMS);
  });
  it("Avanan", () => {
    expect(unwrapUrl("https://url.avanan.click/v2/___https:/contoso.zoom.us/j/81234567890___.YXA6Y29udG9zbzo").url).toBe(
      "https://contoso.zoom.us/j/81234567890",
    );
  });
  it("Mimecast is opaque", () => {
    const r = unwrapUrl("https://protect-eu.mimecast.com/s/AbCdEfGh?domain=teams.microsoft.com");
    expect(r.opaque).toEqual({ wrapper: "mimecast", domain: "teams.microsoft.com" });
    expect(r.warnings).toEqual(["link-wrapped-opaque: mimecast"]);
  });
});

describe("the unwrap loop", () => {
  it("peels nested wrappers (Safe Links around Proofpoint v3 around Safe Links)", () => {
    const inner = safeLinks("nam12.safelinks.protection.outlook.com", "/", "https://contoso.zoom.us/j/81234567890");
    const pp = `https://urldefense.com/v3/__${inner.replace(/%/g, "*")}__;${Buffer.from("%".repeat((inner.match(/%/g) ?? []).length)).toString("base64url")}!!x!y$`;
    const outer = safeLinks("eur02.safelinks.protection.outlook.com", "/", pp);
    const r = unwrapUrl(outer);
    expect(r.url).toBe("https://contoso.zoom.us/j/81234567890");
    expect(r.wrappers).toEqual(["safelinks", "proofpoint-v3", "safelinks"]);
  });

  it("stops after five unwraps with a warning", () => {
    let url = "https://contoso.zoom.us/j/81234567890";
    for (let i = 0; i < 7; i++) url = `https://www.google.com/url?q=${encodeURIComponent(url)}`;
    const r = unwrapUrl(url);
    expect(r.warnings).toContain("unwrap-depth-exceeded");
    expect(r.wrappers).toHaveLength(5);
  });

  it("refuses over-long links", () => {
    const r = unwrapUrl(`https://www.google.com/url?q=https://x.example/${"a".repeat(9000)}`);
    expect(r.warnings).toEqual(["link-too-long"]);
  });

  it("leaves ordinary URLs alone", () => {
    expect(unwrapUrl(TEAMS)).toEqual({ url: TEAMS, opaque: null, wrappers: [], warnings: [] });
  });
});
