/** `otj demo` (`npm run demo`): the whole flow on the embedded default, then a summary. */
import type { Command } from "commander";
import type { CliIo } from "../cli-context.ts";
import { runDemo } from "../demo.ts";

export function registerDemoCommand(program: Command, io: CliIo): void {
  program
    .command("demo")
    .description("run the whole flow on the embedded default (in-memory PGlite, built-in emulators, a fast clock)")
    .action(async () => {
      const started = Date.now();
      await runDemo(io.stdout);
      io.stderr(`otj demo finished in ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
    });
}
