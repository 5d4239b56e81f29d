/**
 * Property test over mutated fixtures and hostile shapes: the parser never throws, always returns
 * a well-formed ParseOutput, finishes each input quickly, and never touches the network.
 */
import dns from "node:dns";
import { readdirSync, readFileSync } from "node:fs";
import net from "node:net";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ParseOutput } from "../../core/domain.ts";
import { parseInvite } from "../../parser/index.ts";

const dir = new URL("../fixtures/invites/", import.meta.url).pathname;
const seeds = readdirSync(dir)
  .filter((f) => !f.endsWith(".expected.json") && !f.endsWith(".md"))
  .map((f) => readFileSync(`${dir}${f}`, "latin1"));
if (seeds.length === 0) seeds.push("Join: https://teams.microsoft.com/meet/357159246802468?p=x\nMeeting ID: 357 159 246 802 468\nPasscode: Hk4mN8pQ\n");

const networkCalls: string[] = [];
const originals = { connect: net.Socket.prototype.connect, lookup: dns.lookup };

beforeAll(async () => {
  net.Socket.prototype.connect = ((...args: unknown[]) => {
    networkCalls.push(`connect ${JSON.stringify(args[0])}`);
    throw new Error("network access from the parser");
  }) as typeof net.Socket.prototype.connect;
  (dns as { lookup: unknown }).lookup = (host: string) => {
    networkCalls.push(`lookup ${host}`);
    throw new Error("DNS access from the parser");
  };
  // Warm-up: the first parse through each library (mailparser's fallback, ical.js) loads and
  // compiles it, which on a busy machine alone can take over a second; the hang detector below
  // is about runaway patterns, not module loading.
  for (const seed of seeds) await parseInvite(Buffer.from(seed.slice(0, 600).repeat(3) + seed, "latin1"));
});
afterAll(() => {
  net.Socket.prototype.connect = originals.connect;
  (dns as { lookup: unknown }).lookup = originals.lookup;
});

/**
 * Hang detector, not a benchmark: any input taking this much CPU time means a runaway pattern.
 * CPU time, not wall-clock time, so other work on a loaded machine does not count against it.
 */
const PER_INPUT_MS = 1500;

function wellFormed(out: ParseOutput): void {
  expect(["eml", "ics", "html", "text", "graph"]).toContain(out.format);
  expect(Array.isArray(out.invites)).toBe(true);
  for (const w of out.warnings) expect(typeof w).toBe("string");
  for (const inv of out.invites) {
    expect(typeof inv.recurring).toBe("boolean");
    expect(["normal", "private", "personal", "confidential"]).toContain(inv.sensitivity);
    if (inv.join?.teams?.meetingId) expect(inv.join.teams.meetingId).toMatch(/^\d+$/);
    if (inv.join?.url) expect(inv.join.url).not.toMatch(/[\s<>"]/);
  }
}

async function timedParse(input: string | Buffer): Promise<ParseOutput> {
  const t0 = process.cpuUsage();
  const out = await parseInvite(input);
  const used = process.cpuUsage(t0);
  expect((used.user + used.system) / 1000).toBeLessThan(PER_INPUT_MS);
  return out;
}

const mutation = fc.record({
  seed: fc.nat(seeds.length - 1),
  at: fc.double({ min: 0, max: 1, noNaN: true }),
  kind: fc.constantFrom("insert", "delete", "replace", "duplicate", "truncate"),
  text: fc.oneof(
    fc.string({ maxLength: 40 }),
    fc.constantFrom(
      "=\r\n",
      "%",
      "%25",
      '<a href="',
      "\\n",
      "\r\n ",
      "BEGIN:VEVENT\r\n",
      "--boundary\r\n",
      "\u0000",
      "\uFFFF",
      "________",
      "Meeting ID:",
      "<https://",
    ),
  ),
  len: fc.nat(200),
});

describe("parser robustness", () => {
  it("never throws on mutated fixtures", async () => {
    await fc.assert(
      fc.asyncProperty(mutation, async ({ seed, at, kind, text, len }) => {
        const base = seeds[seed]!;
        const i = Math.floor(at * base.length);
        const mutated =
          kind === "insert"
            ? base.slice(0, i) + text + base.slice(i)
            : kind === "delete"
              ? base.slice(0, i) + base.slice(i + len)
              : kind === "replace"
                ? base.slice(0, i) + text + base.slice(i + text.length)
                : kind === "duplicate"
                  ? base.slice(0, i) + base.slice(i, i + len).repeat(5) + base.slice(i)
                  : base.slice(0, i);
        wellFormed(await timedParse(Buffer.from(mutated, "latin1")));
      }),
      { numRuns: 250 },
    );
  });

  it("never throws on arbitrary text", async () => {
    await fc.assert(
      fc.asyncProperty(fc.string({ maxLength: 2000, unit: "binary" }), async (s) => {
        wellFormed(await timedParse(s));
      }),
      { numRuns: 150 },
    );
  });

  it("stays fast on ReDoS-shaped and giant inputs", async () => {
    const hostile = [
      `https://${"a.".repeat(50_000)}teams.microsoft.com/`,
      `Meeting ID: ${"1 ".repeat(100_000)}`,
      `${"a@".repeat(100_000)}b`,
      `<a href="${"x".repeat(500_000)}">Join the meeting now</a>`,
      `${"<div>".repeat(20_000)}Meeting ID: 123 456 789 012`,
      `https://urldefense.com/v3/__${"*".repeat(100_000)}__;AAAA!!x$`,
      `BEGIN:VCALENDAR\r\n${"BEGIN:VEVENT\r\nUID:x\r\nEND:VEVENT\r\n".repeat(5000)}END:VCALENDAR\r\n`,
      `From: a@b.example\r\nContent-Type: multipart/mixed; boundary=x\r\n\r\n${"--x\r\nContent-Type: message/rfc822\r\n\r\nFrom: a@b.example\r\nContent-Type: multipart/mixed; boundary=x\r\n\r\n".repeat(50)}`,
      `{"value":[${Array.from({ length: 2000 }, () => '{"subject":"x","body":{"content":"<a href=\\"https://zoom.us/j/123456789\\">j</a>"}}').join(",")}]}`,
      `${"sip:".repeat(50_000)}x@y.example`,
      `${"_".repeat(200_000)}`,
    ];
    for (const input of hostile) wellFormed(await timedParse(input));
  });

  it("opened no network connection", () => {
    expect(networkCalls).toEqual([]);
  });
});
