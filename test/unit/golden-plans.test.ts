/**
 * Golden plans: test/fixtures/plans/routes.json (every parser fixture planned for one room with
 * defaults) and test/fixtures/plans/cases/*.json (partners, SGJ, privacy, custom rules, expiry).
 */
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import type { InviteFormat, WebrtcPlatform } from "../../core/domain.ts";
import type { PlanEntry } from "../../core/plan.ts";
import type { ProviderDialInfo } from "../../join/dial-string.ts";
import { DEFAULT_PRIVACY, planJoin, type PrivacyPolicy } from "../../join/join-planner.ts";
import { compileRules } from "../../join/rules.ts";
import { parseInviteDetailed } from "../../parser/index.ts";

const invitesDir = new URL("../fixtures/invites/", import.meta.url).pathname;
const plansDir = new URL("../fixtures/plans/", import.meta.url).pathname;
const DEFAULT_NOW = "2026-11-24T12:00:00.000Z";

interface PlanCase {
  description: string;
  invite: { format: InviteFormat; content: string } | { file: string };
  room: string | null;
  privacy?: Partial<PrivacyPolicy>;
  providers?: ProviderDialInfo[];
  roomProvider?: string;
  rules?: unknown[];
  /** The room's WebRTC platforms (`--webrtc`). */
  webrtc?: WebrtcPlatform[];
  now?: string;
  expected: { invites: PlanEntry[] };
}

async function plan(c: Omit<PlanCase, "description" | "expected">): Promise<PlanEntry[]> {
  const parsed =
    "file" in c.invite
      ? await parseInviteDetailed(readFileSync(invitesDir + c.invite.file), { filename: c.invite.file })
      : await parseInviteDetailed(c.invite.content, { format: c.invite.format });
  const providers = c.providers ?? [];
  const room = {
    mailbox: c.room ?? "",
    privacy: { ...DEFAULT_PRIVACY, ...(c.privacy ?? {}) },
    provider: providers.find((p) => p.name === c.roomProvider) ?? null,
    webrtc: c.webrtc ?? [],
  };
  const settings = { providers, rules: compileRules(c.rules ?? []), now: new Date(c.now ?? DEFAULT_NOW) };
  return parsed.details.map((d) => planJoin(d, room, settings).entry);
}

function compare(got: PlanEntry[], want: PlanEntry[]): void {
  expect(got.map(({ warnings: _w, ...rest }) => rest)).toEqual(want.map(({ warnings: _w, ...rest }) => rest));
  want.forEach((w, i) => {
    for (const warning of w.warnings) {
      expect(
        got[i]!.warnings.some((g) => g.startsWith(warning)),
        `warning "${warning}" in ${JSON.stringify(got[i]!.warnings)}`,
      ).toBe(true);
    }
  });
}

const routesFile = `${plansDir}routes.json`;
const routes: Record<string, { invites: PlanEntry[] }> = existsSync(routesFile) ? JSON.parse(readFileSync(routesFile, "utf8")) : {};
const caseFiles = existsSync(`${plansDir}cases`) ? readdirSync(`${plansDir}cases`).filter((f) => f.endsWith(".json")) : [];

describe("plans for every parser fixture", () => {
  it("covers every invite fixture", () => {
    const inputs = readdirSync(invitesDir).filter((f) => !f.endsWith(".expected.json") && !f.endsWith(".md"));
    expect(Object.keys(routes).sort()).toEqual(inputs.sort());
  });

  it.each(Object.entries(routes))("%s", async (file, expected) => {
    compare(await plan({ invite: { file }, room: "room101@contoso.example" }), expected.invites);
  });
});

describe("plan cases", () => {
  it("has at least 40 cases", () => {
    expect(caseFiles.length).toBeGreaterThanOrEqual(40);
  });

  it.each(caseFiles)("%s", async (file) => {
    const c = JSON.parse(readFileSync(`${plansDir}cases/${file}`, "utf8")) as PlanCase;
    compare(await plan(c), c.expected.invites);
  });
});
