/**
 * An Exchange Server EWS emulator over real HTTP (SOAP 1.1 at `/EWS/Exchange.asmx`):
 * FindItem with a CalendarView (recurring series expanded into occurrences and exceptions,
 * MaxEntriesReturned with IncludesLastItemInRange), GetItem (HTML body, UID, organizer,
 * sensitivity, cancellation, response), GetRoomLists and GetRooms.
 *
 * Access as Exchange grants it: Basic auth of one service account (or an OAuth bearer token from
 * `/token`, client credentials); with `access: "impersonation"` (ApplicationImpersonation role)
 * mailbox requests need the `ExchangeImpersonation` header, with `access: "delegate"` they must
 * not carry it and the account needs delegate rights on the room. Faults as Exchange sends them:
 * ErrorNonExistentMailbox, ErrorImpersonateUserDenied (SOAP faults, HTTP 500), ErrorAccessDenied
 * (response message), ErrorServerBusy with BackOffMilliseconds (fault), and injected ones.
 *
 * Size (a little over 400 lines): the SOAP operations share the access checks and the XML
 * builder of this class; the mailbox model is in ews-mailbox.ts.
 */

import { randomBytes } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { createServer as createTlsServer } from "node:https";
import type { AddressInfo } from "node:net";
import { XMLBuilder, XMLParser } from "fast-xml-parser";
import { NtlmServer } from "./ews-ntlm.ts";
import { EmulatedMailbox, type EventInput, type StoredEvent, type ViewItem } from "./ews-mailbox.ts";
import { readBodyOr413 } from "../shared/request-body.ts";

export type { EventInput, StoredEvent } from "./ews-mailbox.ts";

const NS_SOAP = "http://schemas.xmlsoap.org/soap/envelope/";
const NS_M = "http://schemas.microsoft.com/exchange/services/2006/messages";
const NS_T = "http://schemas.microsoft.com/exchange/services/2006/types";

export interface EwsEmulatorOptions {
  readonly clock?: { now(): Date };
  readonly username?: string;
  readonly password?: string;
  /** The rights of the service account (default impersonation). */
  readonly access?: "impersonation" | "delegate";
  /** Serve https with this key and certificate (PEM) instead of http. */
  readonly tls?: { readonly key: string; readonly cert: string };
  /** `ntlm`: IIS's NTLM (per connection) instead of Basic; OAuth bearer tokens work either way. */
  readonly auth?: "basic" | "ntlm";
}

/** An injected failure: a SOAP fault (`responseCode`), a bare HTTP status, or a dropped connection. */
export interface EwsFault {
  readonly operation?: string;
  readonly mailbox?: string;
  /** Let this many matching requests through first. */
  readonly after?: number;
  /** How many matching requests fail (default every one until removed). */
  readonly times?: number;
  /** EWS response code of the fault (e.g. `ErrorServerBusy`). */
  readonly responseCode?: string;
  readonly backOffMs?: number;
  /** HTTP status (default 500 for a fault; without `responseCode`: a bare error, no SOAP). */
  readonly status?: number;
  readonly drop?: boolean;
}

export interface EwsRequestRecord {
  readonly operation: string;
  readonly mailbox: string | null;
  readonly impersonated: string | null;
  readonly authorization: "basic" | "ntlm" | "bearer" | null;
}

interface ActiveFault {
  readonly fault: EwsFault;
  seen: number;
  hits: number;
}

interface Room {
  readonly address: string;
  readonly displayName: string;
  readonly roomList: { address: string; name: string } | null;
}

class SoapFault extends Error {
  constructor(
    readonly responseCode: string,
    message: string,
    readonly backOffMs: number | null = null,
  ) {
    super(message);
  }
}

type X = Record<string, unknown>;

const parser = new XMLParser({
  removeNSPrefix: true,
  ignoreAttributes: false,
  attributeNamePrefix: "@",
  parseTagValue: false,
  htmlEntities: true,
  isArray: (name) => name === "ItemId" || name === "FieldURI",
});
const builder = new XMLBuilder({ ignoreAttributes: false, attributeNamePrefix: "@", suppressEmptyNode: true, suppressBooleanAttributes: false });

function el(node: unknown, name: string): X | null {
  const v = node !== null && typeof node === "object" ? (node as X)[name] : undefined;
  const first = Array.isArray(v) ? v[0] : v;
  return first !== null && typeof first === "object" ? (first as X) : null;
}

function txt(node: unknown, name: string): string | null {
  const v = node !== null && typeof node === "object" ? (node as X)[name] : undefined;
  if (typeof v === "string") return v;
  const t = v !== null && typeof v === "object" ? (v as X)["#text"] : undefined;
  return typeof t === "string" ? t : null;
}

export class EwsEmulator {
  readonly username: string;
  readonly password: string;
  readonly access: "impersonation" | "delegate";
  /** With `auth: "ntlm"`: the handshakes (`ntlm.handshakes`). */
  readonly ntlm: NtlmServer | null;
  /** Every SOAP request received, in order. */
  readonly requests: EwsRequestRecord[] = [];
  /** Wall-clock wait before answering each authenticated SOAP request (benchmarks; default 0). */
  latencyMs = 0;
  readonly #clock: { now(): Date };
  readonly #mailboxes = new Map<string, EmulatedMailbox>();
  readonly #rooms: Room[] = [];
  readonly #impersonationDenied = new Set<string>();
  readonly #delegateDenied = new Set<string>();
  readonly #tokens = new Set<string>();
  #faults: ActiveFault[] = [];
  #seq = 0;
  #changes = 0;
  #server: Server | null = null;
  #origin = "";

  private constructor(options: EwsEmulatorOptions) {
    this.#clock = options.clock ?? { now: () => new Date() };
    this.username = options.username ?? "CONTOSO\\svc-otj";
    this.password = options.password ?? "emulator-password";
    this.access = options.access ?? "impersonation";
    this.ntlm = options.auth === "ntlm" ? new NtlmServer(this.username, this.password, this.#clock) : null;
  }

  static async start(options: EwsEmulatorOptions = {}): Promise<EwsEmulator> {
    const emulator = new EwsEmulator(options);
    const handler = (req: IncomingMessage, res: ServerResponse) => {
      emulator.#onHttp(req, res).catch(() => {
        if (!res.headersSent) res.writeHead(500).end();
        else res.destroy();
      });
    };
    const server: Server = options.tls ? createTlsServer({ key: options.tls.key, cert: options.tls.cert }, handler) : createServer(handler);
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    emulator.#origin = `${options.tls ? "https" : "http"}://127.0.0.1:${(server.address() as AddressInfo).port}`;
    emulator.#server = server;
    return emulator;
  }

  /** The EWS endpoint (`ews.url`). */
  get url(): string {
    return `${this.#origin}/EWS/Exchange.asmx`;
  }

  /** The OAuth token endpoint (`ews.tokenUrl`); client id = username, secret = password. */
  get tokenUrl(): string {
    return `${this.#origin}/token`;
  }

  async stop(): Promise<void> {
    const server = this.#server;
    this.#server = null;
    if (!server) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  // ---- data -------------------------------------------------------------------------------------

  /** A room mailbox, optionally in a room list. */
  addRoom(room: { address: string; displayName?: string; roomList?: { address: string; name: string } }): EmulatedMailbox {
    const address = room.address.toLowerCase();
    this.#rooms.push({
      address,
      displayName: room.displayName ?? address,
      roomList: room.roomList ? { address: room.roomList.address.toLowerCase(), name: room.roomList.name } : null,
    });
    return this.mailbox(address);
  }

  /** The mailbox of `address`, created when new. */
  mailbox(address: string): EmulatedMailbox {
    const key = address.toLowerCase();
    let mailbox = this.#mailboxes.get(key);
    if (!mailbox) {
      mailbox = new EmulatedMailbox(key, {
        seq: () => ++this.#seq,
        changeKey: () => `DwAAABYAAAA${Buffer.from(`ck${++this.#changes}`).toString("base64")}`,
        now: () => this.#clock.now().toISOString(),
      });
      this.#mailboxes.set(key, mailbox);
    }
    return mailbox;
  }

  createEvent(address: string, input: EventInput): StoredEvent {
    return this.mailbox(address).create(input);
  }

  /** The account loses its impersonation right for this mailbox (a management scope excludes it). */
  denyImpersonation(address: string): void {
    this.#impersonationDenied.add(address.toLowerCase());
  }

  /** The account has no delegate rights on this mailbox. */
  denyDelegate(address: string): void {
    this.#delegateDenied.add(address.toLowerCase());
  }

  addFault(fault: EwsFault): { readonly hits: number; remove(): void } {
    const active: ActiveFault = { fault: { ...fault, mailbox: fault.mailbox?.toLowerCase() }, seen: 0, hits: 0 };
    this.#faults.push(active);
    return {
      get hits() {
        return active.hits;
      },
      remove: () => {
        this.#faults = this.#faults.filter((f) => f !== active);
      },
    };
  }

  // ---- HTTP -------------------------------------------------------------------------------------

  async #onHttp(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const body = await readBodyOr413(req, res);
    if (body === null) return;
    const path = (req.url ?? "").split("?")[0];
    if (req.method === "POST" && path === "/token") return this.#token(body, res);
    if (req.method !== "POST" || path?.toLowerCase() !== "/ews/exchange.asmx") {
      res.writeHead(404).end();
      return;
    }
    const authorization = this.#authenticate(req);
    if (authorization === null || typeof authorization === "object") {
      res.writeHead(401, authorization ?? { "WWW-Authenticate": 'Basic realm="mail.contoso.example"' }).end();
      return;
    }
    const tree = /<!DOCTYPE/i.test(body) ? null : (parser.parse(body) as X);
    const envelope = el(tree, "Envelope");
    const soapBody = el(envelope, "Body");
    const operation = soapBody ? Object.keys(soapBody).find((k) => !k.startsWith("@")) : undefined;
    if (!operation) {
      this.#send(res, 500, this.#faultXml("ErrorSchemaValidation", "The request failed schema validation."));
      return;
    }
    const request = el(soapBody, operation);
    const impersonated = txt(el(el(el(envelope, "Header"), "ExchangeImpersonation"), "ConnectingSID"), "SmtpAddress")?.toLowerCase() ?? null;
    const target = this.#targetMailbox(operation, request, impersonated);
    this.requests.push({ operation, mailbox: target, impersonated, authorization });
    if (this.latencyMs > 0) await new Promise((resolve) => setTimeout(resolve, this.latencyMs));
    const fault = this.#takeFault(operation, target);
    if (fault) {
      if (fault.drop) {
        res.destroy();
        return;
      }
      if (fault.responseCode)
        this.#send(res, fault.status ?? 500, this.#faultXml(fault.responseCode, `Injected ${fault.responseCode}.`, fault.backOffMs ?? null));
      else res.writeHead(fault.status ?? 503, { "Content-Type": "text/html" }).end("<html><body>Service Unavailable</body></html>");
      return;
    }
    try {
      const messages = this.#handle(operation, request, impersonated);
      const reply = {
        "s:Envelope": {
          "@xmlns:s": NS_SOAP,
          "s:Header": {
            "h:ServerVersionInfo": { "@xmlns:h": NS_T, "@MajorVersion": 15, "@MinorVersion": 2, "@MajorBuildNumber": 1544, "@Version": "V2017_07_11" },
          },
          "s:Body": {
            [`m:${operation}Response`]: { "@xmlns:m": NS_M, "@xmlns:t": NS_T, "m:ResponseMessages": { [`m:${operation}ResponseMessage`]: messages } },
          },
        },
      };
      this.#send(res, 200, `<?xml version="1.0" encoding="utf-8"?>${builder.build(reply)}`);
    } catch (error) {
      if (!(error instanceof SoapFault)) throw error;
      this.#send(res, 500, this.#faultXml(error.responseCode, error.message, error.backOffMs));
    }
  }

  #send(res: ServerResponse, status: number, xml: string): void {
    res.writeHead(status, { "Content-Type": "text/xml; charset=utf-8" }).end(xml);
  }

  /** How the request is authenticated, or null / the 401's headers when it is not. */
  #authenticate(req: IncomingMessage): "basic" | "ntlm" | "bearer" | Record<string, string> | null {
    const header = req.headers.authorization;
    const [scheme, value = ""] = (header ?? "").split(" ", 2);
    if (scheme === "Bearer") return this.#tokens.has(value) ? "bearer" : null;
    if (this.ntlm !== null) {
      const verdict = this.ntlm.check(req.socket, header);
      return verdict.ok ? "ntlm" : verdict.headers;
    }
    if (!header) return null;
    if (scheme !== "Basic") return null;
    const decoded = Buffer.from(value, "base64").toString("utf8");
    return decoded === `${this.username}:${this.password}` ? "basic" : null;
  }

  #token(body: string, res: ServerResponse): void {
    const form = new URLSearchParams(body);
    if (form.get("grant_type") !== "client_credentials" || form.get("client_id") !== this.username || form.get("client_secret") !== this.password) {
      res
        .writeHead(401, { "Content-Type": "application/json" })
        .end(JSON.stringify({ error: "invalid_client", error_description: "AADSTS7000215: Invalid client secret provided." }));
      return;
    }
    const token = randomBytes(24).toString("base64url");
    this.#tokens.add(token);
    res.writeHead(200, { "Content-Type": "application/json" }).end(JSON.stringify({ token_type: "Bearer", expires_in: 3599, access_token: token }));
  }

  #faultXml(code: string, message: string, backOffMs: number | null = null): string {
    const detail: X = {
      "e:ResponseCode": { "@xmlns:e": "http://schemas.microsoft.com/exchange/services/2006/errors", "#text": code },
      "e:Message": { "@xmlns:e": "http://schemas.microsoft.com/exchange/services/2006/errors", "#text": message },
    };
    if (backOffMs !== null) detail["t:MessageXml"] = { "@xmlns:t": NS_T, "t:Value": { "@Name": "BackOffMilliseconds", "#text": String(backOffMs) } };
    const fault = {
      "s:Envelope": {
        "@xmlns:s": NS_SOAP,
        "s:Body": {
          "s:Fault": {
            faultcode: { "@xmlns:a": "http://schemas.microsoft.com/exchange/services/2006/types", "#text": `a:${code}` },
            faultstring: { "@xml:lang": "en-US", "#text": message },
            detail,
          },
        },
      },
    };
    return `<?xml version="1.0" encoding="utf-8"?>${builder.build(fault)}`;
  }

  #takeFault(operation: string, mailbox: string | null): EwsFault | null {
    for (const active of this.#faults) {
      const { fault } = active;
      if (fault.operation !== undefined && fault.operation !== operation) continue;
      if (fault.mailbox !== undefined && fault.mailbox !== mailbox) continue;
      active.seen++;
      if (active.seen <= (fault.after ?? 0)) continue;
      if (fault.times !== undefined && active.hits >= fault.times) continue;
      active.hits++;
      return fault;
    }
    return null;
  }

  /** The mailbox a request reads: the folder's Mailbox, else the impersonated one. */
  #targetMailbox(operation: string, request: X | null, impersonated: string | null): string | null {
    if (operation === "FindItem") {
      const folder = el(el(request, "ParentFolderIds"), "DistinguishedFolderId");
      return txt(el(folder, "Mailbox"), "EmailAddress")?.toLowerCase() ?? impersonated;
    }
    return impersonated;
  }

  // ---- operations -------------------------------------------------------------------------------

  #handle(operation: string, request: X | null, impersonated: string | null): X | X[] {
    if (impersonated !== null) {
      if (this.access !== "impersonation")
        throw new SoapFault("ErrorImpersonateUserDenied", "The account does not have permission to impersonate the requested user.");
      if (!this.#mailboxes.has(impersonated)) throw new SoapFault("ErrorNonExistentMailbox", `The SMTP address has no mailbox associated with it.`);
      if (this.#impersonationDenied.has(impersonated))
        throw new SoapFault("ErrorImpersonateUserDenied", "The account does not have permission to impersonate the requested user.");
    }
    switch (operation) {
      case "FindItem":
        return this.#findItem(request, impersonated);
      case "GetItem":
        return this.#getItem(request, impersonated);
      case "GetRoomLists":
        return this.#getRoomLists();
      case "GetRooms":
        return this.#getRooms(request);
      default:
        throw new SoapFault("ErrorInvalidRequest", `The operation ${operation} is not supported by the emulator.`);
    }
  }

  /** Whether the account may read `address` in this request; an error message when not. */
  #mayRead(address: string, impersonated: string | null): X | null {
    if (!this.#mailboxes.has(address)) return error("ErrorNonExistentMailbox", "The SMTP address has no mailbox associated with it.");
    if (this.access === "impersonation") {
      if (impersonated !== address) return error("ErrorAccessDenied", "Access is denied. Check credentials and try again.");
    } else if (this.#delegateDenied.has(address)) {
      return error("ErrorAccessDenied", "Access is denied. Check credentials and try again.");
    }
    return null;
  }

  #findItem(request: X | null, impersonated: string | null): X {
    const folder = el(el(request, "ParentFolderIds"), "DistinguishedFolderId");
    const address = txt(el(folder, "Mailbox"), "EmailAddress")?.toLowerCase() ?? impersonated;
    if (address === null || folder?.["@Id"] !== "calendar") return error("ErrorInvalidRequest", "The request is invalid.");
    const denied = this.#mayRead(address, impersonated);
    if (denied) return denied;
    const view = el(request, "CalendarView");
    const from = Date.parse(String(view?.["@StartDate"] ?? ""));
    const to = Date.parse(String(view?.["@EndDate"] ?? ""));
    if (Number.isNaN(from) || Number.isNaN(to) || to <= from) return error("ErrorInvalidRequest", "The CalendarView start and end dates are invalid.");
    if (to - from > 2 * 365 * 86_400_000 + 86_400_000) return error("ErrorCalendarViewRangeTooBig", "The calendar view range exceeds the maximum allowed.");
    const max = Number(view?.["@MaxEntriesReturned"] ?? 1000);
    const inView = this.mailbox(address)
      .expand()
      .filter((item) => Date.parse(item.data.start) < to && Date.parse(item.data.end) > from);
    if (inView.length > 1000 && !(max <= 1000)) return error("ErrorExceededFindCountLimit", "The view exceeds the find count limit.");
    const page = inView.slice(0, max);
    return {
      "@ResponseClass": "Success",
      "m:ResponseCode": "NoError",
      "m:RootFolder": {
        "@TotalItemsInView": inView.length,
        "@IncludesLastItemInRange": page.length === inView.length ? "true" : "false",
        "t:Items": {
          "t:CalendarItem": page.map((item) => ({ "t:ItemId": { "@Id": item.id, "@ChangeKey": item.changeKey }, "t:Start": instant(item.data.start) })),
        },
      },
    };
  }

  #getItem(request: X | null, impersonated: string | null): X[] {
    const ids = (el(request, "ItemIds")?.["ItemId"] as X[] | undefined) ?? [];
    return ids.map((ref) => {
      const id = String(ref["@Id"] ?? "");
      const owner = [...this.#mailboxes.values()].find((m) => m.find(id) !== null) ?? null;
      if (owner === null) return error("ErrorItemNotFound", "The specified object was not found in the store.");
      const denied = this.#mayRead(owner.address, impersonated);
      if (denied) return denied;
      const item = owner.find(id)!;
      return { "@ResponseClass": "Success", "m:ResponseCode": "NoError", "m:Items": { "t:CalendarItem": renderItem(item) } };
    });
  }

  #getRoomLists(): X {
    const lists = new Map<string, string>();
    for (const r of this.#rooms) if (r.roomList) lists.set(r.roomList.address, r.roomList.name);
    return {
      "@ResponseClass": "Success",
      "m:ResponseCode": "NoError",
      "m:RoomLists": {
        "t:Address": [...lists].map(([address, name]) => ({ "t:Name": name, "t:EmailAddress": address, "t:RoutingType": "SMTP", "t:MailboxType": "PublicDL" })),
      },
    };
  }

  #getRooms(request: X | null): X {
    const list = txt(el(request, "RoomList"), "EmailAddress")?.toLowerCase();
    const members = this.#rooms.filter((r) => r.roomList?.address === list);
    if (members.length === 0 && ![...this.#rooms].some((r) => r.roomList?.address === list)) {
      return error("ErrorNameResolutionNoResults", "No results were found.");
    }
    return {
      "@ResponseClass": "Success",
      "m:ResponseCode": "NoError",
      "m:Rooms": {
        "t:Room": members.map((r) => ({
          "t:Id": { "t:Name": r.displayName, "t:EmailAddress": r.address, "t:RoutingType": "SMTP", "t:MailboxType": "Mailbox" },
        })),
      },
    };
  }
}

function error(code: string, message: string): X {
  return { "@ResponseClass": "Error", "m:MessageText": message, "m:ResponseCode": code, "m:DescriptiveLinkKey": 0 };
}

/** Exchange writes UTC instants without milliseconds. */
function instant(iso: string): string {
  return `${new Date(iso).toISOString().slice(0, 19)}Z`;
}

function renderItem(item: ViewItem): X {
  const d = item.data;
  const person = (name: string, email: string) => ({
    "t:Mailbox": { "t:Name": name, "t:EmailAddress": email, "t:RoutingType": "SMTP", "t:MailboxType": "Mailbox" },
  });
  return {
    "t:ItemId": { "@Id": item.id, "@ChangeKey": item.changeKey },
    "t:Subject": d.subject ?? "",
    "t:Sensitivity": d.sensitivity ?? "Normal",
    "t:Body": { "@BodyType": d.bodyType ?? "HTML", "@IsTruncated": "false", "#text": d.body ?? "" },
    "t:LastModifiedTime": instant(item.event.lastModified),
    "t:UID": item.event.uid,
    ...(item.recurrenceId !== null ? { "t:RecurrenceId": instant(item.recurrenceId) } : {}),
    "t:Start": instant(d.start),
    "t:End": instant(d.end),
    "t:IsAllDayEvent": d.allDay ? "true" : "false",
    "t:IsCancelled": item.event.cancelled ? "true" : "false",
    "t:CalendarItemType": item.type,
    "t:MyResponseType": d.response ?? "Accept",
    ...(d.organizer ? { "t:Organizer": person(d.organizer.name, d.organizer.email) } : {}),
    ...(d.location ? { "t:Location": d.location } : {}),
    ...(d.attendees && d.attendees.length > 0 ? { "t:RequiredAttendees": { "t:Attendee": d.attendees.map((a) => person(a, a)) } } : {}),
    ...(d.joinUrl ? { "t:JoinOnlineMeetingUrl": d.joinUrl } : {}),
  };
}
