/**
 * The `google` parser format: one Google Calendar event resource as JSON (what `events.list`
 * returns per item), or a list of them (an array, or an `events.list` page with `items`).
 *
 * Where the join information sits in a Google event:
 * - `conferenceData.entryPoints[]`: `video` (the Meet link, or a third-party add-on's join URL,
 *   e.g. Teams or Zoom), `sip` (a SIP URI some add-ons publish), `phone` and `more` (ignored).
 * - `conferenceData.notes`: HTML that add-ons fill with their own join text (Teams' dial-in
 *   block, Zoom's passcode); read like a body.
 * - `hangoutLink`: the Meet link of older events.
 * - `description`: the body; HTML when Google's editor wrote it, plain text otherwise.
 * - `location`: free text, sometimes a URL.
 *
 * Pure like the rest of the parser: nothing here fetches anything.
 */
import type { Sensitivity } from "../core/domain.ts";
import type { InviteSources } from "./assemble.ts";
import { looksLikeHtml } from "./body.ts";
import type { Meta } from "./invite-parser.ts";
import { toIso } from "./timezone.ts";

type Json = Record<string, unknown>;

function obj(v: unknown): Json | null {
  return v !== null && typeof v === "object" && !Array.isArray(v) ? (v as Json) : null;
}

function str(v: unknown): string | null {
  return typeof v === "string" && v.trim() !== "" ? v : null;
}

const VISIBILITY: Record<string, Sensitivity> = { default: "normal", public: "normal", private: "private", confidential: "confidential" };

/**
 * An event time: `{dateTime}` (RFC 3339 with an offset) or `{date}` (an all-day event, read as
 * UTC midnight like the rest of otj's all-day handling).
 */
export function googleEventTime(v: unknown, warnings: Set<string>): string | null {
  const o = obj(v);
  const dateTime = str(o?.["dateTime"]);
  if (dateTime) {
    if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:\d{2})$/i.test(dateTime.trim())) {
      warnings.add("unreadable Google dateTime");
      return null;
    }
    return toIso(Date.parse(dateTime));
  }
  const date = str(o?.["date"]);
  if (date) {
    if (!/^\d{4}-\d{2}-\d{2}$/.test(date.trim())) {
      warnings.add("unreadable Google date");
      return null;
    }
    return toIso(Date.parse(`${date.trim()}T00:00:00Z`));
  }
  return null;
}

/** Reads one Google event into the calendar facts and the places its join may hide. */
export function readGoogleEvent(ev: Json, warnings: Set<string>, sources: InviteSources): Meta {
  const organizer = obj(ev["organizer"]);
  const original = obj(ev["originalStartTime"]);
  const meta: Meta = {
    uid: str(ev["iCalUID"]),
    method: null,
    sequence: typeof ev["sequence"] === "number" && Number.isInteger(ev["sequence"]) ? ev["sequence"] : null,
    subject: str(ev["summary"]),
    organizer: organizer ? { name: str(organizer["displayName"]), email: str(organizer["email"]) } : null,
    start: googleEventTime(ev["start"], warnings),
    end: googleEventTime(ev["end"], warnings),
    recurrenceId: original ? googleEventTime(original, warnings) : null,
    recurring: str(ev["recurringEventId"]) !== null || Array.isArray(ev["recurrence"]),
    cancelled: ev["status"] === "cancelled",
    sensitivity: VISIBILITY[String(ev["visibility"] ?? "default").toLowerCase()] ?? "private",
  };
  const conference = obj(ev["conferenceData"]);
  const entryPoints = Array.isArray(conference?.["entryPoints"]) ? (conference["entryPoints"] as unknown[]) : [];
  for (const entry of entryPoints.slice(0, 50)) {
    const e = obj(entry);
    const uri = str(e?.["uri"]);
    if (!uri) continue;
    const type = e?.["entryPointType"];
    if (type === "video" && /^https?:\/\//i.test(uri)) sources.structuredUrls.push(uri);
    else if (type === "sip" && /^sips?:/i.test(uri)) sources.meetingUrls.push(uri);
  }
  const hangout = str(ev["hangoutLink"]);
  if (hangout && /^https?:\/\//i.test(hangout)) sources.structuredUrls.push(hangout);
  const description = str(ev["description"]);
  const notes = str(conference?.["notes"]);
  const parts = [description, notes].filter((p): p is string => p !== null);
  if (parts.some((p) => looksLikeHtml(p))) {
    sources.html = parts.map((p) => (looksLikeHtml(p) ? p : escapeHtml(p).replace(/\r?\n/g, "<br>"))).join("<br>");
  } else if (parts.length > 0) {
    sources.text = parts.join("\n\n");
  }
  const location = str(ev["location"]);
  sources.location = location;
  if (location && /^(?:https?|sips?|h323):\S+$/i.test(location.trim())) sources.meetingUrls.push(location.trim());
  if (meta.organizer?.email) sources.peopleAddresses.push(meta.organizer.email);
  for (const a of Array.isArray(ev["attendees"]) ? (ev["attendees"] as unknown[]).slice(0, 500) : []) {
    const addr = str(obj(a)?.["email"]);
    if (addr) sources.peopleAddresses.push(addr);
  }
  return meta;
}

/** The event objects of a `google` input: one event, an array of them, or a page's `items`. */
export function googleEventList(data: unknown): Json[] {
  const page = obj(data);
  const list = Array.isArray(data) ? data : Array.isArray(page?.["items"]) ? (page["items"] as unknown[]) : [data];
  return list.map(obj).filter((e): e is Json => e !== null);
}

/** Whether a JSON text's head looks like a Google Calendar event (or a page of them). */
export function looksLikeGoogleEvent(head: string): boolean {
  return /"kind"\s*:\s*"calendar#events?"/.test(head);
}

function escapeHtml(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}
