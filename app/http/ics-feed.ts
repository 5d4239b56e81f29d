/**
 * The room feed as iCalendar: one VEVENT per visible occurrence. Written with ical.js so that
 * every TEXT value is escaped and every line folded at 75 octets (RFC 5545 3.1, 3.3.11); names,
 * subjects and addresses lose their control characters first (rows stored before otj stripped
 * them at ingest included), so no value can end a line and start a property or component.
 */
import ICAL from "ical.js";
import { stripControlCharacters } from "../../core/control-characters.ts";

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

/** A property of the given value type; ical.js writes `VALUE=` when it differs from the default. */
function property(name: string, value: string, type?: "text"): ICAL.Property {
  const prop = new ICAL.Property(name);
  if (type) prop.resetType(type);
  prop.setValue(stripControlCharacters(value));
  return prop;
}

/**
 * Folds a content line at 75 octets (RFC 5545 3.1), continuation lines included, never inside a
 * UTF-8 sequence. (ical.js folds too, but its continuation lines come out one octet over.)
 */
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

function utc(date: Date): ICAL.Time {
  return ICAL.Time.fromJSDate(date, true);
}

export function renderIcsFeed(roomName: string, events: readonly FeedEvent[], now: Date): string {
  const calendar = new ICAL.Component("vcalendar");
  calendar.addProperty(property("version", "2.0"));
  calendar.addProperty(property("prodid", "-//otj//room feed//EN"));
  calendar.addProperty(property("calscale", "GREGORIAN"));
  calendar.addProperty(property("x-wr-calname", roomName, "text"));
  for (const e of events) {
    const event = new ICAL.Component("vevent");
    event.addProperty(property("uid", `${e.id}@otj`));
    event.addPropertyWithValue("dtstamp", utc(now));
    event.addPropertyWithValue("dtstart", utc(e.start));
    event.addPropertyWithValue("dtend", utc(e.end));
    if (e.subject) event.addProperty(property("summary", e.subject));
    if (e.organizerEmail) {
      const organizer = property("organizer", `mailto:${e.organizerEmail.replace(/[\s]/g, "")}`);
      if (e.organizerName) organizer.setParameter("cn", stripControlCharacters(e.organizerName));
      event.addProperty(organizer);
    }
    if (e.platform) event.addProperty(property("x-otj-platform", e.platform));
    if (e.dialString && e.route === "webrtc") {
      // The device joins in its browser engine: the join URL is the location and the link.
      event.addProperty(property("location", e.dialString));
      event.addProperty(property("url", e.dialString.replace(/\s/g, "")));
      const conference = property("conference", e.dialString.replace(/\s/g, ""));
      conference.setParameter("value", "URI");
      conference.setParameter("feature", "VIDEO");
      conference.setParameter("label", "Join");
      event.addProperty(conference);
    } else if (e.dialString) {
      event.addProperty(property("location", e.dialString));
      const uri = e.dialString.includes("##") ? `h323:${e.dialString}` : `sip:${e.dialString}`;
      const conference = property("conference", uri.replace(/\s/g, ""));
      conference.setParameter("value", "URI");
      conference.setParameter("feature", "VIDEO");
      conference.setParameter("label", "Join");
      event.addProperty(conference);
    }
    calendar.addSubcomponent(event);
  }
  // Values hold no CR or LF (stripped or escaped), so every CRLF + space in ical.js's output is its fold.
  const lines = calendar.toString().replace(/\r\n /g, "").split("\r\n");
  return `${lines.map(fold).join("\r\n")}\r\n`;
}
