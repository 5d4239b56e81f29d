import { describe, expect, it } from "vitest";
import { classifyTeamsUrl, parseMeetingOptionsUrl, threadFromConfLink } from "../../parser/providers/teams.ts";

const THREAD = "19:meeting_YTFiMmMzZDQtMDAwMC00ZTVmLThhOWItMGMxZDJlM2Y0YTVi@thread.v2";
const TID = "c0ffee00-1111-4222-8333-444455556666";
const OID = "0a1b2c3d-4e5f-4a6b-9c7d-8e9f0a1b2c3d";
const CLASSIC =
  "https://teams.microsoft.com/l/meetup-join/19%3ameeting_YTFiMmMzZDQtMDAwMC00ZTVmLThhOWItMGMxZDJlM2Y0YTVi%40thread.v2/0?context=%7b%22Tid%22%3a%22c0ffee00-1111-4222-8333-444455556666%22%2c%22Oid%22%3a%220a1b2c3d-4e5f-4a6b-9c7d-8e9f0a1b2c3d%22%7d";

function join(url: string) {
  const c = classifyTeamsUrl(url);
  if (c.kind !== "join") throw new Error(`not a join: ${url} (${c.kind})`);
  return c.link;
}

describe("classic meetup-join forms (T3.1, T3.3)", () => {
  it("reads thread, message, tenant and organizer from the lowercase-hex form", () => {
    expect(join(CLASSIC)).toMatchObject({
      kind: "classic",
      url: CLASSIC,
      cloud: "commercial",
      threadId: THREAD,
      messageId: "0",
      tenantId: TID,
      organizerId: OID,
    });
  });

  it.each([
    ["uppercase escapes", CLASSIC.replace(/%3a/g, "%3A").replace(/%7b/g, "%7B").replace(/%7d/g, "%7D").replace(/%2c/g, "%2C")],
    [
      "raw JSON context",
      `https://teams.microsoft.com/l/meetup-join/19%3ameeting_YTFiMmMzZDQtMDAwMC00ZTVmLThhOWItMGMxZDJlM2Y0YTVi%40thread.v2/0?context={"Tid":"${TID.toUpperCase()}","Oid":"${OID}"}`,
    ],
    ["double encoded", CLASSIC.replace(/%/g, "%25")],
    ["hash route", `https://teams.microsoft.com/_#/l/meetup-join/${THREAD}/0?context=%7b%22Tid%22%3a%22${TID}%22%2c%22Oid%22%3a%22${OID}%22%7d`],
    [
      "v2 web client",
      `https://teams.microsoft.com/v2/?meetingjoin=true#/l/meetup-join/${THREAD}/0?context=%7b%22Tid%22%3a%22${TID}%22%2c%22Oid%22%3a%22${OID}%22%7d`,
    ],
    ["app scheme without host", `msteams:/l/meetup-join/${THREAD}/0?context=%7b%22Tid%22%3a%22${TID}%22%2c%22Oid%22%3a%22${OID}%22%7d`],
    ["app scheme with host", `msteams://teams.microsoft.com/l/meetup-join/${THREAD}/0?context=%7b%22Tid%22%3a%22${TID}%22%2c%22Oid%22%3a%22${OID}%22%7d`],
    [
      "launcher",
      `https://teams.microsoft.com/dl/launcher/launcher.html?url=%2f_%23%2fl%2fmeetup-join%2f19%3ameeting_YTFiMmMzZDQtMDAwMC00ZTVmLThhOWItMGMxZDJlM2Y0YTVi%40thread.v2%2f0%3fcontext%3d%257B%2522Tid%2522%3a%2522${TID}%2522%2c%2522Oid%2522%3a%2522${OID}%2522%257D%26anon%3dtrue&type=meetup-join&deeplinkId=abc&directDl=true&msLaunch=true&enableMobilePage=true&suppressPrompt=true`,
    ],
    ["extra parameters", `${CLASSIC}&anon=true`],
  ])("%s gives the same ids", (_name, url) => {
    expect(join(url)).toMatchObject({ kind: "classic", threadId: THREAD, messageId: "0", tenantId: TID, organizerId: OID, cloud: "commercial" });
  });

  it("rebuilds launcher links as meetup-join links on the same host, without anon=true", () => {
    const link = join(
      `https://teams.microsoft.com/dl/launcher/launcher.html?url=%2f_%23%2fl%2fmeetup-join%2f19%3ameeting_abc%40thread.v2%2f0%3fcontext%3d%257B%257D%26anon%3dtrue&type=meetup-join`,
    );
    expect(link.url).toBe("https://teams.microsoft.com/l/meetup-join/19:meeting_abc@thread.v2/0?context=%7B%7D");
  });

  it("reads channel meetings and live events", () => {
    const channel = join(
      `https://teams.microsoft.com/l/meetup-join/19%3a5d1c0e2f7a8b4c3d9e0f1a2b3c4d5e6f%40thread.tacv2/1712345678901?context=%7b%22Tid%22%3a%22${TID}%22%7d`,
    );
    expect(channel).toMatchObject({ threadId: "19:5d1c0e2f7a8b4c3d9e0f1a2b3c4d5e6f@thread.tacv2", messageId: "1712345678901" });
    expect(join(`${CLASSIC.slice(0, -3)}%2c%22IsBroadcastMeeting%22%3atrue%7d`).broadcast).toBe(true);
  });
});

describe("short URLs and clouds (T3.4, T4)", () => {
  it.each([
    ["https://teams.microsoft.com/meet/357159246802468?p=Q2w3E4r5T6y7U8i9O0", "commercial"],
    ["https://teams.cloud.microsoft/meet/357159246802468?p=x", "commercial"],
    ["https://gov.teams.microsoft.us/meet/357159246802468?p=x", "gcch"],
    ["https://dod.teams.microsoft.us/meet/357159246802468", "dod"],
    ["https://teams.live.com/meet/9381234567890?p=AbCdEf123456789012", "consumer"],
    ["https://teams.microsoftonline.cn/meet/357159246802468?p=x", "china"],
  ])("%s -> %s", (url, cloud) => {
    const link = join(url);
    expect(link.kind).toBe("short");
    expect(link.cloud).toBe(cloud);
    expect(link.meetingId).toMatch(/^\d{9,16}$/);
    expect(link.url).toBe(url);
  });
});

describe("not joins (T3.6, T7, B6)", () => {
  it.each([
    "https://teams.microsoft.com/meetingOptions/?organizerId=x&tenantId=y&threadId=19_meeting_abc@thread.v2&messageId=0",
    "https://teams.microsoft.com/l/chat/0/0?users=a@contoso.example",
    "https://teams.microsoft.com/l/channel/19%3aabc%40thread.tacv2/General",
    "https://teams.microsoft.com/l/meetup-join/not-a-thread/0",
    "https://teams.microsoft.com/meet/123?p=x",
  ])("Teams host, not a join: %s", (url) => {
    expect(classifyTeamsUrl(url).kind).toBe("non-join");
  });

  it.each([
    ["https://teams.microsoft.com.evil.example/l/meetup-join/19%3ameeting_abc%40thread.v2/0", "foreign"],
    ["https://teams-microsoft.com/l/meetup-join/19%3ameeting_abc%40thread.v2/0", "foreign"],
    ["https://x.teams.microsoft.com/l/meetup-join/19%3ameeting_abc%40thread.v2/0", "foreign"],
    ["https://teams.microsoft.us/meet/357159246802468", "foreign"],
    ["https://t\u0435ams.microsoft.com/meet/357159246802468", "foreign"],
    ["https://teams.microsoft.com@evil.example/l/meetup-join/19%3ameeting_abc%40thread.v2/0", "foreign"],
    ["https://user:pw@teams.microsoft.com/meet/357159246802468", "rejected"],
    ["https://teams.microsoft.com:8443/meet/357159246802468", "rejected"],
    ["http://teams.microsoft.com/meet/357159246802468", "rejected"],
    ["java\tscript:alert('https://teams.microsoft.com/meet/357159246802468')", "rejected"],
    ["https://52.112.0.1/l/meetup-join/19%3ameeting_abc%40thread.v2/0", "foreign"],
  ])("%s is %s", (url, kind) => {
    expect(classifyTeamsUrl(url).kind).toBe(kind);
  });
});

describe("helpers", () => {
  it("reads ids from a meetingOptions link", () => {
    expect(
      parseMeetingOptionsUrl(
        `https://teams.microsoft.com/meetingOptions/?organizerId=${OID}&tenantId=${TID}&threadId=19_meeting_YTFi@thread.v2&messageId=0&language=en-US`,
      ),
    ).toEqual({ organizerId: OID, tenantId: TID, threadId: "19:meeting_YTFi@thread.v2" });
  });
  it("reads the thread id from a CONFLINK", () => {
    expect(
      threadFromConfLink(
        "conf:sip:alice@contoso.example;gruu;opaque=app:conf:focus:id:teams:2:0!19:meeting_YTFiMmMz-thread.v2!0a1b2c3d4e5f4a6b9c7d8e9f0a1b2c3d!c0ffee0011114222833344445555666",
      ),
    ).toBe("19:meeting_YTFiMmMz@thread.v2");
  });
});
