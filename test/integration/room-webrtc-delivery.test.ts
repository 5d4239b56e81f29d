/**
 * Per-room WebRTC platforms and delivery on real PostgreSQL, through the CLI (`rooms add
 * --webrtc --delivery`, `rooms import` columns `webrtc`, `delivery`) and the store (update).
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type DatabaseHandle, createDatabase } from "../../store/create-database.ts";
import { PostgresStore } from "../../store/postgres-store.ts";
import { type CliRun, runCli } from "../support/cli.ts";
import { type TestPostgres, createTestPostgres } from "../support/test-database.ts";

let database: TestPostgres;
let handle: DatabaseHandle;
let workDir: string;

function otj(args: string[]): Promise<CliRun> {
  return runCli([...args, "--database-url", database.url], { cwd: workDir });
}

beforeAll(async () => {
  database = await createTestPostgres("webrtc_delivery");
  workDir = mkdtempSync(join(tmpdir(), "otj-webrtc-"));
  expect((await otj(["providers", "add", "--name", "contoso", "--partner", "cisco"])).code).toBe(0);
  handle = await createDatabase(database.url, { cwd: workDir });
});
afterAll(async () => {
  await handle?.close();
  await database?.drop();
  if (workDir) rmSync(workDir, { recursive: true, force: true });
});

describe("rooms with WebRTC platforms and a delivery", () => {
  it("an xapi room keeps pushing by default and stores its WebRTC platforms in a fixed order", async () => {
    const run = await otj([
      "rooms",
      "add",
      "--mailbox",
      "board@contoso.example",
      "--name",
      "Board",
      "--provider",
      "contoso",
      "--device-family",
      "xapi",
      "--device-address",
      "https://10.0.0.5",
      "--webrtc",
      "meet,teams",
      "--json",
    ]);
    expect(run.code, run.stderr).toBe(0);
    expect(JSON.parse(run.stdout)).toMatchObject({ mailbox: "board@contoso.example", webrtc: ["teams", "meet"], delivery: "xapi", hasDeviceToken: false });
  });

  it("a macro room has no device address, is never pushed to, and gets its device token once", async () => {
    const run = await otj([
      "rooms",
      "add",
      "--mailbox",
      "huddle@contoso.example",
      "--name",
      "Huddle",
      "--provider",
      "contoso",
      "--device-family",
      "macro",
      "--json",
    ]);
    expect(run.code, run.stderr).toBe(0);
    const out = JSON.parse(run.stdout) as { id: string; mailbox: string; deviceToken: string };
    expect(Object.keys(out).sort()).toEqual(["deviceToken", "id", "mailbox"]);
    expect(out.deviceToken.length).toBeGreaterThanOrEqual(16);
    const list = JSON.parse((await otj(["rooms", "list", "--json"])).stdout) as { rooms: Array<{ mailbox: string; delivery: string; webrtc: string[] }> };
    expect(list.rooms.find((r) => r.mailbox === "huddle@contoso.example")).toMatchObject({ delivery: "macro", webrtc: [] });
    expect((await otj(["rooms", "list", "--json"])).stdout).not.toContain(out.deviceToken);

    const refused = await otj([
      "rooms",
      "add",
      "--mailbox",
      "lobby@contoso.example",
      "--name",
      "Lobby",
      "--provider",
      "contoso",
      "--device-family",
      "macro",
      "--device-address",
      "https://10.0.0.6",
    ]);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/a macro room has no device address/);
  });

  it("an xapi room with delivery both gets a token for the macro and keeps its device", async () => {
    const run = await otj([
      "rooms",
      "add",
      "--mailbox",
      "both@contoso.example",
      "--name",
      "Both",
      "--provider",
      "contoso",
      "--device-family",
      "xapi",
      "--device-address",
      "https://10.0.0.7",
      "--delivery",
      "both",
      "--json",
    ]);
    expect(run.code, run.stderr).toBe(0);
    const out = JSON.parse(run.stdout) as { delivery: string; hasDeviceToken: boolean; deviceToken: string; deviceAddress: string };
    expect(out).toMatchObject({ delivery: "both", hasDeviceToken: true, deviceAddress: "https://10.0.0.7" });
    expect(out.deviceToken).toMatch(/^[A-Za-z0-9._~-]{16,}$/);
  });

  it("refuses an unknown platform and a pull room that asks to be pushed", async () => {
    const bad = await otj([
      "rooms",
      "add",
      "--mailbox",
      "x@contoso.example",
      "--name",
      "X",
      "--provider",
      "contoso",
      "--device-family",
      "pull",
      "--webrtc",
      "teams,zoom",
      "--delivery",
      "xapi",
    ]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/webrtc must list teams, meet \(got "zoom"\)/);
    expect(bad.stderr).toMatch(/a pull room is never pushed to/);
  });

  it("imports the webrtc and delivery columns", async () => {
    const csv = [
      "mailbox,displayName,provider,deviceFamily,deviceAddress,deviceUsername,devicePassword,webrtc,delivery",
      'r1@contoso.example,R1,contoso,xapi,https://10.0.1.1,admin,pw,"teams,meet",both',
      "r2@contoso.example,R2,contoso,macro,,,,meet,",
      "r3@contoso.example,R3,contoso,xapi,https://10.0.1.3,admin,pw,,",
    ].join("\n");
    const path = join(workDir, "rooms.csv");
    writeFileSync(path, csv);
    const run = await otj(["rooms", "import", path, "--json"]);
    expect(run.code, run.stderr).toBe(0);
    const store = new PostgresStore(handle.db, { secretKey: null });
    const rooms = Object.fromEntries((await store.rooms.list()).map((r) => [r.mailbox, r]));
    expect(rooms["r1@contoso.example"]).toMatchObject({ webrtc: ["teams", "meet"], delivery: "both", device: { hasToken: true } });
    expect(rooms["r2@contoso.example"]).toMatchObject({ webrtc: ["meet"], delivery: "macro", device: { family: "macro", hasToken: true } });
    expect(rooms["r3@contoso.example"]).toMatchObject({ webrtc: [], delivery: "xapi", device: { hasToken: false } });

    const changed = await store.rooms.update("r3@contoso.example", { webrtc: "teams", delivery: "macro" }, new Date());
    expect(changed).toMatchObject({ webrtc: ["teams"], delivery: "macro", device: { family: "xapi", address: "https://10.0.1.3" } });
    const moved = await store.rooms.update("r1@contoso.example", { deviceFamily: "macro", deviceAddress: null }, new Date());
    expect(moved).toMatchObject({ delivery: "macro", webrtc: ["teams", "meet"], device: { family: "macro", address: null } });
  });
});
