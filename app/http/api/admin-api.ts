/**
 * The admin API under `/v1`: rooms (list, add, show, change, import, remove) and the engine's
 * status. Every route needs the admin bearer token, checked in this plugin's onRequest hook.
 */
import { issueMissingEwsPasswords } from "../../ews-credentials.ts";
import type { FastifyInstance } from "fastify";
import type { Clock } from "../../../core/clock.ts";
import type { Room, Store } from "../../../core/ports/store.ts";
import { roomJson } from "../../../store/records-json.ts";
import { runRoomsImport } from "../../rooms-import.ts";
import { buildStatus, type StatusSettings } from "../../status.ts";
import type { TokenGuards } from "./guard.ts";
import { security, zodRoutes } from "./openapi.ts";
import { errorBody, httpError } from "./replies.ts";
import {
  ErrorReply,
  ImportRefused,
  ImportReport,
  MAX_IMPORT_CSV_CHARS,
  NewRoomBody,
  NoContent,
  RoomAdded,
  RoomChangesBody,
  RoomList,
  RoomParams,
  RoomChanged,
  RoomRecord,
  RoomsImportBody,
  ServerError,
  StatusOutput,
} from "./schemas.ts";

export interface AdminApiDeps {
  store: Store;
  clock: Clock;
  guards: TokenGuards;
  settings: StatusSettings;
  /** After a room was added (the engine makes it due). */
  onRoomAdded?: (room: Room) => void;
  /** After a room was changed or imported (the engine polls and plans it again). */
  onRoomChanged?: (room: Room) => void;
}

/** Errors every admin route may answer (beyond its own). */
const ADMIN_ERRORS = {
  401: ErrorReply.describe("missing or wrong admin token"),
  429: ErrorReply.describe("too many failed tokens from this client"),
  "5xx": ServerError,
};
const admin = security("adminToken");

export async function adminApi(instance: FastifyInstance, deps: AdminApiDeps): Promise<void> {
  const app = zodRoutes(instance);
  app.addHook("onRequest", deps.guards.admin);

  app.get("/rooms", { schema: { summary: "list rooms", security: admin, response: { 200: RoomList, ...ADMIN_ERRORS } } }, async () => {
    const rooms = await deps.store.rooms.list();
    return {
      rooms: rooms.map((r) => ({
        id: r.id,
        mailbox: r.mailbox,
        displayName: r.displayName,
        provider: r.providerName,
        deviceFamily: r.device.family,
        deviceAddress: r.device.address,
      })),
    };
  });

  app.post(
    "/rooms",
    {
      bodyLimit: 64 * 1024,
      schema: {
        summary: "add a room (rooms add flags as camelCase JSON)",
        security: admin,
        body: NewRoomBody,
        response: { 201: RoomAdded, 400: ErrorReply, 409: ErrorReply.describe("the mailbox exists"), ...ADMIN_ERRORS },
      },
    },
    async (req, reply) => {
      const added = await deps.store.rooms.add(req.body, deps.clock.now());
      // An ews room's first device password, shown this once (as `otj rooms add` prints it).
      const [credential] = await issueMissingEwsPasswords(deps.store, [added.room], deps.clock.now());
      deps.onRoomAdded?.(added.room);
      return reply.code(201).send({
        id: added.room.id,
        mailbox: added.room.mailbox,
        ...(added.deviceToken ? { deviceToken: added.deviceToken } : {}),
        ...(credential ? { deviceUsername: credential.deviceUsername, devicePassword: credential.devicePassword } : {}),
      });
    },
  );

  app.get(
    "/rooms/:id",
    {
      schema: {
        summary: "one room (id or mailbox), as `otj rooms list --json` shows it",
        security: admin,
        params: RoomParams,
        response: { 200: RoomRecord, 404: ErrorReply, ...ADMIN_ERRORS },
      },
    },
    async (req) => {
      const room = await deps.store.rooms.get(req.params.id);
      if (!room) throw httpError(404, "OTJ_STORE_NOT_FOUND", "unknown room");
      return roomJson(room);
    },
  );

  app.patch(
    "/rooms/:id",
    {
      bodyLimit: 64 * 1024,
      schema: {
        summary: "change a room (rooms set flags as camelCase JSON)",
        security: admin,
        params: RoomParams,
        body: RoomChangesBody,
        response: { 200: RoomChanged, 400: ErrorReply, 404: ErrorReply, ...ADMIN_ERRORS },
      },
    },
    async (req) => {
      const saved = await deps.store.rooms.update(req.params.id, req.body, deps.clock.now());
      // A room moved to ews gets its first device password here, shown this once.
      const [credential] = await issueMissingEwsPasswords(deps.store, [saved], deps.clock.now());
      deps.onRoomChanged?.(saved);
      return credential ? { ...roomJson(saved), deviceUsername: credential.deviceUsername, devicePassword: credential.devicePassword } : roomJson(saved);
    },
  );

  app.post(
    "/rooms/import",
    {
      bodyLimit: MAX_IMPORT_CSV_CHARS * 2,
      schema: {
        summary: "import rooms from CSV text, all or nothing (as `otj rooms import`)",
        security: admin,
        body: RoomsImportBody,
        response: { 200: ImportReport, 400: ImportRefused, ...ADMIN_ERRORS },
      },
    },
    async (req, reply) => {
      const { csv, dryRun, update } = req.body;
      const report = await runRoomsImport(deps.store, csv, deps.clock.now(), { dryRun: dryRun === true, update: update === true });
      if (report.applied) {
        const touched = await deps.store.rooms.getMany([...report.added.map((r) => r.id), ...report.changed.map((r) => r.id)]);
        for (const room of touched) deps.onRoomChanged?.(room);
      }
      if (report.problems.length === 0) return report;
      const message = `${report.problems.length} of ${report.rows} rows are invalid; nothing was imported`;
      return reply.code(400).send({ ...errorBody("OTJ_IMPORT_INVALID", message), ...report });
    },
  );

  app.delete(
    "/rooms/:id",
    {
      schema: {
        summary: "remove a room (id or mailbox)",
        security: admin,
        params: RoomParams,
        response: { 204: NoContent, 404: ErrorReply, ...ADMIN_ERRORS },
      },
    },
    async (req, reply) => {
      await deps.store.rooms.remove(req.params.id);
      return reply.code(204).send(undefined);
    },
  );

  app.get(
    "/status",
    {
      schema: {
        summary: "status of every room, its device and alarms, and the bridge sessions (as `otj status --json`)",
        security: admin,
        response: { 200: StatusOutput, ...ADMIN_ERRORS },
      },
    },
    async () => buildStatus(deps.store, deps.clock.now(), deps.settings),
  );
}
