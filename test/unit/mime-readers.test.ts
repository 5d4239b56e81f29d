/**
 * The fast MIME reader must agree with mailparser (the reference reader) on every MIME fixture,
 * and must decline what it does not handle rather than guess.
 */
import { readdirSync, readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { parseInvite } from "../../parser/index.ts";
import { decodeCalendarBytes, decodeEncodedWords, readMimeFast } from "../../parser/mime-fast.ts";
import { teamsEml } from "../../emulators/invite-factory.ts";

const dir = new URL("../fixtures/invites/", import.meta.url).pathname;
const emls = readdirSync(dir).filter((f) => f.endsWith(".eml"));

describe("fast MIME reader vs mailparser", () => {
  it.each(emls)("%s parses the same either way", async (file) => {
    const data = readFileSync(dir + file);
    const fast = await parseInvite(data, { filename: file });
    const reference = await parseInvite(data, { filename: file, mimeReader: "mailparser" });
    expect(fast.invites).toEqual(reference.invites);
  });

  it("agrees on a generated Outlook meeting request", async () => {
    const eml = teamsEml(
      { uid: "u-1", subject: "Budget review", start: "2025-03-04T09:00:00.000Z", end: "2025-03-04T10:00:00.000Z" },
      { threadKey: "gen", meetingId: "246813579024", passcode: "aB3dE5fG" },
    );
    expect(readMimeFast(Buffer.from(eml))).not.toBeNull();
    const fast = await parseInvite(eml);
    expect(fast.invites).toEqual((await parseInvite(eml, { mimeReader: "mailparser" })).invites);
    expect(fast.invites[0]!.join?.teams?.meetingId).toBe("246813579024");
  });

  it("declines shapes it leaves to mailparser", () => {
    const rfc2231 = "From: a@b.example\r\nSubject: x\r\nContent-Type: text/plain; name*0=a; name*1=b\r\n\r\nbody";
    expect(readMimeFast(Buffer.from(rfc2231))).toBeNull();
    const unknownCte = "From: a@b.example\r\nSubject: x\r\nContent-Type: text/plain\r\nContent-Transfer-Encoding: x-uuencode\r\n\r\nbody";
    expect(readMimeFast(Buffer.from(unknownCte))).toBeNull();
  });

  it("reads a truncated multipart (no closing delimiter) to its end, as mailparser does", async () => {
    const truncated =
      'From: a@b.example\r\nSubject: x\r\nContent-Type: multipart/mixed; boundary="b"\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nMeeting ID: 123 456 789 012\r\nPasscode: Xy7Qp2\r\nMicrosoft Teams meeting\r\n';
    expect(readMimeFast(Buffer.from(truncated))?.text).toContain("Meeting ID");
    const fast = await parseInvite(truncated);
    expect(fast.invites).toEqual((await parseInvite(truncated, { mimeReader: "mailparser" })).invites);
    expect(fast.invites[0]!.join?.teams?.meetingId).toBe("123456789012");
  });

  it("decodes RFC 2047 words, windows-1252 included", () => {
    expect(decodeEncodedWords("=?Windows-1252?Q?Jahres=FCbersicht_=96_Plan?=")).toBe("Jahresübersicht – Plan");
    expect(decodeEncodedWords("=?utf-8?B?w5xiZXI=?= =?utf-8?Q?_uns?=")).toBe("Über uns");
  });

  it("unfolds iCalendar bytes before decoding, so a fold inside a UTF-8 character survives", () => {
    const bytes = Buffer.from("SUMMARY:四半期", "utf8");
    const folded = Buffer.concat([bytes.subarray(0, 10), Buffer.from("\r\n "), bytes.subarray(10)]);
    expect(decodeCalendarBytes(folded)).toBe("SUMMARY:四半期");
  });
});
