/**
 * Hostile requests to the EWS feed over real HTTP: each gets a SOAP fault (never a file's content,
 * never a hang), and the per-device rate limit holds per rolling minute of the injected clock.
 */
import Fastify, { type FastifyInstance } from "fastify";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FetchRecorder } from "../../app/alarms/device-fetch.ts";
import { ewsFeed } from "../../app/http/ews-feed/index.ts";
import { EWS_BODY_LIMIT } from "../../app/http/ews-feed/soap.ts";
import { buildHttpServer } from "../../app/http/server.ts";
import { EngineMetrics } from "../../app/metrics.ts";
import { createLogger } from "../../core/logger.ts";
import { FakeClock } from "../support/fake-clock.ts";
import { openTestStore, type TestStore } from "../support/test-database.ts";

/** What the EWS feed plugin needs besides its settings, when registered on its own. */
function feedParts() {
  const logger = createLogger("silent");
  return { store: db.store, clock, logger, fetches: new FetchRecorder(db.store, logger) };
}

const MAILBOX = "poly-hostile@contoso.example";
const SETTINGS = { startBufferMinutes: 5, endBufferMinutes: 0, windowFutureDays: 7, pollFailuresBeforeAlarm: 3, pushFailuresBeforeAlarm: 3 };
let db: TestStore;
let clock: FakeClock;
let app: FastifyInstance;
let limited: FastifyInstance;
let base: string;
let limitedBase: string;
let auth: string;

const url = (s: FastifyInstance) => `http://127.0.0.1:${(s.server.address() as { port: number }).port}`;

beforeAll(async () => {
  db = await openTestStore("postgres");
  clock = new FakeClock("2025-03-04T08:00:00.000Z");
  await db.store.providers.add({ name: "p", partner: "pexip", tenantKey: "contoso@video.contoso.example", sipDomain: "video.contoso.example" }, clock.now());
  await db.store.rooms.add({ mailbox: MAILBOX, displayName: "Poly", provider: "p", deviceFamily: "ews" }, clock.now());
  const { password } = await db.store.ewsDevices.issuePassword(MAILBOX, clock.now());
  auth = `Basic ${Buffer.from(`${MAILBOX}:${password}`).toString("base64")}`;
  app = await buildHttpServer({
    store: db.store,
    clock,
    logger: createLogger("silent"),
    metrics: new EngineMetrics(),
    adminToken: null,
    settings: SETTINGS,
    readiness: async () => ({}),
  });
  await app.listen({ host: "127.0.0.1", port: 0 });
  base = url(app);
  // The plugin on its own, with a low rate limit.
  limited = Fastify();
  await limited.register(ewsFeed, { ...feedParts(), metrics: new EngineMetrics(), settings: SETTINGS, rateLimit: 2 });
  await limited.listen({ host: "127.0.0.1", port: 0 });
  limitedBase = url(limited);
});
afterAll(async () => {
  await app.close();
  await limited.close();
  await db.close();
});

const post = (body: string, at = base, path = "/EWS/Exchange.asmx") =>
  fetch(`${at}${path}`, { method: "POST", headers: { "content-type": "text/xml; charset=utf-8", authorization: auth }, body });
const env = (inner: string, prolog = "") =>
  `<?xml version="1.0"?>${prolog}<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/" xmlns:m="http://schemas.microsoft.com/exchange/services/2006/messages" xmlns:t="http://schemas.microsoft.com/exchange/services/2006/types"><s:Body>${inner}</s:Body></s:Envelope>`;

async function expectFault(r: Response, status: number, code: RegExp) {
  expect(r.status).toBe(status);
  expect(r.headers.get("content-type")).toMatch(/^text\/xml/);
  const text = await r.text();
  expect(text).toContain("<s:Fault>");
  expect(text).toMatch(code);
  return text;
}

describe("EWS feed hostile input", () => {
  it("XXE: the entity is refused, no file is read", async () => {
    const text = await expectFault(
      await post(
        env("<m:ResolveNames><m:UnresolvedEntry>&xxe;</m:UnresolvedEntry></m:ResolveNames>", `<!DOCTYPE r [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>`),
      ),
      500,
      /ErrorInvalidRequest/,
    );
    expect(text).not.toContain("root:");
  });

  it("billion laughs: refused before expansion; the answer stays small", async () => {
    const lol = `<!DOCTYPE lolz [<!ENTITY lol "lol">${Array.from({ length: 9 }, (_, i) => `<!ENTITY lol${i + 1} "${`&lol${i === 0 ? "" : i};`.repeat(10)}">`).join("")}]>`;
    const text = await expectFault(await post(env("<m:GetFolder>&lol9;</m:GetFolder>", lol)), 500, /ErrorInvalidRequest/);
    expect(text.length).toBeLessThan(2_000);
  });

  it("oversized envelope: 413 as a SOAP fault, also before the device is known", async () => {
    const big = env(`<m:GetFolder>${"a".repeat(EWS_BODY_LIMIT + 1)}</m:GetFolder>`);
    await expectFault(await post(big), 413, /ErrorInvalidRequest/);
    const anonymous = await fetch(`${base}/EWS/Exchange.asmx`, { method: "POST", headers: { "content-type": "text/xml" }, body: big });
    await expectFault(anonymous, 413, /ErrorInvalidRequest/);
  });

  it("deep nesting, malformed XML and unknown operations get faults", async () => {
    await expectFault(await post(env(`${"<a>".repeat(5_000)}${"</a>".repeat(5_000)}`)), 500, /ErrorSchemaValidation/);
    await expectFault(await post("<s:Envelope><s:Body><m:GetFolder>"), 500, /ErrorSchemaValidation/);
    await expectFault(await post(env("<m:DeleteItem/>")), 500, /ErrorInvalidRequest[\s\S]*DeleteItem is not supported/);
  });

  it("a device gets at most the rate limit per rolling minute", async () => {
    const find = env(
      `<m:GetFolder><m:FolderShape><t:BaseShape>Default</t:BaseShape></m:FolderShape><m:FolderIds><t:DistinguishedFolderId Id="calendar"/></m:FolderIds></m:GetFolder>`,
    );
    expect((await post(find, limitedBase)).status).toBe(200);
    expect((await post(find, limitedBase)).status).toBe(200);
    const third = await post(find, limitedBase);
    expect(third.status).toBe(429);
    expect(third.headers.get("retry-after")).toBe("60");
    clock.advance(60_001);
    expect((await post(find, limitedBase)).status).toBe(200);
  });

  it("http.ewsDialStringIn body: the dial string stays out of Location, the join block keeps it", async () => {
    const room = (await db.store.rooms.get(MAILBOX))!;
    const start = new Date(clock.now().getTime() + 3_600_000);
    await db.store.meetings.upsert(
      [
        {
          occurrenceKey: `${MAILBOX}|body|${start.toISOString()}`,
          roomId: room.id,
          source: "graph",
          sourceEventId: "body",
          seriesMasterId: null,
          icalUid: "body",
          changeKey: "1",
          start,
          end: new Date(start.getTime() + 1_800_000),
          subject: "Body only",
          organizerName: null,
          organizerEmail: null,
          sensitivity: "normal",
          cancelled: false,
          declined: false,
          join: null,
          route: "cvi",
          dialString: "contoso.1234567890@video.contoso.example",
          ivr: null,
          rule: "teams-cvi",
          subjectShown: "Body only",
          contentHash: "body",
        },
      ],
      clock.now(),
    );
    const bodyOnly = Fastify();
    await bodyOnly.register(ewsFeed, {
      ...feedParts(),
      metrics: new EngineMetrics(),
      settings: SETTINGS,
      feed: { dialStringIn: "body" },
    });
    await bodyOnly.listen({ host: "127.0.0.1", port: 0 });
    try {
      const folder = `<m:ParentFolderIds><t:DistinguishedFolderId Id="calendar"/></m:ParentFolderIds>`;
      const found = await (
        await post(
          env(`<m:FindItem Traversal="Shallow"><m:ItemShape><t:BaseShape>AllProperties</t:BaseShape></m:ItemShape>${folder}</m:FindItem>`),
          url(bodyOnly),
        )
      ).text();
      expect(found).toContain("<t:Location></t:Location>");
      const id = /<t:ItemId Id="([^"]+)"/.exec(found)?.[1];
      const item = await (
        await post(
          env(`<m:GetItem><m:ItemShape><t:BaseShape>AllProperties</t:BaseShape></m:ItemShape><m:ItemIds><t:ItemId Id="${id}"/></m:ItemIds></m:GetItem>`),
          url(bodyOnly),
        )
      ).text();
      expect(item).toContain("SIP: sip:contoso.1234567890@video.contoso.example");
      // The default puts it in Location too.
      expect(await (await post(env(`<m:FindItem Traversal="Shallow">${folder}</m:FindItem>`))).text()).toContain(
        "<t:Location>contoso.1234567890@video.contoso.example</t:Location>",
      );
    } finally {
      await bodyOnly.close();
    }
  });
});
