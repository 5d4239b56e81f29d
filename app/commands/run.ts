/** `otj run [--config FILE]`: the engine until SIGTERM/SIGINT (docs/operations.md). */
import type { Command } from "commander";
import { systemClock } from "../../core/clock.ts";
import { loadConfig } from "../../core/config.ts";
import { createLogger, prettyStream } from "../../core/logger.ts";
import { Engine } from "../main.ts";
import type { CliIo } from "../cli-context.ts";

export function registerRunCommand(program: Command, io: CliIo): void {
  program
    .command("run")
    .description("run the engine (poller, pusher, bridge scheduler, HTTP API) until SIGTERM")
    .option("--config <file>", "configuration file (JSON, or a JS/TS module)")
    .option("--database-url <url>", "postgres://…, pglite:///abs/dir or memory://")
    .action(async (flags: { config?: string; databaseUrl?: string }) => {
      const config = await loadConfig({ file: flags.config, env: io.env, cwd: io.cwd, overrides: { databaseUrl: flags.databaseUrl } });
      // JSON lines for supervisors and log shippers; readable lines on a terminal.
      const logger = createLogger(config.log.level, process.stdout.isTTY ? prettyStream(process.stdout) : undefined);
      const engine = new Engine({ config, clock: systemClock, logger, cwd: io.cwd, ticks: true });
      await engine.start(true);
      await new Promise<void>((resolve) => {
        const stop = (signal: string) => {
          logger.info({ signal }, "shutting down");
          process.off("SIGTERM", onTerm);
          process.off("SIGINT", onInt);
          engine
            .stop()
            .catch((error: unknown) => logger.error({ err: (error as Error).message }, "shutdown failed"))
            .finally(resolve);
        };
        const onTerm = () => stop("SIGTERM");
        const onInt = () => stop("SIGINT");
        process.on("SIGTERM", onTerm);
        process.on("SIGINT", onInt);
      });
      logger.info({}, "stopped");
    });
}
