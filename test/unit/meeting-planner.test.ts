/**
 * The MeetingPlanner port: calendar/ plans through whatever planner it is given (it imports
 * nothing from join/), and join/'s roomPlanner is the engine's planner for stored rooms.
 */
import { describe, expect, it } from "vitest";
import { mapParsedOccurrence } from "../../calendar/occurrence-mapper.ts";
import { occurrenceKey, sessionIdFor } from "../../core/identities.ts";
import type { PlanResult } from "../../core/plan.ts";
import type { SourceOccurrence } from "../../core/ports/calendar-source.ts";
import type { MeetingPlanner } from "../../core/ports/meeting-planner.ts";
import type { Provider, Room } from "../../core/ports/store.ts";
import { planForRoom, roomPlanner } from "../../join/room-planning.ts";
import { compileRules } from "../../join/rules.ts";
import { type InviteDetail, parseGraphEvent } from "../../parser/index.ts";

const ROOM: Room = {
  id: "rm_0123456789",
  mailbox: "Room101@contoso.example",
  displayName: "Room 101",
  providerId: null,
  providerName: null,
  device: { family: "pull", address: null, username: null, hasPassword: false, insecureTls: false, allowInsecureHttp: false, hasToken: true },
  sipUri: null,
  privacy: { privateMeetings: "process", subjectReplace: "private", subjectTemplate: "Private meeting", privateJoin: "enabled" },
  timeZone: null,
  webrtc: [],
  delivery: "macro",
  source: "graph",
  enabled: true,
  createdAt: new Date(0),
  updatedAt: new Date(0),
};
const NOW = new Date("2025-03-04T08:00:00.000Z");

const EVENT = {
  id: "AAMk1",
  iCalUId: "uid-1",
  type: "singleInstance",
  start: { dateTime: "2025-03-05T10:00:00.0000000", timeZone: "UTC" },
  end: { dateTime: "2025-03-05T10:30:00.0000000", timeZone: "UTC" },
  subject: "Design review",
  body: { contentType: "text", content: "Join: sip:4711@video.fabrikam.example" },
};

const OCCURRENCE: SourceOccurrence = {
  sourceId: "AAMk1",
  uid: "uid-1",
  seriesId: null,
  kind: "single",
  start: "2025-03-05T10:00:00.000Z",
  end: "2025-03-05T10:30:00.000Z",
  recurrenceId: null,
  allDay: false,
  subject: "Design review",
  organizer: null,
  sensitivity: "normal",
  cancelled: false,
  roomResponse: "accepted",
  onlineMeetingUrl: null,
  hasBody: true,
  changeKey: null,
  lastModified: null,
  raw: { format: "graph", content: JSON.stringify(EVENT) },
};

function detail(): InviteDetail {
  return parseGraphEvent(EVENT).details[0]!;
}

describe("MeetingPlanner", () => {
  it("the calendar side stores whatever plan the injected planner gives, for the room and providers it was asked about", () => {
    const calls: Array<{ room: Room; providers: readonly Provider[]; now: Date }> = [];
    const key = occurrenceKey(ROOM.mailbox, "uid-1", null, OCCURRENCE.start);
    const fixed: PlanResult = {
      entry: { uid: "uid-1", route: "direct", dialString: "fixed@planner.example", ivr: null, rule: "custom:fake", warnings: [], subjectShown: "Shown" },
      occurrenceKey: key,
      sessionId: sessionIdFor(key),
      matchedText: "fake",
      trace: [],
    };
    const planner: MeetingPlanner<InviteDetail> = {
      plan: (_parsed, room, providers, now) => {
        calls.push({ room, providers, now });
        return fixed;
      },
    };
    const { upsert, plan } = mapParsedOccurrence(OCCURRENCE, detail(), { room: ROOM, providers: [], planner, now: NOW });
    expect(plan).toBe(fixed);
    expect(upsert).toMatchObject({ occurrenceKey: key, route: "direct", dialString: "fixed@planner.example", rule: "custom:fake", subjectShown: "Shown" });
    expect(calls).toEqual([{ room: ROOM, providers: [], now: NOW }]);
  });

  it("roomPlanner plans as planForRoom does with the compiled rules", () => {
    const rules = compileRules([{ id: "fab", priority: 10, match: { field: "any", regex: "fabrikam" }, route: "direct", template: "room@rules.example" }]);
    const viaPort = roomPlanner(rules).plan(detail(), ROOM, [], NOW);
    expect(viaPort).toEqual(planForRoom(detail(), ROOM, [], { rules, now: NOW }));
    expect(viaPort.entry).toMatchObject({ route: "direct", dialString: "room@rules.example", rule: "custom:fab" });
    expect(roomPlanner([]).plan(detail(), ROOM, [], NOW).entry.rule).not.toBe("custom:fab");
  });
});
