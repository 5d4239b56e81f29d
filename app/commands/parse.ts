/** `otj parse FILE|- [--json] [--format ...]` (docs/cli.md). */
import { type Command, Option } from "commander";
import type { Invite, Join, ParseOutput } from "../../core/domain.ts";
import { parseInvite } from "../../parser/index.ts";
import type { CliIo } from "../cli-context.ts";
import { readInputFile } from "./input.ts";

export const FORMAT_CHOICES = ["auto", "eml", "ics", "html", "text", "graph", "google"] as const;

function describeJoin(join: Join): string {
  if (join.teams) {
    const t = join.teams;
    const parts = [`Teams (${t.cloud})`];
    if (t.joinUrl) parts.push("classic link");
    if (t.shortUrl) parts.push("short link");
    if (t.meetingId) parts.push(`Meeting ID ${t.meetingId}`);
    if (t.passcode) parts.push("passcode present");
    if (t.cvi) parts.push(`CVI ${t.cvi.tenantKey} / ${t.cvi.videoConferenceId}`);
    if (t.tenantId) parts.push(`tenant ${t.tenantId}`);
    return parts.join(", ");
  }
  return `${join.provider}${join.sipUri ? ` ${join.sipUri}` : ""}${join.url ? ` ${join.url}` : ""}`;
}

export function renderParseSummary(output: ParseOutput): string {
  const lines: string[] = [`format: ${output.format}; ${output.invites.length} invite(s)`];
  output.invites.forEach((inv: Invite, i) => {
    lines.push("");
    lines.push(
      `#${i + 1} ${inv.subject ?? "(no subject)"}${inv.cancelled ? " [cancelled]" : ""}${inv.sensitivity !== "normal" ? ` [${inv.sensitivity}]` : ""}`,
    );
    if (inv.start)
      lines.push(
        `  when:  ${inv.start} - ${inv.end ?? "?"}${inv.recurring ? " (recurring)" : ""}${inv.recurrenceId ? ` (occurrence ${inv.recurrenceId})` : ""}`,
      );
    if (inv.organizer) lines.push(`  from:  ${inv.organizer.name ?? ""} <${inv.organizer.email ?? ""}>`);
    lines.push(`  join:  ${inv.join ? describeJoin(inv.join) : "none found"}`);
    for (const alt of inv.alternatives) lines.push(`  also:  ${describeJoin(alt)}`);
  });
  for (const w of output.warnings) lines.push(`warning: ${w}`);
  return `${lines.join("\n")}\n`;
}

export function registerParseCommands(program: Command, io: CliIo): void {
  program
    .command("parse")
    .description("parse one invite file (MIME, iCalendar, Graph JSON, HTML or text); '-' reads stdin")
    .argument("<file>", "invite file, or - for stdin")
    .option("--json", "print the ParseOutput (docs/cli.md) as JSON")
    .addOption(new Option("--format <format>", "input format").choices([...FORMAT_CHOICES]).default("auto"))
    .action(async (file: string, opts: { json?: boolean; format: (typeof FORMAT_CHOICES)[number] }) => {
      const { data, filename } = await readInputFile(file, io);
      const output = await parseInvite(data, { format: opts.format, ...(filename ? { filename } : {}) });
      io.stdout(opts.json ? `${JSON.stringify(output, null, 2)}\n` : renderParseSummary(output));
    });
}
