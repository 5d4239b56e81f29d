/**
 * The Bridge sessions pages: the live list (rows refreshed by the page's script from the
 * server-rendered fragment, JSON for scripts) and one session's timeline from the event log
 * (the same query as `otj events --session ID`).
 */
import type { FastifyInstance } from "fastify";
import { type ConsoleContext, routeOf } from "./context.ts";
import { params } from "./input.ts";
import { type SessionView, sessionRows, sessionsPage, sessionTimelinePage, sessionView } from "./session-views.ts";

export function sessionRoutes(app: FastifyInstance, c: ConsoleContext): void {
  const { store, now, send } = c;

  // Polled every 2 s by each open sessions page: three queries, none of them over all rooms.
  const sessionViews = async (): Promise<SessionView[]> => {
    const list = await store.bridgeSessions.list({ liveOrUpdatedSince: new Date(now().getTime() - 86_400_000), limit: 500 });
    const [rooms, meetings] = await Promise.all([store.rooms.getMany(list.map((s) => s.roomId)), store.meetings.getMany(list.map((s) => s.occurrenceKey))]);
    const roomName = new Map(rooms.map((r) => [r.id, r.displayName]));
    const subject = new Map(meetings.map((m) => [m.occurrenceKey, m.subjectShown]));
    return list.map((s) => sessionView(s, roomName.get(s.roomId) ?? s.roomId, subject.get(s.occurrenceKey) ?? null));
  };

  app.get("/sessions", routeOf(), async (req, reply) => send(reply, sessionsPage(c.ctx(req), await sessionViews())));
  app.get("/sessions.json", routeOf(), async (_req, reply) => reply.header("cache-control", "no-store").send({ sessions: await sessionViews() }));
  app.get("/sessions/rows", routeOf(), async (_req, reply) => send(reply, sessionRows(await sessionViews())));

  app.get("/sessions/:id", routeOf(), async (req, reply) => {
    const { id } = params(req);
    const [session, events] = await Promise.all([store.bridgeSessions.getBySessionId(id), store.eventLog.list({ sessionId: id, limit: 500 })]);
    if (session === null && events.length === 0) return c.notFound(req, reply, "bridge session");
    let view: SessionView | null = null;
    if (session !== null) {
      const [room, meeting] = await Promise.all([store.rooms.get(session.roomId), store.meetings.get(session.occurrenceKey)]);
      view = sessionView(session, room?.displayName ?? session.roomId, meeting?.subjectShown ?? null);
    }
    return send(reply, sessionTimelinePage(c.ctx(req), id, view, events.reverse()));
  });
}
