/** `otj plan` and `otj explain` (docs/cli.md): parse, then route each invite for one room. */
import { readFile } from "node:fs/promises";
import { resolve } from "node:path";
import { type Command, Option } from "commander";
import type { PrivateJoin, PrivateMeetings, SubjectReplace } from "../../core/domain.ts";
import { OtjError } from "../../core/errors.ts";
import type { PlanResult } from "../../core/plan.ts";
import { planJoin, type PrivacyPolicy, DEFAULT_PRIVACY } from "../../join/join-planner.ts";
import { planForRoom } from "../../join/room-planning.ts";
import { type CompiledRule, compileRules } from "../../join/rules.ts";
import { parseInviteDetailed } from "../../parser/index.ts";
import { parseWebrtcPlatforms } from "../../store/validation.ts";
import type { CliIo } from "../cli-context.ts";
import { readInputFile } from "./input.ts";
import { type StoreFlags, withCliStore } from "./migrate.ts";
import { FORMAT_CHOICES } from "./parse.ts";

interface PlanFlags {
  json?: boolean;
  config?: string;
  room?: string;
  webrtc?: string;
  format: (typeof FORMAT_CHOICES)[number];
  privateMeetings: PrivateMeetings;
  subjectReplace: SubjectReplace;
  subjectTemplate: string;
  privateJoin: PrivateJoin;
}

/** Adds the four privacy flags shared by `rooms add`, `plan` and `explain`. */
export function addPrivacyOptions(cmd: Command): Command {
  return cmd
    .addOption(
      new Option("--private-meetings <mode>", "process or skip private meetings").choices(["process", "skip"]).default(DEFAULT_PRIVACY.privateMeetings),
    )
    .addOption(
      new Option("--subject-replace <when>", "replace the subject: never, private, all")
        .choices(["never", "private", "all"])
        .default(DEFAULT_PRIVACY.subjectReplace),
    )
    .option("--subject-template <template>", "shown subject when replaced ({organizerName}, {subject})", DEFAULT_PRIVACY.subjectTemplate)
    .addOption(new Option("--private-join <mode>", "join button for private meetings").choices(["enabled", "disabled"]).default(DEFAULT_PRIVACY.privateJoin));
}

/** Reads only `join.rules` from a configuration file (plan never opens the store). */
async function loadRules(file: string | undefined, io: CliIo): Promise<CompiledRule[]> {
  if (!file) return [];
  let data: unknown;
  try {
    data = JSON.parse(await readFile(resolve(io.cwd, file), "utf8"));
  } catch (error) {
    throw new OtjError("OTJ_CONFIG_INVALID", `cannot read configuration ${file}: ${(error as Error).message}`, { cause: error });
  }
  const join = (data as { join?: { rules?: unknown } } | null)?.join;
  if (join?.rules === undefined) return [];
  if (!Array.isArray(join.rules)) throw new OtjError("OTJ_CONFIG_INVALID", "join.rules must be an array");
  return compileRules(join.rules);
}

/** The privacy flags given on the command line (not defaults): they override a stored room's. */
function privacyFlagsGiven(opts: PlanFlags, cmd: Command | undefined): Partial<PrivacyPolicy> {
  const given: Partial<PrivacyPolicy> = {};
  const keys = ["privateMeetings", "subjectReplace", "subjectTemplate", "privateJoin"] as const;
  for (const key of keys) {
    if (cmd?.getOptionValueSource(key) === "cli") (given as Record<string, unknown>)[key] = opts[key];
  }
  return given;
}

async function planFile(file: string, opts: PlanFlags & StoreFlags, io: CliIo, cmd?: Command): Promise<PlanResult[]> {
  if (opts.room !== undefined) return planForStoredRoom(file, opts.room, opts, io, cmd);
  const rules = await loadRules(opts.config, io);
  const { data, filename } = await readInputFile(file, io);
  const parsed = await parseInviteDetailed(data, { format: opts.format, ...(filename ? { filename } : {}) });
  const privacy: PrivacyPolicy = {
    privateMeetings: opts.privateMeetings,
    subjectReplace: opts.subjectReplace,
    subjectTemplate: opts.subjectTemplate,
    privateJoin: opts.privateJoin,
  };
  const problems: string[] = [];
  const webrtc = parseWebrtcPlatforms(opts.webrtc, problems);
  if (problems.length > 0) throw new OtjError("OTJ_USAGE", `--webrtc: ${problems.join("; ")}`);
  const room = { mailbox: "", privacy, provider: null, webrtc };
  return parsed.details.map((d) => planJoin(d, room, { providers: [], rules, now: new Date() }));
}

/**
 * `--room MAILBOX`: plans exactly as the engine does for that stored room (its provider, privacy
 * settings and the configured rules, through the engine's own planForRoom); privacy flags given
 * on the command line override the stored ones. An unknown room is an error.
 */
async function planForStoredRoom(file: string, mailbox: string, opts: PlanFlags & StoreFlags, io: CliIo, cmd?: Command): Promise<PlanResult[]> {
  const { data, filename } = await readInputFile(file, io);
  return withCliStore(opts, io, async ({ store, config }) => {
    const rules = compileRules(config.join.rules as unknown[]);
    const stored = await store.rooms.get(mailbox);
    if (stored === null) throw new OtjError("OTJ_STORE_NOT_FOUND", `no room ${mailbox} in the store (otj rooms list shows the rooms)`);
    const providers = await store.providers.list();
    const room = { ...stored, privacy: { ...stored.privacy, ...privacyFlagsGiven(opts, cmd) } };
    const parsed = await parseInviteDetailed(data, { format: opts.format, ...(filename ? { filename } : {}) });
    return parsed.details.map((d) => planForRoom(d, room, providers, { rules, now: new Date() }));
  });
}

export function renderExplain(results: PlanResult[]): string {
  if (results.length === 0) return "No calendar event in the input: nothing to plan.\n";
  const out: string[] = [];
  results.forEach((r, i) => {
    const e = r.entry;
    out.push(`Invite ${i + 1}${e.uid ? ` (${e.uid.length > 24 ? `${e.uid.slice(0, 24)}...` : e.uid})` : ""}: route ${e.route} by rule ${e.rule}`);
    if (e.dialString) out.push(`  dial string:  ${e.dialString}`);
    if (e.ivr) out.push(`  IVR fallback: dial ${e.ivr.address}, then enter ${e.ivr.dtmf}`);
    if (r.matchedText) out.push(`  matched text: ${r.matchedText}`);
    out.push(`  subject shown: ${e.subjectShown ?? "(none)"}`);
    out.push("  rules in order:");
    for (const t of r.trace) out.push(`    ${t.outcome === "matched" ? "->" : "  "} ${t.rule.padEnd(24)} ${t.outcome}: ${t.reason}`);
    for (const w of e.warnings) out.push(`  warning: ${w}`);
    out.push("");
  });
  return `${out.join("\n")}\n`;
}

export function registerPlanCommands(program: Command, io: CliIo): void {
  const common = (cmd: Command) =>
    addPrivacyOptions(
      cmd
        .argument("<file>", "invite file, or - for stdin")
        .option("--config <file>", "configuration file (without --room only join.* is read)")
        .option("--room <mailbox>", "plan as the engine does for this stored room (its provider, privacy, the configured rules)")
        .option("--database-url <url>", "with --room: postgres://…, pglite:///abs/dir or memory://")
        .option("--webrtc <platforms>", "without --room: plan for a room whose device joins these over WebRTC: teams, meet")
        .addOption(new Option("--format <format>", "input format").choices([...FORMAT_CHOICES]).default("auto")),
    );
  common(program.command("plan").description("parse an invite, then decide the route and dial string for a room"))
    .option("--json", "print the PlanOutput (docs/cli.md) as JSON")
    .action(async (file: string, opts: PlanFlags & StoreFlags, cmd: Command) => {
      const results = await planFile(file, opts, io, cmd);
      if (opts.json) {
        io.stdout(`${JSON.stringify({ invites: results.map((r) => r.entry) }, null, 2)}\n`);
      } else {
        for (const r of results) {
          const e = r.entry;
          io.stdout(`${e.route.padEnd(6)} ${(e.dialString ?? "-").padEnd(48)} ${e.rule}${e.subjectShown ? `  "${e.subjectShown}"` : ""}\n`);
          for (const w of e.warnings) io.stdout(`       warning: ${w}\n`);
        }
      }
    });
  common(program.command("explain").description("explain which rule matched which text, and why the others did not")).action(
    async (file: string, opts: PlanFlags & StoreFlags, cmd: Command) => {
      io.stdout(renderExplain(await planFile(file, opts, io, cmd)));
    },
  );
}
