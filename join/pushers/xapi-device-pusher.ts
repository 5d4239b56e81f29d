/**
 * XapiDevicePusher: Cisco RoomOS bookings over HTTPS putxml (`xapi`), the legacy TMS
 * `bookingsputxml` form (`xapi-legacy`) and the Webex cloud xAPI (`webex-cloud`).
 * The whole list is sent each time: Bookings Put replaces.
 */
import type { DeviceBooking, DeviceNotice, DevicePusher, DeviceTarget } from "../../core/ports/device-pusher.ts";
import { OtjError } from "../../core/errors.ts";
import { classifyStatus, classifyTransportError, type HttpReply, httpRequest } from "./device-http.ts";

export interface XapiPusherConfig {
  /** Extra CA (PEM) for device certificates (`devices.caFile`). */
  ca: string | null;
  /** Webex cloud xAPI (`devices.webex.token`); baseUrl overridable for emulators. */
  webex: { token: string | null; baseUrl: string };
  timeoutMs: number;
}

export const DEFAULT_XAPI_CONFIG: XapiPusherConfig = { ca: null, webex: { token: null, baseUrl: "https://webexapis.com" }, timeoutMs: 10_000 };

function xmlEscape(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;").replace(/'/g, "&apos;");
}

/** The Cisco Bookings JSON for one booking. */
export function toCiscoBooking(b: DeviceBooking): Record<string, unknown> {
  return {
    Id: b.id,
    Title: b.title,
    Number: b.number,
    Protocol: b.protocol,
    MeetingPlatform: b.platform,
    Privacy: b.privacy,
    Organizer: { Name: b.organizer.name, ...(b.organizer.email ? { Email: b.organizer.email } : {}) },
    Time: {
      StartTime: b.startTime.replace(/\.\d{3}Z$/, "Z"),
      Duration: b.durationMinutes,
      StartTimeBuffer: b.startBufferSeconds,
      EndTimeBuffer: b.endBufferSeconds,
    },
  };
}

/** The legacy TMS booking XML. */
export function toBookingsPutXml(bookings: readonly DeviceBooking[]): string {
  const items = bookings.map((b, i) => {
    const [first, ...rest] = b.organizer.name.split(" ");
    const end = new Date(Date.parse(b.startTime) + b.durationMinutes * 60000).toISOString().replace(/\.\d{3}Z$/, "Z");
    const e = (tag: string, value: string | number) => `<${tag} item="1">${xmlEscape(String(value))}</${tag}>`;
    return (
      `<Booking item="${i + 1}">${e("Id", b.id)}${e("Title", b.title)}${e("Agenda", "")}${e("Privacy", b.privacy)}` +
      `<Organizer item="1">${e("FirstName", first ?? "")}${e("LastName", rest.join(" "))}${e("Email", b.organizer.email ?? "")}</Organizer>` +
      `<Time item="1">${e("StartTime", b.startTime.replace(/\.\d{3}Z$/, "Z"))}${e("StartTimeBuffer", b.startBufferSeconds)}${e("EndTime", end)}${e("EndTimeBuffer", b.endBufferSeconds)}</Time>` +
      `${e("MaximumMeetingExtension", 5)}${e("BookingStatus", "OK")}<Webex item="1">${e("Enabled", "False")}</Webex>${e("Encryption", "BestEffort")}${e("Role", "Master")}${e("Recording", "Disabled")}` +
      `<DialInfo item="1"><Calls item="1"><Call item="1">${e("Number", b.number)}${e("Protocol", b.protocol)}${e("CallRate", 6000)}${e("CallType", "Video")}</Call></Calls>${e("ConnectMode", "OBTP")}</DialInfo></Booking>`
    );
  });
  return `<?xml version='1.0'?><Bookings item="1" status="OK">${items.join("")}</Bookings>`;
}

export class XapiDevicePusher implements DevicePusher {
  readonly #config: XapiPusherConfig;

  constructor(config: XapiPusherConfig = DEFAULT_XAPI_CONFIG) {
    this.#config = config;
  }

  async pushBookings(target: DeviceTarget, bookings: readonly DeviceBooking[], signal?: AbortSignal): Promise<void> {
    if (target.family === "webex-cloud") return this.#webexPut(target, bookings, signal);
    if (target.family === "xapi-legacy") {
      const reply = await this.#send(target, "/bookingsputxml", toBookingsPutXml(bookings), signal);
      return this.#check(reply, "bookingsputxml");
    }
    if (target.family !== "xapi") throw new OtjError("OTJ_DEVICE_REJECTED", `device family ${target.family} is not pushed to`);
    const json = JSON.stringify({ Bookings: bookings.map(toCiscoBooking) });
    const reply = await this.#send(target, "/putxml", `<Command><Bookings><Put><body>${xmlEscape(json)}</body></Put></Bookings></Command>`, signal);
    this.#check(reply, "Bookings Put");
  }

  async showNotice(target: DeviceTarget, notice: DeviceNotice, signal?: AbortSignal): Promise<void> {
    if (target.family === "webex-cloud" || target.family === "pull") return;
    const body = `<Command><UserInterface><Message><Alert><Display><Title>${xmlEscape(notice.title)}</Title><Text>${xmlEscape(notice.text)}</Text><Duration>${notice.durationSeconds}</Duration></Display></Alert></Message></UserInterface></Command>`;
    this.#check(await this.#send(target, "/putxml", body, signal), "UserInterface Message Alert Display");
  }

  async clearNotice(target: DeviceTarget, signal?: AbortSignal): Promise<void> {
    if (target.family === "webex-cloud" || target.family === "pull") return;
    this.#check(
      await this.#send(target, "/putxml", "<Command><UserInterface><Message><Alert><Clear></Clear></Alert></Message></UserInterface></Command>", signal),
      "UserInterface Message Alert Clear",
    );
  }

  async probe(target: DeviceTarget, signal?: AbortSignal): Promise<{ product: string | null }> {
    if (target.family !== "xapi" && target.family !== "xapi-legacy") throw new OtjError("OTJ_DEVICE_REJECTED", `device family ${target.family} is not probed`);
    const reply = await this.#send(target, "/getxml?location=/Status/SystemUnit/ProductId", undefined, signal);
    this.#check(reply, "getxml /Status/SystemUnit/ProductId");
    return { product: /<ProductId>([^<]{0,200})<\/ProductId>/.exec(reply.body)?.[1] ?? null };
  }

  async #send(target: DeviceTarget, path: string, body: string | undefined, signal?: AbortSignal): Promise<HttpReply> {
    const base = /^https?:\/\//i.test(target.address) ? target.address : `https://${target.address}`;
    const url = `${base.replace(/\/+$/, "")}${path}`;
    const headers: Record<string, string> = { "content-type": "text/xml; charset=utf-8" };
    if (target.username !== null) headers.authorization = `Basic ${Buffer.from(`${target.username}:${target.password ?? ""}`).toString("base64")}`;
    try {
      return await httpRequest(url, {
        method: body === undefined ? "GET" : "POST",
        headers,
        ...(body === undefined ? {} : { body }),
        ca: this.#config.ca,
        verifyTls: !target.insecureTls,
        timeoutMs: this.#config.timeoutMs,
        ...(signal ? { signal } : {}),
      });
    } catch (error) {
      throw classifyTransportError(error, `device ${new URL(url).host}`);
    }
  }

  #check(reply: HttpReply, what: string): void {
    const code = classifyStatus(reply.status);
    if (code) throw new OtjError(code, `${what}: device answered HTTP ${reply.status}`, { details: { status: reply.status } });
    const status = /status="(\w+)"/.exec(reply.body)?.[1];
    if (status && status !== "OK") {
      const reason = /<Reason>([\s\S]{0,300}?)<\/Reason>/.exec(reply.body)?.[1] ?? "no reason given";
      throw new OtjError(/teams/i.test(reason) ? "OTJ_DEVICE_UNSUPPORTED" : "OTJ_DEVICE_REJECTED", `${what}: ${reason}`);
    }
  }

  async #webexPut(target: DeviceTarget, bookings: readonly DeviceBooking[], signal?: AbortSignal): Promise<void> {
    const deviceId = target.address.replace(/^webex:\/\//i, "");
    if (!this.#config.webex.token) throw new OtjError("OTJ_DEVICE_AUTH", "webex-cloud device without devices.webex.token");
    const url = `${this.#config.webex.baseUrl.replace(/\/+$/, "")}/v1/xapi/command/Bookings.Put`;
    let reply: HttpReply;
    try {
      reply = await httpRequest(url, {
        method: "POST",
        headers: { "content-type": "application/json", authorization: `Bearer ${this.#config.webex.token}` },
        body: JSON.stringify({ deviceId, arguments: {}, body: { Bookings: bookings.map(toCiscoBooking) } }),
        ca: this.#config.ca,
        timeoutMs: this.#config.timeoutMs,
        ...(signal ? { signal } : {}),
      });
    } catch (error) {
      throw classifyTransportError(error, "Webex cloud xAPI");
    }
    const code = classifyStatus(reply.status);
    if (code) throw new OtjError(code, `Webex cloud Bookings.Put: HTTP ${reply.status}`, { details: { status: reply.status } });
  }
}
