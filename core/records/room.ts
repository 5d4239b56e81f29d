/** A room mailbox mapped to its video device, and its inputs (`rooms add`, `rooms set`, imports). */
import type { CalendarSourceName, Delivery, DeviceFamily, PrivateJoin, PrivateMeetings, SubjectReplace, WebrtcPlatform } from "../domain.ts";

export interface RoomPrivacy {
  privateMeetings: PrivateMeetings;
  subjectReplace: SubjectReplace;
  /** Placeholders `{organizerName}`, `{subject}`. */
  subjectTemplate: string;
  privateJoin: PrivateJoin;
}

export interface RoomDevice {
  family: DeviceFamily;
  /** `https://host[:port]`, `http://host[:port]`, `webex://<deviceId>`, or null for `pull`. */
  address: string | null;
  username: string | null;
  hasPassword: boolean;
  /** TLS verification turned off for this device (self-signed certificate). */
  insecureTls: boolean;
  /** The device may be reached over plain `http://` (off: only https, or http on loopback). */
  allowInsecureHttp: boolean;
  /** Whether the room has a pull/feed device token. */
  hasToken: boolean;
}

/** A room mailbox mapped to its video device. */
export interface Room {
  /** Opaque, `rm_` + 10 characters. */
  id: string;
  /** Lowercase, unique. */
  mailbox: string;
  displayName: string;
  /** Null after its provider was removed with --force (built-in defaults apply). */
  providerId: string | null;
  providerName: string | null;
  device: RoomDevice;
  /** The room's own SIP address without scheme (the bridge's `vtcDialString`). */
  sipUri: string | null;
  privacy: RoomPrivacy;
  /** IANA time zone hint, or null. */
  timeZone: string | null;
  /** Platforms the room's device joins natively over WebRTC (`--webrtc`); [] for none. */
  webrtc: WebrtcPlatform[];
  /** Who brings meetings to the device: otj's push (`xapi`), the RoomOS macro (`macro`), or both. */
  delivery: Delivery;
  /** The calendar system the room's calendar is read from. */
  source: CalendarSourceName;
  enabled: boolean;
  createdAt: Date;
  updatedAt: Date;
}

/** Input of `rooms add` / `rooms import` / `POST /v1/rooms`, before validation. */
export interface NewRoom {
  mailbox: string;
  displayName: string;
  /** Provider name (or id). */
  provider: string;
  deviceFamily: string;
  deviceAddress?: string | null;
  deviceUsername?: string | null;
  devicePassword?: string | null;
  insecureTls?: boolean;
  /** Opt-in to a plain `http://` device address (not needed on loopback). */
  allowInsecureHttp?: boolean;
  sipUri?: string | null;
  /** A token to use instead of a generated one. */
  deviceToken?: string | null;
  privateMeetings?: string;
  subjectReplace?: string;
  subjectTemplate?: string;
  privateJoin?: string;
  timeZone?: string | null;
  /** `teams`, `meet`, as a list or comma-separated text; absent or empty: none. */
  webrtc?: string | readonly string[] | null;
  /** `xapi` (default for push families), `macro` (default and only value for pull/macro), `both`. */
  delivery?: string;
  /** `graph` (default), `google` or `ews`. */
  source?: string;
}

/**
 * Changes to a room (the mailbox stays: it names the room's meetings). Absent fields keep their
 * value; `devicePassword: null` clears the password, absent keeps it, except when the device
 * address changes: then a password must be given again (OTJ_ROOM_INVALID otherwise). Moving a room to a family
 * without credentials (pull, webex-cloud) drops its username and password.
 */
export type RoomChanges = Partial<Omit<NewRoom, "mailbox" | "deviceToken">>;
