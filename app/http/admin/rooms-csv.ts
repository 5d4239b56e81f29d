/**
 * `/admin/rooms.csv`: every room in the columns the import reads (never a password or token), so
 * an exported file edited and imported again changes exactly what was edited.
 */
import type { Room } from "../../../core/ports/store.ts";

const HEADER = [
  "mailbox",
  "displayName",
  "provider",
  "deviceFamily",
  "deviceAddress",
  "deviceUsername",
  "sipUri",
  "insecureTls",
  "insecureHttp",
  "privateMeetings",
  "subjectReplace",
  "subjectTemplate",
  "privateJoin",
  "webrtc",
  "delivery",
  "source",
] as const;

/** A CSV field; text a spreadsheet would run as a formula gets a leading apostrophe. */
function cell(value: string | boolean | null): string {
  const text = value === null ? "" : String(value);
  const safe = /^[=+\-@\t\r]/.test(text) ? `'${text}` : text;
  return /[",\n\r]/.test(safe) ? `"${safe.replace(/"/g, '""')}"` : safe;
}

export function roomsCsv(rooms: readonly Room[]): string {
  const lines = [HEADER.join(",")];
  for (const r of rooms) {
    lines.push(
      [
        r.mailbox,
        r.displayName,
        r.providerName,
        r.device.family,
        r.device.address,
        r.device.username,
        r.sipUri,
        r.device.insecureTls,
        r.device.allowInsecureHttp,
        r.privacy.privateMeetings,
        r.privacy.subjectReplace,
        r.privacy.subjectTemplate,
        r.privacy.privateJoin,
        r.webrtc.join(","),
        r.delivery,
        r.source,
      ]
        .map(cell)
        .join(","),
    );
  }
  return `${lines.join("\r\n")}\r\n`;
}
