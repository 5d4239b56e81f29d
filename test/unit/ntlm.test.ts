/**
 * otj's own MD4 and NTLMv2 against the published test vectors: RFC 1320's MD4 test suite, and the
 * NTLMv2 example of the NTLM specification (MS-NLMP 4.2.4: user "User", domain "Domain", password
 * "Password", server challenge 0123456789abcdef, client challenge aa…aa, time 0, target
 * information naming domain "Domain" and server "Server").
 */
import { describe, expect, it } from "vitest";
import { md4 } from "../../calendar/ews/md4.ts";
import {
  authenticateMessage,
  challengeMessage,
  negotiateMessage,
  ntHash,
  ntlmv2Responses,
  ntowfV2,
  parseAuthenticateMessage,
  parseChallengeMessage,
  splitAccount,
  targetTimestamp,
} from "../../calendar/ews/ntlm.ts";
import { OtjError } from "../../core/errors.ts";

const hex = (text: string) => Buffer.from(text.replace(/\s+/g, ""), "hex");

describe("MD4 (RFC 1320 test suite)", () => {
  it.each([
    ["", "31d6cfe0d16ae931b73c59d7e0c089c0"],
    ["a", "bde52cb31de33e46245e05fbdbd6fb24"],
    ["abc", "a448017aaf21d8525fc10ae87aa6729d"],
    ["message digest", "d9130a8164549fe818874806e1c7014b"],
    ["abcdefghijklmnopqrstuvwxyz", "d79e1c308aa5bbcdeea8ed63df412da9"],
    ["ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789", "043f8582f241db351ce627e153e7f0e4"],
    ["12345678901234567890123456789012345678901234567890123456789012345678901234567890", "e33b4ddc9c38f2199c3e7b164fcc0536"],
  ])("MD4(%j)", (input, digest) => {
    expect(md4(Buffer.from(input, "latin1")).toString("hex")).toBe(digest);
  });
});

describe("NTLMv2 (MS-NLMP 4.2.4)", () => {
  const serverChallenge = hex("0123456789abcdef");
  const clientChallenge = hex("aaaaaaaaaaaaaaaa");
  const time = Buffer.alloc(8);
  // MsvAvNbDomainName "Domain", MsvAvNbComputerName "Server", MsvAvEOL.
  const targetInfo = Buffer.concat([hex("02000c00"), Buffer.from("Domain", "utf16le"), hex("01000c00"), Buffer.from("Server", "utf16le"), hex("00000000")]);

  it("the NT hash (NTOWFv1) and NTOWFv2", () => {
    expect(ntHash("Password").toString("hex")).toBe("a4f49c406510bdcab6824ee7c30fd852");
    expect(ntowfV2("Password", "User", "Domain").toString("hex")).toBe("0c868a403bfd7a93a3001ef22ef02e3f");
    // The user is upper-cased, the domain is not.
    expect(ntowfV2("Password", "user", "Domain")).toEqual(ntowfV2("Password", "USER", "Domain"));
    expect(ntowfV2("Password", "User", "DOMAIN")).not.toEqual(ntowfV2("Password", "User", "Domain"));
  });

  it("the LMv2 and NTLMv2 responses and the session base key", () => {
    const r = ntlmv2Responses(ntowfV2("Password", "User", "Domain"), serverChallenge, clientChallenge, time, targetInfo);
    expect(r.lmResponse.toString("hex")).toBe("86c35097ac9cec102554764a57cccc19aaaaaaaaaaaaaaaa");
    expect(r.ntProofStr.toString("hex")).toBe("68cd0ab851e51c96aabc927bebef6a1c");
    expect(r.ntResponse.toString("hex")).toBe(
      `68cd0ab851e51c96aabc927bebef6a1c 0101000000000000 0000000000000000 aaaaaaaaaaaaaaaa 00000000 ${targetInfo.toString("hex")} 00000000`.replace(/\s+/g, ""),
    );
    expect(r.sessionBaseKey.toString("hex")).toBe("8de40ccadbc14a82f15cb0ad0de95ca3");
    expect(ntlmv2Responses(ntowfV2("Password", "User", "Domain"), serverChallenge, clientChallenge, time, targetInfo, true).lmResponse).toEqual(
      Buffer.alloc(24),
    );
  });

  it("messages: NEGOTIATE, CHALLENGE and AUTHENTICATE read back what was written", () => {
    expect(negotiateMessage().subarray(0, 12).toString("latin1")).toBe("NTLMSSP\0\u0001\0\0\0");
    const challenge = parseChallengeMessage(challengeMessage(serverChallenge, targetInfo));
    expect(challenge.serverChallenge).toEqual(serverChallenge);
    expect(challenge.targetInfo).toEqual(targetInfo);
    expect(targetTimestamp(targetInfo)).toBeNull();
    const stamped = Buffer.concat([hex("07000800"), hex("0090d336b734c301"), hex("00000000")]);
    expect(targetTimestamp(stamped)?.toString("hex")).toBe("0090d336b734c301");
    const r = ntlmv2Responses(ntowfV2("Password", "User", "Domain"), serverChallenge, clientChallenge, time, targetInfo);
    const message = authenticateMessage({
      flags: challenge.flags,
      user: "User",
      domain: "Domain",
      workstation: "",
      lmResponse: r.lmResponse,
      ntResponse: r.ntResponse,
    });
    expect(parseAuthenticateMessage(message)).toMatchObject({
      user: "User",
      domain: "Domain",
      workstation: "",
      ntResponse: r.ntResponse,
      lmResponse: r.lmResponse,
    });
  });

  it("refuses what is not a CHALLENGE, and a field pointing past the end", () => {
    expect(() => parseChallengeMessage(Buffer.from("not ntlm at all, not at all"))).toThrow(OtjError);
    const broken = challengeMessage(serverChallenge, targetInfo);
    broken.writeUInt32LE(4000, 44);
    expect(() => parseChallengeMessage(broken)).toThrow(/past its end/);
    expect(parseAuthenticateMessage(negotiateMessage())).toBeNull();
  });

  it("accounts: DOMAIN\\user, or a UPN with an empty domain", () => {
    expect(splitAccount("CONTOSO\\svc-otj")).toEqual({ user: "svc-otj", domain: "CONTOSO" });
    expect(splitAccount("svc-otj@contoso.example")).toEqual({ user: "svc-otj@contoso.example", domain: "" });
  });
});
