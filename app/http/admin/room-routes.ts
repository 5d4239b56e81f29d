/**
 * The console's Rooms pages: the list (search, filters, paging, CSV, bulk poll/disable/enable),
 * one room (meetings, timeline, test device), and adding, editing and removing rooms.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import type { Room, RoomChanges } from "../../../core/ports/store.ts";
import { deviceCheck } from "../../doctor.ts";
import { issueMissingEwsPasswords } from "../../ews-credentials.ts";
import { deviceStatus, lastPoll, roomAlarms } from "../../status.ts";
import { type ConsoleContext, routeOf } from "./context.ts";
import { BulkForm, type Form, formOf, optional, params, parseInput, problemsOf, RoomsQuery } from "./input.ts";
import { roomFilters } from "./room-filters.ts";
import { confirmRemovePage, deviceTestPage, roomDetailPage, type RoomRowView, roomsPage, timelinePage, tokenPage } from "./room-views.ts";
import { roomFormPage, roomFormValues } from "./room-form-view.ts";
import { roomsCsv } from "./rooms-csv.ts";

const PAGE_SIZE = 50;

const roomInput = (form: Form) => ({
  displayName: form.displayName ?? "",
  provider: form.provider ?? "",
  deviceFamily: form.deviceFamily ?? "",
  deviceAddress: optional(form.deviceAddress),
  deviceUsername: optional(form.deviceUsername),
  insecureTls: form.insecureTls === "true",
  allowInsecureHttp: form.allowInsecureHttp === "true",
  sipUri: optional(form.sipUri),
  privateMeetings: form.privateMeetings ?? "process",
  subjectReplace: form.subjectReplace ?? "private",
  subjectTemplate: form.subjectTemplate ?? "",
  privateJoin: form.privateJoin ?? "enabled",
  webrtc: form.webrtc ?? "",
  ...(optional(form.delivery) !== null ? { delivery: optional(form.delivery) as string } : {}),
  source: form.source ?? "graph",
});

export function roomRoutes(app: FastifyInstance, c: ConsoleContext): void {
  const { deps, store, now, send } = c;
  const roomOr404 = async (req: FastifyRequest, reply: FastifyReply): Promise<Room | null> => {
    const room = await store.rooms.get(params(req).id);
    if (room === null) c.notFound(req, reply, "room");
    return room;
  };

  app.get("/rooms", routeOf(), async (req, reply) => {
    const q = parseInput(RoomsQuery, req.query, "query");
    // Control characters (a NUL is no text to PostgreSQL) cannot be part of a mailbox or name.
    const search = q.q.replace(/[\u0000-\u001f\u007f]/g, "").slice(0, 200);
    // Past the last page shows the last page; a page number beyond any real count is clamped first.
    const requested = /^\d{1,7}$/.test(q.page) ? Math.max(1, Number(q.page)) : 1;
    const providers = await store.providers.list();
    const filters = roomFilters(q, providers);
    const filterQuery = {
      ...(filters.provider ? { providerId: providers.find((p) => p.name === filters.provider)?.id ?? "" } : {}),
      ...(filters.family ? { deviceFamily: filters.family } : {}),
      ...(filters.source ? { source: filters.source } : {}),
      ...(filters.failing ? { failing: true } : {}),
      sort: filters.sort,
    };
    let result = await store.rooms.page({ search, ...filterQuery, offset: (requested - 1) * PAGE_SIZE, limit: PAGE_SIZE });
    const pages = Math.max(1, Math.ceil(result.total / PAGE_SIZE));
    const pageNo = Math.min(requested, pages);
    if (pageNo !== requested) result = await store.rooms.page({ search, ...filterQuery, offset: (pageNo - 1) * PAGE_SIZE, limit: PAGE_SIZE });
    const t = now();
    const horizon = new Date(t.getTime() + deps.settings.windowFutureDays * 86_400_000);
    // Only this page's rooms: three queries for the page, whatever the number of rooms.
    const ids = result.rooms.map((r) => r.id);
    const [cursors, devices, next] = await Promise.all([
      store.syncCursors.getMany(ids),
      store.deviceStates.getMany(ids),
      store.meetings.nextForRooms(ids, t, horizon),
    ]);
    const cursorOf = new Map(cursors.map((x) => [x.roomId, x]));
    const deviceOf = new Map(devices.map((d) => [d.roomId, d]));
    const nextOf = new Map(next.map((m) => [m.roomId, m]));
    const rows = result.rooms.map((room): RoomRowView => {
      const cursor = cursorOf.get(room.id) ?? null;
      const device = deviceOf.get(room.id) ?? null;
      return {
        room,
        lastPoll: lastPoll(cursor),
        device: deviceStatus(room, device),
        alarms: roomAlarms(device, cursor, deps.settings),
        next: nextOf.get(room.id) ?? null,
      };
    });
    return send(reply, roomsPage(c.ctx(req), rows, { search, page: pageNo, pages, total: result.total, filters, providers: providers.map((p) => p.name) }));
  });

  // Poll now, disable or enable the rooms picked on the list; each room audited like its own action.
  app.post("/rooms/bulk", { ...routeOf("operator"), bodyLimit: 256 * 1024 }, async (req, reply) => {
    const form = parseInput(BulkForm, req.body, "form");
    const rooms = await store.rooms.getMany(form.room.slice(0, 1_000));
    if (rooms.length === 0) return reply.redirect("/admin/rooms?done=bulk-none", 303);
    if (form.action === "poll") {
      for (const room of rooms) {
        await store.syncCursors.markDue(room.id, now());
        await deps.onPollNow?.(room);
        await c.audit(req, { kind: "admin.poll-now", roomId: room.id, message: `asked to poll ${room.mailbox} now`, data: { bulk: true } });
      }
      return reply.redirect("/admin/rooms?done=bulk-poll", 303);
    }
    const enabled = form.action === "enable";
    const before = new Map(rooms.map((r) => [r.id, r]));
    for (const room of await store.rooms.setEnabled([...before.keys()], enabled, now())) {
      deps.onRoomChanged?.(room);
      await c.audit(req, {
        kind: "admin.room-changed",
        roomId: room.id,
        message: `${enabled ? "enabled" : "disabled"} room ${room.mailbox}`,
        before: before.get(room.id) ?? null,
        after: room,
        data: { bulk: true },
      });
    }
    return reply.redirect(`/admin/rooms?done=bulk-${form.action}`, 303);
  });

  app.get("/rooms.csv", routeOf(), async (_req, reply) =>
    reply
      .header("content-type", "text/csv; charset=utf-8")
      .header("content-disposition", 'attachment; filename="otj-rooms.csv"')
      .header("cache-control", "no-store")
      .send(roomsCsv(await store.rooms.list())),
  );

  app.get("/rooms/new", routeOf(), async (req, reply) => send(reply, roomFormPage(c.ctx(req), await store.providers.list(), {}, null)));

  app.post("/rooms", routeOf("admin"), async (req, reply) => {
    const form = formOf(req);
    try {
      const added = await store.rooms.add(
        { mailbox: form.mailbox ?? "", ...roomInput(form), devicePassword: form.devicePassword ? form.devicePassword : null },
        now(),
      );
      deps.onRoomChanged?.(added.room);
      await c.audit(req, { kind: "admin.room-added", roomId: added.room.id, message: `added room ${added.room.mailbox}`, after: added.room });
      if (added.deviceToken !== null)
        return send(reply, tokenPage(c.ctx(req, { notice: "Room added." }), added.room, added.deviceToken, "The room's pull device token:"));
      const [ews] = await issueMissingEwsPasswords(store, [added.room], c.now());
      if (ews !== undefined)
        return send(
          reply,
          tokenPage(c.ctx(req, { notice: "Room added." }), added.room, ews.devicePassword, `The EWS device password of user ${ews.deviceUsername}:`),
        );
      return reply.redirect(`/admin/rooms/${added.room.id}?done=room-added`, 303);
    } catch (error) {
      const page = roomFormPage(c.ctx(req, { errors: problemsOf(error) }), await store.providers.list(), { ...form, devicePassword: undefined }, null);
      return send(reply, page, 400);
    }
  });

  app.get("/rooms/:id", routeOf(), async (req, reply) => {
    const room = await roomOr404(req, reply);
    if (!room) return reply;
    const t = now();
    const window = {
      from: new Date(t.getTime() - deps.settings.endBufferMinutes * 60_000 - 86_400_000),
      to: new Date(t.getTime() + deps.settings.windowFutureDays * 86_400_000),
    };
    const [cursor, device, meetings, sessions] = await Promise.all([
      store.syncCursors.get(room.id),
      store.deviceStates.get(room.id),
      store.meetings.list(room.id, { ...window, includeCancelled: true }),
      // The sessions of the meetings shown: live ones and those changed in the last month.
      store.bridgeSessions.list({ roomId: room.id, liveOrUpdatedSince: new Date(t.getTime() - 30 * 86_400_000), limit: 1_000 }),
    ]);
    const view = {
      room,
      cursor,
      device,
      lastPoll: lastPoll(cursor),
      deviceStatus: deviceStatus(room, device),
      alarms: roomAlarms(device, cursor, deps.settings),
      meetings,
      sessions: new Map(sessions.map((s) => [s.occurrenceKey, s])),
      window,
      now: t,
      canTestDevice: deps.devicePusher?.probe !== undefined,
    };
    return send(reply, roomDetailPage(c.ctx(req), view));
  });

  app.get("/rooms/:id/timeline", routeOf(), async (req, reply) => {
    const room = await roomOr404(req, reply);
    if (!room) return reply;
    const events = await store.eventLog.list({ roomId: room.id, limit: 500 });
    return send(reply, timelinePage(c.ctx(req), room, events.reverse()));
  });

  // Read-only: the doctor's device probe with the room's credentials (nothing is written to the device).
  app.post("/rooms/:id/test", { ...routeOf("operator"), bodyLimit: 16 * 1024 }, async (req, reply) => {
    const room = await roomOr404(req, reply);
    if (!room) return reply;
    const pusher = deps.devicePusher;
    const check = pusher
      ? await deviceCheck(pusher, store.rooms, room, AbortSignal.timeout(15_000))
      : { id: `device.${room.mailbox}`, outcome: "skip" as const, detail: "this engine has no device pusher to probe with" };
    c.log.info({ roomId: room.id, outcome: check.outcome }, "device tested from the console");
    return send(reply, deviceTestPage(c.ctx(req), room, check));
  });

  app.get("/rooms/:id/edit", routeOf(), async (req, reply) => {
    const room = await roomOr404(req, reply);
    if (!room) return reply;
    return send(reply, roomFormPage(c.ctx(req), await store.providers.list(), roomFormValues(room), room));
  });

  app.post("/rooms/:id", routeOf("admin"), async (req, reply) => {
    const room = await roomOr404(req, reply);
    if (!room) return reply;
    const form = formOf(req);
    const changes: RoomChanges = roomInput(form);
    if (form.clearPassword === "true") changes.devicePassword = null;
    else if (form.devicePassword) changes.devicePassword = form.devicePassword;
    try {
      const saved = await store.rooms.update(room.id, changes, now());
      deps.onRoomChanged?.(saved);
      const password = form.clearPassword === "true" ? "cleared" : form.devicePassword ? "changed" : "kept";
      await c.audit(req, {
        kind: "admin.room-changed",
        roomId: room.id,
        message: `changed room ${room.mailbox}`,
        before: room,
        after: saved,
        data: { devicePassword: password },
      });
      return reply.redirect(`/admin/rooms/${room.id}?done=room-saved`, 303);
    } catch (error) {
      const values = { ...form, mailbox: room.mailbox, devicePassword: undefined };
      return send(reply, roomFormPage(c.ctx(req, { errors: problemsOf(error) }), await store.providers.list(), values, room), 400);
    }
  });

  app.get("/rooms/:id/remove", routeOf(), async (req, reply) => {
    const room = await roomOr404(req, reply);
    if (!room) return reply;
    return send(reply, confirmRemovePage(c.ctx(req), room));
  });

  app.post("/rooms/:id/remove", routeOf("admin"), async (req, reply) => {
    const room = await roomOr404(req, reply);
    if (!room) return reply;
    await store.rooms.remove(room.id);
    await c.audit(req, { kind: "admin.room-removed", roomId: room.id, message: `removed room ${room.mailbox}`, before: room });
    return reply.redirect("/admin/rooms?done=room-removed", 303);
  });

  app.post("/rooms/:id/token", routeOf("operator"), async (req, reply) => {
    const room = await roomOr404(req, reply);
    if (!room) return reply;
    const token = await store.rooms.rotateDeviceToken(room.id, now());
    const fresh = (await store.rooms.get(room.id)) ?? room;
    await c.audit(req, {
      kind: "admin.device-token-rotated",
      roomId: room.id,
      message: `rotated the device token of ${room.mailbox}`,
      data: { hadToken: room.device.hasToken },
    });
    const why = room.device.hasToken ? "The new device token; the old one no longer works." : "The room's new device token:";
    return send(reply, tokenPage(c.ctx(req), fresh, token, why));
  });

  app.post("/rooms/:id/poll", routeOf("operator"), async (req, reply) => {
    const room = await roomOr404(req, reply);
    if (!room) return reply;
    await store.syncCursors.markDue(room.id, now());
    await deps.onPollNow?.(room);
    await c.audit(req, { kind: "admin.poll-now", roomId: room.id, message: `asked to poll ${room.mailbox} now` });
    return reply.redirect(`/admin/rooms/${room.id}?done=poll-requested`, 303);
  });
}
