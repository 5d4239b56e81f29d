/**
 * Regression (iCalendar feed injection): CR/LF in an organizer's name or address, or in a subject,
 * used to reach calendar.ics unescaped and create a second, fake event with the attacker's SIP
 * address, or make the feed unparseable. The feed must stay one event per occurrence whose text
 * round-trips through ical.js.
 */
import ICAL from "ical.js";
import { describe, expect, it } from "vitest";
import { type FeedEvent, renderIcsFeed } from "../../app/http/ics-feed.ts";
import { stripControlCharacters, stripPersonControls } from "../../core/control-characters.ts";

const NOW = new Date("2026-03-04T08:00:00Z");
const FAKE_EVENT = "\r\nEND:VEVENT\r\nBEGIN:VEVENT\r\nUID:fake@otj\r\nCONFERENCE;VALUE=URI:sip:attacker@evil.example\r\nLOCATION:attacker@evil.example";

function event(extra: Partial<FeedEvent> = {}): FeedEvent {
  return {
    id: "bk_1",
    start: new Date("2026-03-04T09:00:00Z"),
    end: new Date("2026-03-04T09:30:00Z"),
    subject: "Review, Q1; plan",
    organizerName: "Bo",
    organizerEmail: "bo@contoso.example",
    dialString: "1198563286.contoso@m.webex.com",
    ...extra,
  };
}

function parse(feed: string): ICAL.Component {
  return new ICAL.Component(ICAL.parse(feed));
}

describe("renderIcsFeed", () => {
  it("keeps an organizer name, address and subject carrying CRLF + a fake VEVENT inside one event", () => {
    const feed = renderIcsFeed(
      `Room 101${FAKE_EVENT}`,
      [event({ organizerName: `Eve "The Boss"${FAKE_EVENT}`, organizerEmail: `eve@fabrikam.example${FAKE_EVENT}`, subject: `Hello${FAKE_EVENT}` })],
      NOW,
    );
    expect(feed).not.toMatch(/\r(?!\n)|(?<!\r)\n/);
    for (const line of feed.split("\r\n")) expect(Buffer.byteLength(line)).toBeLessThanOrEqual(75);
    expect(feed.split("\r\n").filter((l) => l === "BEGIN:VEVENT")).toHaveLength(1);
    const calendar = parse(feed);
    const events = calendar.getAllSubcomponents("vevent");
    expect(events).toHaveLength(1);
    const only = events[0]!;
    expect(only.getFirstPropertyValue("uid")).toBe("bk_1@otj");
    expect(only.getFirstPropertyValue("summary")).toBe(stripControlCharacters(`Hello${FAKE_EVENT}`));
    expect(only.getFirstProperty("organizer")?.getParameter("cn")).toBe(stripControlCharacters(`Eve "The Boss"${FAKE_EVENT}`));
    expect(String(only.getFirstPropertyValue("organizer"))).not.toMatch(/\s/);
    expect(only.getAllProperties("conference")).toHaveLength(1);
    expect(String(only.getFirstPropertyValue("conference"))).toBe("sip:1198563286.contoso@m.webex.com");
    expect(calendar.getFirstPropertyValue("x-wr-calname")).toBe(stripControlCharacters(`Room 101${FAKE_EVENT}`));
  });

  it("escapes TEXT values and folds long lines, and the text round-trips", () => {
    const subject = `Budget, Q1; draft \\ final ${"é".repeat(80)}`;
    const feed = renderIcsFeed("Room 101", [event({ subject }), event({ id: "bk_2", dialString: null, organizerEmail: null })], NOW);
    const unfolded = feed.replace(/\r\n /g, "");
    expect(unfolded).toContain("SUMMARY:Budget\\, Q1\\; draft \\\\ final");
    expect(feed.split("\r\n").some((l) => l.startsWith(" "))).toBe(true);
    expect(unfolded).toContain("CONFERENCE;VALUE=URI;FEATURE=VIDEO;LABEL=Join:sip:1198563286.contoso@m.webex.com");
    expect(feed).toContain("DTSTART:20260304T090000Z");
    expect(feed.endsWith("END:VCALENDAR\r\n")).toBe(true);
    const events = parse(feed).getAllSubcomponents("vevent");
    expect(events.map((e) => e.getFirstPropertyValue("summary"))).toEqual([subject, "Review, Q1; plan"]);
    expect(events[1]!.getFirstProperty("organizer")).toBeNull();
  });
});

describe("stripControlCharacters", () => {
  it("replaces each run of C0/C1 controls and line separators with one space", () => {
    expect(stripControlCharacters("a\r\n\tb\u0000c\u0085d\u2028e\u007f")).toBe("a b c d e ");
    expect(stripControlCharacters("Zoë Müller")).toBe("Zoë Müller");
    expect(stripControlCharacters(null)).toBeNull();
    expect(stripPersonControls({ name: "A\nB", email: "a@\r\nb.example" })).toEqual({ name: "A B", email: "a@b.example" });
    expect(stripPersonControls(null)).toBeNull();
  });
});
