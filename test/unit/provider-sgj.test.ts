/** A provider that enables SIP Guest Join needs a routable SGJ address (a SIP domain or a template with its own host). */
import { describe, expect, it } from "vitest";
import { isUnroutable, sgjDomainProblem } from "../../join/join-planner.ts";
import { validateProvider } from "../../store/validation.ts";

const base = { name: "fabrikam", partner: "pexip" };

describe("validateProvider and SGJ", () => {
  it("refuses SGJ asked for without a SIP domain, naming the fix", () => {
    const checked = validateProvider({ ...base, sgjEnabled: true });
    expect(checked.ok).toBe(false);
    expect(checked.ok ? "" : checked.problems.join("; ")).toContain("no SIP domain");
    expect(checked.ok ? "" : checked.problems.join("; ")).toContain("--no-sgj");
  });

  it("refuses an SGJ template on an .invalid domain", () => {
    expect(validateProvider({ ...base, sgjTemplate: "{sessionId}@sgj.otj.invalid" }).ok).toBe(false);
  });

  it("turns SGJ on by default only where it can work", () => {
    const without = validateProvider(base);
    expect(without.ok && without.value.sgjEnabled).toBe(false);
    const withDomain = validateProvider({ ...base, sipDomain: "SGJ.Fabrikam.example" });
    expect(withDomain.ok && withDomain.value).toMatchObject({ sgjEnabled: true, sipDomain: "sgj.fabrikam.example" });
    const ownHost = validateProvider({ ...base, sgjEnabled: true, sgjTemplate: "{meetingId}.{passcode}@sgj.fabrikam.example" });
    expect(ownHost.ok && ownHost.value.sgjEnabled).toBe(true);
    const off = validateProvider({ ...base, sgjEnabled: false });
    expect(off.ok && off.value.sgjEnabled).toBe(false);
  });
});

describe("sgjDomainProblem", () => {
  const provider = { name: "fabrikam", sipDomain: null, sgjEnabled: true, sgjTemplate: null };
  it("names a provider stored with SGJ and no domain (before this check existed)", () => {
    expect(sgjDomainProblem(provider)).toContain("provider fabrikam enables SIP Guest Join without a SIP domain");
    expect(sgjDomainProblem({ ...provider, sgjTemplate: "{sessionId}@{domain}" })).not.toBeNull();
  });
  it("accepts a domain, a template with its own host, or SGJ off", () => {
    expect(sgjDomainProblem({ ...provider, sipDomain: "sgj.fabrikam.example" })).toBeNull();
    expect(sgjDomainProblem({ ...provider, sgjTemplate: "{sessionId}@sgj.fabrikam.example" })).toBeNull();
    expect(sgjDomainProblem({ ...provider, sgjEnabled: false })).toBeNull();
  });
  it("knows .invalid hosts", () => {
    expect(isUnroutable("sgj_0123456789ab@sgj.otj.invalid")).toBe(true);
    expect(isUnroutable("sgj_0123456789ab@sgj.contoso.example")).toBe(false);
  });
});
