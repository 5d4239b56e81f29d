/** The console's room form: the WebRTC platforms and delivery fields, added and edited. */
import type { FastifyInstance } from "fastify";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FakeClock } from "../support/fake-clock.ts";
import { startTestHttpServer } from "../support/http-server.ts";
import { openTestStore, type TestStore } from "../support/test-database.ts";

const ADMIN = "console-webrtc-admin-token-0123456789";
let db: TestStore;
let app: FastifyInstance;
let base: string;
let cookie = "";

beforeAll(async () => {
  db = await openTestStore("postgres");
  const clock = new FakeClock("2026-12-07T08:00:00.000Z");
  ({ app, base } = await startTestHttpServer(db.store, clock, ADMIN));
  await db.store.providers.add({ name: "contoso", partner: "cisco" }, clock.now());
  const login = await fetch(`${base}/admin/login`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({ token: ADMIN }).toString(),
    redirect: "manual",
  });
  cookie = (login.headers.get("set-cookie") ?? "").split(";")[0]!;
});
afterAll(async () => {
  await app?.close();
  await db?.close();
});

async function submit(path: string, fields: Record<string, string>): Promise<Response> {
  const page = await (await fetch(`${base}/admin/rooms/new`, { headers: { cookie } })).text();
  const csrf = /name="_csrf" value="([^"]+)"/.exec(page)![1]!;
  return fetch(`${base}${path}`, {
    method: "POST",
    headers: { cookie, origin: base, "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({ _csrf: csrf, ...fields }).toString(),
    redirect: "manual",
  });
}

describe("console room form", () => {
  it("adds an xapi room that joins Teams over WebRTC and is served by both push and macro", async () => {
    const form = await (await fetch(`${base}/admin/rooms/new`, { headers: { cookie } })).text();
    expect(form).toContain('name="webrtc"');
    expect(form).toContain('name="delivery"');
    const added = await submit("/admin/rooms", {
      mailbox: "board@contoso.example",
      displayName: "Board",
      provider: "contoso",
      deviceFamily: "xapi",
      deviceAddress: "https://10.0.0.5",
      webrtc: "teams",
      delivery: "both",
      privateMeetings: "process",
      subjectReplace: "private",
      subjectTemplate: "Private meeting",
      privateJoin: "enabled",
    });
    expect(added.status).toBe(200); // the token page: delivery both gives the macro a token
    expect(await added.text()).toContain("device token");
    const room = await db.store.rooms.get("board@contoso.example");
    expect(room).toMatchObject({ webrtc: ["teams"], delivery: "both", device: { hasToken: true } });

    const edit = await (await fetch(`${base}/admin/rooms/${room!.id}/edit`, { headers: { cookie } })).text();
    expect(edit).toMatch(/name="webrtc" type="text" value="teams"/);
    expect(edit).toMatch(/<option value="both" selected>both<\/option>/);
  });

  it("shows the problem for an unknown platform and keeps the form", async () => {
    const r = await submit("/admin/rooms", {
      mailbox: "x@contoso.example",
      displayName: "X",
      provider: "contoso",
      deviceFamily: "macro",
      webrtc: "zoom",
      delivery: "",
    });
    expect(r.status).toBe(400);
    expect(await r.text()).toContain("webrtc must list teams, meet");
    expect(await db.store.rooms.get("x@contoso.example")).toBeNull();
  });
});
