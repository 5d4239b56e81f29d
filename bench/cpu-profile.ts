/**
 * With OTJ_BENCH_CPU_PROFILE=DIR, a CPU profile of this process (a benchmark's engine side) from
 * the call until the returned function is called, written to DIR/NAME. Without it, nothing.
 */
import { writeFileSync } from "node:fs";
import { Session } from "node:inspector/promises";
import { join as joinPath } from "node:path";

export async function startCpuProfile(): Promise<(name: string) => Promise<void>> {
  const dir = process.env["OTJ_BENCH_CPU_PROFILE"];
  if (dir === undefined || dir === "") return async () => {};
  const session = new Session();
  session.connect();
  await session.post("Profiler.enable");
  await session.post("Profiler.setSamplingInterval", { interval: 500 });
  await session.post("Profiler.start");
  return async (name) => {
    const { profile } = await session.post("Profiler.stop");
    writeFileSync(joinPath(dir, name), JSON.stringify(profile));
    session.disconnect();
  };
}
