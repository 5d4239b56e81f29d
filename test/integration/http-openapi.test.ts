/**
 * /openapi.json is generated from the routes' own schemas: it describes every API route the
 * server registers, with its request and reply schemas and who may call it, and real replies
 * validate against it (real HTTP server, real PostgreSQL).
 */
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { Ajv2020 } from "ajv/dist/2020.js";
import addFormats from "ajv-formats";
import type { FastifyInstance } from "fastify";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildHttpServer } from "../../app/http/server.ts";
import { EngineMetrics } from "../../app/metrics.ts";
import { createLogger } from "../../core/logger.ts";
import type { MeetingUpsert, Room } from "../../core/ports/store.ts";
import { FakeClock } from "../support/fake-clock.ts";
import { openTestStore, type TestStore } from "../support/test-database.ts";
import { plannedMeeting } from "../support/planned-meeting.ts";

const ADMIN = "openapi-admin-token-0123456789abcdef";
const REPO = fileURLToPath(new URL("../../", import.meta.url));

interface Operation {
  security?: Array<Record<string, string[]>>;
  parameters?: Array<{ name: string; in: string }>;
  requestBody?: { content: Record<string, { schema?: object }> };
  responses: Record<string, { description: string; content?: Record<string, { schema?: object }> }>;
}
interface Document {
  openapi: string;
  paths: Record<string, Record<string, Operation>>;
  components: { securitySchemes: Record<string, object> };
}

let db: TestStore;
let clock: FakeClock;
let app: FastifyInstance;
let base: string;
let doc: Document;

beforeAll(async () => {
  db = await openTestStore("postgres");
  clock = new FakeClock("2025-03-04T08:00:00.000Z");
  app = await buildHttpServer({
    store: db.store,
    clock,
    logger: createLogger("silent"),
    metrics: new EngineMetrics(),
    adminToken: ADMIN,
    settings: { startBufferMinutes: 5, endBufferMinutes: 0, windowFutureDays: 7, pollFailuresBeforeAlarm: 3, pushFailuresBeforeAlarm: 3 },
    readiness: async () => ({ database: true }),
    pullRateLimit: 1_000,
  });
  await app.listen({ host: "127.0.0.1", port: 0 });
  base = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`;
  doc = (await (await fetch(`${base}/openapi.json`)).json()) as Document;
  await db.store.providers.add({ name: "webex", partner: "cisco", tenantKey: "contoso@m.webex.com" }, clock.now());
});
afterAll(async () => {
  await app?.close();
  await db?.close();
});

/** Every route the server registers, as `METHOD /path`, read from fastify's own route tree. */
function registeredRoutes(server: FastifyInstance): Array<{ method: string; path: string }> {
  const routes: Array<{ method: string; path: string }> = [];
  const prefixes: string[] = [];
  for (const line of server.printRoutes({ commonPrefix: false }).split("\n")) {
    const m = /^((?:│ {3}| {4})*)(?:├── |└── )(\S+)(?: \(([A-Z, ]+)\))?$/.exec(line);
    if (!m) continue;
    const depth = m[1]!.length / 4;
    const path = (depth === 0 ? "" : prefixes[depth - 1]!) + m[2]!;
    prefixes[depth] = path;
    for (const method of m[3]?.split(", ") ?? []) routes.push({ method, path });
  }
  return routes;
}

const call = (path: string, token: string | null = ADMIN, init: RequestInit = {}) =>
  fetch(base + path, {
    ...init,
    headers: { ...(init.body ? { "content-type": "application/json" } : {}), ...(token ? { authorization: `Bearer ${token}` } : {}) },
  });

const ajv = new Ajv2020({ strict: false, allErrors: true });
addFormats.default(ajv);

/** Checks a real reply's status, then validates its body against the schema the document gives for it. */
async function expectConforms(method: string, path: string, reply: Response, status = 200): Promise<unknown> {
  expect(reply.status, `${method} ${path}`).toBe(status);
  const response = doc.paths[path]?.[method]?.responses[String(reply.status)];
  expect(response, `${method} ${path} documents status ${reply.status}`).toBeDefined();
  const schema = response!.content?.["application/json"]?.schema;
  expect(schema, `${method} ${path} ${reply.status} has a JSON schema`).toBeDefined();
  const body: unknown = await reply.json();
  const validate = ajv.compile(schema!);
  expect(validate(body) ? [] : validate.errors, `${method} ${path} ${reply.status}`).toEqual([]);
  return body;
}

function meeting(room: Room, key: string, minutes: number, extra: Partial<MeetingUpsert> = {}): MeetingUpsert {
  return plannedMeeting(room, key, clock.now(), minutes, extra);
}

describe("the document", () => {
  it("describes every route the server registers (the console's pages are not part of the API)", () => {
    const routes = registeredRoutes(app).filter((r) => r.method !== "HEAD" && r.path !== "/admin" && !r.path.startsWith("/admin/"));
    expect(routes.length).toBeGreaterThanOrEqual(15);
    const missing = routes.filter((r) => doc.paths[r.path.replace(/:([A-Za-z]+)/g, "{$1}")]?.[r.method.toLowerCase()] === undefined);
    expect(missing).toEqual([]);
    expect(Object.keys(doc.paths).filter((p) => p.startsWith("/admin"))).toEqual([]);
    expect(doc.openapi).toBe("3.1.0");
  });

  it("gives every /v1 route its success reply's schema, its request schemas and its security", () => {
    const v1 = Object.entries(doc.paths).filter(([path]) => path.startsWith("/v1/"));
    expect(v1.length).toBeGreaterThanOrEqual(8);
    for (const [path, operations] of v1) {
      for (const [method, op] of Object.entries(operations)) {
        const where = `${method.toUpperCase()} ${path}`;
        const success = Object.entries(op.responses).filter(([status]) => /^2\d\d$/.test(status));
        expect(success.length, where).toBeGreaterThan(0);
        for (const [status, response] of success) {
          // A reply with no body (204, 202) says so; every other one has a schema.
          if (response.content === undefined) expect(["202", "204"], `${where} ${status}`).toContain(status);
          else for (const media of Object.values(response.content)) expect(media.schema, `${where} ${status}`).toBeDefined();
        }
        expect(op.security, where).toBeDefined();
        for (const requirement of op.security ?? []) for (const name of Object.keys(requirement)) expect(doc.components.securitySchemes).toHaveProperty(name);
        if (method === "post" || method === "patch") expect(op.requestBody?.content["application/json"]?.schema, where).toBeDefined();
        for (const param of path.match(/\{(\w+)\}/g) ?? []) {
          expect(
            op.parameters?.some((p) => p.in === "path" && `{${p.name}}` === param),
            `${where} ${param}`,
          ).toBe(true);
        }
      }
    }
    expect(doc.paths["/v1/rooms"]!.get!.security).toEqual([{ adminToken: [] }]);
    expect(doc.paths["/v1/rooms/{id}/calendar.ics"]!.get!.security).toEqual([{ deviceToken: [] }, { deviceTokenQuery: [] }, { adminToken: [] }]);
    expect(doc.paths["/v1/callbacks/bridge"]!.post!.security).toEqual([{ bridgeSignature: [] }]);
    expect(doc.paths["/v1/rooms/{id}/meetings"]!.get!.parameters!.map((p) => p.name)).toEqual(expect.arrayContaining(["limit", "idsOnly", "id"]));
  });

  it("cites no *.md document that is not in the repository", () => {
    const cited = new Set(JSON.stringify(doc).match(/[\w./-]+\.md\b/g) ?? []);
    expect(cited.size).toBeGreaterThan(0);
    for (const file of cited) expect(existsSync(`${REPO}${file}`), file).toBe(true);
  });
});

describe("real replies validate against the document", () => {
  it("rooms, status, the pull API and their errors", async () => {
    const added = await call("/v1/rooms", ADMIN, {
      method: "POST",
      body: JSON.stringify({
        mailbox: "room101@contoso.example",
        displayName: "Room 101",
        provider: "webex",
        deviceFamily: "xapi",
        deviceAddress: "https://10.0.0.5",
      }),
    });
    await expectConforms("post", "/v1/rooms", added, 201);
    const { room, deviceToken } = await db.store.rooms.add(
      { mailbox: "panel1@contoso.example", displayName: "Panel 1", provider: "webex", deviceFamily: "pull" },
      clock.now(),
    );
    const sgj = meeting(room, "s", 90, { route: "sgj", dialString: "sgj_0123456789ab@sgj.contoso.example", rule: "teams-sgj" });
    await db.store.meetings.upsert(
      [meeting(room, "a", 60), sgj, meeting(room, "n", 120, { route: "none", dialString: null, rule: "provider-no-gateway" })],
      clock.now(),
    );
    await db.store.bridgeSessions.schedule(
      { occurrenceKey: sgj.occurrenceKey, sessionId: "sgj_0123456789ab", roomId: room.id, dueAt: sgj.start, notAfter: sgj.end, dialString: sgj.dialString! },
      clock.now(),
    );

    const list = (await expectConforms("get", "/v1/rooms", await call("/v1/rooms"))) as { rooms: unknown[] };
    expect(list.rooms).toHaveLength(2);
    const status = (await expectConforms("get", "/v1/status", await call("/v1/status"))) as { rooms: unknown[]; bridgeSessions: unknown[] };
    expect(status.bridgeSessions).toHaveLength(1);
    await expectConforms("get", "/v1/rooms/{id}", await call("/v1/rooms/room101@contoso.example"));
    const pulled = (await expectConforms("get", "/v1/rooms/{id}/meetings", await call(`/v1/rooms/${room.id}/meetings`, deviceToken!))) as {
      meetings: Array<{ route: string; bridgeState: string | null }>;
    };
    expect(pulled.meetings.map((m) => [m.route, m.bridgeState])).toEqual([
      ["cvi", null],
      ["sgj", "scheduled"],
      ["none", null],
    ]);
    await expectConforms("get", "/v1/rooms/{id}/meetings", await call(`/v1/rooms/${room.id}/meetings?idsOnly=true`, deviceToken!));
    const patched = await call(`/v1/rooms/${room.id}`, ADMIN, { method: "PATCH", body: JSON.stringify({ displayName: "P1" }) });
    expect(((await expectConforms("patch", "/v1/rooms/{id}", patched)) as { displayName: string }).displayName).toBe("P1");

    // Errors: the same `{"error":{"code","message"}}` everywhere, each status documented.
    await expectConforms("get", "/v1/rooms", await call("/v1/rooms", null), 401);
    await expectConforms("get", "/v1/rooms/{id}/meetings", await call(`/v1/rooms/${room.id}/meetings`, "wrong-token"), 401);
    await expectConforms("get", "/v1/rooms/{id}/meetings", await call(`/v1/rooms/${room.id}/meetings?limit=500`), 400);
    await expectConforms("get", "/v1/rooms/{id}", await call("/v1/rooms/nobody@contoso.example"), 404);
    await expectConforms("post", "/v1/rooms", await call("/v1/rooms", ADMIN, { method: "POST", body: JSON.stringify({ mailbox: "x" }) }), 400);
    const importing = (csv: string, dryRun = false) => call("/v1/rooms/import", ADMIN, { method: "POST", body: JSON.stringify({ csv, dryRun }) });
    const header = "mailbox,displayName,provider,deviceFamily\n";
    await expectConforms("post", "/v1/rooms/import", await importing(`${header}new1@contoso.example,New 1,webex,pull\n`, true));
    const refused = (await expectConforms("post", "/v1/rooms/import", await importing(`${header}new2@contoso.example,New 2,nope,fax\n`), 400)) as {
      problems: unknown[];
    };
    expect(refused.problems).toHaveLength(1);
    await expectConforms("post", "/v1/rooms/import", await importing("mailbox\nnot-a-mailbox\n"), 400);
    await expectConforms("get", "/healthz", await call("/healthz", null));
    await expectConforms("get", "/readyz", await call("/readyz", null));
  });

  it("a request that breaks its schema gets 400 OTJ_USAGE, after the token check", async () => {
    const usage = async (r: Response) => {
      expect(r.status).toBe(400);
      expect(((await r.json()) as { error: { code: string } }).error.code).toBe("OTJ_USAGE");
    };
    const room = { mailbox: "room9@contoso.example", displayName: "Room 9", provider: "webex", deviceFamily: "pull" };
    await usage(await call("/v1/rooms", ADMIN, { method: "POST", body: JSON.stringify({ ...room, color: "blue" }) }));
    await usage(await call("/v1/rooms", ADMIN, { method: "POST", body: JSON.stringify({ ...room, insecureTls: "yes" }) }));
    await usage(await call("/v1/rooms/room101@contoso.example", ADMIN, { method: "PATCH", body: "{}" }));
    await usage(await call("/v1/rooms/room101@contoso.example", ADMIN, { method: "PATCH", body: JSON.stringify({ mailbox: "other@contoso.example" }) }));
    await usage(await call("/v1/rooms/room101@contoso.example/meetings?limit=abc"));
    await usage(await call("/v1/rooms/room101@contoso.example/meetings?idsOnly=maybe"));
    await usage(await call("/v1/rooms/room101@contoso.example/meetings?startTime=yesterday"));
    expect((await call("/v1/rooms", "wrong", { method: "POST", body: JSON.stringify({ color: "blue" }) })).status).toBe(401);
    // An unknown path is behind the admin token too: 401 first, 404 with it.
    expect((await call("/v1/nothing", null)).status).toBe(401);
    expect((await call("/v1/nothing")).status).toBe(404);
  });
});
