/** `otj demo` (`npm run demo`): the whole flow on the embedded default, then a summary. */
import type { Command } from "commander";
import type { CliIo } from "../cli-context.ts";
import { OtjError } from "../../core/errors.ts";
import { runDemo } from "../demo.ts";

export function registerDemoCommand(program: Command, io: CliIo): void {
  program
    .command("demo")
    .description("run the whole flow on the embedded default (in-memory PGlite, built-in emulators, a fast clock)")
    .option("--serve", "keep serving the API and the admin console after the run, until Ctrl-C")
    .option("--port <port>", "port for --serve", "8080")
    .action(async (flags: { serve?: boolean; port: string }) => {
      const started = Date.now();
      const port = Number.parseInt(flags.port, 10);
      if (!Number.isInteger(port) || port < 0 || port > 65535) throw new OtjError("OTJ_USAGE", `--port must be 0-65535 (got ${flags.port})`);
      await runDemo(io.stdout, flags.serve ? { serve: { port } } : {});
      io.stderr(`otj demo finished in ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
    });
}
