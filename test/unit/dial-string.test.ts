import { describe, expect, it } from "vitest";
import { occurrenceKey, sessionIdFor } from "../../core/identities.ts";
import { buildSgjDialString, isValidDialString, planCvi, type ProviderDialInfo, redactSgjDialString } from "../../join/dial-string.ts";
import { sgjTemplateProblem } from "../../core/sgj-template.ts";
import { compileRules, regexProblem } from "../../join/rules.ts";

const cvi = (tenantKey: string, videoConferenceId: string, moreInfoUrl: string | null = null) => ({ tenantKey, videoConferenceId, moreInfoUrl });
const provider = (p: Partial<ProviderDialInfo>): ProviderDialInfo => ({
  name: "p",
  partner: "generic",
  tenantKey: null,
  sipDomain: null,
  ivrAddress: null,
  sgjEnabled: true,
  sgjTemplate: null,
  ...p,
});

describe("CVI direct dial conventions (B3.3) and IVR (B3.1)", () => {
  it.each([
    ["cisco by domain", cvi("contoso@m.webex.com", "1198563286"), "1198563286.contoso@m.webex.com", "cisco"],
    ["poly by domain, leading zero kept", cvi("524817396@t.plcm.vc", "017920684"), "524817396.017920684@t.plcm.vc", "poly"],
    ["bluejeans", cvi("130885042@teams.bjn.vc", "1291418361"), "130885042.1291418361@teams.bjn.vc", "bluejeans"],
    ["pexip service", cvi("teams@contoso.onpexip.com", "4471302215"), "4471302215@contoso.onpexip.com", "pexip"],
    ["generic", cvi("vtc@video.fabrikam.example", "8812345670"), "vtc.8812345670@video.fabrikam.example", "generic"],
    [
      "pexip infinity from the more-info URL with prefix",
      cvi("teams@vc.contoso.example", "1127180739", "https://vc.contoso.example/teams/?conf=1127180739&ivr=teams&d=vc.contoso.example&prefix=teams."),
      "teams.1127180739@vc.contoso.example",
      "pexip",
    ],
    [
      "pexip infinity without prefix",
      cvi(
        "org.teams@video.fabrikam.example",
        "1274065519",
        "https://meet.video.fabrikam.example/teams/?conf=1274065519&ivr=org.teams&d=video.fabrikam.example",
      ),
      "1274065519@video.fabrikam.example",
      "pexip",
    ],
    [
      "pexip.me",
      cvi("teams@vc.contoso.example", "9876543210", "https://pexip.me/teams/vc.contoso.example/9876543210"),
      "9876543210@vc.contoso.example",
      "pexip",
    ],
    [
      "webex msteams page",
      cvi("contoso@m.webex.com", "1182453796", "https://www.webex.com/msteams?confid=1182453796&tenantkey=contoso&domain=m.webex.com"),
      "1182453796.contoso@m.webex.com",
      "cisco",
    ],
    [
      "poly page",
      cvi("123456789@t.plcm.vc", "0123456789", "https://dialin.plcm.vc/teams/?key=123456789&conf=0123456789"),
      "123456789.0123456789@t.plcm.vc",
      "poly",
    ],
    [
      "stale more-info URL (conf differs) is ignored",
      cvi("vtc@video.fabrikam.example", "8812345670", "https://x.example/teams/?conf=1111111111&d=video.fabrikam.example"),
      "vtc.8812345670@video.fabrikam.example",
      "generic",
    ],
  ])("%s", (_n, c, dial, partner) => {
    const plan = planCvi(c, []);
    expect(plan.dialString).toBe(dial);
    expect(plan.partner).toBe(partner);
    expect(plan.ivr).toEqual({ address: c.tenantKey, dtmf: `${c.videoConferenceId}#` });
  });

  it("a provider record decides the partner, its SIP domain and IVR address", () => {
    const rec = provider({ partner: "pexip", tenantKey: "Teams@VC.contoso.example", sipDomain: "sip.contoso.example", ivrAddress: "ivr@vc.contoso.example" });
    const plan = planCvi(cvi("teams@vc.contoso.example", "1127180739"), [rec]);
    expect(plan).toMatchObject({ partner: "pexip", decidedBy: "provider", dialString: "1127180739@sip.contoso.example" });
    expect(plan.ivr).toEqual({ address: "ivr@vc.contoso.example", dtmf: "1127180739#" });
  });
});

describe("SGJ (B4.2)", () => {
  it("computes the worked session id", () => {
    const key = occurrenceKey(
      "Room101@contoso.example",
      "040000008200E00074C5B7101A82E00800000000B0C1D2E3F405DB0100000000000000001000000052A6B1F0C3D24E8F9A7B6C5D4E3F2A1B",
      null,
      "2025-03-04T09:00:00.000Z",
    );
    expect(key).toBe(
      "room101@contoso.example|040000008200E00074C5B7101A82E00800000000B0C1D2E3F405DB0100000000000000001000000052A6B1F0C3D24E8F9A7B6C5D4E3F2A1B|2025-03-04T09:00:00.000Z",
    );
    expect(sessionIdFor(key)).toBe("sgj_e3495aaf97d3");
  });

  const values = { meetingId: "228859003479315", passcode: "Xy7pQ2", sessionId: "sgj_e3495aaf97d3", domain: "sgj.otj.invalid" };
  it.each([
    ["{sessionId}@{domain}", values, "sgj_e3495aaf97d3@sgj.otj.invalid", false],
    ["{meetingId}.{passcode}@sgj.contoso.example", values, "228859003479315.Xy7pQ2@sgj.contoso.example", false],
    ["{meetingId}.{passcode}@sgj.contoso.example", { ...values, passcode: null }, "sgj_e3495aaf97d3@sgj.otj.invalid", true],
    ["{meetingId}.{passcode}@sgj.contoso.example", { ...values, passcode: "Ab$12" }, "sgj_e3495aaf97d3@sgj.otj.invalid", true],
    ["{meetingId}@{domain}", { ...values, domain: "SGJ.Contoso.Example" }, "228859003479315@sgj.contoso.example", false],
  ])("%s", (template, v, dial, fallback) => {
    expect(buildSgjDialString(template, v)).toEqual({ dialString: dial, usedFallback: fallback });
  });

  it("gives null when even the fallback is invalid (bad domain)", () => {
    expect(buildSgjDialString("{sessionId}@{domain}", { ...values, domain: "bad domain" }).dialString).toBeNull();
  });

  it("validates templates and redacts passcodes", () => {
    expect(sgjTemplateProblem("{meetingId}.{passcode}@x.example")).toBeNull();
    expect(sgjTemplateProblem("{meeting}@x.example")).toMatch(/unknown placeholder \{meeting\}/);
    expect(sgjTemplateProblem("{meetingId}")).toMatch(/'@'/);
    expect(redactSgjDialString("228859003479315.Xy7pQ2@sgj.contoso.example")).toBe("228859003479315.***@sgj.contoso.example");
  });
});

describe("dial string grammar (B2.3)", () => {
  it.each([
    ["board@video.fabrikam.example", true],
    ["198.51.100.7##4455", true],
    ["81234567890.246810@zoomcrc.com", true],
    ["x@host.example:5061", true],
    ["sip:x@host.example", false],
    ["x y@host.example", false],
    ["x@HOST.example", false],
    ["x@host", false],
    ["x@host.example?h=1", false],
    ["999.1.1.1##12", false],
  ])("%s -> %s", (dial, ok) => {
    expect(isValidDialString(dial)).toBe(ok);
  });
});

describe("custom rules (B5.3)", () => {
  it.each([
    ["(a+)+", /nested/],
    ["(a*)*b", /nested/],
    ["(?:x{2,})+", /nested/],
    ["((ab)+c)*", /nested/],
    ["(a)\\1", /back-reference/],
    ["(?<=x)y", /lookbehind/],
    ["x".repeat(513), /512/],
  ])("rejects %s", (source, why) => {
    expect(regexProblem(source)).toMatch(why);
  });

  it.each(["Bridge ID:\\s*(?<id>\\d{6,10})", "^https://meet\\.google\\.com/(?<code>[a-z]{3}-[a-z]{4}-[a-z]{3})$", "(ab){2}+", "[(+]+"])(
    "accepts %s",
    (source) => {
      expect(regexProblem(source)).toBeNull();
    },
  );

  it("names the bad rule and the problem", () => {
    expect(() =>
      compileRules([{ id: "ok", priority: 5, match: { field: "text", regex: "x" }, route: "direct", template: "a@b.example" }, { id: "Bad!" }]),
    ).toThrow(/join\.rules\[1\]: id must match/);
    expect(() => compileRules([{ id: "t", priority: 5, match: { field: "text", regex: "(?<n>\\d+)" }, route: "direct", template: "{m}@b.example" }])).toThrow(
      /\{m\}/,
    );
    expect(() => compileRules([{ id: "t", priority: 0, match: { field: "text", regex: "x" }, route: "direct", template: "a@b.example" }])).toThrow(/priority/);
  });
});
