/** currentAlarms: which engine-wide alarms hold for given inputs (pure; no database). */
import { describe, expect, it } from "vitest";
import { pullsMeetings, staleFetchAlarm } from "../../app/alarms/device-fetch.ts";
import { currentAlarms, type EngineAlarmInputs } from "../../app/alarms/engine-alarms.ts";
import { resolveConfig } from "../../core/config.ts";
import type { Room } from "../../core/ports/store.ts";

const NOW = new Date("2026-12-01T12:00:00Z");
const MIN = 60_000;

function room(id: string, over: Partial<Room> = {}, device: Partial<Room["device"]> = {}): Room {
  return {
    id,
    mailbox: `${id}@contoso.example`,
    displayName: id,
    providerId: null,
    providerName: null,
    device: {
      family: "xapi",
      address: "https://10.0.0.1",
      username: "admin",
      hasPassword: false,
      insecureTls: false,
      allowInsecureHttp: false,
      hasToken: false,
      ...device,
    },
    sipUri: null,
    privacy: { privateMeetings: "process", subjectReplace: "private", subjectTemplate: "", privateJoin: "enabled" },
    timeZone: null,
    webrtc: [],
    delivery: "xapi",
    source: "graph",
    enabled: true,
    createdAt: NOW,
    updatedAt: NOW,
    ...over,
  };
}

function inputs(over: Partial<EngineAlarmInputs>): EngineAlarmInputs {
  return {
    now: NOW,
    rooms: [],
    providers: [],
    status: { rooms: [], bridgeSessions: [] },
    bridgeConfigured: true,
    secretsKeySet: true,
    graphRoles: null,
    graphFeatures: { calendar: false, graphBridge: false },
    deliveryProblems: [],
    ...over,
  };
}

describe("currentAlarms", () => {
  it("nothing wrong, no alarm", () => {
    expect(currentAlarms(inputs({ rooms: [room("a")] }))).toEqual([]);
  });

  it("pulling devices: pull, macro and ews families and macro/both delivery; never a disabled room or a pushed-only one", () => {
    expect(pullsMeetings(room("x", {}, { family: "pull" }))).toBe(true);
    expect(pullsMeetings(room("x", {}, { family: "macro" }))).toBe(true);
    expect(pullsMeetings(room("x", {}, { family: "ews" }))).toBe(true);
    expect(pullsMeetings(room("x", { delivery: "both" }))).toBe(true);
    expect(pullsMeetings(room("x"))).toBe(false);
  });

  it("one staleness check: the code and the setting follow the device family", () => {
    const settings = { pullStaleMinutes: 30, ewsFetchStaleMinutes: 60 };
    const startedAt = new Date(NOW.getTime() - 90 * MIN);
    const check = (r: Room, minutesAgo: number | null, baselines = { startedAt }) =>
      staleFetchAlarm(r, minutesAgo === null ? undefined : { at: new Date(NOW.getTime() - minutesAgo * MIN), via: "pull" }, NOW, settings, baselines)?.code ??
      null;
    const pull = room("p", {}, { family: "pull" });
    const ews = room("e", { delivery: "macro" }, { family: "ews" });
    expect(check(pull, 30)).toBeNull();
    expect(check(pull, 31)).toBe("OTJ_DEVICE_PULL_STALE");
    expect(check(pull, null)).toBe("OTJ_DEVICE_PULL_STALE"); // counted from the engine's start, 90 min ago
    expect(check(pull, null, { startedAt: new Date(NOW.getTime() - 10 * MIN) })).toBeNull();
    expect(check(room("m", { delivery: "macro" }), 45)).toBe("OTJ_DEVICE_PULL_STALE");
    // An ews room (delivery macro too) raises only its own code, after its own setting.
    expect(check(ews, 45)).toBeNull();
    expect(check(ews, 61)).toBe("OTJ_DEVICE_NOT_FETCHING");
    // Never read and no password: no device to wait for; with one, counted from its issue.
    expect(check(ews, null)).toBeNull();
    expect(staleFetchAlarm(ews, undefined, NOW, settings, { startedAt, credentialIssuedAt: new Date(NOW.getTime() - 61 * MIN) })?.message).toContain(
      "since its password was issued",
    );
    expect(staleFetchAlarm(ews, { at: new Date(NOW.getTime() - 120 * MIN), via: "ews:FindItem" }, NOW, { ...settings, ewsFetchStaleMinutes: 0 })).toBeNull();
    expect(check(room("off", { enabled: false }, { family: "pull" }), 100)).toBeNull();
    expect(check(room("x"), 100)).toBeNull();
  });

  it("Graph consent: only for features in use, naming the missing roles", () => {
    const none = currentAlarms(inputs({ graphRoles: [], graphFeatures: { calendar: false, graphBridge: false } }));
    expect(none).toEqual([]);
    const bridge = currentAlarms(inputs({ graphRoles: ["Calendars.Read", "Calls.AccessMedia.All"], graphFeatures: { calendar: true, graphBridge: true } }));
    expect(bridge.map((a) => a.code)).toEqual(["OTJ_GRAPH_CONSENT_MISSING"]);
    expect(bridge[0]?.message).toContain("Calls.JoinGroupCall.All, Calls.JoinGroupCallAsGuest.All, OnlineMeetings.Read.All");
    expect(bridge[0]?.message).not.toContain("Calls.AccessMedia.All,");
    // A ReadWrite permission covers its Read, as the doctor decides.
    const readWrite = currentAlarms(inputs({ graphRoles: ["Calendars.ReadWrite"], graphFeatures: { calendar: true, graphBridge: false } }));
    expect(readWrite).toEqual([]);
  });

  it("change notifications failing: one OTJ_NOTIFICATIONS_FAILING per enabled kind with failing rooms; clears at zero; none when the kind is off", () => {
    const none = { rooms: 0, lastCode: null, lastMessage: null };
    const graph = { rooms: 12, lastCode: "OTJ_GRAPH_ACCESS_DENIED", lastMessage: "ErrorAccessDenied" };
    const google = { rooms: 1, lastCode: "OTJ_GOOGLE_UNAVAILABLE", lastMessage: "x".repeat(500) };
    const raised = currentAlarms(inputs({ notifications: { pollIntervalSeconds: 60, graph, google } }));
    expect(raised.map((a) => [a.key, a.code, a.roomId, a.subject])).toEqual([
      ["engine:notifications:graph", "OTJ_NOTIFICATIONS_FAILING", null, "graph-subscriptions"],
      ["engine:notifications:google", "OTJ_NOTIFICATIONS_FAILING", null, "google-channels"],
    ]);
    expect(raised[0]?.message).toBe(
      "12 room(s): Graph change subscriptions failing (last: OTJ_GRAPH_ACCESS_DENIED: ErrorAccessDenied); the rooms are still polled every 60 s (poll.intervalSeconds)",
    );
    expect(raised[1]?.message).toMatch(
      /^1 room\(s\): Google events\.watch channels failing \(last: OTJ_GOOGLE_UNAVAILABLE: x{200}\.\.\.\); the rooms are still polled/,
    );
    // No failing room any more (or that kind off): the alarm is no longer current, so the evaluator clears it.
    expect(currentAlarms(inputs({ notifications: { pollIntervalSeconds: 60, graph: none, google } })).map((a) => a.key)).toEqual([
      "engine:notifications:google",
    ]);
    expect(currentAlarms(inputs({ notifications: { pollIntervalSeconds: 60, graph: none, google: none } }))).toEqual([]);
    expect(currentAlarms(inputs({ notifications: { pollIntervalSeconds: 60, graph: null, google: null } }))).toEqual([]);
    expect(currentAlarms(inputs({}))).toEqual([]);
  });

  it("room alarms of the status get one key per room and code; delivery problems one per channel", () => {
    const r = room("a");
    const status = {
      rooms: [
        {
          mailbox: r.mailbox,
          displayName: "a",
          alarms: [
            { code: "OTJ_DEVICE_AUTH", since: NOW.toISOString(), message: "m" },
            { code: "OTJ_DEVICE_AUTH", since: NOW.toISOString(), message: "m2" },
          ],
          lastPoll: { at: null, outcome: "never" as const, error: null },
          device: { family: "xapi", state: "error" as const, lastPushAt: null, lastError: null },
          meetings: [],
        },
      ],
      bridgeSessions: [],
    };
    const alarms = currentAlarms(inputs({ rooms: [r], status, deliveryProblems: [{ channel: "teams", message: "answered HTTP 400" }] }));
    expect(alarms.map((a) => [a.key, a.code])).toEqual([
      ["room:a:OTJ_DEVICE_AUTH", "OTJ_DEVICE_AUTH"],
      ["engine:delivery:teams", "OTJ_ALERT_DELIVERY_FAILED"],
    ]);
  });
});

describe("alerts configuration", () => {
  const resolve = (alerts: unknown) => () => resolveConfig({ alerts }, { env: {}, cwd: process.cwd() });
  it("a webhook needs its secret, e-mail its sender and recipients; http:// only on loopback", () => {
    expect(resolve({ webhook: { url: "https://hooks.example.com/otj" } })).toThrow(/alerts\.webhook\.secret/);
    expect(resolve({ smtp: { host: "smtp.example.com" } })).toThrow(/alerts\.smtp\.from[\s\S]*alerts\.smtp\.to|alerts\.smtp\.to[\s\S]*alerts\.smtp\.from/);
    expect(resolve({ teams: { url: "http://teams.example.com/hook" } })).toThrow(/alerts\.teams\.url/);
    const ok = resolveConfig(
      {
        alerts: {
          webhook: { url: "https://hooks.example.com/otj/", secret: "s" },
          smtp: { host: "smtp.example.com", from: "otj@example.com", to: "ops@example.com" },
        },
      },
      { env: {}, cwd: process.cwd() },
    );
    expect(ok.alerts.webhook.url).toBe("https://hooks.example.com/otj");
    expect(ok.alerts.smtp).toMatchObject({ port: 587, secure: false });
  });
});
