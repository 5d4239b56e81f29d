/**
 * `otj events [--room MAILBOX] [--session ID] [--since ISO] [--json]`: the event log, oldest
 * first: meetings planned, pushes, bridge session steps (lobby, admitted, denied, ended) and the
 * console's audited changes (who, before, after), with the wait since the entry before it.
 */
import type { Command } from "commander";
import { OtjError } from "../../core/errors.ts";
import type { LoggedEvent } from "../../core/ports/store.ts";
import type { CliIo } from "../cli-context.ts";
import { addStoreOptions, type StoreFlags, withCliStore } from "./migrate.ts";

/** Most entries printed (the newest ones). */
export const EVENTS_LIMIT = 1_000;

export interface EventsOutput {
  events: Array<{
    id: number;
    at: string;
    kind: string;
    roomId: string | null;
    occurrenceKey: string | null;
    message: string;
    data: Record<string, unknown> | null;
  }>;
}

/** Seconds as `42s`, `3m05s` or `2h07m`. */
export function formatWait(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, "0")}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, "0")}m`;
}

export function renderEvents(events: readonly LoggedEvent[]): string {
  if (events.length === 0) return "No events.\n";
  return `${events
    .map((e, i) => {
      const previous = i > 0 ? events[i - 1] : undefined;
      const wait = previous ? `+${formatWait(e.at.getTime() - previous.at.getTime())}` : "";
      return `${e.at.toISOString()}  ${wait.padStart(8)}  ${e.kind.padEnd(26)} ${e.message}`;
    })
    .join("\n")}\n`;
}

export function registerEventsCommand(program: Command, io: CliIo): void {
  addStoreOptions(program.command("events").description("the event log, oldest first: plans, pushes, bridge session steps, audited console changes"))
    .option("--room <mailbox>", "only this room's entries (mailbox or id)")
    .option("--session <id>", "only this bridge session's entries")
    .option("--since <iso>", "only entries at or after this time (ISO 8601)")
    .option("--json", "print {events: [...]} as JSON")
    .action(async (flags: StoreFlags & { room?: string; session?: string; since?: string; json?: boolean }) => {
      let since: Date | undefined;
      if (flags.since !== undefined) {
        since = new Date(flags.since);
        if (!/^\d{4}-\d{2}-\d{2}/.test(flags.since) || Number.isNaN(since.getTime()))
          throw new OtjError("OTJ_USAGE", "--since must be an ISO 8601 time, e.g. 2026-03-02T08:00:00Z");
      }
      await withCliStore(flags, io, async ({ store }) => {
        let roomId: string | undefined;
        if (flags.room !== undefined) {
          const room = await store.rooms.get(flags.room);
          if (room === null) throw new OtjError("OTJ_STORE_NOT_FOUND", `no room ${flags.room}`);
          roomId = room.id;
        }
        const events = (
          await store.eventLog.list({
            limit: EVENTS_LIMIT,
            ...(roomId !== undefined ? { roomId } : {}),
            ...(flags.session !== undefined ? { sessionId: flags.session } : {}),
            ...(since !== undefined ? { since } : {}),
          })
        ).reverse();
        if (flags.json) {
          const out: EventsOutput = { events: events.map((e) => ({ ...e, at: e.at.toISOString() })) };
          io.stdout(`${JSON.stringify(out, null, 2)}\n`);
        } else io.stdout(renderEvents(events));
      });
    });
}
