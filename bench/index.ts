/** `npm run bench`: runs every benchmark (or those named on the command line). */
import { benchChangeToDevice } from "./change-to-device.ts";
import { benchCliStartup } from "./cli-startup.ts";
import { benchConsoleRooms } from "./console-rooms.ts";
import { benchFaultInjection } from "./fault-injection.ts";
import { benchHistory500k } from "./history-500k.ts";
import { benchIdleRss } from "./idle-rss.ts";
import { benchParseThroughput } from "./parse-throughput.ts";
import { benchParserFuzz } from "./parser-fuzz.ts";
import { benchPollCycle } from "./poll-cycle.ts";
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
  "sgj-burst-5k": benchSgjBurst,
};

const wanted = process.argv.slice(2);
for (const [name, run] of Object.entries(benches)) {
  if (wanted.length > 0 && !wanted.includes(name)) continue;
  await run();
}
