/** Body-reading rules that the golden fixtures do not isolate. */
import { describe, expect, it } from "vitest";
import { parseInvite } from "../../parser/index.ts";

const URL = "https://teams.microsoft.com/l/meetup-join/19%3ameeting_YTFi%40thread.v2/0?context=%7b%22Tid%22%3a%22c0ffee00-1111-4222-8333-444455556666%22%7d";

async function teamsOf(input: string, format: "html" | "text" = "html") {
  const out = await parseInvite(input, { format });
  return out.invites[0]!.join?.teams ?? null;
}

describe("HTML bodies", () => {
  it("reads labels broken over source lines and entities", async () => {
    const t = await teamsOf(
      `<p><a href="${URL.replace(/&/g, "&amp;")}">Join\r\n the meeting now</a></p><p>Meeting\r\n ID:&nbsp;123&nbsp;456 789 012<br>Passcode:&#32;Xy7Qp2 </p>`,
    );
    expect(t).toMatchObject({ meetingId: "123456789012", passcode: "Xy7Qp2", threadId: "19:meeting_YTFi@thread.v2" });
  });

  it("ignores links in comments, scripts and styles", async () => {
    const out = await parseInvite(`<!-- <a href="${URL}">x</a> --><script>var u="${URL}";</script><style>a{}</style><p>nothing here</p>`, { format: "html" });
    expect(out.invites[0]!.join).toBeNull();
  });

  it("survives unclosed tags and stray angle brackets", async () => {
    const t = await teamsOf(`<div><p>a < b <a href="${URL}">Click here to join the meeting<p>Meeting ID: 123 456 789 012<br>Passcode: Xy7Qp2`);
    expect(t).toMatchObject({ meetingId: "123456789012", passcode: "Xy7Qp2" });
  });

  it("prefers originalsrc over a wrapped href", async () => {
    const wrapped = `https://eur01.safelinks.protection.outlook.com/?url=${encodeURIComponent("https://fabrikam.example/other")}`;
    const t = await teamsOf(`<a href="${wrapped}" originalsrc="${URL}">Click here to join the meeting</a>`);
    expect(t?.joinUrl).toBe(URL);
  });
});

describe("text bodies", () => {
  it("joins a <url> broken over lines and stops bare URLs at a backslash", async () => {
    const t = await teamsOf(`Join the meeting now<${URL.slice(0, 60)}\n${URL.slice(60)}>\nMeeting ID: 123 456 789 012\nPasscode: Xy7Qp2\n`, "text");
    expect(t?.joinUrl).toBe(URL);
    const bare = await teamsOf("Join: https://teams.microsoft.com/meet/357159246802468?p=Ab12\\nMeeting ID: 357 159 246 802 468", "text");
    expect(bare?.shortUrl).toBe("https://teams.microsoft.com/meet/357159246802468?p=Ab12");
  });

  it("never takes the phone conference id, a tel: string or the video id as the Meeting ID", async () => {
    const t = await teamsOf(
      `Click here to join the meeting<${URL}>\nPhone Conference ID: 246 813 579#\n+1 555-0100,,246813579#<tel:+15550100,,246813579#>\nVideo ID: 987 654 321 0\n`,
      "text",
    );
    expect(t?.meetingId).toBeNull();
    expect(t?.passcode).toBeNull();
  });

  it("drops a passcode that has no Meeting ID", async () => {
    const t = await teamsOf(`Click here to join the meeting<${URL}>\nPasscode: Xy7Qp2\n`, "text");
    expect(t?.passcode).toBeNull();
  });
});
