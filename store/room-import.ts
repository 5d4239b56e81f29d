/**
 * `otj rooms import FILE.csv`: CSV rows to rooms, all or nothing (docs/cli.md). Every row is
 * checked first (CSV syntax, columns, field values, providers, duplicates in the file and in the
 * store); any bad row means nothing is written and each problem is reported with its line number.
 */
import { OtjError } from "../core/errors.ts";
import type { AddRoomsOptions, AddedRoom, NewRoom, RoomStore } from "../core/ports/store.ts";
import { CsvSyntaxError, parseCsv } from "./csv.ts";

/** Column names (matched case-insensitively) and the NewRoom field each fills. */
const COLUMNS = {
  mailbox: "mailbox",
  displayname: "displayName",
  provider: "provider",
  devicefamily: "deviceFamily",
  deviceaddress: "deviceAddress",
  deviceusername: "deviceUsername",
  devicepassword: "devicePassword",
  sipuri: "sipUri",
  insecuretls: "insecureTls",
  insecurehttp: "allowInsecureHttp",
  allowinsecurehttp: "allowInsecureHttp",
  privatemeetings: "privateMeetings",
  subjectreplace: "subjectReplace",
  subjecttemplate: "subjectTemplate",
  privatejoin: "privateJoin",
  webrtc: "webrtc",
  delivery: "delivery",
  source: "source",
} as const;

type ColumnField = (typeof COLUMNS)[keyof typeof COLUMNS];

const REQUIRED: readonly ColumnField[] = ["mailbox", "displayName", "provider", "deviceFamily"];

export interface ImportProblem {
  line: number;
  messages: string[];
}

export type RoomImportResult =
  | { applied: true; rooms: AddedRoom[]; ignoredColumns: string[] }
  | { applied: false; rows: number; problems: ImportProblem[]; ignoredColumns: string[] };

export interface RoomImportOptions {
  onProgress?: AddRoomsOptions["onProgress"];
  /** Check everything, write nothing. */
  dryRun?: boolean;
  signal?: AbortSignal;
}

function parseBoolean(value: string): boolean | null {
  const v = value.trim().toLowerCase();
  if (v === "" || ["false", "no", "0", "n"].includes(v)) return false;
  if (["true", "yes", "1", "y"].includes(v)) return true;
  return null;
}

/** One CSV row read as a room: its line, the input it gives, and the problems of the row itself. */
export interface CsvRoomRow {
  line: number;
  input: NewRoom;
  /** Problems found without the store (field counts, booleans); the store checks the rest. */
  problems: string[];
}

/**
 * Reads CSV text into room inputs. Throws OTJ_IMPORT_INVALID for a file that is not CSV or lacks
 * required columns; row-level problems are returned with each row.
 */
export function readRoomsCsv(text: string): { rows: CsvRoomRow[]; ignoredColumns: string[] } {
  let records: ReturnType<typeof parseCsv>;
  try {
    records = parseCsv(text).filter((r) => r.fields.some((f) => f.trim() !== ""));
  } catch (error) {
    if (error instanceof CsvSyntaxError) {
      throw new OtjError("OTJ_IMPORT_INVALID", `malformed CSV at ${error.message}; nothing was imported`, { cause: error, details: { line: error.line } });
    }
    throw error;
  }
  const [header, ...rows] = records;
  if (header === undefined) throw new OtjError("OTJ_IMPORT_INVALID", "the CSV file is empty (it needs a header row); nothing was imported");
  const fieldOfColumn: Array<ColumnField | null> = [];
  const ignoredColumns: string[] = [];
  const seen = new Set<ColumnField>();
  for (const name of header.fields) {
    const field = COLUMNS[name.trim().toLowerCase() as keyof typeof COLUMNS] ?? null;
    if (field !== null && seen.has(field)) {
      throw new OtjError("OTJ_IMPORT_INVALID", `line ${header.line}: column ${name.trim()} appears twice; nothing was imported`);
    }
    if (field === null) ignoredColumns.push(name.trim());
    else seen.add(field);
    fieldOfColumn.push(field);
  }
  const missing = REQUIRED.filter((field) => !seen.has(field));
  if (missing.length > 0) {
    throw new OtjError(
      "OTJ_IMPORT_INVALID",
      `line ${header.line}: the header lacks column(s) ${missing.join(", ")} ` +
        "(expected mailbox,displayName,provider,deviceFamily,deviceAddress,deviceUsername,devicePassword); nothing was imported",
    );
  }

  const read = rows.map((record): CsvRoomRow => {
    const problems: string[] = [];
    if (record.fields.length !== header.fields.length) {
      problems.push(`has ${record.fields.length} fields, the header has ${header.fields.length}`);
    }
    const values: Partial<Record<ColumnField, string>> = {};
    fieldOfColumn.forEach((field, column) => {
      if (field !== null) values[field] = record.fields[column] ?? "";
    });
    const insecureTls = parseBoolean(values.insecureTls ?? "");
    if (insecureTls === null) problems.push(`insecureTls must be true or false (got ${JSON.stringify(values.insecureTls)})`);
    const allowInsecureHttp = parseBoolean(values.allowInsecureHttp ?? "");
    if (allowInsecureHttp === null) problems.push(`insecureHttp must be true or false (got ${JSON.stringify(values.allowInsecureHttp)})`);
    const optional = (value: string | undefined) => (value === undefined || value.trim() === "" ? undefined : value);
    const input: NewRoom = {
      mailbox: values.mailbox ?? "",
      displayName: values.displayName ?? "",
      provider: values.provider ?? "",
      deviceFamily: values.deviceFamily ?? "",
      deviceAddress: optional(values.deviceAddress) ?? null,
      deviceUsername: optional(values.deviceUsername) ?? null,
      // Passwords are taken as written (spaces may be part of them).
      devicePassword: values.devicePassword === undefined || values.devicePassword === "" ? null : values.devicePassword,
      insecureTls: insecureTls ?? false,
      allowInsecureHttp: allowInsecureHttp ?? false,
      sipUri: optional(values.sipUri) ?? null,
    };
    for (const key of ["privateMeetings", "subjectReplace", "subjectTemplate", "privateJoin", "webrtc", "delivery", "source"] as const) {
      const value = optional(values[key]);
      if (value !== undefined) input[key] = value;
    }
    return { line: record.line, input, problems };
  });
  return { rows: read, ignoredColumns };
}

/**
 * Parses and imports CSV text. Throws OTJ_IMPORT_INVALID for a file that is not CSV or lacks
 * required columns; returns per-line problems for bad rows.
 */
export async function importRoomsCsv(rooms: RoomStore, text: string, now: Date, options: RoomImportOptions = {}): Promise<RoomImportResult> {
  const { rows, ignoredColumns } = readRoomsCsv(text);
  const inputs = rows.map((r) => r.input);
  const rowProblems = new Map<number, string[]>();
  rows.forEach((r, index) => {
    if (r.problems.length > 0) rowProblems.set(index, r.problems);
  });

  const outcome = await rooms.addMany(inputs, now, {
    describeItem: (index) => `line ${rows[index]?.line ?? "?"}`,
    dryRun: options.dryRun === true || rowProblems.size > 0,
    ...(options.onProgress ? { onProgress: options.onProgress } : {}),
    ...(options.signal ? { signal: options.signal } : {}),
  });
  if (outcome.applied) return { applied: true, rooms: outcome.rooms, ignoredColumns };
  const merged = new Map<number, string[]>(rowProblems);
  for (const { index, messages } of outcome.problems) merged.set(index, [...(merged.get(index) ?? []), ...messages]);
  const problems = [...merged.entries()].sort(([a], [b]) => a - b).map(([index, messages]) => ({ line: rows[index]?.line ?? 0, messages }));
  return { applied: false, rows: rows.length, problems, ignoredColumns };
}
