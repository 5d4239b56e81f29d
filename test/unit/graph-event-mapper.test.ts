import { describe, expect, it } from "vitest";
import { graphDateTimeToIso, mapGraphEvent } from "../../calendar/graph/graph-event-mapper.ts";

const base = {
  "@odata.etag": 'W/"kq3bV0xQm0a7nH2d8s1XaQAAAj9="',
  id: "AAkALgAAAAAAHYQDEapmEc2byACqAC-EWg0AkqzbV0xQm0a7nH2d8s1XaQAAAj9fAAA=",
  iCalUId: "040000008200E00074C5B7101A82E00800000000B0C1D2E3F405DB0100000000000000001000000052A6B1F0C3D24E8F9A7B6C5D4E3F2A1B",
  seriesMasterId: null,
  type: "singleInstance",
  start: { dateTime: "2025-03-04T09:00:00.0000000", timeZone: "UTC" },
  end: { dateTime: "2025-03-04T09:30:00.0000000", timeZone: "UTC" },
  subject: "Supplier review",
  body: { contentType: "html", content: '<html><body><a href="https://teams.microsoft.com/l/meetup-join/x">Join</a></body></html>' },
  organizer: { emailAddress: { name: "Ana Ruiz", address: "ana.ruiz@fabrikam.example" } },
  sensitivity: "normal",
  isCancelled: false,
  isOnlineMeeting: true,
  onlineMeetingProvider: "teamsForBusiness",
  onlineMeeting: { joinUrl: "https://teams.microsoft.com/l/meetup-join/x", conferenceId: "918273645" },
  responseStatus: { response: "accepted", time: "2025-03-01T12:00:00Z" },
  lastModifiedDateTime: "2025-03-01T12:00:05.1234567Z",
};

describe("mapGraphEvent", () => {
  it("maps a documented Graph event example and keeps the JSON verbatim", () => {
    const mapped = mapGraphEvent(base);
    expect(mapped.ok).toBe(true);
    if (!mapped.ok) return;
    expect(mapped.occurrence).toEqual({
      sourceId: base.id,
      uid: base.iCalUId,
      seriesId: null,
      kind: "single",
      start: "2025-03-04T09:00:00.000Z",
      end: "2025-03-04T09:30:00.000Z",
      recurrenceId: null,
      allDay: false,
      subject: "Supplier review",
      organizer: { name: "Ana Ruiz", email: "ana.ruiz@fabrikam.example" },
      sensitivity: "normal",
      cancelled: false,
      roomResponse: "accepted",
      onlineMeetingUrl: "https://teams.microsoft.com/l/meetup-join/x",
      hasBody: true,
      changeKey: "kq3bV0xQm0a7nH2d8s1XaQAAAj9=",
      lastModified: "2025-03-01T12:00:05.123Z",
      raw: { format: "graph", content: JSON.stringify(base) },
    });
  });

  it("reads occurrences and exceptions with their original slot", () => {
    const exception = mapGraphEvent({ ...base, type: "exception", seriesMasterId: "M1", originalStart: "2025-03-04T08:00:00Z" });
    expect(exception).toMatchObject({ ok: true, occurrence: { kind: "exception", seriesId: "M1", recurrenceId: "2025-03-04T08:00:00.000Z" } });
    const occurrence = mapGraphEvent({ ...base, type: "occurrence", seriesMasterId: "M1" });
    expect(occurrence).toMatchObject({ ok: true, occurrence: { kind: "occurrence", recurrenceId: "2025-03-04T09:00:00.000Z" } });
  });

  it("notices stripped bodies, declined rooms and odd sensitivities", () => {
    const stripped = mapGraphEvent({
      ...base,
      body: { contentType: "html", content: "<html><body>&nbsp;</body></html>" },
      responseStatus: { response: "declined" },
      sensitivity: "weird",
      subject: "",
    });
    expect(stripped).toMatchObject({ ok: true, occurrence: { hasBody: false, roomResponse: "declined", sensitivity: "normal", subject: null } });
    const tentative = mapGraphEvent({ ...base, responseStatus: { response: "tentativelyAccepted" }, changeKey: undefined });
    expect(tentative).toMatchObject({ ok: true, occurrence: { roomResponse: "tentative", changeKey: "kq3bV0xQm0a7nH2d8s1XaQAAAj9=" } });
  });

  it("rejects what is not an occurrence", () => {
    expect(mapGraphEvent(null)).toMatchObject({ ok: false });
    expect(mapGraphEvent({ ...base, id: undefined })).toMatchObject({ ok: false, reason: "no id" });
    expect(mapGraphEvent({ ...base, type: "seriesMaster" })).toMatchObject({ ok: false, id: base.id });
    expect(mapGraphEvent({ ...base, start: { dateTime: "2025-03-04T09:00:00", timeZone: "Mars/Olympus" } })).toMatchObject({ ok: false });
  });
});

describe("graphDateTimeToIso", () => {
  it("reads UTC, IANA and Windows zones across DST", () => {
    expect(graphDateTimeToIso("2025-03-04T09:00:00.0000000", "UTC")).toBe("2025-03-04T09:00:00.000Z");
    expect(graphDateTimeToIso("2025-03-04T09:00:00.1234567", "tzone://Microsoft/Utc")).toBe("2025-03-04T09:00:00.123Z");
    expect(graphDateTimeToIso("2025-03-04T10:00:00.0000000", "W. Europe Standard Time")).toBe("2025-03-04T09:00:00.000Z");
    expect(graphDateTimeToIso("2025-07-04T11:00:00.0000000", "Europe/Berlin")).toBe("2025-07-04T09:00:00.000Z");
    expect(graphDateTimeToIso("2025-03-09T03:30:00.0000000", "Pacific Standard Time")).toBe("2025-03-09T10:30:00.000Z");
    expect(graphDateTimeToIso("2025-11-02T01:30:00", "America/Los_Angeles")).toMatch(/^2025-11-02T0[89]:30:00.000Z$/);
    expect(graphDateTimeToIso("2025-03-04T09:00:00+01:00", "ignored")).toBe("2025-03-04T08:00:00.000Z");
    expect(graphDateTimeToIso("not a date", "UTC")).toBeNull();
  });
});
