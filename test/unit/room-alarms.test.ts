/** A room's alarms: a failure no retry can fix at once, a retryable one after the configured count. */
import { describe, expect, it } from "vitest";
import type { DeviceState, SyncCursor } from "../../core/ports/store.ts";
import { roomAlarms } from "../../app/status.ts";

const at = new Date("2026-12-01T09:00:00Z");
const settings = { pollFailuresBeforeAlarm: 3, pushFailuresBeforeAlarm: 5 };

function cursor(code: string, consecutiveFailures: number): SyncCursor {
  return {
    roomId: "r1",
    deltaLink: null,
    windowStart: null,
    windowEnd: null,
    dueAt: at,
    lastSuccessAt: null,
    lastFailureAt: at,
    lastErrorCode: code,
    lastError: "failed",
    consecutiveFailures,
    leaseOwner: null,
    leaseExpiresAt: null,
  };
}

function device(code: string, attempts: number): DeviceState {
  return {
    roomId: "r1",
    desiredHash: "h",
    pushedHash: null,
    entries: [],
    pushedAt: null,
    dueAt: at,
    attempts,
    lastErrorCode: code,
    lastError: "failed",
    failingSince: at,
    leaseOwner: null,
    leaseExpiresAt: null,
    updatedAt: at,
  };
}

const codes = (alarms: Array<{ code: string }>) => alarms.map((a) => a.code);

describe("roomAlarms", () => {
  for (const code of ["OTJ_GRAPH_NOT_FOUND", "OTJ_GRAPH_ACCESS_DENIED", "OTJ_GRAPH_AUTH"]) {
    it(`raises a poll alarm for ${code} on the first failure`, () => {
      expect(codes(roomAlarms(null, cursor(code, 1), settings))).toEqual([code]);
    });
  }

  for (const code of ["OTJ_DEVICE_AUTH", "OTJ_DEVICE_TLS", "OTJ_DEVICE_UNSUPPORTED", "OTJ_DEVICE_REJECTED"]) {
    it(`raises a device alarm for ${code} on the first failure`, () => {
      expect(codes(roomAlarms(device(code, 1), null, settings))).toEqual([code]);
    });
  }

  it("waits for pollFailuresBeforeAlarm retryable poll failures in a row", () => {
    expect(roomAlarms(null, cursor("OTJ_GRAPH_UNAVAILABLE", 2), settings)).toEqual([]);
    expect(codes(roomAlarms(null, cursor("OTJ_GRAPH_UNAVAILABLE", 3), settings))).toEqual(["OTJ_GRAPH_UNAVAILABLE"]);
    expect(roomAlarms(null, cursor("OTJ_GRAPH_UNAVAILABLE", 3), { ...settings, pollFailuresBeforeAlarm: 4 })).toEqual([]);
  });

  it("waits for pushFailuresBeforeAlarm retryable push failures in a row", () => {
    expect(roomAlarms(device("OTJ_DEVICE_UNREACHABLE", 4), null, settings)).toEqual([]);
    expect(codes(roomAlarms(device("OTJ_DEVICE_UNREACHABLE", 5), null, settings))).toEqual(["OTJ_DEVICE_UNREACHABLE"]);
    expect(codes(roomAlarms(device("OTJ_DEVICE_UNREACHABLE", 1), null, { ...settings, pushFailuresBeforeAlarm: 1 }))).toEqual(["OTJ_DEVICE_UNREACHABLE"]);
  });
});
