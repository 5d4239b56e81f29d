/**
 * Domain types of otj.
 *
 * Glossary
 * - invite: one calendar event as an invitation carries it (a VEVENT, a Graph event, a mail body).
 * - join: the best way into the meeting an invite describes (provider, URL, SIP URI, Teams fields).
 * - Teams block: the machine-written part of a Teams invitation body between the underscore rules.
 * - CVI: Cloud Video Interop; the partner coordinates (tenant key + video conference id) that let a
 *   SIP/H.323 room system dial into a Teams meeting of the organiser's tenant.
 * - SGJ: SIP Guest Join; a media bridge that joins an external organisation's Teams meeting as a
 *   guest (always through the lobby) on behalf of a room.
 * - room: a room mailbox mapped to one video device (VTC).
 * - occurrence: one meeting instance in one room's calendar; identified by its occurrence key.
 * - route: how a room joins an occurrence: `cvi`, `sgj`, `direct` (SIP/H.323), `webrtc` (the
 *   device's own browser-based join of a Teams or Meet meeting) or `none`.
 * - dial string: what the device dials, a SIP URI without scheme or an H.323 form; for route
 *   `webrtc`, the meeting's join URL.
 *
 * The shapes below are the ones docs/cli.md documents, and are stable: extend by adding, never by renaming.
 */

/** Input formats `otj parse` recognises. */
export type InviteFormat = "eml" | "ics" | "html" | "text" | "graph" | "google";

export type Sensitivity = "normal" | "private" | "personal" | "confidential";

export type JoinProvider = "teams" | "zoom" | "webex" | "google-meet" | "gotomeeting" | "bluejeans" | "chime" | "jitsi" | "sip" | "h323" | "other";

export type TeamsCloud = "commercial" | "gcch" | "dod" | "consumer" | "china";

/** CVI coordinates printed in the organiser's invite. */
export interface CviCoordinates {
  /** The partner's SIP address for the organiser's tenant, e.g. `contoso@m.webex.com`. */
  tenantKey: string;
  /** Digits only, leading zeros kept. */
  videoConferenceId: string;
  moreInfoUrl: string | null;
}

export interface TeamsJoin {
  cloud: TeamsCloud;
  /** Classic meetup-join URL, byte-for-byte as Teams wrote it (unwrapped, never re-encoded). */
  joinUrl: string | null;
  /** `https://<teams host>/meet/<digits>?p=<token>` when present. */
  shortUrl: string | null;
  /** Decoded, e.g. `19:meeting_ABC...@thread.v2`. */
  threadId: string | null;
  /** `"0"` for scheduled meetings, a millisecond timestamp for channel meetings. */
  messageId: string | null;
  /** Organiser's tenant (Tid), lowercase GUID. */
  tenantId: string | null;
  /** Organiser's object id (Oid), lowercase GUID. */
  organizerId: string | null;
  /** Digits only. */
  meetingId: string | null;
  /** As printed, case kept (never the `p=` token). */
  passcode: string | null;
  cvi: CviCoordinates | null;
}

export interface Join {
  provider: JoinProvider;
  url: string | null;
  /** For provider `sip` / `h323`: the address without scheme. */
  sipUri: string | null;
  teams: TeamsJoin | null;
}

export interface Person {
  name: string | null;
  email: string | null;
}

export interface Invite {
  uid: string | null;
  method: string | null;
  sequence: number | null;
  subject: string | null;
  organizer: Person | null;
  /** ISO 8601 UTC with milliseconds. */
  start: string | null;
  end: string | null;
  recurrenceId: string | null;
  recurring: boolean;
  cancelled: boolean;
  sensitivity: Sensitivity;
  join: Join | null;
  alternatives: Join[];
}

export interface ParseOutput {
  format: InviteFormat;
  invites: Invite[];
  warnings: string[];
}

export type Route = "cvi" | "sgj" | "direct" | "webrtc" | "none";

export interface IvrFallback {
  address: string;
  dtmf: string;
}

export type BridgeState = "scheduled" | "starting" | "lobby" | "admitted" | "ended" | "denied" | "timeout" | "failed" | "cancelled";

export type DeviceFamily = "xapi" | "xapi-legacy" | "webex-cloud" | "pull" | "macro" | "ews";
/** Meeting platforms a room's device can join natively over WebRTC (`--webrtc teams,meet`). */
export type WebrtcPlatform = "teams" | "meet";
/**
 * How a Cisco room gets its meetings: `xapi` (otj pushes bookings; the default), `macro` (otj's
 * RoomOS macro pulls the pull API; nothing is pushed) or `both`.
 */
export type Delivery = "xapi" | "macro" | "both";

/** The calendar system a room's calendar lives in: Microsoft Graph, Google Workspace or Exchange Server (EWS). */
export type CalendarSourceName = "graph" | "google" | "ews";

export const CALENDAR_SOURCES: readonly CalendarSourceName[] = ["graph", "google", "ews"];
export type Partner = "pexip" | "cisco" | "poly" | "bluejeans" | "generic";
export type PrivateMeetings = "process" | "skip";
export type SubjectReplace = "never" | "private" | "all";
export type PrivateJoin = "enabled" | "disabled";
