/**
 * `otj ingest FILE.eml --room MAILBOX [--json]` (docs/cli.md): parse a raw invite mail, merge it
 * into the room's meetings (calendar/mime/mime-ingest.ts) and print the resulting plan entries.
 * `--json` prints `{"invites":[...]}`: `otj plan --json`'s items plus `occurrenceKey`, `change`
 * (added, updated, unchanged, merged, skipped) and `note`.
 */
import type { Command } from "commander";
import { systemClock } from "../../core/clock.ts";
import { OtjError } from "../../core/errors.ts";
import { roomPlanner } from "../../join/room-planning.ts";
import { compileRules } from "../../join/rules.ts";
import { ingestMail } from "../../calendar/mime/mime-ingest.ts";
import type { CliIo } from "../cli-context.ts";
import { readInputFile } from "./input.ts";
import { type StoreFlags, addStoreOptions, withCliStore } from "./migrate.ts";

interface IngestFlags extends StoreFlags {
  room: string;
  json?: boolean;
}

export function registerIngestCommand(program: Command, io: CliIo): void {
  addStoreOptions(
    program
      .command("ingest")
      .description("parse a raw invite mail and merge it into a room's meetings; prints the resulting plan entries")
      .argument("<file>", "the mail (.eml), or - for stdin")
      .requiredOption("--room <mailbox>", "the room (mailbox or id) the invite is for"),
  )
    .option("--json", 'print {"invites":[...]} (otj plan --json items plus occurrenceKey, change, note)')
    .action(async (file: string, flags: IngestFlags) => {
      const { data, filename } = await readInputFile(file, io);
      await withCliStore(flags, io, async ({ store, config }) => {
        const room = await store.rooms.get(flags.room);
        if (room === null) throw new OtjError("OTJ_STORE_NOT_FOUND", `no room "${flags.room}"; add it with \`otj rooms add\``);
        const rules = compileRules(config.join.rules);
        const result = await ingestMail(data, room, { store, clock: systemClock, planner: roomPlanner(rules) }, filename ? { filename } : {});
        for (const w of result.warnings) io.stderr(`warning: ${w}\n`);
        if (flags.json) {
          io.stdout(`${JSON.stringify({ invites: result.invites }, null, 2)}\n`);
        } else if (result.invites.length === 0) {
          io.stderr("no calendar event in the mail: nothing to ingest\n");
        } else {
          for (const e of result.invites) {
            io.stdout(
              `${e.change.padEnd(9)} ${e.route.padEnd(6)} ${(e.dialString ?? "-").padEnd(48)} ${e.rule}${e.subjectShown ? `  "${e.subjectShown}"` : ""}\n`,
            );
            if (e.note) io.stdout(`          note: ${e.note}\n`);
            for (const w of e.warnings) io.stdout(`          warning: ${w}\n`);
          }
        }
        io.stderr(`${room.mailbox}: ${result.changed ? "meetings changed" : "nothing changed"}\n`);
      });
    });
}
