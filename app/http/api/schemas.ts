/**
 * Every request and reply of the engine's HTTP API, declared once as zod schemas: the routes
 * validate requests with them and /openapi.json is generated from them. Reply objects that carry
 * a record whose fields may grow (a room, a meeting, a status) are loose: fields are only ever
 * added, and a client must ignore the ones it does not know.
 */
import { z } from "zod";
import type { BridgeState, CalendarSourceName, Delivery, DeviceFamily, PrivateJoin, PrivateMeetings, Route, SubjectReplace } from "../../../core/domain.ts";

/** Route parameters name rooms and providers: no control characters, and never this long. */
export const PLAUSIBLE_PARAM = /^[^\u0000-\u001f\u007f]{1,512}$/;

const DEVICE_FAMILIES = ["xapi", "xapi-legacy", "webex-cloud", "pull", "macro", "ews"] as const satisfies readonly DeviceFamily[];
const ROUTES = ["cvi", "sgj", "direct", "webrtc", "none"] as const satisfies readonly Route[];
const BRIDGE_STATES = [
  "scheduled",
  "starting",
  "lobby",
  "admitted",
  "ended",
  "denied",
  "timeout",
  "failed",
  "cancelled",
] as const satisfies readonly BridgeState[];

const isoTime = z.iso.datetime({ offset: true });
const nullableText = (max: number) => z.string().max(max).nullable().optional();

// ---- errors ----

/** Every error reply of the API: a stable `OTJ_*` code (docs/errors.md) and a message. */
export const ErrorReply = z
  .object({ error: z.object({ code: z.string().describe("an OTJ_* code"), message: z.string() }) })
  .describe("error: a code and a message (a 5xx carries a code only, its cause goes to the log)");

/** A 5xx of the API: a code only, the cause is in the engine's log. */
export const ServerError = ErrorReply.describe("a code only: OTJ_STORE_UNREACHABLE (503, try again after Retry-After) or OTJ_INTERNAL (500)");

/** The callback routes answer with what the callback's handler says. */
export const CallbackErrorReply = z
  .union([ErrorReply, z.object({ error: z.string(), message: z.string().optional() })])
  .describe("refused: bad signature, token or body");

// ---- params and queries ----

export const RoomParams = z.object({
  id: z.string().regex(PLAUSIBLE_PARAM).describe("the room's id (rm_...) or its mailbox, case-insensitive"),
});

/** Ajv-style query booleans: the text `true` or `false`. */
const queryBoolean = z
  .enum(["true", "false"])
  .optional()
  .transform((v) => v === "true");

export const MeetingsQuery = z.object({
  startTime: isoTime.optional().describe("from (default: now less the end buffer)"),
  endTime: isoTime.optional().describe("until (default: now plus poll.windowFutureDays)"),
  limit: z.coerce.number().int().min(1).max(100).default(10),
  idsOnly: queryBoolean.describe("only the ids of the meetings"),
});

export const IcsQuery = z.object({
  token: z.string().max(4096).optional().describe("the room's device token, for calendar apps that cannot send a header"),
});

export const NotificationQuery = z.object({
  validationToken: z.string().optional().describe("Graph's subscription handshake: echoed as text/plain"),
});

// ---- request bodies ----

const ROOM_FIELDS = {
  mailbox: z.string().min(3).max(320),
  displayName: z.string().min(1).max(256),
  provider: z.string().min(1).max(128).describe("provider name or id"),
  deviceFamily: z.enum(DEVICE_FAMILIES),
  deviceAddress: nullableText(2048),
  deviceUsername: nullableText(256),
  devicePassword: nullableText(1024),
  insecureTls: z.boolean().optional(),
  allowInsecureHttp: z.boolean().optional(),
  deviceToken: nullableText(256).describe("a token to use instead of a generated one"),
  sipUri: nullableText(320),
  privateMeetings: z.enum(["process", "skip"] satisfies PrivateMeetings[]).optional(),
  subjectReplace: z.enum(["never", "private", "all"] satisfies SubjectReplace[]).optional(),
  subjectTemplate: z.string().max(256).optional(),
  privateJoin: z.enum(["enabled", "disabled"] satisfies PrivateJoin[]).optional(),
  webrtc: z
    .union([z.string().max(64), z.array(z.enum(["teams", "meet"])).max(4)])
    .optional()
    .describe("platforms joined over WebRTC: a list, or comma-separated text"),
  delivery: z.enum(["xapi", "macro", "both"] satisfies Delivery[]).optional(),
  source: z.enum(["graph", "google", "ews"] satisfies CalendarSourceName[]).optional(),
};

/** `POST /v1/rooms`: the `rooms add` flags as camelCase JSON. */
export const NewRoomBody = z.strictObject(ROOM_FIELDS);

const { mailbox: _mailbox, deviceToken: _deviceToken, ...CHANGE_FIELDS } = ROOM_FIELDS;
/** `PATCH /v1/rooms/:id`: the fields to change (rooms add's, less the mailbox and the token). */
export const RoomChangesBody = z
  .strictObject(CHANGE_FIELDS)
  .partial()
  .refine((changes) => Object.keys(changes).length > 0, "name at least one field to change")
  .meta({ minProperties: 1 });

/** The CSV text `otj rooms import --url` sends (the console's import takes as much). */
export const MAX_IMPORT_CSV_CHARS = 8 * 1024 * 1024;
export const RoomsImportBody = z.strictObject({
  csv: z.string().max(MAX_IMPORT_CSV_CHARS).describe("the CSV text of `otj rooms import`"),
  dryRun: z.boolean().optional(),
  update: z.boolean().optional(),
});

/** Callback bodies, for the document only: the handlers read the raw bytes and check the sender first. */
export const BridgeCallbackBody = z
  .looseObject({
    sessionId: z.string().regex(/^sgj_[0-9a-f]{12}$/),
    state: z.enum(["joining", "lobby", "admitted", "denied", "timeout", "ended", "failed"]),
    at: isoTime,
    detail: z.string().max(500).nullable().optional().describe("free text for logs"),
  })
  .describe("a bridge session's state change (docs/bridge-protocol.md), signed in x-otj-signature");
export const GraphCallNotifications = z
  .looseObject({ value: z.array(z.object({ changeType: z.string().optional(), resourceUrl: z.string().optional(), resourceData: z.unknown() })) })
  .describe("Microsoft Graph commsNotifications: call state and roster changes");
export const ChangeNotifications = z
  .looseObject({
    value: z.array(
      z.object({ subscriptionId: z.string(), clientState: z.string().optional(), changeType: z.string().optional(), resource: z.string().optional() }),
    ),
  })
  .describe("Microsoft Graph change notifications, authenticated by the subscription's clientState");

// ---- replies ----

export const Health = z.object({ status: z.literal("ok") });
export const Readiness = z.object({
  ready: z.boolean(),
  checks: z.record(z.string(), z.union([z.literal(true), z.literal("unavailable")])).describe("each check: true, or unavailable (the reason goes to the log)"),
});
export const OpenApiDocument = z.object({
  openapi: z.string(),
  info: z.object({ title: z.string(), version: z.string() }),
  paths: z.record(z.string(), z.unknown()).optional(),
});

export const RoomAdded = z.object({
  id: z.string(),
  mailbox: z.string(),
  deviceToken: z.string().optional().describe("only for families with a token (pull, macro): shown once"),
  deviceUsername: z.string().optional().describe("only for the ews family: the EWS feed's user name (the mailbox)"),
  devicePassword: z.string().optional().describe("only for the ews family: the EWS feed's password, shown once"),
});

/** A room as `otj rooms list --json` shows it (store/records-json.ts). */
export const RoomRecord = z.object({
  id: z.string(),
  mailbox: z.string(),
  displayName: z.string(),
  provider: z.string().nullable(),
  deviceFamily: z.string(),
  deviceAddress: z.string().nullable(),
  deviceUsername: z.string().nullable(),
  hasDevicePassword: z.boolean(),
  hasDeviceToken: z.boolean(),
  insecureTls: z.boolean(),
  allowInsecureHttp: z.boolean(),
  sipUri: z.string().nullable(),
  privateMeetings: z.string(),
  subjectReplace: z.string(),
  subjectTemplate: z.string(),
  privateJoin: z.string(),
  webrtc: z.array(z.string()),
  delivery: z.string(),
  source: z.string(),
  enabled: z.boolean(),
  createdAt: isoTime,
  updatedAt: isoTime,
});

/** `GET /v1/rooms`: each room's identity and device address (the full record is `GET /v1/rooms/:id`). */
export const RoomList = z.object({
  rooms: z.array(RoomRecord.pick({ id: true, mailbox: true, displayName: true, provider: true, deviceFamily: true, deviceAddress: true })),
});

/** PATCH's reply: the record, plus the first EWS password when the change made the room an ews room. */
export const RoomChanged = RoomRecord.extend({
  devicePassword: z.string().optional().describe("only when the change made the room an ews room: its first EWS password, shown once"),
});

const IMPORT_REPORT_FIELDS = {
  applied: z.boolean(),
  rows: z.number().int(),
  problems: z.array(z.object({ line: z.number().int(), messages: z.array(z.string()) })),
  added: z.array(z.object({ id: z.string(), mailbox: z.string(), deviceToken: z.string().optional() })),
  changed: z.array(z.object({ id: z.string(), mailbox: z.string(), fields: z.array(z.string()) })),
  unchanged: z.number().int(),
  ignoredColumns: z.array(z.string()),
};
export const ImportReport = z.object(IMPORT_REPORT_FIELDS);
export const ImportRefused = z
  .union([z.object({ ...ErrorReply.shape, ...IMPORT_REPORT_FIELDS }), ErrorReply])
  .describe("OTJ_IMPORT_INVALID with the report when rows are invalid (nothing imported); an unreadable CSV or body: the error alone");

/** `otj status --json` (docs/cli.md). */
export const StatusOutput = z.object({
  rooms: z.array(
    z.object({
      mailbox: z.string(),
      displayName: z.string(),
      alarms: z.array(z.object({ code: z.string(), since: isoTime, message: z.string() })),
      lastPoll: z.object({ at: isoTime.nullable(), outcome: z.enum(["ok", "error", "never"]), error: z.string().nullable() }),
      device: z.object({
        family: z.string(),
        state: z.enum(["ok", "pending", "error"]),
        lastPushAt: isoTime.nullable(),
        lastError: z.string().nullable(),
        lastFetchAt: isoTime.nullable().optional().describe("ews rooms: when the device last read the EWS feed"),
      }),
      meetings: z.array(
        z.object({
          occurrenceKey: z.string(),
          subject: z.string().nullable(),
          start: isoTime,
          end: isoTime,
          route: z.enum(ROUTES),
          dialString: z.string().nullable(),
          onDevice: z.boolean(),
        }),
      ),
    }),
  ),
  bridgeSessions: z.array(
    z.object({
      occurrenceKey: z.string(),
      mailbox: z.string(),
      sessionId: z.string(),
      externalId: z.string().nullable(),
      dueAt: isoTime,
      updatedAt: isoTime,
      state: z.enum(BRIDGE_STATES),
    }),
  ),
});

const PullMeeting = z.object({
  id: z.string().describe("stable booking id of the occurrence"),
  subject: z.string().nullable().describe("after the room's privacy rules"),
  organizerName: z.string().nullable(),
  organizerEmail: z.string().nullable(),
  startTime: isoTime,
  endTime: isoTime,
  alias: z.string().nullable().describe("the dial string, null for route none and for webrtc"),
  dialString: z.string().nullable(),
  route: z.enum(ROUTES),
  joinUrl: z.string().nullable().describe("route webrtc: the meeting's join URL"),
  platform: z.string().nullable(),
  joinFrom: isoTime,
  joinUntil: isoTime,
  private: z.boolean(),
  bridgeState: z.enum(BRIDGE_STATES).nullable(),
});

/** The pull API's reply (docs/pull-api.md). */
export const PullMeetings = z.object({
  room: z.object({ id: z.string(), mailbox: z.string(), displayName: z.string() }),
  meetings: z.array(z.union([PullMeeting, z.strictObject({ id: z.string() })])).describe("in start order; with idsOnly=true only their ids"),
});

/** A reply with no body. */
export const NoContent = z.null().optional().describe("no content");

/** A reply in another content type than JSON, for the document. */
export function textReply(contentType: string, description: string) {
  return { description, content: { [contentType]: { schema: z.string() } } };
}
