/**
 * The `google` parser format: golden pairs in test/fixtures/google/ (<case>.json beside
 * <case>.expected.json, the whole `otj parse --json` output), plus the in-memory entry point the
 * poller uses and inputs that must not crash.
 */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import type { ParseOutput } from "../../core/domain.ts";
import { detectFormat, parseGoogleEvent, parseInvite } from "../../parser/index.ts";

const dir = new URL("../fixtures/google/", import.meta.url).pathname;
const cases = readdirSync(dir)
  .filter((f) => f.endsWith(".json") && !f.endsWith(".expected.json"))
  .map((input) => ({ base: input.slice(0, -".json".length), input }));

describe("golden Google events", () => {
  it("has the cases", () => {
    expect(cases.length).toBeGreaterThanOrEqual(10);
  });

  it.each(cases)("$base", async ({ base, input }) => {
    const want = JSON.parse(readFileSync(join(dir, `${base}.expected.json`), "utf8")) as ParseOutput;
    const got = await parseInvite(readFileSync(join(dir, input)), { filename: input });
    expect(got.format).toBe("google");
    expect(got.invites).toEqual(want.invites);
    expect(got.warnings).toEqual(want.warnings);
  });
});

describe("parseGoogleEvent", () => {
  it("reads the same invite as the file path", async () => {
    const text = readFileSync(join(dir, "02-teams-add-on.json"), "utf8");
    const fromFile = await parseInvite(text, { format: "google" });
    const inMemory = parseGoogleEvent(JSON.parse(text) as Record<string, unknown>);
    expect(inMemory.format).toBe("google");
    expect(inMemory.details[0]!.invite).toEqual(fromFile.invites[0]);
    expect(inMemory.details[0]!.invite.join?.teams?.cvi?.videoConferenceId).toBe("1183456789");
  });

  it("reads a page of events (`items`) as one invite each", async () => {
    const one = JSON.parse(readFileSync(join(dir, "01-meet-conference-data.json"), "utf8")) as Record<string, unknown>;
    const page = { kind: "calendar#events", items: [one, { ...one, id: "other", summary: "Other" }] };
    const out = await parseInvite(JSON.stringify(page));
    expect(out.format).toBe("google");
    expect(out.invites.map((i) => i.subject)).toEqual(["Quarterly review", "Other"]);
  });

  it("tells a Google event from a Graph event", () => {
    expect(detectFormat('{"kind":"calendar#event","start":{"dateTime":"2026-12-08T10:00:00Z"}}')).toBe("google");
    expect(detectFormat('{"start":{"dateTime":"2026-12-08T10:00:00","timeZone":"UTC"},"iCalUId":"x"}')).toBe("graph");
  });

  it.each([
    ["not JSON", "{kind: calendar#event"],
    ["wrong shapes", '{"kind":"calendar#event","conferenceData":{"entryPoints":"x","notes":5},"attendees":{},"start":7,"organizer":"me"}'],
    ["null entries", '{"kind":"calendar#events","items":[null,1,"x"]}'],
  ])("%s: a result with warnings or no join, never a throw", async (_name, text) => {
    const out = await parseInvite(text, { format: "google" });
    expect(out.format).toBe("google");
    for (const invite of out.invites) expect(invite.join).toBeNull();
  });

  it("never takes a join from an entry point that is not a web or SIP address", () => {
    const out = parseGoogleEvent({
      kind: "calendar#event",
      conferenceData: {
        entryPoints: [
          { entryPointType: "video", uri: "javascript:alert(1)" },
          { entryPointType: "sip", uri: "https://evil.example/x" },
        ],
      },
    });
    expect(out.details[0]!.invite.join).toBeNull();
  });
});
