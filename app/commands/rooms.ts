/**
 * `otj rooms list|remove|import|token` (docs/cli.md), and the group that `rooms add|set` (rooms-edit.ts)
 * and `rooms discover` join: the room mailbox <-> device mapping.
 * Passwords are never printed; a pull room's device token is printed once by `add` and again only
 * by `rooms token`.
 */
import { readFile } from "node:fs/promises";
import { resolve } from "node:path";
import type { Command } from "commander";
import { OtjError } from "../../core/errors.ts";
import type { Room } from "../../core/ports/store.ts";
import { roomJson } from "../../store/records-json.ts";
import type { CliIo } from "../cli-context.ts";
import { type RoomsImportReport, runRoomsImport } from "../rooms-import.ts";
import { type StoreFlags, addStoreOptions, withCliStore } from "./migrate.ts";
import { type RemoteFlags, addRemoteOptions, callEngine, isRemote } from "./remote.ts";
import { registerAdd, registerSet } from "./rooms-edit.ts";

/** Import problems printed before the summary; the rest are counted. */
const MAX_PROBLEM_LINES = 1_000;
/** Files with at least this many rows report progress on stderr. */
const PROGRESS_MIN_ROWS = 1_000;

/** The command group `name`, created unless another registrar (e.g. `rooms discover`) made it. */
export function commandGroup(program: Command, name: string, description: string): Command {
  return program.commands.find((c) => c.name() === name) ?? program.command(name).description(description);
}

/** A plain text table with aligned columns. */
export function renderTable(headers: string[], rows: string[][]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i] ?? 0)))
      .join("  ")
      .trimEnd();
  return `${[line(headers), ...rows.map(line)].join("\n")}\n`;
}

function registerList(rooms: Command, io: CliIo): void {
  addStoreOptions(rooms.command("list").description("list rooms (never passwords or tokens)"))
    .option("--provider <name>", "only rooms of this provider")
    .option("--json", 'print {"rooms":[...]}')
    .action(async (flags: StoreFlags & { provider?: string; json?: boolean }) => {
      await withCliStore(flags, io, async ({ store }) => {
        let filter = {};
        if (flags.provider !== undefined) {
          const provider = await store.providers.get(flags.provider);
          if (provider === null) throw new OtjError("OTJ_STORE_NOT_FOUND", `no provider named "${flags.provider}"`);
          filter = { providerId: provider.id };
        }
        const list = await store.rooms.list(filter);
        if (flags.json) {
          io.stdout(`${JSON.stringify({ rooms: list.map(roomJson) })}\n`);
          return;
        }
        if (list.length === 0) {
          io.stderr("no rooms\n");
          return;
        }
        io.stdout(
          renderTable(
            ["ID", "MAILBOX", "NAME", "PROVIDER", "FAMILY", "ADDRESS"],
            list.map((r) => [r.id, r.mailbox, r.displayName, r.providerName ?? "-", r.device.family, r.device.address ?? "-"]),
          ),
        );
      });
    });
}

function registerRemove(rooms: Command, io: CliIo): void {
  addRemoteOptions(addStoreOptions(rooms.command("remove").description("remove a room and everything kept for it").argument("<room>", "room id or mailbox")))
    .option("--json", "print the removed record")
    .action(async (room: string, flags: StoreFlags & RemoteFlags & { json?: boolean }) => {
      if (isRemote(flags)) {
        const path = `/v1/rooms/${encodeURIComponent(room)}`;
        const record = (await callEngine(flags, io, "GET", path)) as { id: string; mailbox: string };
        await callEngine(flags, io, "DELETE", path);
        if (flags.json) io.stdout(`${JSON.stringify(record)}\n`);
        io.stderr(`removed room ${record.id} (${record.mailbox})\n`);
        return;
      }
      await withCliStore(flags, io, async ({ store }) => {
        const removed: Room = await store.rooms.remove(room);
        if (flags.json) io.stdout(`${JSON.stringify(roomJson(removed))}\n`);
        io.stderr(`removed room ${removed.id} (${removed.mailbox})\n`);
      });
    });
}

/** Prints an import's outcome; throws OTJ_IMPORT_INVALID when a line has a problem. */
function reportImport(report: RoomsImportReport, flags: { dryRun?: boolean; json?: boolean }, io: CliIo, seconds: string): void {
  if (report.ignoredColumns.length > 0) io.stderr(`ignored column(s): ${report.ignoredColumns.join(", ")}\n`);
  if (report.problems.length > 0) {
    const lines = report.problems.flatMap((p) => p.messages.map((m) => `line ${p.line}: ${m}`));
    io.stderr(`${lines.slice(0, MAX_PROBLEM_LINES).join("\n")}\n`);
    if (lines.length > MAX_PROBLEM_LINES) io.stderr(`… and ${lines.length - MAX_PROBLEM_LINES} more problems\n`);
    throw new OtjError("OTJ_IMPORT_INVALID", `${report.problems.length} of ${report.rows} rows are invalid; nothing was imported`, {
      details: { invalidRows: report.problems.length },
    });
  }
  if (!report.applied) {
    io.stderr(
      flags.dryRun
        ? `all ${report.rows} rows are valid; nothing was added (--dry-run)\n`
        : `nothing to import: ${report.unchanged} of ${report.rows} rows match their rooms already\n`,
    );
    return;
  }
  if (flags.json) {
    io.stdout(
      `${JSON.stringify({ imported: report.added.length, rooms: report.added, ...(report.changed.length > 0 || report.unchanged > 0 ? { changed: report.changed, unchanged: report.unchanged } : {}), ...(report.credentials.length > 0 ? { credentials: report.credentials } : {}) })}\n`,
    );
  }
  const pulls = report.added.filter((r) => r.deviceToken !== undefined).length;
  io.stderr(
    report.changed.length > 0 || report.unchanged > 0
      ? `imported ${report.added.length} rooms, changed ${report.changed.length}, ${report.unchanged} unchanged, in ${seconds} s\n`
      : `imported ${report.added.length} rooms in ${seconds} s\n`,
  );
  for (const c of report.changed) io.stderr(`changed ${c.mailbox}: ${c.fields.join("; ")}\n`);
  if (pulls > 0 && !flags.json) io.stderr(`${pulls} pull room(s) got device tokens; \`otj rooms token MAILBOX\` shows each\n`);
  if (report.credentials.length > 0 && !flags.json) {
    // ews rooms' first device passwords: stored hashed, so this is the only time they are shown.
    for (const c of report.credentials) io.stdout(`${c.deviceUsername}\t${c.devicePassword}\n`);
    io.stderr(`${report.credentials.length} ews room(s) got device passwords (user<TAB>password above); they are not shown again\n`);
  }
}

function registerImport(rooms: Command, io: CliIo): void {
  addRemoteOptions(
    addStoreOptions(
      rooms
        .command("import")
        .description(
          "add rooms from a CSV file (header: mailbox,displayName,provider,deviceFamily,deviceAddress,deviceUsername,devicePassword); all or nothing",
        )
        .argument("<file>", "CSV file, or - for stdin"),
    ),
  )
    .option("--dry-run", "check every row, write nothing")
    .option("--update", "rows of existing rooms change them (as the console's import); otherwise such a row is refused")
    .option("--json", 'print {"imported":N,"rooms":[{id,mailbox,deviceToken?}]} (with --update also "changed" and "unchanged")')
    .action(async (file: string, flags: StoreFlags & RemoteFlags & { dryRun?: boolean; update?: boolean; json?: boolean }) => {
      let text: string;
      try {
        text = file === "-" ? (await io.readStdin()).toString("utf8") : await readFile(resolve(io.cwd, file), "utf8");
      } catch (error) {
        throw new OtjError("OTJ_INPUT_UNREADABLE", `cannot read ${file} (${(error as NodeJS.ErrnoException).code ?? "error"})`, { cause: error });
      }
      const started = performance.now();
      const seconds = () => ((performance.now() - started) / 1000).toFixed(2);
      if (isRemote(flags)) {
        const report = (await callEngine(
          flags,
          io,
          "POST",
          "/v1/rooms/import",
          {
            csv: text,
            dryRun: flags.dryRun === true,
            update: flags.update === true,
          },
          { answerOn: [400] },
        )) as RoomsImportReport;
        if (!Array.isArray(report?.problems)) {
          const refused = (report as { error?: { message?: unknown } } | null)?.error?.message;
          throw new OtjError("OTJ_USAGE", typeof refused === "string" ? refused : "the engine refused the import");
        }
        reportImport(report, flags, io, seconds());
        return;
      }
      await withCliStore(flags, io, async ({ store }) => {
        const report = await runRoomsImport(store, text, new Date(), {
          dryRun: flags.dryRun === true,
          update: flags.update === true,
          onProgress: (phase, done, total) => {
            if (total >= PROGRESS_MIN_ROWS) io.stderr(`${phase === "validate" ? "checked" : "added"} ${done}/${total} rows\n`);
          },
        });
        reportImport(report, flags, io, seconds());
      });
    });
}

function registerToken(rooms: Command, io: CliIo): void {
  addStoreOptions(
    rooms
      .command("token")
      .description("show (or --rotate) a room's pull device token; --rotate issues an ews room's device password")
      .argument("<room>", "room id or mailbox"),
  )
    .option("--rotate", "replace the token with a new one")
    .option("--json", 'print {"id","mailbox","deviceToken"}')
    .action(async (name: string, flags: StoreFlags & { rotate?: boolean; json?: boolean }) => {
      await withCliStore(flags, io, async ({ store }) => {
        const room = await store.rooms.get(name);
        if (room === null) throw new OtjError("OTJ_STORE_NOT_FOUND", `no room "${name}"`);
        if (room.device.family === "ews") {
          // Only a hash is kept, so an ews room's password can be replaced but never shown again.
          if (!flags.rotate)
            throw new OtjError("OTJ_USAGE", `room ${room.mailbox} is an ews room: its device password is stored hashed; \`--rotate\` issues a new one`);
          const { password } = await store.ewsDevices.issuePassword(room.id, new Date());
          io.stdout(
            flags.json
              ? `${JSON.stringify({ id: room.id, mailbox: room.mailbox, deviceUsername: room.mailbox, devicePassword: password })}\n`
              : `${password}\n`,
          );
          io.stderr(`rotated the EWS device password of ${room.mailbox}; the old one no longer works\n`);
          return;
        }
        const token = flags.rotate ? await store.rooms.rotateDeviceToken(room.id, new Date()) : await store.rooms.deviceToken(room.id);
        if (token === null) {
          throw new OtjError("OTJ_STORE_NOT_FOUND", `room ${room.mailbox} has no device token; \`otj rooms token ${room.mailbox} --rotate\` creates one`);
        }
        io.stdout(flags.json ? `${JSON.stringify({ id: room.id, mailbox: room.mailbox, deviceToken: token })}\n` : `${token}\n`);
        if (flags.rotate) io.stderr(`rotated the device token of ${room.mailbox}; the old one no longer works\n`);
      });
    });
}

export function registerRoomsCommands(program: Command, io: CliIo): void {
  const rooms = commandGroup(program, "rooms", "room mailbox <-> device mapping");
  registerAdd(rooms, io);
  registerSet(rooms, io);
  registerList(rooms, io);
  registerRemove(rooms, io);
  registerImport(rooms, io);
  registerToken(rooms, io);
}
