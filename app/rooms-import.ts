/**
 * `otj rooms import` and `POST /v1/rooms/import`: a CSV file of rooms, all or nothing. Without
 * `update` every row must be a new room; with it, rows of existing rooms change them as the
 * console's import does. Every problem of every line is reported; nothing is written while any
 * line has one.
 */
import type { AddRoomsOptions, Store } from "../core/ports/store.ts";
import { importRoomsCsv } from "../store/room-import.ts";
import { type EwsCredential, issueMissingEwsPasswords } from "./ews-credentials.ts";
import { applyRoomsDiff, diffRoomsCsv } from "./http/admin/import-diff.ts";

export interface RoomsImportOptions {
  dryRun?: boolean;
  /** Rows of existing rooms change them (else such a row is a problem). */
  update?: boolean;
  onProgress?: AddRoomsOptions["onProgress"];
}

/** The outcome, as the CLI prints it and the API answers it (JSON-safe). */
export interface RoomsImportReport {
  applied: boolean;
  rows: number;
  problems: Array<{ line: number; messages: string[] }>;
  added: Array<{ id: string; mailbox: string; deviceToken?: string }>;
  changed: Array<{ id: string; mailbox: string; fields: string[] }>;
  /** ews rooms added or moved to ews that got their first device password: shown this once. */
  credentials: EwsCredential[];
  unchanged: number;
  ignoredColumns: string[];
}

export async function runRoomsImport(store: Store, text: string, now: Date, options: RoomsImportOptions = {}): Promise<RoomsImportReport> {
  if (options.update !== true) {
    const result = await importRoomsCsv(store.rooms, text, now, {
      dryRun: options.dryRun === true,
      ...(options.onProgress ? { onProgress: options.onProgress } : {}),
    });
    if (!result.applied) {
      return {
        applied: false,
        rows: result.rows,
        problems: result.problems,
        added: [],
        changed: [],
        credentials: [],
        unchanged: 0,
        ignoredColumns: result.ignoredColumns,
      };
    }
    return {
      applied: true,
      rows: result.rooms.length,
      problems: [],
      added: result.rooms.map(({ room, deviceToken }) => ({ id: room.id, mailbox: room.mailbox, ...(deviceToken !== null ? { deviceToken } : {}) })),
      changed: [],
      credentials: await issueMissingEwsPasswords(
        store,
        result.rooms.map((r) => r.room),
        now,
      ),
      unchanged: 0,
      ignoredColumns: result.ignoredColumns,
    };
  }
  const diff = await diffRoomsCsv(store, text);
  const problems = diff.lines.filter((l) => l.action === "refuse").map((l) => ({ line: l.line, messages: l.details }));
  const base = { rows: diff.lines.length, problems, unchanged: diff.counts.unchanged, ignoredColumns: diff.ignoredColumns };
  if (problems.length > 0 || options.dryRun === true || diff.counts.add + diff.counts.change === 0) {
    return { ...base, applied: false, added: [], changed: [], credentials: [] };
  }
  const fieldsOf = new Map(diff.lines.map((l) => [l.mailbox, l.details]));
  const result = await applyRoomsDiff(store, diff, now);
  return {
    ...base,
    applied: true,
    added: result.added.map(({ room, deviceToken }) => ({ id: room.id, mailbox: room.mailbox, ...(deviceToken !== null ? { deviceToken } : {}) })),
    changed: result.changed.map((room) => ({ id: room.id, mailbox: room.mailbox, fields: fieldsOf.get(room.mailbox) ?? [] })),
    credentials: await issueMissingEwsPasswords(store, [...result.added.map((a) => a.room), ...result.changed], now),
  };
}
