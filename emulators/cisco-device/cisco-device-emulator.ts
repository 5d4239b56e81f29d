/**
 * A Cisco RoomOS device emulator: putxml with Bookings Put/List/Clear,
 * UserInterface Message Alert, Dial; getxml; legacy bookingsputxml; session begin/end; and the
 * Webex cloud xAPI command route. Real HTTP(S) on loopback, with fault knobs for tests.
 */
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import http from "node:http";
import https from "node:https";
import type { AddressInfo } from "node:net";
import { parseJson, readBody } from "../shared/request-body.ts";

export interface EmulatedBooking {
  Id: string;
  Title: string;
  Number: string;
  Protocol: string;
  MeetingPlatform?: string;
  Privacy?: string;
  Organizer: { Name: string; Email?: string };
  Time: { StartTime: string; Duration: number; StartTimeBuffer?: number; EndTimeBuffer?: number };
  [key: string]: unknown;
}

export interface UiMessage {
  kind: "alert-display" | "alert-clear";
  title?: string;
  text?: string;
  duration?: number;
  at: number;
}

export interface DeviceKnobs {
  /** Answer every request with this status (401, 500, 503 ...). */
  failStatus: number | null;
  /** Delay before answering, in ms (tests use it with a short client timeout). */
  delayMs: number;
  /** Destroy the socket instead of answering. */
  dropConnections: boolean;
  /** Devices running Teams Rooms refuse Bookings Put and Clear. */
  teamsInstalled: boolean;
  /** Largest list accepted. */
  maxBookings: number;
}

export interface CiscoDeviceEmulatorOptions {
  tls?: boolean;
  users?: Record<string, { password: string; role: "Admin" | "User" }>;
  /** Bearer token accepted on the Webex cloud route. */
  webexToken?: string;
}

const FIXTURE_TLS = new URL("../../test/fixtures/tls/", import.meta.url);

function xmlEscape(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
}

function xmlUnescape(s: string): string {
  return s
    .replace(/&lt;/g, "<")
    .replace(/&gt;/g, ">")
    .replace(/&quot;/g, '"')
    .replace(/&apos;/g, "'")
    .replace(/&amp;/g, "&");
}

const REQUIRED = ["Id", "Title", "Number", "Protocol"] as const;

/** Validates a Bookings Put payload the way the device would; returns the reason or null. */
function validateBookings(list: unknown, max: number): string | null {
  if (!Array.isArray(list)) return "Bookings must be an array";
  if (list.length > max) return `at most ${max} bookings`;
  for (const [i, b] of list.entries()) {
    if (!b || typeof b !== "object") return `booking ${i} is not an object`;
    const o = b as Record<string, unknown>;
    for (const k of REQUIRED) if (typeof o[k] !== "string") return `booking ${i}: ${k} is required`;
    if (!["SIP", "H323", "ISDN", "IP", "Spark", "WebRTC", "None"].includes(o.Protocol as string)) return `booking ${i}: bad Protocol`;
    const org = o.Organizer as Record<string, unknown> | undefined;
    if (!org || typeof org.Name !== "string") return `booking ${i}: Organizer.Name is required`;
    const t = o.Time as Record<string, unknown> | undefined;
    if (!t || typeof t.StartTime !== "string" || !/Z$/.test(t.StartTime)) return `booking ${i}: Time.StartTime must be UTC`;
    if (typeof t.Duration !== "number" || !Number.isInteger(t.Duration) || t.Duration < 0) return `booking ${i}: Time.Duration must be whole minutes`;
    for (const k of ["StartTimeBuffer", "EndTimeBuffer"])
      if (t[k] !== undefined && (typeof t[k] !== "number" || (t[k] as number) < 0)) return `booking ${i}: Time.${k} must be seconds`;
  }
  return null;
}

export class CiscoDeviceEmulator {
  readonly knobs: DeviceKnobs = { failStatus: null, delayMs: 0, dropConnections: false, teamsInstalled: false, maxBookings: 100 };
  bookings: EmulatedBooking[] = [];
  /** Every booking id any accepted list ever held (what the room saw over time). */
  readonly everHeld = new Set<string>();
  readonly ui: UiMessage[] = [];
  readonly dials: Array<{ number: string; protocol: string | null; bookingId: string | null }> = [];
  /** Every request, for assertions: method, path, and whether it was authenticated. */
  readonly requests: Array<{ method: string; path: string; status: number }> = [];
  putCount = 0;
  #server: http.Server | https.Server | null = null;
  readonly #sessions = new Set<string>();
  readonly #users: Record<string, { password: string; role: "Admin" | "User" }>;
  readonly #options: CiscoDeviceEmulatorOptions;

  constructor(options: CiscoDeviceEmulatorOptions = {}) {
    this.#options = options;
    this.#users = options.users ?? { admin: { password: "secret", role: "Admin" } };
  }

  /** `https://127.0.0.1:<port>` (or http). */
  url = "";

  async start(): Promise<string> {
    const handler = (req: http.IncomingMessage, res: http.ServerResponse) => {
      void this.#handle(req, res);
    };
    this.#server = this.#options.tls
      ? https.createServer({ key: readFileSync(new URL("device-key.pem", FIXTURE_TLS)), cert: readFileSync(new URL("device-cert.pem", FIXTURE_TLS)) }, handler)
      : http.createServer(handler);
    await new Promise<void>((resolve) => this.#server!.listen(0, "127.0.0.1", resolve));
    const port = (this.#server.address() as AddressInfo).port;
    this.url = `${this.#options.tls ? "https" : "http"}://127.0.0.1:${port}`;
    return this.url;
  }

  async stop(): Promise<void> {
    if (!this.#server) return;
    this.#server.closeAllConnections?.();
    await new Promise<void>((resolve) => this.#server!.close(() => resolve()));
    this.#server = null;
  }

  #role(req: http.IncomingMessage): "Admin" | "User" | null {
    const cookie = /SecureSessionId=([A-Za-z0-9]+)/.exec(req.headers.cookie ?? "");
    if (cookie && this.#sessions.has(cookie[1]!)) return "Admin";
    const auth = /^Basic (.+)$/.exec(req.headers.authorization ?? "");
    if (!auth) return null;
    const [user, ...rest] = Buffer.from(auth[1]!, "base64").toString("utf8").split(":");
    const entry = this.#users[user ?? ""];
    return entry && entry.password === rest.join(":") ? entry.role : null;
  }

  #send(req: http.IncomingMessage, res: http.ServerResponse, status: number, body: string, type = "text/xml"): undefined {
    this.requests.push({ method: req.method ?? "", path: (req.url ?? "").split("?")[0]!, status });
    res.writeHead(status, { "content-type": type });
    res.end(body);
  }

  async #handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<undefined> {
    if (this.knobs.delayMs > 0) await new Promise((r) => setTimeout(r, this.knobs.delayMs));
    if (this.knobs.dropConnections) {
      this.requests.push({ method: req.method ?? "", path: req.url ?? "", status: 0 });
      req.socket.destroy();
      return;
    }
    if (this.knobs.failStatus !== null) return this.#send(req, res, this.knobs.failStatus, "<Error>injected</Error>");
    const path = (req.url ?? "").split("?")[0];
    let body: string;
    try {
      body = await readBody(req);
    } catch {
      return this.#send(req, res, 413, "<Error>too large</Error>");
    }
    if (path === "/v1/xapi/command/Bookings.Put") return this.#webexPut(req, res, body);
    const role = this.#role(req);
    if (role === null) return this.#send(req, res, 401, "<Error>Unauthorized</Error>");
    if (path === "/xmlapi/session/begin" && req.method === "POST") {
      const id = randomBytes(12).toString("hex");
      this.#sessions.add(id);
      this.requests.push({ method: "POST", path, status: 204 });
      res.writeHead(204, { "set-cookie": `SecureSessionId=${id}; Path=/; HttpOnly` });
      res.end();
      return;
    }
    if (path === "/xmlapi/session/end") return this.#send(req, res, 204, "");
    if (path === "/putxml" && req.method === "POST") return this.#putxml(req, res, body, role);
    if (path === "/bookingsputxml" && req.method === "POST") return this.#bookingsPutXml(req, res, body, role);
    if (path === "/getxml" && req.method === "GET") {
      const location = new URL(req.url ?? "", "http://x").searchParams.get("location") ?? "";
      if (location.startsWith("/Status/Bookings"))
        return this.#send(req, res, 200, `<Status><Bookings><Count>${this.bookings.length}</Count></Bookings></Status>`);
      return this.#send(req, res, 200, `<Status><SystemUnit><ProductId>Cisco Room Kit (emulated)</ProductId></SystemUnit></Status>`);
    }
    return this.#send(req, res, 404, "<Error>Not found</Error>");
  }

  #putxml(req: http.IncomingMessage, res: http.ServerResponse, body: string, role: "Admin" | "User"): undefined {
    if (/<Bookings>\s*<Put>/.test(body)) {
      if (role !== "Admin")
        return this.#send(req, res, 403, `<Command><BookingsPutResult status="Error"><Reason>Admin role required</Reason></BookingsPutResult></Command>`);
      if (this.knobs.teamsInstalled) return this.#result(req, res, "BookingsPutResult", "Error", "Not available while Microsoft Teams is installed");
      const m = /<body>([\s\S]*)<\/body>/.exec(body);
      let parsed: { Bookings?: unknown };
      try {
        parsed = JSON.parse(xmlUnescape(m?.[1] ?? "")) as { Bookings?: unknown };
      } catch {
        return this.#result(req, res, "BookingsPutResult", "Error", "Invalid JSON");
      }
      const problem = validateBookings(parsed.Bookings, this.knobs.maxBookings);
      if (problem) return this.#result(req, res, "BookingsPutResult", "Error", problem);
      this.#accept(parsed.Bookings as EmulatedBooking[]);
      return this.#result(req, res, "BookingsPutResult", "OK");
    }
    if (/<Bookings>\s*<Clear/.test(body)) {
      if (this.knobs.teamsInstalled) return this.#result(req, res, "BookingsClearResult", "Error", "Not available while Microsoft Teams is installed");
      this.bookings = [];
      return this.#result(req, res, "BookingsClearResult", "OK");
    }
    if (/<Bookings>\s*<List/.test(body)) {
      const items = this.bookings.map(
        (b, i) => `<Booking item="${i + 1}"><Id>${xmlEscape(b.Id)}</Id><Title>${xmlEscape(b.Title)}</Title><Number>${xmlEscape(b.Number)}</Number></Booking>`,
      );
      return this.#send(
        req,
        res,
        200,
        `<Command><BookingsListResult status="OK"><ResultInfo><TotalRows>${this.bookings.length}</TotalRows></ResultInfo>${items.join("")}</BookingsListResult></Command>`,
      );
    }
    const alert = /<UserInterface>\s*<Message>\s*<Alert>\s*<(Display|Clear)[^>]*>([\s\S]*?)<\/\1>|<UserInterface>\s*<Message>\s*<Alert>\s*<(Clear)\s*\/>/.exec(
      body,
    );
    if (alert) {
      const kind = (alert[1] ?? alert[3]) === "Display" ? "alert-display" : "alert-clear";
      const inner = alert[2] ?? "";
      const field = (n: string) => {
        const f = new RegExp(`<${n}>([\\s\\S]*?)</${n}>`).exec(inner);
        return f ? xmlUnescape(f[1]!) : undefined;
      };
      const duration = field("Duration");
      this.ui.push({
        kind,
        ...(field("Title") !== undefined ? { title: field("Title") } : {}),
        ...(field("Text") !== undefined ? { text: field("Text") } : {}),
        ...(duration !== undefined ? { duration: Number(duration) } : {}),
        at: Date.now(),
      });
      return this.#result(req, res, kind === "alert-display" ? "MessageAlertDisplayResult" : "MessageAlertClearResult", "OK");
    }
    const dial = /<Dial[^>]*>([\s\S]*?)<\/Dial>/.exec(body);
    if (dial) {
      const f = (n: string) => new RegExp(`<${n}>([\\s\\S]*?)</${n}>`).exec(dial[1]!)?.[1] ?? null;
      const number = f("Number");
      if (!number) return this.#result(req, res, "DialResult", "Error", "Number is required");
      this.dials.push({ number: xmlUnescape(number), protocol: f("Protocol"), bookingId: f("BookingId") });
      return this.#result(req, res, "DialResult", "OK");
    }
    return this.#result(req, res, "Result", "Error", "Unknown command");
  }

  #accept(list: EmulatedBooking[]): void {
    this.bookings = list;
    this.putCount++;
    for (const b of list) this.everHeld.add(b.Id);
  }

  #result(req: http.IncomingMessage, res: http.ServerResponse, element: string, status: "OK" | "Error", reason?: string): undefined {
    const inner = reason ? `<Reason>${xmlEscape(reason)}</Reason>` : "";
    this.#send(req, res, 200, `<?xml version="1.0"?><Command><${element} status="${status}">${inner}</${element}></Command>`);
  }

  #bookingsPutXml(req: http.IncomingMessage, res: http.ServerResponse, body: string, role: "Admin" | "User"): undefined {
    if (role !== "Admin") return this.#send(req, res, 403, "<Error>Admin role required</Error>");
    const list: EmulatedBooking[] = [];
    for (const m of body.matchAll(/<Booking item="\d+">([\s\S]*?)<\/Booking>/g)) {
      const f = (n: string) => new RegExp(`<${n} item="1">([\\s\\S]*?)</${n}>`).exec(m[1]!)?.[1] ?? "";
      const start = f("StartTime");
      const end = f("EndTime");
      list.push({
        Id: xmlUnescape(f("Id")),
        Title: xmlUnescape(f("Title")),
        Number: xmlUnescape(f("Number")),
        Protocol: f("Protocol"),
        Organizer: { Name: `${xmlUnescape(f("FirstName"))} ${xmlUnescape(f("LastName"))}`.trim() },
        Time: {
          StartTime: start,
          Duration: Math.round((Date.parse(end) - Date.parse(start)) / 60000),
          StartTimeBuffer: Number(f("StartTimeBuffer") || 0),
          EndTimeBuffer: Number(f("EndTimeBuffer") || 0),
        },
      });
    }
    const problem = validateBookings(list, this.knobs.maxBookings);
    if (problem) return this.#send(req, res, 400, `<Error>${xmlEscape(problem)}</Error>`);
    this.#accept(list);
    return this.#send(req, res, 200, "<success />");
  }

  #webexPut(req: http.IncomingMessage, res: http.ServerResponse, body: string): undefined {
    if (!this.#options.webexToken || req.headers.authorization !== `Bearer ${this.#options.webexToken}`) {
      return this.#send(req, res, 401, JSON.stringify({ message: "The request requires a valid access token." }), "application/json");
    }
    const json = parseJson<{ deviceId?: string; body?: { Bookings?: unknown } }>(body);
    if (!json.ok) return this.#send(req, res, 400, JSON.stringify({ message: "Invalid JSON" }), "application/json");
    const parsed = json.value;
    const problem = validateBookings(parsed.body?.Bookings, this.knobs.maxBookings);
    if (problem || !parsed.deviceId) return this.#send(req, res, 400, JSON.stringify({ message: problem ?? "deviceId is required" }), "application/json");
    this.#accept(parsed.body!.Bookings as EmulatedBooking[]);
    return this.#send(req, res, 200, JSON.stringify({ deviceId: parsed.deviceId, result: {} }), "application/json");
  }
}
