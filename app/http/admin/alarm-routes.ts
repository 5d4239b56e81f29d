/**
 * The console's Alarms page (open alarms, room and engine-wide, with acknowledge and mute, and
 * their history) and the Health page (readiness, counters since start, open alarms).
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { LIVE_BRIDGE_STATES } from "../../../core/ports/store.ts";
import { buildStatus } from "../../status.ts";
import { alarmsPage, MUTE_HOURS } from "./alarms-view.ts";
import { type ConsoleContext, routeOf } from "./context.ts";
import { healthPage } from "./health-view.ts";
import { MuteForm, params, parseInput } from "./input.ts";
import { messagePage } from "./views.ts";

export function alarmRoutes(app: FastifyInstance, c: ConsoleContext): void {
  const { deps, store, log, now, send } = c;

  app.get("/alarms", routeOf(), async (req, reply) => {
    const [open, history] = await Promise.all([store.alarms.listOpen(), store.alarms.history({ limit: 200 })]);
    return send(reply, alarmsPage(c.ctx(req), open, history, now()));
  });

  const alarmOr404 = async (req: FastifyRequest, reply: FastifyReply) => {
    const alarm = await store.alarms.get(params(req).id);
    if (alarm === null) c.notFound(req, reply, "alarm");
    return alarm;
  };

  app.post("/alarms/:id/ack", { ...routeOf("operator"), bodyLimit: 16 * 1024 }, async (req, reply) => {
    const alarm = await alarmOr404(req, reply);
    if (alarm === null) return reply;
    await store.alarms.acknowledge(alarm.id, c.actor(req), now());
    await c.audit(req, {
      kind: "admin.alarm-acknowledged",
      roomId: alarm.roomId,
      message: `acknowledged alarm ${alarm.code}`,
      data: { alarmId: alarm.id, code: alarm.code },
    });
    log.info({ alarmId: alarm.id, code: alarm.code }, "alarm acknowledged");
    return reply.redirect("/admin/alarms?done=alarm-acked", 303);
  });

  app.post("/alarms/:id/mute", { ...routeOf("admin"), bodyLimit: 16 * 1024 }, async (req, reply) => {
    const { hours } = parseInput(MuteForm, req.body, "form");
    if (!MUTE_HOURS.some(([v]) => v === hours)) return send(reply, messagePage(c.ctx(req), "Not saved", "Choose how long to mute the alarm."), 400);
    const alarm = await alarmOr404(req, reply);
    if (alarm === null) return reply;
    const until = hours === "0" ? null : new Date(now().getTime() + Number(hours) * 3_600_000);
    await store.alarms.mute(alarm.id, c.actor(req), until);
    await c.audit(req, {
      kind: until ? "admin.alarm-muted" : "admin.alarm-unmuted",
      roomId: alarm.roomId,
      message: until ? `muted alarm ${alarm.code} until ${until.toISOString()}` : `unmuted alarm ${alarm.code}`,
      data: { alarmId: alarm.id, code: alarm.code, mutedUntil: until?.toISOString() ?? null },
    });
    log.info({ alarmId: alarm.id, code: alarm.code, mutedUntil: until?.toISOString() ?? null }, until ? "alarm muted" : "alarm unmuted");
    return reply.redirect(`/admin/alarms?done=${until ? "alarm-muted" : "alarm-unmuted"}`, 303);
  });

  app.get("/health", routeOf(), async (req, reply) => {
    const [checks, status, metrics] = await Promise.all([deps.readiness(), buildStatus(store, now(), deps.settings), deps.metrics.registry.getMetricsAsJSON()]);
    const sum = (name: string, filter: (labels: Record<string, unknown>) => boolean = () => true) =>
      (metrics.find((m) => m.name === name)?.values ?? []).filter((v) => filter(v.labels as Record<string, unknown>)).reduce((n, v) => n + Number(v.value), 0);
    const okAndFailed = (name: string, label: string, ok: string) => `${sum(name, (l) => l[label] === ok)} / ${sum(name, (l) => l[label] !== ok)}`;
    const counters = [
      { label: "Poll rounds (ok / failed)", value: okAndFailed("otj_poll_rounds_total", "outcome", "ok") },
      {
        label: "Graph requests (all / throttled 429)",
        value: `${sum("otj_graph_requests_total")} / ${sum("otj_graph_requests_total", (l) => l.status === "429")}`,
      },
      { label: "Graph throttling waits", value: `${sum("otj_graph_throttle_wait_seconds_total").toFixed(1)} s` },
      { label: "Device pushes (ok / failed)", value: okAndFailed("otj_device_pushes_total", "result", "ok") },
      { label: "Live bridge sessions", value: String(status.bridgeSessions.filter((s) => LIVE_BRIDGE_STATES.includes(s.state)).length) },
      { label: "Alarm notifications (delivered / failed)", value: okAndFailed("otj_alert_notifications_total", "outcome", "delivered") },
    ];
    const alarms = status.rooms.flatMap((r) => r.alarms.map((a) => ({ room: r.displayName, mailbox: r.mailbox, ...a })));
    // Engine-wide alarms (no bridge, consent, secrets.key, failed notifications), as the status lists them.
    for (const a of status.engineAlarms ?? []) alarms.push({ room: "Engine-wide", mailbox: a.subject, code: a.code, since: a.since, message: a.message });
    return send(reply, healthPage(c.ctx(req), { checks, metrics: counters, alarms, rooms: status.rooms.length }));
  });
}
