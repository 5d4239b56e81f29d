/**
 * `otj rooms discover --source ews` in-process against the EWS emulator (real HTTP, SOAP) and
 * real PostgreSQL; the password reaches otj through a `_FILE` variable.
 */

import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { EwsEmulator } from "../../emulators/ews/ews-emulator.ts";
import { runCli } from "../support/cli.ts";
import { openTestStore, type TestStore } from "../support/test-database.ts";

let db: TestStore;
let emu: EwsEmulator;
let dir: string;
let configPath: string;
let passwordFile: string;

beforeAll(async () => {
  db = await openTestStore("postgres");
  emu = await EwsEmulator.start();
  emu.addRoom({ address: "Room101@contoso.example", displayName: "Room 101", roomList: { address: "hq-rooms@contoso.example", name: "HQ rooms" } });
  emu.addRoom({ address: "room102@contoso.example", displayName: "Room 102", roomList: { address: "hq-rooms@contoso.example", name: "HQ rooms" } });
  dir = await mkdtemp(join(tmpdir(), "otj-ews-discover-"));
  configPath = join(dir, "otj.json");
  passwordFile = join(dir, "ews-password");
  await writeFile(passwordFile, `${emu.password}\n`);
  await writeFile(configPath, JSON.stringify({ ews: { url: emu.url, username: emu.username } }));
});
afterAll(async () => {
  await emu?.stop();
  await db?.close();
  await rm(dir, { recursive: true, force: true });
});

function cli(args: string[], env: Record<string, string> = { OTJ_EWS__PASSWORD_FILE: passwordFile }) {
  return runCli(["rooms", "discover", "--source", "ews", ...args, "--config", configPath], { env: { DATABASE_URL: db.url, ...env }, cwd: dir });
}

describe("otj rooms discover --source ews", () => {
  it("lists the rooms of the Exchange room lists", async () => {
    const run = await cli(["--json"]);
    expect(run.stderr).toBe("");
    expect(run.code).toBe(0);
    const { rooms } = JSON.parse(run.stdout) as { rooms: { mailbox: string; displayName: string; roomList: string | null; mapped: boolean }[] };
    expect(rooms.map((r) => [r.mailbox, r.displayName, r.roomList, r.mapped]).sort()).toEqual([
      ["room101@contoso.example", "Room 101", "hq-rooms@contoso.example", false],
      ["room102@contoso.example", "Room 102", "hq-rooms@contoso.example", false],
    ]);
    expect(emu.requests.map((q) => q.operation)).toEqual(["GetRoomLists", "GetRooms"]);
  });

  it("names the missing key without a password", async () => {
    const missing = await cli([], {});
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain("ews.password");
  });

  it("discovers over NTLM (ews.auth ntlm); a wrong password is OTJ_EWS_AUTH without echoing it", async () => {
    const ntlmEmu = await EwsEmulator.start({ auth: "ntlm" });
    try {
      ntlmEmu.addRoom({ address: "room201@contoso.example", displayName: "Room 201", roomList: { address: "hq-rooms@contoso.example", name: "HQ rooms" } });
      const ntlmConfig = join(dir, "ntlm.json");
      await writeFile(ntlmConfig, JSON.stringify({ ews: { url: ntlmEmu.url, username: ntlmEmu.username, auth: "ntlm" } }));
      const run = (password: string) =>
        writeFile(passwordFile, `${password}\n`).then(() =>
          runCli(["rooms", "discover", "--source", "ews", "--json", "--config", ntlmConfig], {
            env: { DATABASE_URL: db.url, OTJ_EWS__PASSWORD_FILE: passwordFile },
            cwd: dir,
          }),
        );
      const ok = await run(ntlmEmu.password);
      expect(ok.stderr).toBe("");
      expect((JSON.parse(ok.stdout) as { rooms: { mailbox: string }[] }).rooms.map((r) => r.mailbox)).toEqual(["room201@contoso.example"]);
      expect(ntlmEmu.requests.map((q) => q.authorization)).toEqual(["ntlm", "ntlm"]);
      const wrong = await run("not-the-password");
      expect(wrong.code).not.toBe(0);
      expect(wrong.stderr).toContain("OTJ_EWS_AUTH");
      expect(wrong.stderr).not.toContain("not-the-password");
    } finally {
      await writeFile(passwordFile, `${emu.password}\n`);
      await ntlmEmu.stop();
    }
  });

  it("says so when no room list holds a room", async () => {
    const empty = await EwsEmulator.start();
    try {
      const emptyConfig = join(dir, "empty.json");
      await writeFile(emptyConfig, JSON.stringify({ ews: { url: empty.url, username: empty.username, password: empty.password } }));
      const run = await runCli(["rooms", "discover", "--source", "ews", "--config", emptyConfig], { env: { DATABASE_URL: db.url }, cwd: dir });
      expect(run.code).toBe(0);
      expect(run.stderr).toContain("the Exchange room lists hold no rooms");
      expect(empty.requests.map((q) => q.operation)).toEqual(["GetRoomLists"]);
    } finally {
      await empty.stop();
    }
  });
});
