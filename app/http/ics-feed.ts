/** The room feed as iCalendar (INTERFACES.md 11): one VEVENT per visible occurrence. */

export interface FeedEvent {
  id: string;
  start: Date;
  end: Date;
  subject: string | null;
  organizerName: string | null;
  organizerEmail: string | null;
  dialString: string | null;
  /** Route `webrtc`: `dialString` is the meeting's join URL, given as an https CONFERENCE. */
  route?: string;
  /** The meeting's provider (`teams`, `google-meet`, ...), or null. */
  platform?: string | null;
}

function text(value: string): string {
  return value.replace(/\\/g, "\\\\").replace(/;/g, "\\;").replace(/,/g, "\\,").replace(/\r?\n/g, "\\n");
}

function stamp(d: Date): string {
  return d.toISOString().replace(/[-:]/g, "").replace(/\.\d{3}/, "");
}

/** Folds a content line at 75 octets (RFC 5545 3.1), never inside a UTF-8 sequence. */
function fold(line: string): string {
  const out: string[] = [];
  let current = "";
  let bytes = 0;
  for (const ch of line) {
    const n = Buffer.byteLength(ch);
    if (bytes + n > (out.length === 0 ? 75 : 74)) {
      out.push(current);
      current = "";
      bytes = 0;
    }
    current += ch;
    bytes += n;
  }
  out.push(current);
  return out.join("\r\n ");
}

export function renderIcsFeed(roomName: string, events: readonly FeedEvent[], now: Date): string {
  const lines = ["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//otj//room feed//EN", "CALSCALE:GREGORIAN", `X-WR-CALNAME:${text(roomName)}`];
  for (const e of events) {
    lines.push("BEGIN:VEVENT", `UID:${e.id}@otj`, `DTSTAMP:${stamp(now)}`, `DTSTART:${stamp(e.start)}`, `DTEND:${stamp(e.end)}`);
    if (e.subject) lines.push(`SUMMARY:${text(e.subject)}`);
    if (e.organizerEmail) lines.push(`ORGANIZER${e.organizerName ? `;CN="${e.organizerName.replace(/"/g, "'")}"` : ""}:mailto:${e.organizerEmail}`);
    if (e.platform) lines.push(`X-OTJ-PLATFORM:${text(e.platform)}`);
    if (e.dialString && e.route === "webrtc") {
      lines.push(`LOCATION:${text(e.dialString)}`, `URL:${e.dialString}`, `CONFERENCE;VALUE=URI;FEATURE=VIDEO;LABEL=Join:${e.dialString}`);
    } else if (e.dialString) {
      lines.push(`LOCATION:${text(e.dialString)}`);
      const uri = e.dialString.includes("##") ? `h323:${e.dialString}` : `sip:${e.dialString}`;
      lines.push(`CONFERENCE;VALUE=URI;FEATURE=VIDEO;LABEL=Join:${uri}`);
    }
    lines.push("END:VEVENT");
  }
  lines.push("END:VCALENDAR");
  return `${lines.map(fold).join("\r\n")}\r\n`;
}
