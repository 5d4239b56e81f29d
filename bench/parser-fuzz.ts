/**
 * parser-fuzz: 100,000 inputs (random text, mutated fixtures, giant attributes, deep MIME
 * nesting, ReDoS-shaped strings) through parseInvite. Reports throws (must be 0), the slowest
 * input in ms (target <= 50 ms for inputs up to 1 MB) and the p99.
 */
import { readdirSync, readFileSync } from "node:fs";
import fc from "fast-check";
import { parseInvite } from "../parser/index.ts";
import { report } from "./report.ts";

const RUNS = Number(process.env.OTJ_FUZZ_RUNS ?? 100_000);

export async function benchParserFuzz(): Promise<void> {
  // Seeds: the golden fixtures and the real-world corpus (wrappers, chat markup, quoted replies).
  const seeds = ["../test/fixtures/invites/", "../test/fixtures/real/"].flatMap((d) => {
    const dir = new URL(d, import.meta.url).pathname;
    return readdirSync(dir)
      .filter((f) => !f.endsWith(".expected.json") && !f.endsWith(".md"))
      .map((f) => readFileSync(dir + f, "latin1"));
  });
  const hostile = fc.oneof(
    fc.string({ maxLength: 4000, unit: "binary" }),
    fc.nat(200_000).map((n) => `<a href="https://teams.microsoft.com/l/meetup-join/${"%".repeat(n % 5000)}" title="${"x".repeat(n)}">Join the meeting now</a>`),
    fc
      .nat(60)
      .map(
        (n) =>
          `From: a@b.example\r\nContent-Type: multipart/mixed; boundary=x\r\n\r\n${"--x\r\nContent-Type: message/rfc822\r\n\r\nFrom: a@b.example\r\nContent-Type: multipart/mixed; boundary=x\r\n\r\n".repeat(n)}`,
      ),
    fc.nat(100_000).map((n) => `Meeting ID: ${"1 ".repeat(n)}\nPasscode: ${"a".repeat(n % 1000)}`),
    fc.nat(50_000).map((n) => `${"a@".repeat(n)}b sip:${"x.".repeat(n % 3000)}example`),
    fc
      .nat(50_000)
      .map((n) =>
        `${"> ".repeat(n % 2000)}https://teams.microsoft.com/l/meetup-join/19%3a${"x".repeat(70)}\n${"%40thread.v2/0?context=".repeat(n % 300)}\n`.repeat(
          1 + (n % 10),
        ),
      ),
    fc
      .nat(30_000)
      .map(
        (n) =>
          `${"https://zoom.us/j/81234567890?context={".repeat(n % 200)} [x](https://a.example/${"|".repeat(n % 2000)}) <https://b.example|${"]".repeat(n % 500)}> ${"[y](".repeat(n % 5000)}`,
      ),
    fc.nat(20_000).map((n) => `${"-::~".repeat(n % 4000)}${":".repeat(n)}x\nPasscode:${" ".repeat(n)}\n${"0123456789".repeat(n % 100)}`),
    fc.nat(20_000).map((n) => `BEGIN:VCALENDAR\r\n${`BEGIN:VEVENT\r\nDESCRIPTION:${"\\n".repeat(n)}\r\nEND:VEVENT\r\n`.repeat(3)}END:VCALENDAR`),
  );
  const mutated = fc
    .record({
      seed: fc.nat(seeds.length - 1),
      at: fc.double({ min: 0, max: 1, noNaN: true }),
      text: fc.string({ maxLength: 64 }),
      cut: fc.nat(400),
      dup: fc.nat(20),
    })
    .map(({ seed, at, text, cut, dup }) => {
      const base = seeds[seed]!;
      const i = Math.floor(at * base.length);
      return base.slice(0, i) + text + base.slice(i + cut, i + cut + 2000).repeat(dup % 3) + base.slice(i + cut);
    });
  // Warm up (JIT, lazy imports such as mailparser) so the figures describe steady state.
  for (const seed of seeds) await parseInvite(Buffer.from(seed, "latin1"), { mimeReader: "mailparser" });
  for (const seed of seeds) await parseInvite(Buffer.from(seed, "latin1"));
  const times: number[] = [];
  // CPU time per input as well: on a shared machine the wall clock also counts time the process
  // waited for a core, which says nothing about the input.
  const cpuTimes: number[] = [];
  let slowestCpu = { ms: 0, head: "" };
  let slowest = { ms: 0, head: "" };
  let throws = 0;
  let maxBytes = 0;
  await fc.assert(
    fc.asyncProperty(fc.oneof(mutated, hostile), async (input) => {
      const data = Buffer.from(input, "latin1").subarray(0, 1024 * 1024);
      maxBytes = Math.max(maxBytes, data.length);
      const c0 = process.cpuUsage();
      const t0 = performance.now();
      try {
        await parseInvite(data);
      } catch {
        throws++;
      }
      const ms = performance.now() - t0;
      const cpu = process.cpuUsage(c0);
      const cpuMs = (cpu.user + cpu.system) / 1000;
      cpuTimes.push(cpuMs);
      if (cpuMs > slowestCpu.ms) slowestCpu = { ms: cpuMs, head: `${data.length} bytes: ${JSON.stringify(input.slice(0, 80))}` };
      times.push(ms);
      if (ms > slowest.ms) slowest = { ms, head: `${data.length} bytes: ${JSON.stringify(input.slice(0, 80))}` };
    }),
    { numRuns: RUNS },
  );
  times.sort((a, b) => a - b);
  cpuTimes.sort((a, b) => a - b);
  process.stderr.write(`parser-fuzz: most CPU ${slowestCpu.ms.toFixed(1)} ms, ${slowestCpu.head}\n`);
  process.stderr.write(`parser-fuzz: slowest input ${slowest.ms.toFixed(1)} ms, ${slowest.head}\n`);
  const max = times[times.length - 1] ?? 0;
  report({ bench: "parser-fuzz", metric: "max-ms-per-input", value: max, unit: "ms", baseline: 50, ratio: max / 50 });
  report({ bench: "parser-fuzz", metric: "p99-ms-per-input", value: times[Math.floor(times.length * 0.99)] ?? 0, unit: "ms", baseline: 50, ratio: null });
  const maxCpu = cpuTimes[cpuTimes.length - 1] ?? 0;
  report({ bench: "parser-fuzz", metric: "max-cpu-ms-per-input", value: maxCpu, unit: "ms", baseline: 50, ratio: maxCpu / 50 });
  report({ bench: "parser-fuzz", metric: "throws", value: throws, unit: "count", baseline: 0, ratio: null });
  report({ bench: "parser-fuzz", metric: "inputs", value: times.length, unit: "count", baseline: RUNS, ratio: times.length / RUNS });
}
