/**
 * The console's CSV import: a dry-run diff first (each line: add, change, unchanged or refuse,
 * and why), then apply. Apply recomputes the diff on the server and refuses to write while any
 * line is refused, so what is applied is what the admin saw (plus anything changed meanwhile).
 */
import type { AddedRoom, NewRoom, Room, RoomChanges, Store } from "../../../core/ports/store.ts";
import { readRoomsCsv } from "../../../store/room-import.ts";
import { validateNewRoom } from "../../../store/validation.ts";

export type DiffAction = "add" | "change" | "unchanged" | "refuse";

export interface DiffLine {
  line: number;
  mailbox: string;
  action: DiffAction;
  /** For `change`: the fields that change; for `refuse`: the reasons. */
  details: string[];
  input: NewRoom;
  changes: RoomChanges | null;
}

export interface ImportDiff {
  lines: DiffLine[];
  ignoredColumns: string[];
  counts: Record<DiffAction, number>;
}

const FIELDS: Array<[keyof RoomChanges, string, (r: Room) => unknown]> = [
  ["displayName", "display name", (r) => r.displayName],
  ["deviceFamily", "device family", (r) => r.device.family],
  ["deviceAddress", "device address", (r) => r.device.address],
  ["deviceUsername", "device username", (r) => r.device.username],
  ["insecureTls", "insecure TLS", (r) => r.device.insecureTls],
  ["allowInsecureHttp", "plain http allowed", (r) => r.device.allowInsecureHttp],
  ["sipUri", "SIP URI", (r) => r.sipUri],
  ["privateMeetings", "private meetings", (r) => r.privacy.privateMeetings],
  ["subjectReplace", "subject replace", (r) => r.privacy.subjectReplace],
  ["subjectTemplate", "subject template", (r) => r.privacy.subjectTemplate],
  ["privateJoin", "private join", (r) => r.privacy.privateJoin],
];

export async function diffRoomsCsv(store: Store, text: string): Promise<ImportDiff> {
  const { rows, ignoredColumns } = readRoomsCsv(text);
  const existing = new Map((await store.rooms.list()).map((r) => [r.mailbox, r]));
  const providers = await store.providers.list();
  const providerName = (key: string) => providers.find((p) => p.id === key || p.name.toLowerCase() === key.trim().toLowerCase())?.name ?? null;
  const lines: DiffLine[] = [];
  const fresh: Array<{ index: number; input: NewRoom }> = [];
  const seen = new Map<string, number>();
  for (const row of rows) {
    const mailbox = row.input.mailbox.trim().toLowerCase();
    const line: DiffLine = { line: row.line, mailbox, action: "refuse", details: [...row.problems], input: row.input, changes: null };
    lines.push(line);
    const first = seen.get(mailbox);
    if (first !== undefined) line.details.push(`mailbox ${mailbox} is repeated (first at line ${first})`);
    else seen.set(mailbox, row.line);
    const current = existing.get(mailbox);
    if (current === undefined) {
      // Checked by the store even when the row has problems already: every problem is listed.
      fresh.push({ index: lines.length - 1, input: row.input });
      continue;
    }
    // An existing room: validate the row as a whole, then list what would change.
    const checked = validateNewRoom(row.input);
    if (!checked.ok) line.details.push(...checked.problems);
    const name = providerName(row.input.provider);
    if (name === null) line.details.push(`provider ${JSON.stringify(row.input.provider)} does not exist (add it with \`otj providers add\`)`);
    if (!checked.ok || name === null || line.details.length > 0) continue;
    const valid = checked.value;
    const changes: RoomChanges = {};
    const changed: string[] = [];
    for (const [field, label, currentOf] of FIELDS) {
      const next = valid[field as keyof typeof valid];
      if (next !== currentOf(current)) {
        (changes as Record<string, unknown>)[field] = next;
        changed.push(`${label}: ${String(currentOf(current) ?? "-")} -> ${String(next ?? "-")}`);
      }
    }
    if (name !== current.providerName) {
      changes.provider = name;
      changed.push(`provider: ${current.providerName ?? "-"} -> ${name}`);
    }
    // Write-only: a given password is never compared with the stored one (that would tell
    // whether a guess is right); it is set or replaced. A new device address needs it again.
    if (valid.devicePassword !== null) {
      changes.devicePassword = valid.devicePassword;
      changed.push(current.device.hasPassword ? "device password: will be replaced" : "device password: will be set");
    } else if (current.device.hasPassword && changes.deviceAddress !== undefined && (valid.deviceFamily === "xapi" || valid.deviceFamily === "xapi-legacy")) {
      line.details.push(
        `the device address changes (${current.device.address ?? "-"} -> ${valid.deviceAddress ?? "-"}): give the device password again (column devicePassword); the stored one is never sent to a new address`,
      );
      continue;
    }
    line.action = changed.length > 0 ? "change" : "unchanged";
    line.details = changed;
    line.changes = changed.length > 0 ? changes : null;
  }
  if (fresh.length > 0) {
    const check = await store.rooms.addMany(
      fresh.map((f) => f.input),
      new Date(0),
      { dryRun: true, describeItem: (i) => `line ${lines[fresh[i]!.index]!.line}` },
    );
    const problems = new Map(check.applied ? [] : check.problems.map((p) => [p.index, p.messages]));
    fresh.forEach((f, i) => {
      const line = lines[f.index]!;
      line.details = [...new Set([...line.details, ...(problems.get(i) ?? [])])];
      line.action = line.details.length > 0 ? "refuse" : "add";
    });
  }
  const counts: Record<DiffAction, number> = { add: 0, change: 0, unchanged: 0, refuse: 0 };
  for (const line of lines) counts[line.action] += 1;
  return { lines, ignoredColumns, counts };
}

/** Applies a diff without refusals in one transaction: every added and changed room, or none. */
export async function applyRoomsDiff(store: Store, diff: ImportDiff, now: Date): Promise<{ added: AddedRoom[]; changed: Room[] }> {
  if (diff.counts.refuse > 0) throw new Error("a diff with refused lines cannot be applied");
  const adds = diff.lines.filter((l) => l.action === "add").map((l) => l.input);
  const changes = diff.lines.flatMap((l) => (l.action === "change" && l.changes ? [{ room: l.mailbox, changes: l.changes }] : []));
  return store.rooms.applyImport(adds, changes, now);
}
