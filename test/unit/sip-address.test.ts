import { describe, expect, it } from "vitest";
import { isValidSipAddress, normalizeDnsName, normalizeSipAddress } from "../../core/sip-address.ts";

describe("SIP address grammar (one for typed addresses and dial strings)", () => {
  it("accepts dial strings already in canonical form", () => {
    for (const ok of [
      "room101@video.contoso.example",
      "1234567890.alice@m.webex.com",
      "meet@10.0.0.5",
      "meet@10.0.0.5:5061",
      "a@[2001:db8::1]",
      "x+y=z@vc-1.example.com",
    ]) {
      expect(isValidSipAddress(ok), ok).toBe(true);
    }
  });

  it("refuses what a device could not dial as printed: scheme, parameters, headers, spaces, upper-case host", () => {
    for (const bad of [
      "sip:room@video.contoso.example",
      "room@video.contoso.example;transport=tls",
      "room@video.contoso.example?subject=x",
      " room@video.contoso.example",
      "room@Video.Contoso.Example",
      "room@video",
      "room@-bad.example",
      "room@video.example.123",
      "room@video.example:0",
      "room@video.example:70000",
      "<room@video.example>",
      "@video.example",
    ]) {
      expect(isValidSipAddress(bad), bad).toBe(false);
    }
    expect(isValidSipAddress(`${"a".repeat(64)}@${"b".repeat(60)}.${"c".repeat(60)}.${"d".repeat(60)}.${"e".repeat(60)}.example`)).toBe(false);
  });

  it("refuses bracketed hosts that are not IPv6 addresses (user@[..] passed before)", () => {
    for (const bad of ["user@[..]", "user@[:]", "user@[:::]", "user@[1.2.3.4]", "user@[2001:db8::1::2]", "user@[ffff]", "user@[..]:5060"]) {
      expect(normalizeSipAddress(bad), bad).toBeNull();
    }
    expect(normalizeSipAddress("user@[2001:DB8::1]:5061")).toBe("user@[2001:db8::1]:5061");
    expect(isValidSipAddress("user@[::ffff:10.0.0.5]")).toBe(true);
  });

  it("normalizes what admins type into that form", () => {
    expect(normalizeSipAddress(" sips:Room101@Video.Contoso.Example;transport=tls ")).toBe("Room101@video.contoso.example");
    expect(normalizeSipAddress("room@VC.example.com:5061")).toBe("room@vc.example.com:5061");
    expect(normalizeSipAddress("room@vc.example.com?x=1")).toBeNull();
    expect(normalizeDnsName("Video.Contoso.Example.")).toBe("video.contoso.example");
    expect(normalizeDnsName("localhost")).toBeNull();
  });
});
