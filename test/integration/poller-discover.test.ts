/**
 * `otj rooms discover` in-process against the Graph emulator's Places API (real HTTP, real
 * token endpoint) and real PostgreSQL.
 */

import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { GraphEmulator } from "../../emulators/graph/graph-emulator.ts";
import { runCli } from "../support/cli.ts";
import { openTestStore, type TestStore } from "../support/test-database.ts";

let db: TestStore;
let emu: GraphEmulator;
let dir: string;
let configPath: string;

beforeAll(async () => {
  db = await openTestStore("postgres");
  emu = await GraphEmulator.start({ seed: "discover" });
  emu.addRoom({ address: "Room101@contoso.example", displayName: "Room 101", capacity: 8, building: "HQ", floorNumber: 1 });
  emu.addRoom({ address: "room102@contoso.example", displayName: "Room 102", capacity: 12 });
  emu.addRoom({ address: "boardroom@contoso.example", displayName: "Board Room", hidden: true });
  for (let i = 0; i < 130; i++) emu.addRoom({ address: `huddle${String(i).padStart(3, "0")}@contoso.example`, displayName: `Huddle ${i}`, capacity: 4 });
  emu.addRoomList({ address: "hq-rooms@contoso.example", displayName: "HQ rooms", rooms: ["room101@contoso.example", "room102@contoso.example"] });
  dir = await mkdtemp(join(tmpdir(), "otj-discover-"));
  configPath = join(dir, "otj.json");
  await writeFile(
    configPath,
    JSON.stringify({ graph: { tenantId: emu.tenantId, clientId: emu.clientId, clientSecret: emu.clientSecret, baseUrl: emu.url, authorityUrl: emu.url } }),
  );
  await db.store.providers.add({ name: "webex", partner: "cisco", tenantKey: "contoso@m.webex.com" }, new Date());
});
afterAll(async () => {
  await emu?.stop();
  await db?.close();
  await rm(dir, { recursive: true, force: true });
});

function cli(args: string[]) {
  return runCli(["rooms", "discover", ...args, "--config", configPath], { env: { DATABASE_URL: db.url }, cwd: dir });
}

interface Listed {
  mailbox: string;
  displayName: string;
  capacity: number | null;
  roomList: string | null;
  mapped: boolean;
  added: boolean;
  id: string | null;
}

describe("otj rooms discover", () => {
  it("lists Places rooms with their room list, past the first page, without hidden rooms", async () => {
    const run = await cli(["--json"]);
    expect(run.code).toBe(0);
    const { rooms } = JSON.parse(run.stdout) as { rooms: Listed[] };
    expect(rooms).toHaveLength(132);
    expect(rooms.find((r) => r.mailbox === "room101@contoso.example")).toMatchObject({
      displayName: "Room 101",
      capacity: 8,
      roomList: "hq-rooms@contoso.example",
      mapped: false,
      added: false,
      id: null,
    });
    expect(rooms.find((r) => r.mailbox === "huddle129@contoso.example")?.roomList).toBeNull();
    expect(rooms.some((r) => r.mailbox === "boardroom@contoso.example")).toBe(false);

    const human = await cli([]);
    expect(human.stdout.split("\n")[0]).toMatch(/^MAILBOX\s+NAME\s+CAPACITY\s+ROOM LIST\s+MAPPED$/);
    expect(human.stdout).toMatch(/room101@contoso\.example\s+Room 101\s+8\s+hq-rooms@contoso\.example\s+no/);
  });

  it("--add maps the rooms not yet mapped, once", async () => {
    await db.store.rooms.add({ mailbox: "room102@contoso.example", displayName: "R102", provider: "webex", deviceFamily: "pull" }, new Date());
    const run = await cli(["--add", "--provider", "webex", "--device-family", "pull", "--json"]);
    expect(run.code).toBe(0);
    const { rooms } = JSON.parse(run.stdout) as { rooms: Listed[] };
    expect(rooms.filter((r) => r.added)).toHaveLength(131);
    expect(rooms.find((r) => r.mailbox === "room102@contoso.example")).toMatchObject({ mapped: true, added: false });
    expect(run.stderr).toContain("added 131 room(s)");
    const stored = await db.store.rooms.get("room101@contoso.example");
    expect(stored).toMatchObject({ displayName: "Room 101", providerName: "webex" });
    expect(rooms.find((r) => r.mailbox === "room101@contoso.example")?.id).toBe(stored!.id);

    const again = await cli(["--add", "--provider", "webex", "--device-family", "pull", "--json"]);
    expect((JSON.parse(again.stdout) as { rooms: Listed[] }).rooms.filter((r) => r.added)).toHaveLength(0);
    expect((await db.store.rooms.list()).length).toBe(132);
  });

  it("refuses --add without its flags (exit 2), a room family that needs an address (exit 2), and no Graph config (exit 2)", async () => {
    expect((await cli(["--add"])).code).toBe(2);
    expect((await cli(["--provider", "webex"])).code).toBe(2);
    emu.addRoom({ address: "newroom@contoso.example" });
    const bad = await cli(["--add", "--provider", "webex", "--device-family", "xapi"]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain("newroom@contoso.example");
    const noGraph = await runCli(["rooms", "discover"], { env: { DATABASE_URL: db.url }, cwd: dir });
    expect(noGraph.code).toBe(2);
    expect(noGraph.stderr).toContain("graph.tenantId");
  });
});
