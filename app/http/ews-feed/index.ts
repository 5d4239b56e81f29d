/**
 * The EWS feed (docs/ews-feed.md): an Exchange-compatible calendar that room systems of the `ews`
 * family (Poly and others) read themselves. `POST /EWS/Exchange.asmx` answers the SOAP 1.1
 * operations these devices use (GetFolder, FindItem with a CalendarView, GetItem, SyncFolderItems,
 * ResolveNames); `POST /autodiscover/autodiscover.xml` answers POX Autodiscover and
 * `POST /autodiscover/autodiscover.svc` SOAP Autodiscover (GetUserSettings). Basic auth with the room's
 * device credentials (user = the room mailbox); each room sees only its own planned meetings,
 * subject after the privacy rules, the dial string in Location and in a join block in the body.
 * A registered fastify plugin, self-contained: its own limits, errors and metrics.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { Counter } from "prom-client";
import type { Clock } from "../../../core/clock.ts";
import type { Logger } from "../../../core/logger.ts";
import type { Meeting, Room, Store } from "../../../core/ports/store.ts";
import type { EngineMetrics } from "../../metrics.ts";
import { FailureLimiter, RollingRateLimiter } from "../auth.ts";
import {
  autodiscoverError,
  autodiscoverResponse,
  calendarFolderId,
  calendarItem,
  DEFAULT_FEED_OPTIONS,
  envelope,
  type FeedOptions,
  failure,
  itemIdOf,
  type RenderedItem,
  responseMessages,
  soapFault,
  success,
  xml,
} from "./render.ts";
import type { FetchRecorder } from "../../alarms/device-fetch.ts";
import { getUserSettingsResponse, readGetUserSettings, SOAP_AUTODISCOVER_PATH } from "./autodiscover-soap.ts";
import { asArray, attr, child, EWS_BODY_LIMIT, parseAutodiscoverRequest, parseSoapEnvelope, SoapFault, text, type XmlNode } from "./soap.ts";
import { decodeSyncState, InvalidSyncState, MAX_CHANGES, syncChanges } from "./sync.ts";
import { parseEwsDateTime, requestedZone } from "./time-zone.ts";

export const EWS_PATH = "/EWS/Exchange.asmx";
export const AUTODISCOVER_PATH = "/autodiscover/autodiscover.xml";
/** Most items one FindItem returns, whatever MaxEntriesReturned says. */
const MAX_ITEMS = 500;
const OPERATIONS = new Set(["GetFolder", "FindItem", "GetItem", "ResolveNames", "SyncFolderItems"]);

export interface EwsFeedDeps {
  store: Store;
  clock: Clock;
  logger: Logger;
  metrics: EngineMetrics;
  settings: { endBufferMinutes: number; windowFutureDays: number };
  /** Requests per rolling minute per device (default 60: a poll is several requests). */
  rateLimit?: number;
  /** Failed sign-ins per client address per minute before it must wait (default 20). */
  failureLimit?: number;
  /** `http.publicUrl`: the origin Autodiscover names; else the request's own. */
  publicUrl?: string | null;
  feed?: Partial<FeedOptions>;
  /** Where a device's fetch is recorded (the server's one recorder, shared with the pull API). */
  fetches: FetchRecorder;
}

function requestCounter(metrics: EngineMetrics): Counter<"operation" | "result"> {
  const name = "otj_ews_requests_total";
  const existing = metrics.registry.getSingleMetric(name);
  if (existing) return existing as Counter<"operation" | "result">;
  return new Counter({ name, help: "EWS feed requests by operation and result", labelNames: ["operation", "result"], registers: [metrics.registry] });
}

/** `Basic base64(user:password)`; the user may carry a `DOMAIN\` prefix. */
function basicCredentials(header: string | undefined): { user: string; password: string } | null {
  const m = /^Basic\s+([A-Za-z0-9+/=]{1,1024})\s*$/i.exec(header ?? "");
  if (!m) return null;
  const decoded = Buffer.from(m[1]!, "base64").toString("utf8");
  const colon = decoded.indexOf(":");
  if (colon <= 0) return null;
  const user = decoded.slice(0, colon);
  return { user: user.includes("\\") ? user.slice(user.lastIndexOf("\\") + 1) : user, password: decoded.slice(colon + 1) };
}

export async function ewsFeed(app: FastifyInstance, deps: EwsFeedDeps): Promise<void> {
  const options: FeedOptions = { ...DEFAULT_FEED_OPTIONS, ...deps.feed };
  const counter = requestCounter(deps.metrics);
  const limiter = new RollingRateLimiter(deps.rateLimit ?? 60, 60_000);
  const guesses = new FailureLimiter(deps.failureLimit ?? 20, 60_000);
  const log = deps.logger.child({ component: "ews-feed" });
  const fetches = deps.fetches;
  const open = { bodyLimit: EWS_BODY_LIMIT };

  const sendFault = (reply: FastifyReply, fault: SoapFault) =>
    reply
      .code(fault.httpStatus)
      .header("content-type", "text/xml; charset=utf-8")
      .send(soapFault(fault.faultCode, fault.responseCode, fault.message));

  // SOAP and POX bodies as text (the server may have a catch-all parser; these are the feed's own).
  app.addContentTypeParser(["text/xml", "application/xml", "application/soap+xml"], { parseAs: "string" }, (_req, body, done) => done(null, body));
  // Errors of these routes (an oversized body among them) are SOAP faults, never JSON.
  app.setErrorHandler((error: Error & { statusCode?: number }, req, reply) => {
    const status = error.statusCode ?? 500;
    counter.inc({ operation: "unknown", result: "fault" });
    if (status >= 500) log.error({ err: error, route: req.routeOptions.url }, "EWS request failed");
    const fault =
      status === 413
        ? new SoapFault("ErrorInvalidRequest", `the request is larger than ${EWS_BODY_LIMIT} bytes`, "Client", 413)
        : status < 500
          ? new SoapFault("ErrorInvalidRequest", "invalid request", "Client", status)
          : new SoapFault("ErrorInternalServerError", "internal error", "Server", 500);
    return sendFault(reply, fault);
  });

  /** The device's room, or a reply already sent (401 / 429 / 503). */
  const authenticate = async (req: FastifyRequest, reply: FastifyReply, operation: string): Promise<Room | null> => {
    const nowMs = deps.clock.now().getTime();
    const key = `ews ${req.ip}`;
    const wait = guesses.waitMs(key, nowMs);
    if (wait > 0) {
      counter.inc({ operation, result: "rate_limited" });
      reply
        .code(429)
        .header("retry-after", String(Math.ceil(wait / 1000)))
        .send();
      return null;
    }
    const credentials = basicCredentials(req.headers.authorization);
    let room: Room | null = null;
    if (credentials !== null) {
      try {
        room = await deps.store.ewsDevices.verify(credentials.user, credentials.password);
      } catch (error) {
        log.error({ err: error }, "EWS device check failed");
        counter.inc({ operation, result: "error" });
        reply
          .code(503)
          .header("retry-after", "5")
          .header("content-type", "text/xml; charset=utf-8")
          .send(soapFault("Server", "ErrorServerBusy", "temporarily unavailable"));
        return null;
      }
      if (room === null) guesses.fail(key, nowMs);
    }
    if (room === null) {
      counter.inc({ operation, result: "unauthorized" });
      reply.code(401).header("www-authenticate", 'Basic realm="otj"').send();
      return null;
    }
    const over = limiter.take(room.id, nowMs);
    if (over > 0) {
      counter.inc({ operation, result: "rate_limited" });
      reply
        .code(429)
        .header("retry-after", String(Math.ceil(over / 1000)))
        .header("content-type", "text/xml; charset=utf-8")
        .send(soapFault("Server", "ErrorServerBusy", "more than the allowed requests per minute for this device"));
      return null;
    }
    return room;
  };

  /** The EWS URL Autodiscover names: on `http.publicUrl`, else on the request's own origin. */
  const ewsUrlOf = (req: FastifyRequest) => `${deps.publicUrl ? deps.publicUrl.replace(/\/+$/, "") : `${req.protocol}://${req.host}`}${EWS_PATH}`;

  const bodyText = (req: FastifyRequest) => (typeof req.body === "string" ? req.body : Buffer.isBuffer(req.body) ? req.body.toString("utf8") : "");

  /** The room's meetings the device may see: not cancelled or declined, in the window. */
  const visible = async (room: Room): Promise<Meeting[]> => {
    const now = deps.clock.now();
    const from = new Date(now.getTime() - deps.settings.endBufferMinutes * 60_000);
    const to = new Date(now.getTime() + deps.settings.windowFutureDays * 86_400_000);
    return (await deps.store.meetings.list(room.id, { from, to }))
      .filter((m) => !m.cancelled && !m.declined)
      .sort((a, b) => a.start.getTime() - b.start.getTime());
  };

  const isOurCalendar = (room: Room, request: XmlNode, container: string): boolean => {
    const ids = child(request, container);
    if (ids === undefined) return false;
    const distinguished = asArray(ids["DistinguishedFolderId"]);
    const plain = asArray(ids["FolderId"]);
    if (distinguished.length + plain.length !== 1) return false;
    if (distinguished.length === 1) {
      const id = attr(distinguished[0], "Id");
      const mailbox = text(child(distinguished[0], "Mailbox"), "EmailAddress");
      return id === "calendar" && (mailbox === undefined || mailbox.trim().toLowerCase() === room.mailbox);
    }
    return attr(plain[0], "Id") === calendarFolderId(room.id);
  };

  const operations: Record<string, (room: Room, request: XmlNode, header: XmlNode) => Promise<string>> = {
    GetFolder: async (room, request) => {
      if (!isOurCalendar(room, request, "FolderIds"))
        return responseMessages("GetFolder", [failure("GetFolder", "ErrorFolderNotFound", "only the room's calendar folder is served", "<m:Folders/>")]);
      const count = (await visible(room)).length;
      const id = calendarFolderId(room.id);
      return responseMessages("GetFolder", [
        success(
          "GetFolder",
          `<m:Folders><t:CalendarFolder><t:FolderId Id="${id}" ChangeKey="AgAAABYA"/><t:FolderClass>IPF.Appointment</t:FolderClass><t:DisplayName>Calendar</t:DisplayName><t:TotalCount>${count}</t:TotalCount><t:ChildFolderCount>0</t:ChildFolderCount></t:CalendarFolder></m:Folders>`,
        ),
      ]);
    },
    FindItem: async (room, request, header) => {
      if (!isOurCalendar(room, request, "ParentFolderIds"))
        return responseMessages("FindItem", [failure("FindItem", "ErrorFolderNotFound", "only the room's calendar folder is served")]);
      const view = child(request, "CalendarView");
      let list = await visible(room);
      let max = MAX_ITEMS;
      const zone = requestedZone(header);
      if (view !== undefined) {
        const start = parseEwsDateTime(attr(view, "StartDate"), zone);
        const end = parseEwsDateTime(attr(view, "EndDate"), zone);
        if (start === null || end === null || end < start) {
          return responseMessages("FindItem", [failure("FindItem", "ErrorCalendarInvalidTimeRange", "CalendarView needs StartDate <= EndDate as xs:dateTime")]);
        }
        list = list.filter((m) => m.end > start && m.start < end);
        const asked = Number(attr(view, "MaxEntriesReturned") ?? MAX_ITEMS);
        if (Number.isInteger(asked) && asked > 0) max = Math.min(asked, MAX_ITEMS);
      }
      const shown = list.slice(0, max);
      const shape = { withBody: false, bodyType: "Text" as const, zone };
      const items = shown.map((m) => calendarItem(room.id, m, options, shape).xml).join("");
      return responseMessages("FindItem", [
        success(
          "FindItem",
          `<m:RootFolder TotalItemsInView="${list.length}" IncludesLastItemInRange="${shown.length === list.length}"><t:Items>${items}</t:Items></m:RootFolder>`,
        ),
      ]);
    },
    GetItem: async (room, request, header) => {
      const ids = asArray(child(request, "ItemIds")?.["ItemId"]).slice(0, MAX_ITEMS);
      if (ids.length === 0) throw new SoapFault("ErrorInvalidRequest", "GetItem names no ItemId");
      const bodyType = text(child(request, "ItemShape"), "BodyType") === "HTML" ? "HTML" : "Text";
      const byId = new Map((await visible(room)).map((m) => [itemIdOf(room.id, m.occurrenceKey), m]));
      const shape = { withBody: true, bodyType: bodyType as "Text" | "HTML", zone: requestedZone(header) };
      return responseMessages(
        "GetItem",
        ids.map((id) => {
          const m = byId.get(attr(id, "Id") ?? "");
          // A cancelled or unknown meeting is gone, as Exchange says of a deleted item.
          if (m === undefined) return failure("GetItem", "ErrorItemNotFound", "The specified object was not found in the store.", "<m:Items/>");
          return success("GetItem", `<m:Items>${calendarItem(room.id, m, options, shape).xml}</m:Items>`);
        }),
      );
    },
    SyncFolderItems: async (room, request, header) => {
      if (!isOurCalendar(room, request, "SyncFolderId"))
        return responseMessages("SyncFolderItems", [failure("SyncFolderItems", "ErrorFolderNotFound", "only the room's calendar folder is synchronised")]);
      const max = Number(text(request, "MaxChangesReturned"));
      if (!Number.isInteger(max) || max < 1 || max > MAX_CHANGES)
        throw new SoapFault("ErrorSchemaValidation", `MaxChangesReturned must be 1 to ${MAX_CHANGES}`);
      let known: Map<string, string>;
      try {
        known = decodeSyncState(text(request, "SyncState"));
      } catch (error) {
        if (!(error instanceof InvalidSyncState)) throw error;
        return responseMessages("SyncFolderItems", [
          failure("SyncFolderItems", "ErrorInvalidSyncStateData", "The synchronization state data is corrupt or otherwise invalid."),
        ]);
      }
      const ignore = new Set(
        asArray(child(request, "Ignore")?.["ItemId"])
          .slice(0, MAX_ITEMS)
          .map((id) => attr(id, "Id") ?? ""),
      );
      const shape = {
        withBody: false,
        bodyType: "Text" as const,
        zone: requestedZone(header),
        idOnly: text(child(request, "ItemShape"), "BaseShape") === "IdOnly",
      };
      const current: RenderedItem[] = (await visible(room)).map((m) => calendarItem(room.id, m, options, shape));
      const { changes, state, complete } = syncChanges(known, current, max, ignore);
      const xmlChanges = changes
        .map((c) => (c.kind === "Delete" ? `<t:Delete><t:ItemId Id="${xml(c.itemId)}"/></t:Delete>` : `<t:${c.kind}>${c.item.xml}</t:${c.kind}>`))
        .join("");
      return responseMessages("SyncFolderItems", [
        success(
          "SyncFolderItems",
          `<m:SyncState>${state}</m:SyncState><m:IncludesLastItemInRange>${complete}</m:IncludesLastItemInRange><m:Changes>${xmlChanges}</m:Changes>`,
        ),
      ]);
    },
    ResolveNames: async (room, request) => {
      const entry = (text(request, "UnresolvedEntry") ?? "")
        .trim()
        .toLowerCase()
        .replace(/^smtp:/, "");
      if (entry === "" || !(room.mailbox === entry || room.mailbox.startsWith(entry) || room.displayName.toLowerCase().startsWith(entry))) {
        return responseMessages("ResolveNames", [failure("ResolveNames", "ErrorNameResolutionNoResults", "No results were found.")]);
      }
      return responseMessages("ResolveNames", [
        success(
          "ResolveNames",
          `<m:ResolutionSet TotalItemsInView="1" IncludesLastItemInRange="true"><t:Resolution><t:Mailbox><t:Name>${xml(room.displayName)}</t:Name><t:EmailAddress>${xml(room.mailbox)}</t:EmailAddress><t:RoutingType>SMTP</t:RoutingType><t:MailboxType>Mailbox</t:MailboxType></t:Mailbox></t:Resolution></m:ResolutionSet>`,
        ),
      ]);
    },
  };

  app.post(EWS_PATH, { ...open, schema: { summary: "EWS feed for ews-family room systems (SOAP 1.1, Basic auth; docs/ews-feed.md)" } }, async (req, reply) => {
    // The envelope is read (bounded) before the device is known only as far as naming the operation for the metrics.
    const room = await authenticate(req, reply, "unknown");
    if (room === null) return reply;
    let operation = "unknown";
    try {
      const parsed = parseSoapEnvelope(bodyText(req));
      operation = OPERATIONS.has(parsed.operation) ? parsed.operation : "other";
      const handler = operations[parsed.operation];
      if (handler === undefined) throw new SoapFault("ErrorInvalidRequest", `operation ${parsed.operation.slice(0, 64)} is not supported by this server`);
      const body = await handler(room, parsed.request, parsed.header);
      await fetches.record(room.id, `ews:${operation}`, deps.clock.now());
      counter.inc({ operation, result: "ok" });
      return reply.code(200).header("content-type", "text/xml; charset=utf-8").send(envelope(body));
    } catch (error) {
      if (error instanceof SoapFault) {
        counter.inc({ operation, result: "fault" });
        return sendFault(reply, error);
      }
      throw error;
    }
  });

  app.post(AUTODISCOVER_PATH, { ...open, schema: { summary: "POX Autodiscover for ews-family room systems" } }, async (req, reply) => {
    const room = await authenticate(req, reply, "Autodiscover");
    if (room === null) return reply;
    reply.header("content-type", "text/xml; charset=utf-8");
    let asked: string | null;
    try {
      asked = parseAutodiscoverRequest(bodyText(req));
    } catch (error) {
      if (!(error instanceof SoapFault)) throw error;
      counter.inc({ operation: "Autodiscover", result: "fault" });
      return reply.code(error.httpStatus === 413 ? 413 : 400).send(autodiscoverError("600", "Invalid Request"));
    }
    if (asked !== null && asked.trim().toLowerCase() !== room.mailbox) {
      counter.inc({ operation: "Autodiscover", result: "fault" });
      return reply.code(200).send(autodiscoverError("500", "The e-mail address cannot be found."));
    }
    await fetches.record(room.id, "ews:Autodiscover", deps.clock.now());
    counter.inc({ operation: "Autodiscover", result: "ok" });
    return reply.code(200).send(autodiscoverResponse(room.mailbox, room.displayName, ewsUrlOf(req)));
  });

  app.post(SOAP_AUTODISCOVER_PATH, { ...open, schema: { summary: "SOAP Autodiscover (GetUserSettings) for ews-family room systems" } }, async (req, reply) => {
    const room = await authenticate(req, reply, "GetUserSettings");
    if (room === null) return reply;
    try {
      const asked = readGetUserSettings(parseSoapEnvelope(bodyText(req)));
      await fetches.record(room.id, "ews:GetUserSettings", deps.clock.now());
      counter.inc({ operation: "GetUserSettings", result: "ok" });
      return reply
        .code(200)
        .header("content-type", "text/xml; charset=utf-8")
        .send(getUserSettingsResponse(room, asked, ewsUrlOf(req)));
    } catch (error) {
      if (!(error instanceof SoapFault)) throw error;
      counter.inc({ operation: "GetUserSettings", result: "fault" });
      return sendFault(reply, error);
    }
  });
}
