/**
 * A room's calendar source through the CLI on real PostgreSQL: `rooms add --source`, the CSV
 * column `source`, validation, and `rooms discover --source google` against the Google emulator
 * (configured with a service account key file, as in production).
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { GoogleEmulator } from "../../emulators/google/google-emulator.ts";
import { type CliRun, runCli } from "../support/cli.ts";
import { type TestPostgres, createTestPostgres } from "../support/test-database.ts";

let database: TestPostgres;
let workDir: string;
let google: GoogleEmulator;
let env: NodeJS.ProcessEnv;

function otj(args: string[]): Promise<CliRun> {
  return runCli([...args, "--database-url", database.url], { cwd: workDir, env });
}

interface RoomOut {
  mailbox: string;
  source: string;
}

beforeAll(async () => {
  database = await createTestPostgres("google_rooms");
  workDir = mkdtempSync(join(tmpdir(), "otj-google-rooms-"));
  google = await GoogleEmulator.start();
  google.addRoom({ email: "c_elbe@resource.calendar.google.com", name: "Elbe", capacity: 8, building: "BER", floor: "4" });
  google.addRoom({ email: "c_spree@resource.calendar.google.com", name: "Spree" });
  writeFileSync(join(workDir, "sa.json"), JSON.stringify(google.serviceAccountKey()));
  env = {
    ...process.env,
    OTJ_GOOGLE__SERVICE_ACCOUNT_KEY_FILE: "sa.json",
    OTJ_GOOGLE__SUBJECT: google.subjects[0]!,
    OTJ_GOOGLE__API_ROOT: google.url,
    OTJ_GOOGLE__TOKEN_URL: google.tokenUrl,
  };
  expect((await otj(["providers", "add", "--name", "acme", "--partner", "cisco"])).code).toBe(0);
}, 60_000);

afterAll(async () => {
  await google?.stop();
  await database?.drop();
  if (workDir) rmSync(workDir, { recursive: true, force: true });
});

describe("room source", () => {
  it("rooms add --source google; graph by default; a bad source is refused", async () => {
    const g = await otj([
      "rooms",
      "add",
      "--mailbox",
      "c_rhein@resource.calendar.google.com",
      "--name",
      "Rhein",
      "--provider",
      "acme",
      "--device-family",
      "pull",
      "--source",
      "google",
      "--json",
    ]);
    expect(g.code).toBe(0);
    const m = await otj(["rooms", "add", "--mailbox", "room1@contoso.example", "--name", "Room 1", "--provider", "acme", "--device-family", "pull", "--json"]);
    expect(m.code).toBe(0);
    const bad = await otj([
      "rooms",
      "add",
      "--mailbox",
      "room2@contoso.example",
      "--name",
      "Room 2",
      "--provider",
      "acme",
      "--device-family",
      "pull",
      "--source",
      "caldav",
    ]);
    expect(bad.code).not.toBe(0);
    const list = JSON.parse((await otj(["rooms", "list", "--json"])).stdout) as { rooms: RoomOut[] };
    expect(Object.fromEntries(list.rooms.map((r) => [r.mailbox, r.source]))).toEqual({
      "c_rhein@resource.calendar.google.com": "google",
      "room1@contoso.example": "graph",
    });
  });

  it("rooms import reads a source column and names a bad value by line", async () => {
    const csv = join(workDir, "rooms.csv");
    writeFileSync(
      csv,
      "mailbox,displayName,provider,deviceFamily,source\nc_main@resource.calendar.google.com,Main,acme,pull,google\nroom3@contoso.example,Room 3,acme,pull,\n",
    );
    expect((await otj(["rooms", "import", csv])).code).toBe(0);
    const list = JSON.parse((await otj(["rooms", "list", "--json"])).stdout) as { rooms: RoomOut[] };
    expect(list.rooms.find((r) => r.mailbox === "c_main@resource.calendar.google.com")!.source).toBe("google");
    expect(list.rooms.find((r) => r.mailbox === "room3@contoso.example")!.source).toBe("graph");
    writeFileSync(csv, "mailbox,displayName,provider,deviceFamily,source\nroom4@contoso.example,Room 4,acme,pull,exchange2003\n");
    const bad = await otj(["rooms", "import", csv]);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toMatch(/line 2.*calendar source must be one of graph, google, ews/s);
  });

  it("rooms discover --source google lists resource calendars and --add maps them as google rooms", async () => {
    const run = await otj(["rooms", "discover", "--source", "google", "--add", "--provider", "acme", "--device-family", "pull", "--json"]);
    expect(run.code, run.stderr).toBe(0);
    const out = JSON.parse(run.stdout) as {
      rooms: Array<{ mailbox: string; displayName: string; capacity: number | null; building: string | null; added: boolean }>;
    };
    expect(out.rooms.map((r) => [r.mailbox, r.displayName, r.capacity, r.building, r.added])).toEqual([
      ["c_elbe@resource.calendar.google.com", "Elbe", 8, "BER", true],
      ["c_spree@resource.calendar.google.com", "Spree", null, null, true],
    ]);
    const list = JSON.parse((await otj(["rooms", "list", "--json"])).stdout) as { rooms: RoomOut[] };
    expect(list.rooms.find((r) => r.mailbox === "c_elbe@resource.calendar.google.com")!.source).toBe("google");
    expect(run.stderr).not.toContain("PRIVATE KEY");
  });

  it("rooms discover --source google without google.* configured names the missing keys", async () => {
    const run = await runCli(["rooms", "discover", "--source", "google", "--database-url", database.url], { cwd: workDir, env: { ...process.env } });
    expect(run.code).toBe(2);
    expect(run.stderr).toContain("google.subject");
  });
});
