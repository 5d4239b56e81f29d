/**
 * `otj rooms discover [--add --provider NAME --device-family FAMILY] [--json]` (docs/cli.md):
 * lists the rooms Graph Places knows (docs/deploy-microsoft-365.md) with their room lists, marks those
 * already mapped, and with `--add` maps the others. Places is a discovery aid (rooms hidden from
 * the address book are missing); `otj rooms add|import` stays the authoritative list.
 */
import type { Command } from "commander";
import { Option } from "commander";
import { ewsCalendarSourceFromConfig } from "../../calendar/ews/ews-from-config.ts";
import { graphFromConfig } from "../../calendar/graph/graph-from-config.ts";
import { systemClock } from "../../core/clock.ts";
import { OtjError } from "../../core/errors.ts";
import type { DiscoveredRoom } from "../../core/ports/calendar-source.ts";
import type { NewRoom } from "../../core/ports/store.ts";
import { DEVICE_FAMILIES } from "../../store/validation.ts";
import type { CliIo } from "../cli-context.ts";
import { type StoreFlags, addStoreOptions, withCliStore } from "./migrate.ts";
import { commandGroup, renderTable } from "./rooms.ts";

interface DiscoverFlags extends StoreFlags {
  source: "graph" | "google" | "ews";
  add?: boolean;
  provider?: string;
  deviceFamily?: string;
  json?: boolean;
}

/** One discovered room as `--json` prints it. */
export interface DiscoveredRoomJson {
  mailbox: string;
  displayName: string;
  capacity: number | null;
  /** The first room list holding the room (its mailbox), or null. */
  roomList: string | null;
  roomLists: Array<{ mailbox: string; displayName: string }>;
  building: string | null;
  floor: string | null;
  /** Mapped to a device in otj (before this run, or added by it). */
  mapped: boolean;
  /** Added by this run (`--add`). */
  added: boolean;
  /** The room's otj id when mapped. */
  id: string | null;
}

function toJson(room: DiscoveredRoom, id: string | null, added: boolean): DiscoveredRoomJson {
  return {
    mailbox: room.mailbox,
    displayName: room.displayName,
    capacity: room.capacity,
    roomList: room.roomLists[0]?.mailbox ?? null,
    roomLists: room.roomLists.map((l) => ({ mailbox: l.mailbox, displayName: l.displayName })),
    building: room.building,
    floor: room.floor,
    mapped: id !== null,
    added,
    id,
  };
}

export function registerDiscoverCommand(program: Command, io: CliIo): void {
  const rooms = commandGroup(program, "rooms", "room mailbox <-> device mapping");
  addStoreOptions(
    rooms.command("discover").description("list the directory's rooms (Graph Places, Google resource calendars); --add maps those not yet mapped"),
  )
    .addOption(
      new Option("--source <source>", "where to look: graph (Places), google (Admin SDK resource calendars) or ews (GetRoomLists/GetRooms)")
        .choices(["graph", "google", "ews"])
        .default("graph"),
    )
    .option("--add", "add the rooms not yet mapped (needs --provider and --device-family)")
    .option("--provider <name>", "CVI provider record for added rooms")
    .addOption(new Option("--device-family <family>", "device family for added rooms").choices([...DEVICE_FAMILIES]))
    .option("--json", 'print {"rooms":[{mailbox,displayName,capacity,roomList,...}]}')
    .action(async (flags: DiscoverFlags) => {
      if (flags.add && (flags.provider === undefined || flags.deviceFamily === undefined)) {
        throw new OtjError("OTJ_USAGE", "--add needs --provider NAME and --device-family FAMILY");
      }
      if (!flags.add && (flags.provider !== undefined || flags.deviceFamily !== undefined)) {
        throw new OtjError("OTJ_USAGE", "--provider and --device-family only go with --add");
      }
      await withCliStore(flags, io, async ({ store, config }) => {
        // The Google client libraries are large: loaded only for --source google.
        const { source } =
          flags.source === "google"
            ? (await import("../../calendar/google/google-from-config.ts")).googleFromConfig(config, systemClock, { cwd: io.cwd })
            : flags.source === "ews"
              ? ewsCalendarSourceFromConfig(config, { clock: systemClock })
              : graphFromConfig(config, systemClock);
        const found = await source.listRooms(AbortSignal.timeout(Math.max(60, config.poll.roundBudgetSeconds) * 1000));
        const mappedIds = new Map((await store.rooms.list()).map((r) => [r.mailbox, r.id]));
        const addedIds = new Map<string, string>();
        if (flags.add) {
          const inputs: NewRoom[] = found
            .filter((r) => !mappedIds.has(r.mailbox))
            .map((r) => ({
              mailbox: r.mailbox,
              displayName: r.displayName,
              provider: flags.provider!,
              deviceFamily: flags.deviceFamily!,
              source: flags.source,
            }));
          if (inputs.length > 0) {
            const result = await store.rooms.addMany(inputs, new Date(), { describeItem: (i) => inputs[i]!.mailbox });
            if (!result.applied) {
              const lines = result.problems.flatMap((p) => p.messages.map((m) => `${inputs[p.index]!.mailbox}: ${m}`));
              io.stderr(`${lines.join("\n")}\n`);
              throw new OtjError("OTJ_ROOM_INVALID", `${result.problems.length} of ${inputs.length} rooms cannot be added as given; nothing was added`);
            }
            for (const { room } of result.rooms) addedIds.set(room.mailbox, room.id);
          }
        }
        const out = found.map((r) => toJson(r, mappedIds.get(r.mailbox) ?? addedIds.get(r.mailbox) ?? null, addedIds.has(r.mailbox)));
        if (flags.json) {
          io.stdout(`${JSON.stringify({ rooms: out })}\n`);
        } else if (out.length === 0) {
          io.stderr(
            flags.source === "ews"
              ? "the Exchange room lists hold no rooms (rooms in no room list are not listed)\n"
              : flags.source === "google"
                ? "the directory lists no resource calendars that are rooms\n"
                : "Places lists no rooms (rooms hidden from the address book are not listed)\n",
          );
        } else {
          io.stdout(
            renderTable(
              ["MAILBOX", "NAME", "CAPACITY", "ROOM LIST", "MAPPED"],
              out.map((r) => [
                r.mailbox,
                r.displayName,
                r.capacity === null ? "-" : String(r.capacity),
                r.roomList ?? "-",
                r.added ? "added" : r.mapped ? "yes" : "no",
              ]),
            ),
          );
        }
        if (flags.add) io.stderr(`added ${addedIds.size} room(s); ${out.length - addedIds.size} were already mapped\n`);
      });
    });
}
