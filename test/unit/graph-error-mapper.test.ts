import { describe, expect, it } from "vitest";
import {
  exponentialBackoffMs,
  type GraphFailure,
  mapGraphFailure,
  parseRetryAfter,
  retryDelayMs,
  TOKEN_ERROR_TABLE,
} from "../../calendar/graph/graph-error-mapper.ts";

const NOW = new Date("2025-03-04T09:00:00Z");

function http(status: number, graphCode: string | null = null, retryAfter: string | null = null): GraphFailure {
  return { kind: "http", status, graphCode, message: null, retryAfter, requestId: "req-1" };
}

describe("mapGraphFailure (Graph API table)", () => {
  const cases: Array<[GraphFailure, string, boolean]> = [
    [http(410), "OTJ_GRAPH_SYNC_RESET", true],
    [http(400, "syncStateNotFound"), "OTJ_GRAPH_SYNC_RESET", true],
    [http(404, "SyncStateNotFound"), "OTJ_GRAPH_SYNC_RESET", true],
    [http(400, "resyncRequired"), "OTJ_GRAPH_SYNC_RESET", true],
    [http(401, "InvalidAuthenticationToken"), "OTJ_GRAPH_AUTH", false],
    [http(403, "ErrorAccessDenied"), "OTJ_GRAPH_ACCESS_DENIED", false],
    [http(403, "Authorization_RequestDenied"), "OTJ_GRAPH_AUTH", false],
    [http(404, "ErrorInvalidUser"), "OTJ_GRAPH_NOT_FOUND", false],
    [http(404, "MailboxNotEnabledForRESTAPI"), "OTJ_GRAPH_NOT_FOUND", false],
    [http(400, "ErrorInvalidUser"), "OTJ_GRAPH_NOT_FOUND", false],
    [http(429, "ApplicationThrottled", "2.128"), "OTJ_GRAPH_THROTTLED", true],
    [http(503, null, "5"), "OTJ_GRAPH_THROTTLED", true],
    [http(503), "OTJ_GRAPH_UNAVAILABLE", true],
    [http(504), "OTJ_GRAPH_UNAVAILABLE", true],
    [http(500, "generalException"), "OTJ_GRAPH_UNAVAILABLE", true],
    [http(400, "ErrorInvalidRequest"), "OTJ_GRAPH_REQUEST_INVALID", false],
    [http(302), "OTJ_GRAPH_BAD_RESPONSE", false],
    [{ kind: "network", cause: new TypeError("fetch failed") }, "OTJ_GRAPH_UNAVAILABLE", true],
    [{ kind: "timeout", cause: null }, "OTJ_GRAPH_UNAVAILABLE", true],
  ];
  for (const [failure, code, retryable] of cases) {
    const label = failure.kind === "http" ? `${failure.status} ${failure.graphCode ?? ""}` : failure.kind;
    it(`${label} → ${code}`, () => {
      const error = mapGraphFailure(failure, "GET /users/x/calendarView", NOW);
      expect(error.code).toBe(code);
      expect(error.retryable).toBe(retryable);
    });
  }

  it("keeps status, code, request id and the asked wait in details", () => {
    const error = mapGraphFailure(http(429, "ApplicationThrottled", "2.128"), "GET /users/x/calendarView/delta", NOW);
    expect(error.details).toEqual({ status: 429, graphCode: "ApplicationThrottled", requestId: "req-1", backoff: "retry-after", retryAfterMs: 2128 });
    expect(error.message).toBe("GET /users/x/calendarView/delta: HTTP 429 ApplicationThrottled");
  });

  it("classifies token endpoint answers with their own table", () => {
    expect(mapGraphFailure(http(400, "invalid_client"), "token", NOW, TOKEN_ERROR_TABLE).code).toBe("OTJ_GRAPH_AUTH");
    expect(mapGraphFailure(http(401, "invalid_client"), "token", NOW, TOKEN_ERROR_TABLE).retryable).toBe(false);
    expect(mapGraphFailure(http(503), "token", NOW, TOKEN_ERROR_TABLE).code).toBe("OTJ_GRAPH_UNAVAILABLE");
    expect(mapGraphFailure(http(429, null, "1"), "token", NOW, TOKEN_ERROR_TABLE).code).toBe("OTJ_GRAPH_THROTTLED");
  });
});

describe("Retry-After and backoff", () => {
  it("parses fractional seconds, whole seconds and HTTP-dates", () => {
    expect(parseRetryAfter("2.128", NOW)).toBe(2128);
    expect(parseRetryAfter("0.0004", NOW)).toBe(1);
    expect(parseRetryAfter(" 30 ", NOW)).toBe(30_000);
    expect(parseRetryAfter("Tue, 04 Mar 2025 09:00:07 GMT", NOW)).toBe(7000);
    expect(parseRetryAfter("Tue, 04 Mar 2025 08:00:00 GMT", NOW)).toBe(0);
    expect(parseRetryAfter("soon", NOW)).toBeNull();
    expect(parseRetryAfter("-1", NOW)).toBeNull();
    expect(parseRetryAfter(null, NOW)).toBeNull();
  });

  it("backs off exponentially with jitter, capped", () => {
    expect(exponentialBackoffMs(0, () => 0)).toBe(500);
    expect(exponentialBackoffMs(0, () => 1)).toBe(1000);
    expect(exponentialBackoffMs(3, () => 1)).toBe(8000);
    expect(exponentialBackoffMs(20, () => 1)).toBe(30_000);
  });

  it("retryDelayMs prefers Retry-After, falls back to backoff, refuses what must not be retried", () => {
    const random = () => 0;
    expect(retryDelayMs(mapGraphFailure(http(429, null, "1.5"), "x", NOW), 3, random)).toBe(1500);
    expect(retryDelayMs(mapGraphFailure(http(429), "x", NOW), 1, random)).toBe(1000);
    expect(retryDelayMs(mapGraphFailure(http(504), "x", NOW), 0, random)).toBe(500);
    expect(retryDelayMs(mapGraphFailure(http(410), "x", NOW), 0, random)).toBeNull();
    expect(retryDelayMs(mapGraphFailure(http(403, "ErrorAccessDenied"), "x", NOW), 0, random)).toBeNull();
  });
});
