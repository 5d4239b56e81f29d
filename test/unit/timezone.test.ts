import { describe, expect, it } from "vitest";
import { parseInvite } from "../../parser/index.ts";
import { resolveTimeZone, wallTimeToUtc } from "../../parser/timezone.ts";

const wall = (s: string) => {
  const [d, t] = s.split("T");
  const [year, month, day] = d!.split("-").map(Number);
  const [hour, minute, second] = t!.split(":").map(Number);
  return { year: year!, month: month!, day: day!, hour: hour!, minute: minute!, second: second! };
};

/** A VTIMEZONE as Outlook writes it (UTC+1, summer time from the last Sunday of March), with the given rule for standard time. */
function centralEuropeanZone(tzid: string, standardRule: string): string {
  return [
    "BEGIN:VTIMEZONE",
    `TZID:${tzid}`,
    "BEGIN:STANDARD",
    "DTSTART:16010101T030000",
    "TZOFFSETFROM:+0200",
    "TZOFFSETTO:+0100",
    `RRULE:${standardRule}`,
    "END:STANDARD",
    "BEGIN:DAYLIGHT",
    "DTSTART:16010101T020000",
    "TZOFFSETFROM:+0100",
    "TZOFFSETTO:+0200",
    "RRULE:FREQ=YEARLY;BYDAY=-1SU;BYMONTH=3",
    "END:DAYLIGHT",
    "END:VTIMEZONE",
  ].join("\r\n");
}

function ics(tzid: string, start: string, end: string, vtimezone = ""): string {
  return [
    "BEGIN:VCALENDAR",
    "VERSION:2.0",
    "METHOD:REQUEST",
    vtimezone,
    "BEGIN:VEVENT",
    "UID:tz-test-1",
    `DTSTART;TZID=${tzid}:${start}`,
    `DTEND;TZID=${tzid}:${end}`,
    "SUMMARY:tz",
    "END:VEVENT",
    "END:VCALENDAR",
    "",
  ]
    .filter((l) => l !== "")
    .join("\r\n");
}

describe("time zone names", () => {
  it("maps Windows names to IANA", () => {
    expect(resolveTimeZone("W. Europe Standard Time")).toBe("Europe/Berlin");
    expect(resolveTimeZone("Pacific Standard Time")).toBe("America/Los_Angeles");
    expect(resolveTimeZone("GTB Standard Time")).toBe("Europe/Bucharest");
    expect(resolveTimeZone("Eastern Standard Time")).toBe("America/New_York");
  });
  it("accepts IANA names, UTC and vendor-prefixed names", () => {
    expect(resolveTimeZone("Europe/Paris")).toBe("Europe/Paris");
    expect(resolveTimeZone("UTC")).toBe("UTC");
    expect(resolveTimeZone("/mozilla.org/20050126_1/Europe/Berlin")).toBe("Europe/Berlin");
    expect(resolveTimeZone("Customized Time Zone")).toBeNull();
  });
});

describe("wall time to UTC", () => {
  it("uses the offset in force on the day, across DST", () => {
    expect(new Date(wallTimeToUtc(wall("2025-03-04T10:00:00"), "Europe/Berlin")).toISOString()).toBe("2025-03-04T09:00:00.000Z");
    expect(new Date(wallTimeToUtc(wall("2025-07-04T10:00:00"), "Europe/Berlin")).toISOString()).toBe("2025-07-04T08:00:00.000Z");
    expect(new Date(wallTimeToUtc(wall("2025-03-10T09:00:00"), "America/Los_Angeles")).toISOString()).toBe("2025-03-10T16:00:00.000Z");
    expect(new Date(wallTimeToUtc(wall("2025-03-07T09:00:00"), "America/Los_Angeles")).toISOString()).toBe("2025-03-07T17:00:00.000Z");
  });
  it("moves a time in the spring gap forward and takes the earlier instant in the autumn overlap", () => {
    expect(new Date(wallTimeToUtc(wall("2025-03-30T02:30:00"), "Europe/Berlin")).toISOString()).toBe("2025-03-30T01:30:00.000Z");
    expect(new Date(wallTimeToUtc(wall("2025-10-26T02:30:00"), "Europe/Berlin")).toISOString()).toBe("2025-10-26T00:30:00.000Z");
  });
});

describe("iCalendar times", () => {
  it("a Windows TZID invite yields the right UTC instant before and after the DST change", async () => {
    const winter = await parseInvite(ics("W. Europe Standard Time", "20250328T100000", "20250328T110000"), { format: "ics" });
    const summer = await parseInvite(ics("W. Europe Standard Time", "20250331T100000", "20250331T110000"), { format: "ics" });
    expect(winter.invites[0]!.start).toBe("2025-03-28T09:00:00.000Z");
    expect(summer.invites[0]!.start).toBe("2025-03-31T08:00:00.000Z");
    expect(summer.invites[0]!.end).toBe("2025-03-31T09:00:00.000Z");
  });

  it("falls back to the calendar's VTIMEZONE for an unknown zone name", async () => {
    const vtz = centralEuropeanZone("Customized Time Zone", "FREQ=YEARLY;BYDAY=-1SU;BYMONTH=10");
    const out = await parseInvite(ics("Customized Time Zone", "20250704T100000", "20250704T110000", vtz), { format: "ics" });
    expect(out.invites[0]!.start).toBe("2025-07-04T08:00:00.000Z");
    const winter = await parseInvite(ics("Customized Time Zone", "20250104T100000", "20250104T110000", vtz), { format: "ics" });
    expect(winter.invites[0]!.start).toBe("2025-01-04T09:00:00.000Z");
  });

  it("treats a VTIMEZONE whose rules would take seconds to expand (daily from 1601) as unknown", async () => {
    const vtz = centralEuropeanZone("Hostile Zone", "FREQ=DAILY");
    // ical.js would walk about 155,000 daily transitions (seconds); the zone is read as unknown.
    const out = await parseInvite(ics("Hostile Zone", "20250704T100000", "20250704T110000", vtz), { format: "ics" });
    expect(out.warnings.some((w) => w.startsWith('unknown time zone "Hostile Zone"'))).toBe(true);
    expect(out.invites[0]!.start).toBe("2025-07-04T10:00:00.000Z");
  });

  it("reads an unknown zone without VTIMEZONE as UTC with a warning", async () => {
    const out = await parseInvite(ics("Nowhere Standard Time", "20250704T100000", "20250704T110000"), { format: "ics" });
    expect(out.invites[0]!.start).toBe("2025-07-04T10:00:00.000Z");
    expect(out.warnings.some((w) => w.startsWith('unknown time zone "Nowhere Standard Time"'))).toBe(true);
  });
});
