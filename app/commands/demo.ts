/** `otj demo`: the whole flow on the embedded default. Assembled in a later milestone. */
import type { Command } from "commander";
import type { CliIo } from "../cli-context.ts";

export function registerDemoCommand(program: Command, io: CliIo): void {
  program
    .command("demo")
    .description("run the whole flow on the embedded default with built-in emulators (not yet)")
    .action(() => {
      io.stdout("otj demo: not yet available; the engine is assembled in a later milestone.\nTry: npx otj parse <invite file>\n");
    });
}
