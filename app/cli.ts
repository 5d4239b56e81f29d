/**
 * The otj command line. Each command lives in app/commands/<name>.ts and registers itself on the
 * program; exit codes: 0 success, 1 failure, 2 bad usage (docs/cli.md).
 */
import { Command, CommanderError } from "commander";
import { isOtjError } from "../core/errors.ts";
import { CliExit, type CliIo, processIo } from "./cli-context.ts";
import { registerBridgeCheckCommand } from "./commands/bridge-check.ts";
import { registerDemoCommand } from "./commands/demo.ts";
import { registerDiscoverCommand } from "./commands/discover.ts";
import { registerIngestCommand } from "./commands/ingest.ts";
import { registerMigrateCommand } from "./commands/migrate.ts";
import { registerParseCommands } from "./commands/parse.ts";
import { registerPlanCommands } from "./commands/plan.ts";
import { registerProvidersCommands } from "./commands/providers.ts";
import { registerRoomsCommands } from "./commands/rooms.ts";
import { registerRunCommand } from "./commands/run.ts";
import { registerStatusCommand } from "./commands/status.ts";

export type CommandRegistrar = (program: Command, io: CliIo) => void;

const registrars: CommandRegistrar[] = [
  registerParseCommands,
  registerPlanCommands,
  registerDemoCommand,
  registerMigrateCommand,
  registerProvidersCommands,
  registerRoomsCommands,
  registerDiscoverCommand,
  registerIngestCommand,
  registerStatusCommand,
  registerRunCommand,
  registerBridgeCheckCommand,
];

export function buildProgram(io: CliIo): Command {
  const program = new Command("otj")
    .description("One-touch join and SIP Guest Join for video room systems in Teams meetings")
    .configureOutput({ writeOut: io.stdout, writeErr: io.stderr })
    .exitOverride()
    .showHelpAfterError(false);
  for (const register of registrars) register(program, io);
  program.commands.forEach(function applyOverrides(cmd: Command) {
    cmd.exitOverride().configureOutput({ writeOut: io.stdout, writeErr: io.stderr });
    cmd.commands.forEach(applyOverrides);
  });
  return program;
}

/** Runs the CLI and resolves to the process exit code. */
export async function main(argv: string[], io: CliIo = processIo()): Promise<number> {
  const program = buildProgram(io);
  try {
    await program.parseAsync(argv, { from: "user" });
    return 0;
  } catch (error) {
    if (error instanceof CliExit) return error.exitCode;
    if (error instanceof CommanderError) {
      if (error.code === "commander.helpDisplayed" || error.code === "commander.version" || error.exitCode === 0) return 0;
      return 2;
    }
    if (isOtjError(error)) {
      io.stderr(`otj: ${error.code}: ${error.message}\n`);
      return error.exitCode;
    }
    io.stderr(`otj: unexpected error: ${error instanceof Error ? error.message : String(error)}\n`);
    return 1;
  }
}
