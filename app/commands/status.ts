/** `otj status [--json]` (docs/cli.md StatusOutput; the same shape as GET /v1/status). */
import type { Command } from "commander";
import { buildStatus, type StatusOutput } from "../status.ts";
import type { CliIo } from "../cli-context.ts";
import { addStoreOptions, type StoreFlags, withCliStore } from "./migrate.ts";
import { addRemoteOptions, callEngine, isRemote, type RemoteFlags } from "./remote.ts";

export function renderStatus(s: StatusOutput): string {
  const out: string[] = [];
  if (s.rooms.length === 0) out.push("No rooms yet. Add one with: otj rooms add --mailbox ... --name ... --provider ... --device-family ...");
  for (const r of s.rooms) {
    out.push(`${r.displayName} <${r.mailbox}>`);
    out.push(`  poll:   ${r.lastPoll.outcome}${r.lastPoll.at ? ` at ${r.lastPoll.at}` : ""}${r.lastPoll.error ? ` (${r.lastPoll.error})` : ""}`);
    out.push(
      `  device: ${r.device.family}, ${r.device.state}${r.device.lastPushAt ? `, last push ${r.device.lastPushAt}` : ""}${r.device.lastError ? ` (${r.device.lastError})` : ""}`,
    );
    for (const a of r.alarms) out.push(`  ALARM:  ${a.code} since ${a.since}: ${a.message}`);
    for (const m of r.meetings) {
      out.push(
        `  ${m.start.slice(0, 16).replace("T", " ")}  ${m.route.padEnd(6)} ${(m.dialString ?? "-").padEnd(44)} ${m.onDevice ? "on device" : "         "}  ${m.subject ?? ""}`,
      );
    }
  }
  if (s.bridgeSessions.length > 0) {
    out.push("", "Bridge sessions:");
    for (const b of s.bridgeSessions) out.push(`  ${b.sessionId}  ${b.state.padEnd(9)} due ${b.dueAt}  ${b.mailbox}`);
  }
  return `${out.join("\n")}\n`;
}

export function registerStatusCommand(program: Command, io: CliIo): void {
  addRemoteOptions(addStoreOptions(program.command("status").description("rooms, last poll, next meetings, device push state, bridge sessions")))
    .option("--json", "print the StatusOutput (docs/cli.md) as JSON")
    .action(async (flags: StoreFlags & RemoteFlags & { json?: boolean }) => {
      if (isRemote(flags)) {
        // The running engine's GET /v1/status has the same shape as the local one.
        const status = (await callEngine(flags, io, "GET", "/v1/status")) as StatusOutput;
        io.stdout(flags.json ? `${JSON.stringify(status, null, 2)}\n` : renderStatus(status));
        return;
      }
      await withCliStore(flags, io, async ({ store, config }) => {
        const status = await buildStatus(store, new Date(), {
          endBufferMinutes: config.join.endBufferMinutes,
          windowFutureDays: config.poll.windowFutureDays,
          pollFailuresBeforeAlarm: config.alarms.pollFailuresBeforeAlarm,
          pushFailuresBeforeAlarm: config.alarms.pushFailuresBeforeAlarm,
          ewsFetchStaleMinutes: config.alarms.ewsFetchStaleMinutes,
          pullStaleMinutes: config.alarms.pullStaleMinutes,
        });
        io.stdout(flags.json ? `${JSON.stringify(status, null, 2)}\n` : renderStatus(status));
      });
    });
}
