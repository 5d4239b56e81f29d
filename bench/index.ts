/**
 * `npm run bench`: runs every benchmark (or those named on the command line). Those in `ownProcess`
 * run each in a fresh Node process (this file, started with OTJ_BENCH_ONLY), so their memory and
 * timings do not depend on what ran before them.
 */
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { benchChangeToDevice } from "./change-to-device.ts";
import { benchCliStartup } from "./cli-startup.ts";
import { benchConsoleRooms } from "./console-rooms.ts";
import { benchFaultInjection } from "./fault-injection.ts";
import { benchHistory500k } from "./history-500k.ts";
import { benchIdleRss } from "./idle-rss.ts";
import { benchParseThroughput } from "./parse-throughput.ts";
import { benchParserFuzz } from "./parser-fuzz.ts";
import { benchPollCycle } from "./poll-cycle.ts";
import { benchPollCycleSource } from "./poll-cycle-sources.ts";
import { benchScaleOut } from "./scale-out.ts";
import { benchSgjBurst } from "./sgj-burst.ts";

const benches: Record<string, () => Promise<void>> = {
  "change-to-device": benchChangeToDevice,
  "cli-startup": benchCliStartup,
  "console-rooms-10k": benchConsoleRooms,
  "fault-injection": benchFaultInjection,
  "history-500k": benchHistory500k,
  "idle-rss-10k": benchIdleRss,
  "parse-throughput": benchParseThroughput,
  "parser-fuzz": benchParserFuzz,
  "poll-cycle-10k": () => benchPollCycle(),
  "poll-cycle-50k": () => benchPollCycle({ rooms: 50_000 }),
  "poll-cycle-10k-google": () => benchPollCycleSource("google"),
  "poll-cycle-10k-ews": () => benchPollCycleSource("ews"),
  "scale-out": benchScaleOut,
  "sgj-burst-5k": benchSgjBurst,
};

const ownProcess = new Set(["poll-cycle-10k", "poll-cycle-50k", "poll-cycle-10k-google", "poll-cycle-10k-ews", "scale-out", "sgj-burst-5k"]);

/**
 * Runs the benchmark `name` in a child process; its JSON lines go to this process's stdout. The
 * child runs the compiled benchmark in dist/ (`npm run bench` builds it first), as `otj run` runs
 * the compiled engine: no TypeScript loader thread (tsx) with a V8 heap of its own counts in the
 * engine's memory. Without dist/ it runs the sources through tsx.
 */
async function runInOwnProcess(name: string): Promise<void> {
  const self = fileURLToPath(import.meta.url);
  const compiled = self.endsWith(".ts") ? fileURLToPath(new URL("../dist/bench/index.js", import.meta.url)) : self;
  const entry = existsSync(compiled) ? [compiled] : [fileURLToPath(new URL("../bin/run-ts.js", import.meta.url)), self];
  // OTJ_BENCH_ENGINE_FLAGS: Node flags for this process only (the engine side), not for the
  // emulators it starts (NODE_OPTIONS would reach those too).
  const flags = (process.env["OTJ_BENCH_ENGINE_FLAGS"] ?? "").split(/\s+/).filter((f) => f !== "");
  const child = spawn(process.execPath, [...flags, ...entry], {
    env: { ...process.env, OTJ_BENCH_ONLY: name },
    stdio: ["ignore", "inherit", "inherit"],
  });
  const code = await new Promise<number | null>((resolve, reject) => {
    child.once("error", reject);
    child.once("exit", resolve);
  });
  if (code !== 0) throw new Error(`bench ${name} exited with code ${code}`);
}

const only = process.env["OTJ_BENCH_ONLY"];
if (only !== undefined) {
  const run = benches[only];
  if (!run) throw new Error(`unknown bench ${only}`);
  await run();
} else {
  const wanted = process.argv.slice(2);
  for (const [name, run] of Object.entries(benches)) {
    if (wanted.length > 0 && !wanted.includes(name)) continue;
    await (ownProcess.has(name) ? runInOwnProcess(name) : run());
  }
}
