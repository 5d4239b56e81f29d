/**
 * What a room's device should hold: the planned occurrences in the join window as Cisco-style
 * bookings, and a hash of that list so a push happens only when it
 * changed. Pure.
 */
import { createHash } from "node:crypto";
import type { JoinProvider } from "../core/domain.ts";
import type { DeviceBooking } from "../core/ports/device-pusher.ts";
import type { Meeting, Room } from "../core/ports/store.ts";

export interface BookingSettings {
  startBufferMinutes: number;
  endBufferMinutes: number;
  /** Meetings starting later than now + this are not shown (poll.windowFutureDays). */
  windowFutureDays: number;
  /** The nearest N occurrences are pushed (device capacity is unconfirmed). */
  maxBookings: number;
  /** Route webrtc as `Protocol: WebRTC` bookings (`devices.webrtcBookings`); off: no Join button. */
  webrtcBookings?: boolean;
}

export const DEFAULT_BOOKING_SETTINGS: BookingSettings = { startBufferMinutes: 5, endBufferMinutes: 0, windowFutureDays: 7, maxBookings: 50 };

/**
 * Whether otj pushes bookings to the room's device: never to the pulling families (`pull`,
 * `macro`) nor to a room whose delivery is `macro` alone (the RoomOS macro pulls instead).
 */
export function pushesTo(room: Pick<Room, "device" | "delivery">): boolean {
  return room.device.family !== "pull" && room.device.family !== "macro" && room.device.family !== "ews" && room.delivery !== "macro";
}

/** A short stable id per occurrence (the device's booking Id). */
export function bookingId(occurrenceKey: string): string {
  return createHash("sha256").update(occurrenceKey, "utf8").digest("hex").slice(0, 16);
}

const PLATFORM: Partial<Record<JoinProvider, DeviceBooking["platform"]>> = {
  teams: "MicrosoftTeams",
  zoom: "Zoom",
  webex: "Webex",
  "google-meet": "GoogleMeet",
};

/** One occurrence as the device shows it. */
export function toDeviceBooking(m: Meeting, s: BookingSettings): DeviceBooking {
  const webrtc = m.route === "webrtc";
  // A join URL is never pushed as a SIP number: without the setting the booking has no Join button.
  const dial = m.route === "none" || (webrtc && s.webrtcBookings !== true) ? null : m.dialString;
  const title = m.subjectShown?.trim() || m.organizerName?.trim() || "Meeting";
  return {
    id: bookingId(m.occurrenceKey),
    title,
    number: dial ?? "",
    protocol: dial === null ? "None" : webrtc ? "WebRTC" : dial.includes("##") ? "H323" : "SIP",
    platform: m.join ? (PLATFORM[m.join.provider] ?? "Other") : "None",
    privacy: m.sensitivity === "normal" ? "Public" : "Private",
    organizer: { name: m.organizerName?.trim() || m.organizerEmail || "Unknown", email: m.organizerEmail },
    startTime: m.start.toISOString(),
    durationMinutes: Math.max(0, Math.round((m.end.getTime() - m.start.getTime()) / 60000)),
    startBufferSeconds: s.startBufferMinutes * 60,
    endBufferSeconds: s.endBufferMinutes * 60,
  };
}

/** Occurrences the device should show at `now`: not cancelled or declined, not over, within the window; nearest first. */
export function visibleMeetings(meetings: readonly Meeting[], now: Date, s: BookingSettings): Meeting[] {
  const from = now.getTime() - s.endBufferMinutes * 60000;
  const to = now.getTime() + s.windowFutureDays * 86_400_000;
  return meetings
    .filter((m) => !m.cancelled && !m.declined && m.end.getTime() > from && m.start.getTime() < to)
    .sort((a, b) => a.start.getTime() - b.start.getTime() || a.occurrenceKey.localeCompare(b.occurrenceKey))
    .slice(0, s.maxBookings);
}

export function desiredBookings(meetings: readonly Meeting[], now: Date, s: BookingSettings): DeviceBooking[] {
  return visibleMeetings(meetings, now, s).map((m) => toDeviceBooking(m, s));
}

/** Hash of one booking, and of a whole list (order matters: the device list is replaced). */
export function bookingHash(b: DeviceBooking): string {
  return createHash("sha256").update(JSON.stringify(b)).digest("hex").slice(0, 32);
}

export function listHash(bookings: readonly DeviceBooking[]): string {
  return createHash("sha256").update(bookings.map(bookingHash).join(",")).digest("hex").slice(0, 32);
}
