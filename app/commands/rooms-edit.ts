/**
 * `otj rooms add` and `otj rooms set` (docs/cli.md): the flags of a room (device, delivery,
 * privacy, calendar source), read into a new room or a change. Passwords are never printed; a
 * pull room's device token is printed once by `add`.
 */
import { readFile } from "node:fs/promises";
import { resolve } from "node:path";
import { type Command, Option } from "commander";
import { CALENDAR_SOURCES } from "../../core/domain.ts";
import { OtjError } from "../../core/errors.ts";
import type { AddedRoom, NewRoom, RoomChanges } from "../../core/ports/store.ts";
import { roomJson } from "../../store/records-json.ts";
import { DELIVERIES, DEVICE_FAMILIES } from "../../store/validation.ts";
import type { CliIo } from "../cli-context.ts";
import { type StoreFlags, addStoreOptions, withCliStore } from "./migrate.ts";
import { issueMissingEwsPasswords } from "../ews-credentials.ts";
import { type RemoteFlags, addRemoteOptions, callEngine, isRemote } from "./remote.ts";
import { addPrivacyOptions } from "./plan.ts";

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

export function registerAdd(rooms: Command, io: CliIo): void {
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
        // The API answers {id, mailbox, deviceToken?} (an ews room: deviceUsername, devicePassword): --json prints it.
        const added = (await callEngine(flags, io, "POST", "/v1/rooms", input)) as {
          id: string;
          mailbox: string;
          deviceToken?: string;
          devicePassword?: string;
        };
        if (flags.json) io.stdout(`${JSON.stringify(added)}\n`);
        else if (added.deviceToken !== undefined) io.stdout(`${added.deviceToken}\n`);
        else if (added.devicePassword !== undefined) io.stdout(`${added.devicePassword}\n`);
        io.stderr(`added room ${added.id} (${added.mailbox}, ${input.deviceFamily}) through ${new URL(flags.url ?? "").origin}\n`);
        if (added.devicePassword !== undefined && !flags.json) ewsPasswordNotice(io, added.mailbox);
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
          if (!flags.json) ewsPasswordNotice(io, room.mailbox);
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

export function registerSet(rooms: Command, io: CliIo): void {
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
      }
      const password = (saved as { devicePassword?: string }).devicePassword;
      if (password !== undefined && !flags.json) {
        io.stdout(`${password}\n`);
        ewsPasswordNotice(io, mailbox);
      }
      if (flags.json) io.stdout(`${JSON.stringify(saved)}\n`);
      const fields = Object.keys(changes).map((k) => (k === "devicePassword" ? "devicePassword (set)" : k));
      io.stderr(`changed room ${mailbox}: ${fields.join(", ")}\n`);
    });
}

function ewsPasswordNotice(io: CliIo, mailbox: string): void {
  io.stderr(
    `the line above is the EWS device password for user ${mailbox}; it is not shown again (\`otj rooms token ${mailbox} --rotate\` issues a new one)\n`,
  );
}
