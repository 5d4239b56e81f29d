/**
 * `otj rooms add|set|list|remove|import|token` (docs/cli.md): the room mailbox <-> device mapping.
 * Passwords are never printed; a pull room's device token is printed once by `add` and again only
 * by `rooms token`.
 */
import { readFile } from "node:fs/promises";
import { resolve } from "node:path";
import { type Command, Option } from "commander";
import { CALENDAR_SOURCES } from "../../core/domain.ts";
import { OtjError } from "../../core/errors.ts";
import type { AddedRoom, NewRoom, Room, RoomChanges } from "../../core/ports/store.ts";
import { roomJson } from "../../store/records-json.ts";
import { DELIVERIES, DEVICE_FAMILIES } from "../../store/validation.ts";
import type { CliIo } from "../cli-context.ts";
import { issueMissingEwsPasswords } from "../ews-credentials.ts";
import { type RoomsImportReport, runRoomsImport } from "../rooms-import.ts";
import { type StoreFlags, addStoreOptions, withCliStore } from "./migrate.ts";
import { type RemoteFlags, addRemoteOptions, callEngine, isRemote } from "./remote.ts";
import { addPrivacyOptions } from "./plan.ts";

/** Import problems printed before the summary; the rest are counted. */
const MAX_PROBLEM_LINES = 1_000;
/** Files with at least this many rows report progress on stderr. */
const PROGRESS_MIN_ROWS = 1_000;

interface AddFlags extends StoreFlags, RemoteFlags {
  mailbox: string;
  name: string;
  provider: string;
  deviceFamily: string;
  deviceAddress?: string;
  deviceUsername?: string;
  devicePassword?: string;
  devicePasswordFile?: string;
  devicePasswordEnv?: string;
  insecureTls?: boolean;
  insecureHttp?: boolean;
  sipUri?: string;
  deviceToken?: string;
  privateMeetings?: string;
  subjectReplace?: string;
  subjectTemplate?: string;
  privateJoin?: string;
  webrtc?: string;
  delivery?: string;
  source?: string;
  json?: boolean;
}

/** The command group `name`, created unless another registrar (e.g. `rooms discover`) made it. */
export function commandGroup(program: Command, name: string, description: string): Command {
  return program.commands.find((c) => c.name() === name) ?? program.command(name).description(description);
}

async function devicePassword(flags: AddFlags, io: CliIo): Promise<string | undefined> {
  const given = [flags.devicePassword, flags.devicePasswordFile, flags.devicePasswordEnv].filter((v) => v !== undefined);
  if (given.length > 1) {
    throw new OtjError("OTJ_USAGE", "give at most one of --device-password, --device-password-file, --device-password-env");
  }
  if (flags.devicePasswordFile !== undefined) {
    try {
      return (await readFile(resolve(io.cwd, flags.devicePasswordFile), "utf8")).replace(/\r?\n$/, "");
    } catch (error) {
      throw new OtjError(
        "OTJ_CONFIG_SECRET_FILE",
        `cannot read --device-password-file ${flags.devicePasswordFile} (${(error as NodeJS.ErrnoException).code ?? "error"})`,
        {
          cause: error,
        },
      );
    }
  }
  if (flags.devicePasswordEnv !== undefined) {
    const value = io.env[flags.devicePasswordEnv];
    if (value === undefined || value === "") throw new OtjError("OTJ_USAGE", `environment variable ${flags.devicePasswordEnv} is not set`);
    return value;
  }
  return flags.devicePassword;
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

function addedJson(added: AddedRoom): unknown {
  const { room, deviceToken } = added;
  if (room.device.family === "pull" || room.device.family === "macro") return { id: room.id, mailbox: room.mailbox, deviceToken };
  return deviceToken === null ? roomJson(room) : { ...roomJson(room), deviceToken };
}

/** The options `rooms add` and `rooms set` share (`set` leaves out the mailbox and the token). */
function addRoomFieldOptions(cmd: Command, forSet: boolean): Command {
  if (forSet) {
    cmd
      .option("--name <displayName>", "display name (also the SGJ guest name)")
      .option("--provider <name>", "CVI provider record (see `otj providers`)")
      .addOption(new Option("--device-family <family>", "how otj reaches the device").choices([...DEVICE_FAMILIES]));
  } else {
    cmd
      .requiredOption("--mailbox <mailbox>", "the room's mailbox address")
      .requiredOption("--name <displayName>", "display name (also the SGJ guest name)")
      .requiredOption("--provider <name>", "CVI provider record (see `otj providers`)")
      .addOption(new Option("--device-family <family>", "how otj reaches the device").choices([...DEVICE_FAMILIES]).makeOptionMandatory());
  }
  cmd
    .option("--device-address <url>", "https://host[:port] (xapi), webex://<deviceId> (webex-cloud)")
    .option("--device-username <user>", "device user for xapi")
    .option("--device-password <password>", "device password (prefer the -file or -env forms)")
    .option("--device-password-file <file>", "read the device password from a file")
    .option("--device-password-env <var>", "read the device password from an environment variable")
    .option("--insecure-tls", "do not verify the device's TLS certificate (self-signed)")
    .option("--insecure-http", "allow a plain http:// device address (the password crosses the network in clear)")
    .option("--sip-uri <uri>", "the room's own SIP address");
  if (forSet) {
    cmd.option("--no-insecure-tls", "verify the device's TLS certificate again").option("--no-insecure-http", "refuse a plain http:// device address again");
  } else {
    cmd.option("--device-token <token>", "pull/feed token to use instead of a generated one");
  }
  cmd
    .option("--webrtc <platforms>", "the device joins these over WebRTC: teams, meet (comma-separated)")
    .addOption(new Option("--delivery <how>", "xapi: otj pushes bookings; macro: the RoomOS macro pulls; both").choices([...DELIVERIES]));
  const source = new Option("--source <source>", "the calendar system of the room's calendar").choices([...CALENDAR_SOURCES]);
  cmd.addOption(forSet ? source : source.default("graph"));
  addPrivacyOptions(cmd);
  return addRemoteOptions(addStoreOptions(cmd));
}

/**
 * The fields every flag given on the command line sets (not the privacy flags' defaults); `""`
 * clears an optional text field (address, user, SIP URI).
 */
async function changesOf(flags: AddFlags, cmd: Command, io: CliIo): Promise<RoomChanges> {
  const changes: RoomChanges = {};
  const orNull = (value: string) => (value.trim() === "" ? null : value);
  if (flags.name !== undefined) changes.displayName = flags.name;
  if (flags.provider !== undefined) changes.provider = flags.provider;
  if (flags.deviceFamily !== undefined) changes.deviceFamily = flags.deviceFamily;
  if (flags.deviceAddress !== undefined) changes.deviceAddress = orNull(flags.deviceAddress);
  if (flags.deviceUsername !== undefined) changes.deviceUsername = orNull(flags.deviceUsername);
  const password = await devicePassword(flags, io);
  if (password !== undefined) changes.devicePassword = password;
  if (flags.insecureTls !== undefined) changes.insecureTls = flags.insecureTls;
  if (flags.insecureHttp !== undefined) changes.allowInsecureHttp = flags.insecureHttp;
  if (flags.sipUri !== undefined) changes.sipUri = orNull(flags.sipUri);
  for (const key of ["privateMeetings", "subjectReplace", "subjectTemplate", "privateJoin", "webrtc", "delivery", "source"] as const) {
    const value = flags[key];
    if (value !== undefined && cmd.getOptionValueSource(key) !== "default") changes[key] = value;
  }
  return changes;
}

function registerAdd(rooms: Command, io: CliIo): void {
  const cmd = rooms.command("add").description("map a room mailbox to its video device");
  addRoomFieldOptions(cmd, false)
    .option("--json", "print the created record (a pull room: {id, mailbox, deviceToken})")
    .action(async (flags: AddFlags) => {
      const input: NewRoom = {
        mailbox: flags.mailbox,
        displayName: flags.name,
        provider: flags.provider,
        deviceFamily: flags.deviceFamily,
        deviceAddress: flags.deviceAddress ?? null,
        deviceUsername: flags.deviceUsername ?? null,
        devicePassword: (await devicePassword(flags, io)) ?? null,
        insecureTls: flags.insecureTls === true,
        allowInsecureHttp: flags.insecureHttp === true,
        sipUri: flags.sipUri ?? null,
        deviceToken: flags.deviceToken ?? null,
        ...(flags.privateMeetings ? { privateMeetings: flags.privateMeetings } : {}),
        ...(flags.subjectReplace ? { subjectReplace: flags.subjectReplace } : {}),
        ...(flags.subjectTemplate !== undefined ? { subjectTemplate: flags.subjectTemplate } : {}),
        ...(flags.privateJoin ? { privateJoin: flags.privateJoin } : {}),
        ...(flags.webrtc !== undefined ? { webrtc: flags.webrtc } : {}),
        ...(flags.delivery !== undefined ? { delivery: flags.delivery } : {}),
        ...(flags.source ? { source: flags.source } : {}),
      };
      if (isRemote(flags)) {
        // The API answers {id, mailbox, deviceToken?}: that is what --json prints then.
        const added = (await callEngine(flags, io, "POST", "/v1/rooms", input)) as { id: string; mailbox: string; deviceToken?: string };
        if (flags.json) io.stdout(`${JSON.stringify(added)}\n`);
        else if (added.deviceToken !== undefined) io.stdout(`${added.deviceToken}\n`);
        io.stderr(`added room ${added.id} (${added.mailbox}, ${input.deviceFamily}) through ${new URL(flags.url ?? "").origin}\n`);
        return;
      }
      await withCliStore(flags, io, async ({ store }) => {
        const added = await store.rooms.add(input, new Date());
        const { room, deviceToken } = added;
        const [credential] = await issueMissingEwsPasswords(store, [room], new Date());
        if (credential !== undefined) {
          // The EWS feed's credentials: the mailbox and a password shown this once (stored hashed).
          io.stdout(flags.json ? `${JSON.stringify(credential)}\n` : `${credential.devicePassword}\n`);
          io.stderr(`added room ${room.id} (${room.mailbox}, ews)\n`);
          if (!flags.json)
            io.stderr(
              `the line above is the device password for user ${room.mailbox}; it is not shown again (\`otj rooms token ${room.mailbox} --rotate\` issues a new one)\n`,
            );
          return;
        }
        if (flags.json) {
          io.stdout(`${JSON.stringify(addedJson(added))}\n`);
        } else if (deviceToken !== null) {
          io.stdout(`${deviceToken}\n`);
        }
        io.stderr(`added room ${room.id} (${room.mailbox}, ${room.device.family})\n`);
        if (deviceToken !== null && !flags.json) {
          io.stderr(`the line above is the room's device token; \`otj rooms token ${room.mailbox}\` shows it again\n`);
        }
      });
    });
}

function registerSet(rooms: Command, io: CliIo): void {
  const cmd = rooms.command("set").description("change a room (the flags of `rooms add`; only those given change)").argument("<room>", "room id or mailbox");
  addRoomFieldOptions(cmd, true)
    .option("--json", "print the changed record")
    .action(async (name: string, flags: AddFlags, command: Command) => {
      const changes = await changesOf(flags, command, io);
      if (Object.keys(changes).length === 0) throw new OtjError("OTJ_USAGE", "nothing to change: give at least one of rooms add's flags");
      let saved: unknown;
      let mailbox: string;
      if (isRemote(flags)) {
        saved = await callEngine(flags, io, "PATCH", `/v1/rooms/${encodeURIComponent(name)}`, changes);
        mailbox = (saved as { mailbox: string }).mailbox;
      } else {
        const [room, credential] = await withCliStore(flags, io, async ({ store }) => {
          const changed = await store.rooms.update(name, changes, new Date());
          // A room moved to ews gets its first device password here, shown this once.
          return [changed, (await issueMissingEwsPasswords(store, [changed], new Date()))[0]] as const;
        });
        saved =
          credential === undefined
            ? roomJson(room)
            : { ...roomJson(room), deviceUsername: credential.deviceUsername, devicePassword: credential.devicePassword };
        mailbox = room.mailbox;
        if (credential !== undefined && !flags.json) {
          io.stdout(`${credential.devicePassword}\n`);
          io.stderr(`the line above is the EWS device password for user ${credential.deviceUsername}; it is not shown again\n`);
        }
      }
      if (flags.json) io.stdout(`${JSON.stringify(saved)}\n`);
      const fields = Object.keys(changes).map((k) => (k === "devicePassword" ? "devicePassword (set)" : k));
      io.stderr(`changed room ${mailbox}: ${fields.join(", ")}\n`);
    });
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
