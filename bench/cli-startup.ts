/**
 * `cli-startup`: how long the installed CLI takes to answer, compiled (dist/, what `bin/otj.js`
 * runs) against the TypeScript sources through tsx (OTJ_FROM_SOURCE=1) as the baseline measured in
 * the same run; median of 10 runs each. Then the demo's peak resident memory (VmHWM of the demo
 * process, read from /proc while it runs).
 */
import { spawn, spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { median, report } from "./report.ts";

const BIN = new URL("../bin/otj.js", import.meta.url).pathname;
const ROOT = new URL("..", import.meta.url).pathname;
const FIXTURE = "test/fixtures/invites/06-ics-exchange-v5-request.ics";
const RUNS = 10;

function timeRuns(args: string[], fromSource: boolean): number {
  const times: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const started = process.hrtime.bigint();
    const run = spawnSync(process.execPath, [BIN, ...args], {
      cwd: ROOT,
      env: { ...process.env, OTJ_FROM_SOURCE: fromSource ? "1" : "0" },
      stdio: ["ignore", "ignore", "pipe"],
    });
    if (run.status !== 0) throw new Error(`otj ${args.join(" ")} exited ${run.status}: ${run.stderr}`);
    times.push(Number(process.hrtime.bigint() - started) / 1e6);
  }
  return median(times);
}

/** Peak resident memory (MB) of `otj demo`, sampled from /proc until it exits. */
async function demoPeakRss(): Promise<number> {
  const child = spawn(process.execPath, [BIN, "demo"], { cwd: ROOT, stdio: ["ignore", "ignore", "inherit"] });
  let peakKb = 0;
  const sample = () => {
    try {
      const match = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${child.pid}/status`, "utf8"));
      if (match) peakKb = Math.max(peakKb, Number(match[1]));
    } catch {
      // The process has gone.
    }
  };
  const timer = setInterval(sample, 20);
  const code = await new Promise<number | null>((resolve) => child.on("exit", resolve));
  clearInterval(timer);
  if (code !== 0) throw new Error(`otj demo exited ${code}`);
  return peakKb / 1024;
}

export async function benchCliStartup(): Promise<void> {
  if (!existsSync(new URL("../dist/app/cli.js", import.meta.url))) throw new Error("cli-startup needs dist/: run `npm run build` first");
  for (const [metric, args, target] of [
    ["help-ms", ["--help"], 300],
    ["parse-ms", ["parse", FIXTURE], 600],
  ] as const) {
    const baseline = timeRuns([...args], true);
    const value = timeRuns([...args], false);
    report({ bench: "cli-startup", metric, value, unit: "ms", baseline, ratio: value / baseline });
    report({ bench: "cli-startup", metric: `${metric}-target`, value: target, unit: "ms", baseline: null, ratio: value / target });
  }
  report({ bench: "cli-startup", metric: "demo-peak-rss", value: await demoPeakRss(), unit: "MB", baseline: null, ratio: null });
}
