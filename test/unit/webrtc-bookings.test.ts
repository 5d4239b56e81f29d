/**
 * Route webrtc on the push path and in the ICS feed: a join URL is never pushed as a SIP number;
 * with `devices.webrtcBookings` the booking says Protocol WebRTC and the platform; a room whose
 * delivery is the macro alone is never pushed to.
 */
import { describe, expect, it } from "vitest";
import { renderIcsFeed } from "../../app/http/ics-feed.ts";
import type { Meeting } from "../../core/ports/store.ts";
import { DEFAULT_BOOKING_SETTINGS, pushesTo, toDeviceBooking } from "../../join/device-bookings.ts";

const TEAMS_URL =
  "https://teams.microsoft.com/l/meetup-join/19%3ameeting_Zm9v%40thread.v2/0?context=%7b%22Tid%22%3a%22c0ffee00-1111-4222-8333-444455556666%22%7d";

function meeting(overrides: Partial<Meeting>): Meeting {
  return {
    occurrenceKey: "board@contoso.example|uid-1|2026-12-07T09:00:00.000Z",
    roomId: "rm_0123456789",
    source: "graph",
    sourceEventId: null,
    seriesMasterId: null,
    icalUid: "uid-1",
    changeKey: null,
    start: new Date("2026-12-07T09:00:00Z"),
    end: new Date("2026-12-07T09:30:00Z"),
    subject: "Supplier review",
    organizerName: "Ben Okafor",
    organizerEmail: "ben@fabrikam.example",
    sensitivity: "normal",
    cancelled: false,
    declined: false,
    join: { provider: "teams", url: TEAMS_URL, sipUri: null, teams: null },
    contentHash: "h",
    createdAt: new Date(0),
    updatedAt: new Date(0),
    route: "webrtc",
    dialString: TEAMS_URL,
    ivr: null,
    rule: "teams-webrtc",
    subjectShown: "Supplier review",
    ...overrides,
  };
}

describe("webrtc bookings", () => {
  it("without the setting a webrtc meeting is pushed without a Join button, never as a SIP number", () => {
    const b = toDeviceBooking(meeting({}), DEFAULT_BOOKING_SETTINGS);
    expect(b).toMatchObject({ number: "", protocol: "None", platform: "MicrosoftTeams", title: "Supplier review" });
  });

  it("with devices.webrtcBookings the booking carries Protocol WebRTC, the platform and the join URL", () => {
    const settings = { ...DEFAULT_BOOKING_SETTINGS, webrtcBookings: true };
    expect(toDeviceBooking(meeting({}), settings)).toMatchObject({ number: TEAMS_URL, protocol: "WebRTC", platform: "MicrosoftTeams" });
    const meet = meeting({
      route: "webrtc",
      dialString: "https://meet.google.com/kfd-wqzt-hbm",
      join: { provider: "google-meet", url: "https://meet.google.com/kfd-wqzt-hbm", sipUri: null, teams: null },
    });
    expect(toDeviceBooking(meet, settings)).toMatchObject({ number: "https://meet.google.com/kfd-wqzt-hbm", protocol: "WebRTC", platform: "GoogleMeet" });
    // Other routes are unchanged by the setting.
    expect(toDeviceBooking(meeting({ route: "cvi", dialString: "1198563286.contoso@m.webex.com" }), settings)).toMatchObject({
      protocol: "SIP",
      number: "1198563286.contoso@m.webex.com",
    });
  });

  it("pushes to xapi rooms unless their delivery is the macro alone", () => {
    const device = (family: "xapi" | "pull" | "macro") => ({
      family,
      address: null,
      username: null,
      hasPassword: false,
      insecureTls: false,
      allowInsecureHttp: false,
      hasToken: false,
    });
    expect(pushesTo({ device: device("xapi"), delivery: "xapi" })).toBe(true);
    expect(pushesTo({ device: device("xapi"), delivery: "both" })).toBe(true);
    expect(pushesTo({ device: device("xapi"), delivery: "macro" })).toBe(false);
    expect(pushesTo({ device: device("macro"), delivery: "macro" })).toBe(false);
    expect(pushesTo({ device: device("pull"), delivery: "macro" })).toBe(false);
  });
});

describe("ICS feed", () => {
  it("gives a webrtc meeting its join URL as an https CONFERENCE and names the platform", () => {
    const ics = renderIcsFeed(
      "Board",
      [
        {
          id: "a1",
          start: new Date("2026-12-07T09:00:00Z"),
          end: new Date("2026-12-07T09:30:00Z"),
          subject: "Design crit",
          organizerName: null,
          organizerEmail: null,
          dialString: "https://meet.google.com/kfd-wqzt-hbm",
          route: "webrtc",
          platform: "google-meet",
        },
        {
          id: "a2",
          start: new Date("2026-12-07T10:00:00Z"),
          end: new Date("2026-12-07T10:30:00Z"),
          subject: "Sync",
          organizerName: null,
          organizerEmail: null,
          dialString: "1198563286.contoso@m.webex.com",
          route: "cvi",
          platform: "teams",
        },
      ],
      new Date("2026-12-07T08:00:00Z"),
    );
    const unfolded = ics.replace(/\r\n /g, "");
    expect(unfolded).toContain("CONFERENCE;VALUE=URI;FEATURE=VIDEO;LABEL=Join:https://meet.google.com/kfd-wqzt-hbm\r\n");
    expect(unfolded).toContain("URL:https://meet.google.com/kfd-wqzt-hbm\r\n");
    expect(unfolded).toContain("X-OTJ-PLATFORM:google-meet\r\n");
    expect(unfolded).not.toContain("sip:https");
    expect(unfolded).toContain("CONFERENCE;VALUE=URI;FEATURE=VIDEO;LABEL=Join:sip:1198563286.contoso@m.webex.com\r\n");
  });
});
