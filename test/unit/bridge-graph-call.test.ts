/** The Graph guest-call body, notification reading, and call-notification JWT checks (pure or with a stub fetch). */
import { generateKeyPairSync, sign } from "node:crypto";
import { describe, expect, it } from "vitest";
import {
  buildGuestCall,
  classicJoinCoordinates,
  EMPTY_CALL_VIEW,
  type GraphCallView,
  guestIdFor,
  interpretCallNotification,
  notificationCallId,
  parseCallView,
  serializeCallView,
} from "../../bridge/adapters/graph-media-bridge.ts";
import { GraphCallJwtVerifier } from "../../bridge/graph-call-jwt.ts";
import type { BridgeStartRequest } from "../../core/ports/media-bridge.ts";
import { FakeClock } from "../support/fake-clock.ts";

const URL_CLASSIC =
  "https://teams.microsoft.com/l/meetup-join/19%3ameeting_Zm9vYmFy%40thread.v2/0?context=%7b%22Tid%22%3a%22C0FFEE00-1111-2222-3333-444455556666%22%2c%22Oid%22%3a%22abcd0000-1111-2222-3333-444455556666%22%7d";
const CONFIG = { tenantId: "our-tenant", callbackUri: "https://otj.contoso.example/v1/callbacks/graph-calls" };

function request(teams: Partial<BridgeStartRequest["teams"]> = {}): BridgeStartRequest {
  return {
    sessionId: "sgj_e3495aaf97d3",
    teams: { joinUrl: null, meetingId: null, passcode: null, tenantId: null, threadId: null, organizerId: null, ...teams },
    guestDisplayName: "Room 101",
    dialString: "sgj_e3495aaf97d3@sgj.otj.invalid",
    vtcDialString: null,
    notBefore: "2025-03-04T08:58:00.000Z",
    notAfter: "2025-03-04T09:30:00.000Z",
    callbackUrl: "https://otj.contoso.example/v1/callbacks/bridge",
  };
}

describe("buildGuestCall", () => {
  it("joins by meeting ID + passcode as a guest, with service-hosted media and no bypass", () => {
    const body = buildGuestCall(request({ meetingId: "228859003479315", passcode: "Xy7pQ2" }), CONFIG);
    expect(body).toMatchObject({
      callbackUri: CONFIG.callbackUri,
      requestedModalities: ["audio"],
      mediaConfig: { "@odata.type": "#microsoft.graph.serviceHostedMediaConfig" },
      source: { identity: { guest: { id: guestIdFor("sgj_e3495aaf97d3"), displayName: "Room 101" } } },
      meetingInfo: { "@odata.type": "#microsoft.graph.joinMeetingIdMeetingInfo", joinMeetingId: "228859003479315", passcode: "Xy7pQ2" },
      tenantId: "our-tenant",
    });
    expect(JSON.stringify(body)).not.toMatch(/bypass|"user"|application/i);
  });

  it("sends the organizer's tenant when the invite names it", () => {
    expect(buildGuestCall(request({ meetingId: "1", passcode: "p", tenantId: "org-tenant" }), CONFIG)["tenantId"]).toBe("org-tenant");
  });

  it("falls back to organizerMeetingInfo + chatInfo from the classic URL", () => {
    const body = buildGuestCall(request({ joinUrl: URL_CLASSIC }), CONFIG);
    expect(body["chatInfo"]).toEqual({ "@odata.type": "#microsoft.graph.chatInfo", threadId: "19:meeting_Zm9vYmFy@thread.v2", messageId: "0" });
    expect(body["meetingInfo"]).toMatchObject({
      organizer: { user: { id: "abcd0000-1111-2222-3333-444455556666", tenantId: "c0ffee00-1111-2222-3333-444455556666" } },
    });
    expect(body["tenantId"]).toBe("c0ffee00-1111-2222-3333-444455556666");
  });

  it("refuses an invite without coordinates", () => {
    expect(() => buildGuestCall(request(), CONFIG)).toThrow(expect.objectContaining({ code: "OTJ_BRIDGE_REJECTED" }));
  });

  it("reads classic URLs and gives stable guest ids", () => {
    expect(classicJoinCoordinates("https://teams.microsoft.com/meet/2288?p=x")).toBeNull();
    expect(classicJoinCoordinates("not a url")).toBeNull();
    expect(classicJoinCoordinates(URL_CLASSIC)?.organizerId).toBe("abcd0000-1111-2222-3333-444455556666");
    expect(guestIdFor("sgj_e3495aaf97d3")).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(guestIdFor("sgj_e3495aaf97d3")).toBe(guestIdFor("sgj_e3495aaf97d3"));
  });
});

describe("interpretCallNotification", () => {
  const self = { guestId: "guest-1", displayName: "Room 101" };
  const call = (state: string, resultInfo?: object) => ({
    resourceUrl: "/communications/calls/c1",
    resourceData: { id: "c1", state, ...(resultInfo ? { resultInfo } : {}) },
  });
  const roster = (isInLobby: boolean, seq: number, guest: object = { id: "guest-1", displayName: "Room 101" }) => ({
    resourceUrl: "/communications/calls/c1/participants",
    resourceData: [
      { id: "org", isInLobby: false, rosterSequenceNumber: seq, info: { identity: { user: { id: "u" } } } },
      { id: "me", isInLobby, rosterSequenceNumber: seq, info: { identity: { guest } } },
    ],
  });
  function feed(...notifications: object[]): { view: GraphCallView; reports: string[] } {
    let view = EMPTY_CALL_VIEW;
    const reports: string[] = [];
    for (const n of notifications) {
      const r = interpretCallNotification(view, n, self);
      view = r.view;
      reports.push(r.report?.state ?? "-");
    }
    return { view, reports };
  }

  it("maps establishing, lobby, established + not in lobby to joining, lobby, admitted (in either order)", () => {
    expect(feed(call("establishing"), roster(true, 1), roster(false, 2), call("established")).reports).toEqual(["joining", "lobby", "joining", "admitted"]);
    expect(feed(call("establishing"), roster(true, 1), call("established"), roster(false, 2)).reports).toEqual(["joining", "lobby", "lobby", "admitted"]);
  });

  it("drops stale roster updates by sequence number", () => {
    const r = feed(roster(true, 1), roster(false, 3), call("established"), roster(true, 2));
    expect(r.reports.at(-1)).toBe("-");
    expect(r.view).toEqual({ call: "established", rosterSeq: 3, inLobby: false });
  });

  it("reports terminated with its resultInfo, and nothing after it", () => {
    const r = feed(roster(true, 1), call("terminated", { code: 403, subcode: 5855, message: "denied" }), call("established"));
    expect(r.reports).toEqual(["lobby", "ended", "-"]);
    expect(interpretCallNotification({ ...EMPTY_CALL_VIEW, inLobby: true }, call("terminated", { code: 403, subcode: 5855 }), self).report?.detail).toBe(
      "resultInfo 403/5855",
    );
  });

  it("finds our participant by guest id, else by a unique display name", () => {
    expect(feed(roster(true, 1, { id: "other", displayName: "Room 101" })).reports).toEqual(["lobby"]);
    expect(feed(roster(true, 1, { id: "other", displayName: "Someone else" })).reports).toEqual(["-"]);
  });

  it("names the call and keeps views as text", () => {
    expect(notificationCallId({ resourceUrl: "/communications/calls/491f0b00/participants" })).toBe("491f0b00");
    expect(notificationCallId({})).toBeNull();
    const view = { call: "established", rosterSeq: 4, inLobby: false };
    expect(parseCallView(serializeCallView(view))).toEqual(view);
    expect(parseCallView("lobby")).toEqual(EMPTY_CALL_VIEW);
  });
});

describe("GraphCallJwtVerifier", () => {
  const { privateKey, publicKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
  const other = generateKeyPairSync("rsa", { modulusLength: 2048 });
  const clock = new FakeClock("2025-03-04T08:00:00.000Z");
  const now = Math.floor(clock.now().getTime() / 1000);
  const jwk = { ...publicKey.export({ format: "jwk" }), kid: "k1", use: "sig" };

  function token(claims: object, header: object = { alg: "RS256", kid: "k1" }, key = privateKey): string {
    const h = Buffer.from(JSON.stringify(header)).toString("base64url");
    const p = Buffer.from(JSON.stringify({ iss: "https://api.botframework.com", aud: "app-id", exp: now + 600, nbf: now - 60, ...claims })).toString(
      "base64url",
    );
    return `${h}.${p}.${sign("sha256", Buffer.from(`${h}.${p}`), key).toString("base64url")}`;
  }

  function verifier(extraKeys: object[] = []) {
    const fetched: string[] = [];
    const stub = (async (url: string | URL | Request) => {
      fetched.push(String(url));
      const body = String(url).endsWith("/openid") ? { jwks_uri: "https://keys.example/jwks" } : { keys: [jwk, ...extraKeys] };
      return new Response(JSON.stringify(body), { status: 200, headers: { "content-type": "application/json" } });
    }) as typeof fetch;
    const v = new GraphCallJwtVerifier(
      { issuer: "https://api.botframework.com", audience: "app-id", openIdConfigUrl: "https://keys.example/openid" },
      { clock, fetch: stub },
    );
    return { v, fetched };
  }

  it("accepts a good token and caches the keys", async () => {
    const { v, fetched } = verifier();
    expect(await v.verify(`Bearer ${token({})}`)).toMatchObject({ ok: true });
    expect(await v.verify(`Bearer ${token({ aud: ["x", "app-id"] })}`)).toMatchObject({ ok: true });
    expect(fetched).toEqual(["https://keys.example/openid", "https://keys.example/jwks"]);
  });

  it("rejects wrong issuer, audience, expiry, algorithm, signature, and a missing header", async () => {
    const { v } = verifier();
    const reasons = async (auth: string | undefined) => {
      const r = await v.verify(auth);
      return r.ok ? "ok" : r.reason;
    };
    expect(await reasons(`Bearer ${token({ iss: "https://evil.example" })}`)).toBe("wrong issuer");
    expect(await reasons(`Bearer ${token({ aud: "other" })}`)).toBe("wrong audience");
    expect(await reasons(`Bearer ${token({ exp: now - 3600 })}`)).toBe("expired");
    expect(await reasons(`Bearer ${token({ nbf: now + 3600 })}`)).toBe("not yet valid");
    expect(await reasons(`Bearer ${token({}, { alg: "none", kid: "k1" })}`)).toMatch(/unexpected alg/);
    expect(await reasons(`Bearer ${token({}, { alg: "RS256", kid: "k1" }, other.privateKey)}`)).toBe("bad signature");
    expect(await reasons(undefined)).toBe("no bearer JWT");
    expect(await reasons("Basic abc")).toBe("no bearer JWT");
  });

  it("refuses keys under 2048 bits and tokens valid for longer than a day (century-long tokens)", async () => {
    const weak = generateKeyPairSync("rsa", { modulusLength: 1024 });
    const tiny = generateKeyPairSync("rsa", { modulusLength: 512 });
    const { v } = verifier([
      { ...weak.publicKey.export({ format: "jwk" }), kid: "weak", use: "sig" },
      { ...tiny.publicKey.export({ format: "jwk" }), kid: "tiny", use: "sig" },
    ]);
    expect(await v.verify(`Bearer ${token({}, { alg: "RS256", kid: "weak" }, weak.privateKey)}`)).toMatchObject({
      ok: false,
      reason: "unknown signing key weak",
    });
    expect(await v.verify(`Bearer ${token({}, { alg: "RS256", kid: "tiny" }, tiny.privateKey)}`)).toMatchObject({
      ok: false,
      reason: "unknown signing key tiny",
    });
    const century = 100 * 365 * 86_400;
    expect(await v.verify(`Bearer ${token({ iat: now, nbf: now, exp: now + century })}`)).toMatchObject({ ok: false, reason: "lifetime too long" });
    expect(await v.verify(`Bearer ${token({ nbf: undefined, exp: now + 2 * 86_400 })}`)).toMatchObject({ ok: false, reason: "lifetime too long" });
    expect(await v.verify(`Bearer ${token({ nbf: now - 2 * 86_400, exp: now + 60 })}`)).toMatchObject({ ok: false, reason: "lifetime too long" });
    expect(await v.verify(`Bearer ${token({ iat: now, nbf: now, exp: now + 3600 })}`)).toMatchObject({ ok: true });
  });

  it("fetches again for an unknown kid, but not more often than minRefetchMs", async () => {
    const { v, fetched } = verifier();
    await v.verify(`Bearer ${token({})}`);
    expect(await v.verify(`Bearer ${token({}, { alg: "RS256", kid: "k2" })}`)).toMatchObject({ ok: false, reason: "unknown signing key k2" });
    expect(fetched).toHaveLength(2);
    clock.advance(11_000);
    await v.verify(`Bearer ${token({}, { alg: "RS256", kid: "k2" })}`);
    expect(fetched).toHaveLength(4);
  });
});
