import { describe, expect, it } from "vitest";
import { ClientCredentialsTokenProvider } from "../../calendar/graph/client-credentials-token-provider.ts";

class ManualClock {
  constructor(public ms: number) {}
  now(): Date {
    return new Date(this.ms);
  }
}

function tokenServer(answers: Array<() => Response>) {
  const bodies: string[] = [];
  const fetchImpl: typeof fetch = async (_url, init) => {
    bodies.push(String(init?.body));
    const next = answers.shift();
    if (!next) throw new TypeError("fetch failed");
    return next();
  };
  return { fetchImpl, bodies };
}

const ok =
  (token: string, expiresIn = 3599) =>
  () =>
    Response.json({ token_type: "Bearer", expires_in: expiresIn, access_token: token });

function provider(fetchImpl: typeof fetch, clock: ManualClock) {
  return new ClientCredentialsTokenProvider({
    tokenUrl: "https://login.microsoftonline.com/t/oauth2/v2.0/token",
    clientId: "client",
    clientSecret: "s3cret&=",
    scope: "https://graph.microsoft.com/.default",
    clock,
    fetch: fetchImpl,
  });
}

describe("ClientCredentialsTokenProvider", () => {
  it("posts the client-credentials form once for concurrent callers", async () => {
    const clock = new ManualClock(0);
    const server = tokenServer([ok("t1")]);
    const tokens = provider(server.fetchImpl, clock);
    const all = await Promise.all([tokens.getToken(), tokens.getToken(), tokens.getToken()]);
    expect(all).toEqual(["t1", "t1", "t1"]);
    expect(tokens.requestCount).toBe(1);
    expect(Object.fromEntries(new URLSearchParams(server.bodies[0]))).toEqual({
      grant_type: "client_credentials",
      client_id: "client",
      client_secret: "s3cret&=",
      scope: "https://graph.microsoft.com/.default",
    });
  });

  it("keeps using a still-valid token when a renewal fails transiently", async () => {
    const clock = new ManualClock(0);
    const server = tokenServer([ok("t1"), () => new Response("busy", { status: 503 }), ok("t2")]);
    const tokens = provider(server.fetchImpl, clock);
    expect(await tokens.getToken()).toBe("t1");
    clock.ms = 56 * 60_000;
    expect(await tokens.getToken()).toBe("t1");
    expect(await tokens.getToken()).toBe("t2");
    clock.ms = 200 * 60_000;
    await expect(tokens.getToken()).rejects.toMatchObject({ code: "OTJ_GRAPH_UNAVAILABLE" });
  });

  it("renews short-lived tokens at half their lifetime and after invalidate()", async () => {
    const clock = new ManualClock(0);
    const server = tokenServer([ok("short", 120), ok("next", 120), ok("third", 120)]);
    const tokens = provider(server.fetchImpl, clock);
    expect(await tokens.getToken()).toBe("short");
    clock.ms = 59_000;
    expect(await tokens.getToken()).toBe("short");
    clock.ms = 61_000;
    expect(await tokens.getToken()).toBe("next");
    tokens.invalidate("short"); // not the cached one: no effect
    expect(await tokens.getToken()).toBe("next");
    tokens.invalidate("next");
    expect(await tokens.getToken()).toBe("third");
  });

  it("reports a response without a token as a bad response", async () => {
    const clock = new ManualClock(0);
    const tokens = provider(tokenServer([() => Response.json({ token_type: "Bearer" })]).fetchImpl, clock);
    await expect(tokens.getToken()).rejects.toMatchObject({ code: "OTJ_GRAPH_BAD_RESPONSE" });
  });
});
