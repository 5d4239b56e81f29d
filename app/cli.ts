/**
 * The otj command line. Each command lives in app/commands/<name>.ts and registers itself on the
 * program; exit codes: 0 success, 1 failure, 2 bad usage (docs/cli.md).
 */
import { Command, CommanderError } from "commander";
import { isOtjError } from "../core/errors.ts";
import { CliExit, type CliIo, processIo } from "./cli-context.ts";
import { otjVersion } from "./version.ts";
export type CommandRegistrar = (program: Command, io: CliIo) => void;

/**
 * The top-level commands, each with the module that registers it. A command's module (and all it
 * imports: the parser, the store, fastify, ...) is loaded only when that command runs, so
 * `otj --help` and `otj parse` start fast.
 */
interface CommandEntry {
  name: string;
  summary: string;
  load(): Promise<CommandRegistrar[]>;
}

const COMMANDS: readonly CommandEntry[] = [
  {
    name: "parse",
    summary: "parse one invite file (MIME, iCalendar, Graph JSON, HTML or text); '-' reads stdin",
    load: async () => [(await import("./commands/parse.ts")).registerParseCommands],
  },
  {
    name: "plan",
    summary: "parse an invite, then decide the route and dial string for a room",
    load: async () => [(await import("./commands/plan.ts")).registerPlanCommands],
  },
  {
    name: "explain",
    summary: "explain which rule matched which text, and why the others did not",
    load: async () => [(await import("./commands/plan.ts")).registerPlanCommands],
  },
  {
    name: "demo",
    summary: "run the whole flow on the embedded default (in-memory PGlite, built-in emulators, a fast clock)",
    load: async () => [(await import("./commands/demo.ts")).registerDemoCommand],
  },
  {
    name: "migrate",
    summary: "apply pending database migrations (idempotent, safe to run concurrently)",
    load: async () => [(await import("./commands/migrate.ts")).registerMigrateCommand],
  },
  {
    name: "providers",
    summary: "CVI provider records (tenant key, domain, SGJ settings)",
    load: async () => [(await import("./commands/providers.ts")).registerProvidersCommands],
  },
  {
    name: "rooms",
    summary: "room mailbox <-> device mapping",
    load: async () => [(await import("./commands/rooms.ts")).registerRoomsCommands, (await import("./commands/discover.ts")).registerDiscoverCommand],
  },
  {
    name: "ingest",
    summary: "parse a raw invite mail and merge it into a room's meetings; prints the resulting plan entries",
    load: async () => [(await import("./commands/ingest.ts")).registerIngestCommand],
  },
  {
    name: "status",
    summary: "rooms, last poll, next meetings, device push state, bridge sessions",
    load: async () => [(await import("./commands/status.ts")).registerStatusCommand],
  },
  {
    name: "bridge",
    summary: "partner media bridge tools (docs/bridge-protocol.md)",
    load: async () => [(await import("./commands/bridge-check.ts")).registerBridgeCheckCommand],
  },
  {
    name: "doctor",
    summary: "check configuration, database, Graph consent, a room's calendar, devices and the bridge",
    load: async () => [(await import("./commands/doctor.ts")).registerDoctorCommand],
  },
  {
    name: "events",
    summary: "the event log: plans, pushes, bridge session steps with their waits, audited console changes",
    load: async () => [(await import("./commands/events.ts")).registerEventsCommand],
  },
  {
    name: "run",
    summary: "run the engine (poller, pusher, bridge scheduler, HTTP API) until SIGTERM",
    load: async () => [(await import("./commands/run.ts")).registerRunCommand],
  },
];

/** The command an argument list names: its first word that is not an option (or what `help` names). */
function namedCommand(argv: readonly string[]): CommandEntry | undefined {
  const words = argv.filter((arg) => !arg.startsWith("-"));
  const name = words[0] === "help" ? words[1] : words[0];
  return COMMANDS.find((entry) => entry.name === name);
}

/**
 * Builds the program for one invocation: the named command fully registered, every other
 * command as a one-line entry for the help listing.
 */
export async function buildProgram(io: CliIo, argv: readonly string[] = []): Promise<Command> {
  const program = new Command("otj")
    .description("One-touch join and SIP Guest Join for video room systems in Teams meetings")
    .version(otjVersion(), "-V, --version", "print otj's version")
    .configureOutput({ writeOut: io.stdout, writeErr: io.stderr })
    .exitOverride()
    .showHelpAfterError(false);
  const wanted = namedCommand(argv);
  if (wanted !== undefined) for (const register of await wanted.load()) register(program, io);
  for (const entry of COMMANDS) {
    if (!program.commands.some((cmd) => cmd.name() === entry.name)) program.command(entry.name).description(entry.summary);
  }
  program.commands.forEach(function applyOverrides(cmd: Command) {
    cmd.exitOverride().configureOutput({ writeOut: io.stdout, writeErr: io.stderr });
    cmd.commands.forEach(applyOverrides);
  });
  return program;
}

/** The program with every command fully registered (docs and tests read it whole). */
export async function buildCompleteProgram(io: CliIo): Promise<Command> {
  const program = new Command("otj").version(otjVersion(), "-V, --version", "print otj's version");
  const registered = new Set<CommandRegistrar>();
  for (const entry of COMMANDS) {
    for (const register of await entry.load()) {
      if (registered.has(register)) continue;
      registered.add(register);
      register(program, io);
    }
  }
  return program;
}

/** Runs the CLI and resolves to the process exit code. */
export async function main(argv: string[], io: CliIo = processIo()): Promise<number> {
  const program = await buildProgram(io, argv);
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
