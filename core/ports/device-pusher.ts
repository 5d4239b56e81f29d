/**
 * DevicePusher: delivers a room's bookings to its video device, and shows short notices on it.
 * Implementations: join/pushers/ (Cisco xAPI putxml, legacy bookingsputxml, Webex cloud xAPI).
 */
import type { DeviceFamily } from "../domain.ts";

/** One meeting as the device shows it (Cisco Bookings fields, in domain words). */
export interface DeviceBooking {
  /** Stable per occurrence (a short hash of the occurrence key). */
  id: string;
  title: string;
  /** Dial string without scheme; "" when the meeting has no Join button (route none). */
  number: string;
  /** `WebRTC` only for route webrtc with `devices.webrtcBookings` on (`number` is then the join URL). */
  protocol: "SIP" | "H323" | "WebRTC" | "None";
  platform: "MicrosoftTeams" | "Webex" | "Zoom" | "GoogleMeet" | "Other" | "None";
  privacy: "Private" | "Public";
  organizer: { name: string; email: string | null };
  /** ISO 8601 UTC. */
  startTime: string;
  durationMinutes: number;
  startBufferSeconds: number;
  endBufferSeconds: number;
}

/** Where and how to reach one device. Secrets are resolved before they get here. */
export interface DeviceTarget {
  family: DeviceFamily;
  /** `https://host[:port]`, `http://host[:port]`, or `webex://<deviceId>`. */
  address: string;
  username: string | null;
  password: string | null;
  /** Per-device opt-out of TLS verification (self-signed device certificates). */
  insecureTls: boolean;
}

export interface DeviceNotice {
  title: string;
  text: string;
  /** 0 = until cleared. */
  durationSeconds: number;
}

export interface DevicePusher {
  /**
   * Replaces the device's whole booking list with `bookings` (Cisco Bookings Put semantics).
   * Idempotent. Throws OtjError OTJ_DEVICE_AUTH, OTJ_DEVICE_TLS, OTJ_DEVICE_REJECTED (not
   * retryable) or OTJ_DEVICE_UNREACHABLE (retryable).
   */
  pushBookings(target: DeviceTarget, bookings: readonly DeviceBooking[], signal?: AbortSignal): Promise<void>;
  /**
   * A read-only request with the device's credentials (`otj doctor`): resolves to what the device
   * says it is. Same errors as pushBookings. Optional: a pusher without it cannot be probed.
   */
  probe?(target: DeviceTarget, signal?: AbortSignal): Promise<{ product: string | null }>;
  /** Shows a notice on the device's screen (lobby state). Same errors as pushBookings. */
  showNotice(target: DeviceTarget, notice: DeviceNotice, signal?: AbortSignal): Promise<void>;
  /** Clears a notice shown by showNotice. */
  clearNotice(target: DeviceTarget, signal?: AbortSignal): Promise<void>;
}
