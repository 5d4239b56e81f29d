/** `npm run bench`: runs every benchmark (or those named on the command line). */
import { benchParseThroughput } from "./parse-throughput.ts";

const benches: Record<string, () => Promise<void>> = {
  "parse-throughput": benchParseThroughput,
};

const wanted = process.argv.slice(2);
for (const [name, run] of Object.entries(benches)) {
  if (wanted.length > 0 && !wanted.includes(name)) continue;
  await run();
}
