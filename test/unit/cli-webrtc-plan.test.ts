/** `otj plan|explain --webrtc`: the webrtc route for a room whose device joins Teams or Meet natively. */
import { describe, expect, it } from "vitest";
import { runCli } from "../support/cli.ts";

const fixtures = new URL("../fixtures/invites/", import.meta.url).pathname;
const EXTERNAL_TEAMS = `${fixtures}09-html-german-v3.html`;
const ID_ONLY_TEAMS = `${fixtures}38-text-meeting-id-passcode-only.txt`;
const CVI_TEAMS = `${fixtures}04-graph-v4-cisco-cvi.json`;
const MEET = `${fixtures}67-ics-google-meet.ics`;

describe("otj plan and explain with --webrtc", () => {
  it("routes an external Teams meeting to webrtc with its join URL, and explains why", async () => {
    const plan = await runCli(["plan", EXTERNAL_TEAMS, "--webrtc", "teams", "--json"]);
    expect(plan.code).toBe(0);
    const entry = (JSON.parse(plan.stdout) as { invites: Array<{ route: string; rule: string; dialString: string }> }).invites[0]!;
    expect(entry).toMatchObject({ route: "webrtc", rule: "teams-webrtc" });
    expect(entry.dialString).toMatch(/^https:\/\/teams\.microsoft\.com\/l\/meetup-join\//);

    const explain = await runCli(["explain", EXTERNAL_TEAMS, "--webrtc", "teams"]);
    expect(explain.stdout).toMatch(/-> teams-webrtc +matched: Teams meeting without CVI coordinates and the room joins Teams over WebRTC/);
    expect(explain.stdout).toMatch(/teams-cvi +not matched: no CVI coordinates/);
    expect(explain.stdout).toMatch(/teams-sgj +not reached/);
  });

  it("keeps cvi for a meeting with CVI coordinates, sgj without a join link, and says why", async () => {
    const cvi = await runCli(["explain", CVI_TEAMS, "--webrtc", "teams,meet"]);
    expect(cvi.stdout).toMatch(/route cvi by rule teams-cvi/);
    expect(cvi.stdout).toMatch(/teams-webrtc +not reached/);
    const idOnly = await runCli(["explain", ID_ONLY_TEAMS, "--webrtc", "teams"]);
    expect(idOnly.stdout).toMatch(/route sgj by rule teams-sgj/);
    expect(idOnly.stdout).toMatch(/teams-webrtc +not matched: no Teams join link to open/);
    const noFlag = await runCli(["explain", EXTERNAL_TEAMS]);
    expect(noFlag.stdout).toMatch(/teams-webrtc +not matched: the room does not join Teams over WebRTC/);
  });

  it("routes Google Meet to webrtc only for a room with --webrtc meet", async () => {
    const meet = JSON.parse((await runCli(["plan", MEET, "--webrtc", "meet", "--json"])).stdout) as {
      invites: Array<{ route: string; rule: string; dialString: string }>;
    };
    expect(meet.invites[0]).toMatchObject({ route: "webrtc", rule: "meet-webrtc" });
    expect(meet.invites[0]!.dialString).toMatch(/^https:\/\/meet\.google\.com\/[a-z]{3}-[a-z]{4}-[a-z]{3}/);
    const teamsOnly = JSON.parse((await runCli(["plan", MEET, "--webrtc", "teams", "--json"])).stdout) as { invites: Array<{ route: string }> };
    expect(teamsOnly.invites[0]!.route).toBe("none");
  });

  it("refuses an unknown platform with exit 2", async () => {
    const r = await runCli(["plan", MEET, "--webrtc", "zoom"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/webrtc must list teams, meet/);
  });
});
