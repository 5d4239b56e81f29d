/** The console's CSV import: a dry run shows what would change; applying writes every row or none. */
import type { FastifyInstance } from "fastify";
import { isOtjError } from "../../../core/errors.ts";
import { type ConsoleContext, routeOf } from "./context.ts";
import { applyRoomsDiff, diffRoomsCsv } from "./import-diff.ts";
import { importDonePage, importPage } from "./import-view.ts";
import { formOf, problemsOf } from "./input.ts";

export function importRoutes(app: FastifyInstance, c: ConsoleContext): void {
  const { deps, store, now, send } = c;

  app.get("/import", routeOf(), async (req, reply) => send(reply, importPage(c.ctx(req), "", null)));

  app.post("/import", { ...routeOf("admin"), bodyLimit: 8 * 1024 * 1024 }, async (req, reply) => {
    const form = formOf(req);
    const csv = form.csv ?? "";
    let diff: Awaited<ReturnType<typeof diffRoomsCsv>>;
    try {
      diff = await diffRoomsCsv(store, csv);
    } catch (error) {
      return send(reply, importPage(c.ctx(req, { errors: problemsOf(error) }), csv, null), 400);
    }
    if (form.mode !== "apply" || diff.counts.refuse > 0 || diff.counts.add + diff.counts.change === 0) {
      return send(reply, importPage(c.ctx(req), csv, diff), form.mode === "apply" && diff.counts.refuse > 0 ? 400 : 200);
    }
    try {
      const changing = new Set(diff.lines.filter((l) => l.action === "change").map((l) => l.mailbox));
      const changedBefore = new Map((await store.rooms.list()).filter((r) => changing.has(r.mailbox)).map((r) => [r.id, r]));
      const result = await applyRoomsDiff(store, diff, now());
      for (const { room } of result.added) deps.onRoomChanged?.(room);
      for (const room of result.changed) deps.onRoomChanged?.(room);
      for (const { room } of result.added)
        await c.audit(req, { kind: "admin.room-added", roomId: room.id, message: `added room ${room.mailbox} (import)`, after: room, data: { import: true } });
      for (const room of result.changed)
        await c.audit(req, {
          kind: "admin.room-changed",
          roomId: room.id,
          message: `changed room ${room.mailbox} (import)`,
          before: changedBefore.get(room.id) ?? null,
          after: room,
          data: { import: true },
        });
      await c.audit(req, {
        kind: "admin.import",
        message: `imported rooms: ${result.added.length} added, ${result.changed.length} changed`,
        data: { added: result.added.length, changed: result.changed.length },
      });
      return send(reply, importDonePage(c.ctx(req), result.added, result.changed));
    } catch (error) {
      const problems = error instanceof Error && !isOtjError(error) ? [error.message] : problemsOf(error);
      return send(reply, importPage(c.ctx(req, { errors: problems }), csv, diff), 409);
    }
  });
}
