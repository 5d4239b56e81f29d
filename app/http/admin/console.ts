/**
 * The admin web console at /admin, served by the engine's own fastify server: server-rendered
 * pages and one small script (live bridge sessions, CSV file picker). Sign-in with the admin token
 * sets an HttpOnly, SameSite=Strict session cookie; every change carries the session's CSRF token;
 * every page has a strict Content-Security-Policy (no inline script or style at all).
 *
 * Named sign-in (`http.oidc.*`, oidc.ts) gives each user a role: `viewer` reads, `operator` also
 * polls now and rotates device tokens, `admin` changes rooms, providers and imports. The admin
 * token stays as break-glass: it signs in as admin and every such sign-in is logged as such.
 * Every change made here is written to the event log with who made it, before and after.
 */
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { issueMissingEwsPasswords } from "../../ews-credentials.ts";
import type { Clock } from "../../../core/clock.ts";
import { isOtjError } from "../../../core/errors.ts";
import type { Logger } from "../../../core/logger.ts";
import { LIVE_BRIDGE_STATES, type NewProvider, type ProviderChanges, type Room, type RoomChanges, type Store } from "../../../core/ports/store.ts";
import type { EngineMetrics } from "../../metrics.ts";
import { buildStatus, deviceStatus, lastPoll, roomAlarms, type StatusSettings } from "../../status.ts";
import { FailureLimiter, secretEquals } from "../auth.ts";
import { applyRoomsDiff, diffRoomsCsv } from "./import-diff.ts";
import { registerReports } from "./reports.ts";
import { roomsCsv } from "./rooms-csv.ts";
import { alarmsPage, MUTE_HOURS } from "./alarms-view.ts";
import { adminAudit, type AuditEntry } from "./audit.ts";
import { OidcSignIn, type OidcSettings, type PendingSignIn } from "./oidc.ts";
import { type ConsoleSession, ConsoleSessions, cookieValue, roleAllows, SESSION_COOKIE } from "./session.ts";
import * as views from "./views.ts";

export interface ConsoleDeps {
  store: Store;
  clock: Clock;
  logger: Logger;
  metrics: EngineMetrics;
  adminToken: string | null;
  settings: StatusSettings;
  readiness: () => Promise<Record<string, true | string>>;
  /** Makes a room due now (the "Poll now" action). */
  pollNow?: (room: Room) => Promise<void> | void;
  /** A room was added or changed: plan and push again. */
  roomChanged?: (room: Room) => void;
  /** Session lifetime (default 8 hours). */
  sessionTtlMs?: number;
  /** `http.publicUrl`: behind a TLS terminator, the https origin browsers use. */
  publicUrl?: string | null;
  /** `http.timeZone`: the reports' zone when the page names none (default UTC). */
  timeZone?: string;
  /** `http.oidc.*`: named sign-in (null or absent: the admin token only). */
  oidc?: OidcSettings | null;
}

const PENDING_COOKIE = "otj_oidc";
/** How long a browser may spend at the provider between the redirect and the callback. */
const PENDING_TTL_MS = 10 * 60_000;

/** The role a console POST needs (every other POST: admin). */
function roleNeeded(method: string, path: string): "viewer" | "operator" | "admin" {
  if (method !== "POST" || path === "/admin/logout") return "viewer";
  if (/^\/admin\/rooms\/[^/]+\/(poll|token)$/.test(path) || /^\/admin\/alarms\/[^/]+\/ack$/.test(path)) return "operator";
  return "admin";
}

const PAGE_SIZE = 50;
const CSP =
  "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

const NOTICES: Record<string, string> = {
  "room-added": "Room added.",
  "room-saved": "Room saved.",
  "room-removed": "Room removed.",
  "poll-requested": "Poll requested: the room is due now.",
  "provider-added": "Provider added.",
  "provider-saved": "Provider saved.",
  "provider-removed": "Provider removed.",
  "signed-out": "Signed out.",
  "alarm-acked": "Alarm acknowledged.",
  "alarm-muted": "Alarm muted.",
  "alarm-unmuted": "Alarm unmuted.",
};

const ASSETS: Readonly<Record<string, { type: string; body: string }>> = {
  "console.css": { type: "text/css; charset=utf-8", body: readFileSync(new URL("./assets/console.css", import.meta.url), "utf8") },
  "console.js": { type: "text/javascript; charset=utf-8", body: readFileSync(new URL("./assets/console.js", import.meta.url), "utf8") },
  "favicon.svg": { type: "image/svg+xml", body: readFileSync(new URL("./assets/favicon.svg", import.meta.url), "utf8") },
};

type Form = Record<string, string | undefined>;

declare module "fastify" {
  interface FastifyRequest {
    consoleSession?: ConsoleSession;
  }
}

function formOf(req: FastifyRequest): Form {
  const body = req.body;
  return body && typeof body === "object" ? (body as Form) : {};
}

/** An empty field is absent (keep), for optional text fields that may be cleared: null. */
const optional = (value: string | undefined) => (value === undefined || value.trim() === "" ? null : value.trim());

function problemsOf(error: unknown): string[] {
  if (isOtjError(error)) {
    const details = (error as { details?: { problems?: unknown } }).details;
    if (Array.isArray(details?.problems)) return details.problems.map(String);
    return [error.message];
  }
  throw error;
}

function safeNext(next: string | undefined): string {
  // Only a console path: no scheme, no other host, no dot segments.
  return next && /^\/admin(\/[A-Za-z0-9_./?=&%-]*)?$/.test(next) && !next.includes("//") && !next.includes("..") ? next : "/admin/rooms";
}

export function registerAdminConsole(app: FastifyInstance, deps: ConsoleDeps): void {
  const oidc = deps.oidc ? new OidcSignIn(deps.oidc) : null;
  // Without an admin token the cookies are signed with the client secret, or a key of this process.
  const keyMaterial = oidc ? (deps.oidc?.clientSecret ?? randomBytes(32).toString("base64url")) : null;
  const sessions = new ConsoleSessions(deps.adminToken, deps.sessionTtlMs ?? 8 * 3_600_000, deps.store.consoleRevocations, keyMaterial);
  // Failed sign-ins per client address (behind a proxy: http.trustProxy makes that the browser's).
  const signInFailures = new FailureLimiter(10, 60_000);
  const log = deps.logger.child({ component: "console" });
  const now = () => deps.clock.now();
  const config = { auth: "console" as const };
  const publicOrigin = deps.publicUrl ? new URL(deps.publicUrl).origin : null;
  // Behind a TLS terminator otj sees plain HTTP: https in http.publicUrl or X-Forwarded-Proto
  // still marks the cookie Secure.
  const secure = (req: FastifyRequest) =>
    req.protocol === "https" || publicOrigin?.startsWith("https:") === true || req.headers["x-forwarded-proto"] === "https";
  /** Same origin: this host (any scheme: a TLS terminator changes it), or http.publicUrl's origin. */
  const sameOrigin = (origin: string, req: FastifyRequest) => {
    if (origin === publicOrigin) return true;
    try {
      const url = new URL(origin);
      return (url.protocol === "http:" || url.protocol === "https:") && url.host === req.headers.host;
    } catch {
      return false;
    }
  };

  const send = (reply: FastifyReply, body: string, status = 200) =>
    reply.code(status).header("content-type", "text/html; charset=utf-8").header("cache-control", "no-store").send(body);

  // Security headers on everything under /admin, and the sign-in gate.
  app.addHook("onRequest", async (req, reply) => {
    if (!req.url.startsWith("/admin")) return;
    reply.header("content-security-policy", CSP);
    reply.header("x-content-type-options", "nosniff");
    reply.header("x-frame-options", "DENY");
    // same-origin, not no-referrer: with no-referrer browsers send `Origin: null` on form posts.
    reply.header("referrer-policy", "same-origin");
    const path = req.url.split("?")[0] ?? "";
    if (path === "/admin/login" || path.startsWith("/admin/assets/") || path === "/admin/oidc/start" || path === "/admin/oidc/callback") return;
    const session = await sessions.verify(cookieValue(req.headers.cookie, SESSION_COOKIE), now().getTime());
    if (session === null) {
      if (path.endsWith(".json")) return reply.code(401).send({ error: { code: "OTJ_HTTP_UNAUTHORIZED", message: "sign in first" } });
      const next = req.method === "GET" ? req.url : "/admin/rooms";
      return reply.redirect(`/admin/login?next=${encodeURIComponent(next)}`, 303);
    }
    req.consoleSession = session;
  });

  // Every change: same origin when the browser says where it comes from, and the CSRF token.
  app.addHook("preHandler", async (req, reply) => {
    if (!req.url.startsWith("/admin") || req.method !== "POST") return;
    const origin = req.headers.origin;
    if (origin !== undefined && !sameOrigin(origin, req)) {
      return send(reply, views.messagePage({ csrf: null }, "Refused", "The request did not come from this console."), 403);
    }
    if (req.url.split("?")[0] === "/admin/login") return;
    const session = req.consoleSession;
    if (!session || !sessions.checkCsrf(session, formOf(req)._csrf)) {
      log.warn({ path: req.url.split("?")[0] }, "console change refused: missing or wrong CSRF token");
      return send(
        reply,
        views.messagePage({ csrf: session?.csrf ?? null }, "Refused", "The form expired or did not come from this console: reload the page and try again."),
        403,
      );
    }
    const needed = roleNeeded(req.method, req.url.split("?")[0] ?? "");
    if (!roleAllows(session.role, needed)) {
      log.warn({ path: req.url.split("?")[0], who: session.who, role: session.role, needed }, "console change refused: role");
      return send(
        reply,
        views.messagePage({ csrf: session.csrf }, "Not allowed", `This action needs the ${needed} role; you are signed in as ${session.role}.`),
        403,
      );
    }
  });

  /** Records a change in the event log: who (and how signed in), what, before and after. */
  const audit = async (req: FastifyRequest, entry: AuditEntry) => {
    const session = req.consoleSession;
    const by = session ? { who: session.who, via: session.via, role: session.role } : { who: "unknown", via: "token" as const, role: "admin" as const };
    try {
      await deps.store.eventLog.append([adminAudit(now(), by, entry)]);
    } catch (error) {
      // The change is made; a lost audit line is logged (not the values) rather than undoing it.
      log.error({ kind: entry.kind, err: (error as Error).message }, "audit entry not written");
    }
  };

  const ctx = (req: FastifyRequest, extra: Partial<views.PageContext> = {}): views.PageContext => {
    const code = (req.query as { done?: string }).done;
    const session = req.consoleSession;
    return {
      csrf: session?.csrf ?? null,
      notice: code ? (NOTICES[code] ?? null) : null,
      user: session ? { who: session.who, role: session.role } : null,
      ...extra,
    };
  };

  const roomOr404 = async (req: FastifyRequest, reply: FastifyReply): Promise<Room | null> => {
    const room = await deps.store.rooms.get((req.params as { id: string }).id);
    if (room === null) send(reply, views.messagePage(ctx(req), "Not found", "There is no such room."), 404);
    return room;
  };

  app.get("/admin/assets/:file", { config }, async (req, reply) => {
    const file = (req.params as { file: string }).file;
    // Own keys only: `__proto__`, `constructor` and friends are no assets.
    const asset = Object.hasOwn(ASSETS, file) ? ASSETS[file] : undefined;
    if (!asset) return reply.code(404).send("not found");
    return reply.header("content-type", asset.type).header("cache-control", "public, max-age=300").send(asset.body);
  });

  app.get("/admin", { config }, async (_req, reply) => reply.redirect("/admin/rooms", 303));

  // --- sign-in -----------------------------------------------------------------------------------

  app.get("/admin/login", { config }, async (req, reply) => {
    const q = req.query as { next?: string; done?: string };
    return send(
      reply,
      views.loginPage(null, safeNext(q.next), deps.adminToken !== null, q.done === "signed-out" ? (NOTICES["signed-out"] ?? null) : null, oidc !== null),
    );
  });

  // --- named sign-in (OpenID Connect) ------------------------------------------------------------

  const origin = (req: FastifyRequest) => publicOrigin ?? `${req.protocol}://${req.headers.host ?? "127.0.0.1"}`;
  const pendingCookie = (value: string | null, req: FastifyRequest) => {
    // Lax: the provider sends the browser back with a cross-site top-level GET.
    const attributes = ["Path=/admin/oidc", "HttpOnly", "SameSite=Lax", ...(secure(req) ? ["Secure"] : [])];
    return [`${PENDING_COOKIE}=${value ?? ""}`, `Max-Age=${value === null ? 0 : PENDING_TTL_MS / 1000}`, ...attributes].join("; ");
  };
  const signInFailed = (reply: FastifyReply, req: FastifyRequest, message: string, status: number) =>
    send(reply.header("set-cookie", pendingCookie(null, req)), views.loginPage(message, "/admin/rooms", deps.adminToken !== null, null, oidc !== null), status);

  app.get("/admin/oidc/start", { config }, async (req, reply) => {
    if (!oidc) return send(reply, views.messagePage(ctx(req), "Not found", "Named sign-in is not configured."), 404);
    const next = safeNext((req.query as { next?: string }).next);
    try {
      const { url, pending } = await oidc.start(`${origin(req)}/admin/oidc/callback`, next);
      const sealed = sessions.seal(JSON.stringify({ ...pending, expiresAt: now().getTime() + PENDING_TTL_MS }));
      return reply.header("set-cookie", pendingCookie(sealed, req)).redirect(url, 303);
    } catch (error) {
      log.error({ err: (error as Error).message }, "named sign-in cannot start");
      return signInFailed(reply, req, "The sign-in provider cannot be reached; try again later or use the admin token.", 502);
    }
  });

  app.get("/admin/oidc/callback", { config }, async (req, reply) => {
    if (!oidc) return send(reply, views.messagePage(ctx(req), "Not found", "Named sign-in is not configured."), 404);
    const sealed = sessions.unseal(cookieValue(req.headers.cookie, PENDING_COOKIE));
    let pending: (PendingSignIn & { expiresAt: number }) | null = null;
    try {
      pending = sealed === null ? null : (JSON.parse(sealed) as PendingSignIn & { expiresAt: number });
    } catch {
      pending = null;
    }
    if (pending === null || !(pending.expiresAt > now().getTime()))
      return signInFailed(reply, req, "The sign-in expired or was not started here: sign in again.", 400);
    const query = req.url.includes("?") ? req.url.slice(req.url.indexOf("?") + 1) : "";
    try {
      const user = await oidc.finish(query, pending);
      const { cookie, session } = sessions.create(now().getTime(), { via: "oidc", who: user.who, role: user.role });
      log.info({ who: user.who, role: user.role, ip: req.ip }, "console sign-in (OpenID Connect)");
      req.consoleSession = session;
      await audit(req, { kind: "admin.sign-in", message: `${user.who} signed in as ${user.role}` });
      // A page, not a redirect: a redirect chain that began at the provider (another site) would
      // not carry the SameSite=Strict session cookie to the next page.
      return send(reply.header("set-cookie", [sessions.setCookie(cookie, secure(req)), pendingCookie(null, req)]), views.signedInPage(pending.next));
    } catch (error) {
      const forbidden = isOtjError(error) && error.code === "OTJ_HTTP_FORBIDDEN";
      log.warn({ ip: req.ip, reason: forbidden ? "no console role" : (error as Error).message }, "console sign-in (OpenID Connect) refused");
      return signInFailed(
        reply,
        req,
        forbidden ? "Your account has no role in this console: ask an administrator." : "Sign-in failed: the provider's answer could not be verified.",
        forbidden ? 403 : 401,
      );
    }
  });

  // Open to anyone: a token and a path fit in far less.
  app.post("/admin/login", { config, bodyLimit: 16 * 1024 }, async (req, reply) => {
    const form = formOf(req);
    const next = safeNext(form.next);
    const wait = signInFailures.waitMs(req.ip, now().getTime());
    if (wait > 0)
      return send(
        reply.header("retry-after", String(Math.ceil(wait / 1000))),
        views.loginPage("Too many failed attempts: wait a minute.", next, sessions.enabled),
        429,
      );
    if (!sessions.enabled || !secretEquals(form.token ?? null, deps.adminToken)) {
      signInFailures.fail(req.ip, now().getTime());
      log.warn({ ip: req.ip }, "console sign-in refused");
      return send(reply, views.loginPage("That is not the admin token.", next, sessions.enabled), 401);
    }
    const { cookie, session } = sessions.create(now().getTime());
    log.warn({ ip: req.ip, who: session.who, breakGlass: true }, "console sign-in with the admin token (break-glass)");
    req.consoleSession = session;
    await audit(req, { kind: "admin.sign-in", message: "signed in with the admin token (break-glass)", data: { breakGlass: true } });
    return reply.header("set-cookie", sessions.setCookie(cookie, secure(req))).redirect(next, 303);
  });

  app.post("/admin/logout", { config }, async (req, reply) => {
    if (req.consoleSession) await sessions.revoke(req.consoleSession, now().getTime());
    reply.header("set-cookie", sessions.setCookie(null, secure(req)));
    const back = `${origin(req)}/admin/login?done=signed-out`;
    if (oidc && req.consoleSession?.via === "oidc") {
      // Also end the session at the provider when it offers that; otj's own is gone either way.
      const url = await oidc.endSessionUrl(back, null).catch(() => null);
      if (url !== null) return send(reply, views.forwardPage("Signed out", url, "Sign out at your organisation's sign-in too"));
    }
    return reply.redirect("/admin/login?done=signed-out", 303);
  });

  // --- rooms -------------------------------------------------------------------------------------

  app.get("/admin/rooms", { config }, async (req, reply) => {
    const q = req.query as { q?: unknown; page?: unknown };
    // Control characters (a NUL is no text to PostgreSQL) cannot be part of a mailbox or name.
    const search = (typeof q.q === "string" ? q.q : "").replace(/[\u0000-\u001f\u007f]/g, "").slice(0, 200);
    // Past the last page shows the last page; a page number beyond any real count is clamped first.
    const requested = typeof q.page === "string" && /^\d{1,7}$/.test(q.page) ? Math.max(1, Number(q.page)) : 1;
    const providers = await deps.store.providers.list();
    const filters = views.roomFilters(req.query as Record<string, unknown>, providers);
    const filterQuery = {
      ...(filters.provider ? { providerId: providers.find((p) => p.name === filters.provider)?.id ?? "" } : {}),
      ...(filters.family ? { deviceFamily: filters.family } : {}),
      ...(filters.source ? { source: filters.source } : {}),
      ...(filters.failing ? { failing: true } : {}),
      sort: filters.sort,
    };
    let result = await deps.store.rooms.page({ search, ...filterQuery, offset: (requested - 1) * PAGE_SIZE, limit: PAGE_SIZE });
    const pages = Math.max(1, Math.ceil(result.total / PAGE_SIZE));
    const pageNo = Math.min(requested, pages);
    if (pageNo !== requested) result = await deps.store.rooms.page({ search, ...filterQuery, offset: (pageNo - 1) * PAGE_SIZE, limit: PAGE_SIZE });
    const t = now();
    const horizon = new Date(t.getTime() + deps.settings.windowFutureDays * 86_400_000);
    // Only this page's rooms: three queries for the page, whatever the number of rooms.
    const ids = result.rooms.map((r) => r.id);
    const [cursors, devices, next] = await Promise.all([
      deps.store.syncCursors.getMany(ids),
      deps.store.deviceStates.getMany(ids),
      deps.store.meetings.nextForRooms(ids, t, horizon),
    ]);
    const cursorOf = new Map(cursors.map((c) => [c.roomId, c]));
    const deviceOf = new Map(devices.map((d) => [d.roomId, d]));
    const nextOf = new Map(next.map((m) => [m.roomId, m]));
    const rows = result.rooms.map((room): views.RoomRowView => {
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
    return send(reply, views.roomsPage(ctx(req), rows, { search, page: pageNo, pages, total: result.total, filters, providers: providers.map((p) => p.name) }));
  });

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

  app.get("/admin/rooms.csv", { config }, async (_req, reply) =>
    reply
      .header("content-type", "text/csv; charset=utf-8")
      .header("content-disposition", 'attachment; filename="otj-rooms.csv"')
      .header("cache-control", "no-store")
      .send(roomsCsv(await deps.store.rooms.list())),
  );

  app.get("/admin/rooms/new", { config }, async (req, reply) => send(reply, views.roomFormPage(ctx(req), await deps.store.providers.list(), {}, null)));

  app.post("/admin/rooms", { config }, async (req, reply) => {
    const form = formOf(req);
    try {
      const added = await deps.store.rooms.add(
        { mailbox: form.mailbox ?? "", ...roomInput(form), devicePassword: form.devicePassword ? form.devicePassword : null },
        now(),
      );
      deps.roomChanged?.(added.room);
      await audit(req, { kind: "admin.room-added", roomId: added.room.id, message: `added room ${added.room.mailbox}`, after: added.room });
      if (added.deviceToken !== null)
        return send(reply, views.tokenPage(ctx(req, { notice: "Room added." }), added.room, added.deviceToken, "The room's pull device token:"));
      const [ews] = await issueMissingEwsPasswords(deps.store, [added.room], now());
      if (ews !== undefined)
        return send(
          reply,
          views.tokenPage(ctx(req, { notice: "Room added." }), added.room, ews.devicePassword, `The EWS device password of user ${ews.deviceUsername}:`),
        );
      return reply.redirect(`/admin/rooms/${added.room.id}?done=room-added`, 303);
    } catch (error) {
      return send(
        reply,
        views.roomFormPage(ctx(req, { errors: problemsOf(error) }), await deps.store.providers.list(), { ...form, devicePassword: undefined }, null),
        400,
      );
    }
  });

  app.get("/admin/rooms/:id", { config }, async (req, reply) => {
    const room = await roomOr404(req, reply);
    if (!room) return reply;
    const t = now();
    const window = {
      from: new Date(t.getTime() - deps.settings.endBufferMinutes * 60_000 - 86_400_000),
      to: new Date(t.getTime() + deps.settings.windowFutureDays * 86_400_000),
    };
    const [cursor, device, meetings, sessions] = await Promise.all([
      deps.store.syncCursors.get(room.id),
      deps.store.deviceStates.get(room.id),
      deps.store.meetings.list(room.id, { ...window, includeCancelled: true }),
      // The sessions of the meetings shown: live ones and those changed in the last month.
      deps.store.bridgeSessions.list({ roomId: room.id, liveOrUpdatedSince: new Date(t.getTime() - 30 * 86_400_000), limit: 1_000 }),
    ]);
    return send(
      reply,
      views.roomDetailPage(ctx(req), {
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
      }),
    );
  });

  app.get("/admin/rooms/:id/timeline", { config }, async (req, reply) => {
    const room = await roomOr404(req, reply);
    if (!room) return reply;
    const events = await deps.store.eventLog.list({ roomId: room.id, limit: 500 });
    return send(reply, views.timelinePage(ctx(req), room, events.reverse()));
  });

  app.get("/admin/rooms/:id/edit", { config }, async (req, reply) => {
    const room = await roomOr404(req, reply);
    if (!room) return reply;
    return send(reply, views.roomFormPage(ctx(req), await deps.store.providers.list(), views.roomFormValues(room), room));
  });

  app.post("/admin/rooms/:id", { config }, async (req, reply) => {
    const room = await roomOr404(req, reply);
    if (!room) return reply;
    const form = formOf(req);
    const changes: RoomChanges = roomInput(form);
    if (form.clearPassword === "true") changes.devicePassword = null;
    else if (form.devicePassword) changes.devicePassword = form.devicePassword;
    try {
      const saved = await deps.store.rooms.update(room.id, changes, now());
      deps.roomChanged?.(saved);
      const password = form.clearPassword === "true" ? "cleared" : form.devicePassword ? "changed" : "kept";
      await audit(req, {
        kind: "admin.room-changed",
        roomId: room.id,
        message: `changed room ${room.mailbox}`,
        before: room,
        after: saved,
        data: { devicePassword: password },
      });
      return reply.redirect(`/admin/rooms/${room.id}?done=room-saved`, 303);
    } catch (error) {
      return send(
        reply,
        views.roomFormPage(
          ctx(req, { errors: problemsOf(error) }),
          await deps.store.providers.list(),
          { ...form, mailbox: room.mailbox, devicePassword: undefined },
          room,
        ),
        400,
      );
    }
  });

  app.get("/admin/rooms/:id/remove", { config }, async (req, reply) => {
    const room = await roomOr404(req, reply);
    if (!room) return reply;
    return send(reply, views.confirmRemovePage(ctx(req), room));
  });

  app.post("/admin/rooms/:id/remove", { config }, async (req, reply) => {
    const room = await roomOr404(req, reply);
    if (!room) return reply;
    await deps.store.rooms.remove(room.id);
    await audit(req, { kind: "admin.room-removed", roomId: room.id, message: `removed room ${room.mailbox}`, before: room });
    return reply.redirect("/admin/rooms?done=room-removed", 303);
  });

  app.post("/admin/rooms/:id/token", { config }, async (req, reply) => {
    const room = await roomOr404(req, reply);
    if (!room) return reply;
    const token = await deps.store.rooms.rotateDeviceToken(room.id, now());
    const fresh = (await deps.store.rooms.get(room.id)) ?? room;
    await audit(req, {
      kind: "admin.device-token-rotated",
      roomId: room.id,
      message: `rotated the device token of ${room.mailbox}`,
      data: { hadToken: room.device.hasToken },
    });
    return send(
      reply,
      views.tokenPage(ctx(req), fresh, token, room.device.hasToken ? "The new device token; the old one no longer works." : "The room's new device token:"),
    );
  });

  app.post("/admin/rooms/:id/poll", { config }, async (req, reply) => {
    const room = await roomOr404(req, reply);
    if (!room) return reply;
    await deps.store.syncCursors.markDue(room.id, now());
    await deps.pollNow?.(room);
    await audit(req, { kind: "admin.poll-now", roomId: room.id, message: `asked to poll ${room.mailbox} now` });
    return reply.redirect(`/admin/rooms/${room.id}?done=poll-requested`, 303);
  });

  // --- import ------------------------------------------------------------------------------------

  app.get("/admin/import", { config }, async (req, reply) => send(reply, views.importPage(ctx(req), "", null)));

  app.post("/admin/import", { config, bodyLimit: 8 * 1024 * 1024 }, async (req, reply) => {
    const form = formOf(req);
    const csv = form.csv ?? "";
    let diff: Awaited<ReturnType<typeof diffRoomsCsv>>;
    try {
      diff = await diffRoomsCsv(deps.store, csv);
    } catch (error) {
      return send(reply, views.importPage(ctx(req, { errors: problemsOf(error) }), csv, null), 400);
    }
    if (form.mode !== "apply" || diff.counts.refuse > 0 || diff.counts.add + diff.counts.change === 0) {
      return send(reply, views.importPage(ctx(req), csv, diff), form.mode === "apply" && diff.counts.refuse > 0 ? 400 : 200);
    }
    try {
      const changing = new Set(diff.lines.filter((l) => l.action === "change").map((l) => l.mailbox));
      const changedBefore = new Map((await deps.store.rooms.list()).filter((r) => changing.has(r.mailbox)).map((r) => [r.id, r]));
      const result = await applyRoomsDiff(deps.store, diff, now());
      for (const { room } of result.added) deps.roomChanged?.(room);
      for (const room of result.changed) deps.roomChanged?.(room);
      for (const { room } of result.added)
        await audit(req, { kind: "admin.room-added", roomId: room.id, message: `added room ${room.mailbox} (import)`, after: room, data: { import: true } });
      for (const room of result.changed)
        await audit(req, {
          kind: "admin.room-changed",
          roomId: room.id,
          message: `changed room ${room.mailbox} (import)`,
          before: changedBefore.get(room.id) ?? null,
          after: room,
          data: { import: true },
        });
      await audit(req, {
        kind: "admin.import",
        message: `imported rooms: ${result.added.length} added, ${result.changed.length} changed`,
        data: { added: result.added.length, changed: result.changed.length },
      });
      return send(reply, views.importDonePage(ctx(req), result.added, result.changed));
    } catch (error) {
      const problems = error instanceof Error && !isOtjError(error) ? [error.message] : problemsOf(error);
      return send(reply, views.importPage(ctx(req, { errors: problems }), csv, diff), 409);
    }
  });

  // --- providers ---------------------------------------------------------------------------------

  const providerUsage = () => deps.store.rooms.countByProvider();
  const roomsUsing = async (providerId: string) => (await providerUsage()).get(providerId) ?? 0;
  const providerInput = (form: Form): NewProvider & ProviderChanges => ({
    name: (form.name ?? "").trim(),
    partner: form.partner ?? "",
    tenantKey: optional(form.tenantKey),
    sipDomain: optional(form.sipDomain),
    ivrAddress: optional(form.ivrAddress),
    sgjEnabled: form.sgjEnabled === "true",
    sgjTemplate: optional(form.sgjTemplate),
    instructionUrl: optional(form.instructionUrl),
  });

  app.get("/admin/providers", { config }, async (req, reply) =>
    send(reply, views.providersPage(ctx(req), await deps.store.providers.list(), await providerUsage(), { sgjEnabled: "true" })),
  );

  app.post("/admin/providers", { config }, async (req, reply) => {
    const form = formOf(req);
    try {
      const added = await deps.store.providers.add(providerInput(form), now());
      await audit(req, { kind: "admin.provider-added", message: `added provider ${added.name}`, after: added });
      return reply.redirect("/admin/providers?done=provider-added", 303);
    } catch (error) {
      return send(reply, views.providersPage(ctx(req, { errors: problemsOf(error) }), await deps.store.providers.list(), await providerUsage(), form), 400);
    }
  });

  const providerOr404 = async (req: FastifyRequest, reply: FastifyReply) => {
    const provider = await deps.store.providers.get((req.params as { id: string }).id);
    if (provider === null) send(reply, views.messagePage(ctx(req), "Not found", "There is no such provider."), 404);
    return provider;
  };

  app.get("/admin/providers/:id/edit", { config }, async (req, reply) => {
    const provider = await providerOr404(req, reply);
    if (!provider) return reply;
    return send(reply, views.providerEditPage(ctx(req), provider, views.providerFormValues(provider), await roomsUsing(provider.id)));
  });

  app.post("/admin/providers/:id", { config }, async (req, reply) => {
    const provider = await providerOr404(req, reply);
    if (!provider) return reply;
    const form = formOf(req);
    try {
      const saved = await deps.store.providers.update(provider.id, providerInput(form), now());
      await audit(req, { kind: "admin.provider-changed", message: `changed provider ${provider.name}`, before: provider, after: saved });
      for (const room of await deps.store.rooms.list({ providerId: provider.id })) deps.roomChanged?.(room);
      return reply.redirect("/admin/providers?done=provider-saved", 303);
    } catch (error) {
      return send(reply, views.providerEditPage(ctx(req, { errors: problemsOf(error) }), provider, form, await roomsUsing(provider.id)), 400);
    }
  });

  app.post("/admin/providers/:id/remove", { config }, async (req, reply) => {
    const provider = await providerOr404(req, reply);
    if (!provider) return reply;
    const form = formOf(req);
    try {
      const rooms = await deps.store.rooms.list({ providerId: provider.id });
      await deps.store.providers.remove(provider.id, form.force === "true", now());
      await audit(req, {
        kind: "admin.provider-removed",
        message: `removed provider ${provider.name}`,
        before: provider,
        data: { force: form.force === "true", rooms: rooms.length },
      });
      for (const room of rooms) deps.roomChanged?.(room);
      return reply.redirect("/admin/providers?done=provider-removed", 303);
    } catch (error) {
      return send(
        reply,
        views.providerEditPage(ctx(req, { errors: problemsOf(error) }), provider, views.providerFormValues(provider), await roomsUsing(provider.id)),
        409,
      );
    }
  });

  // --- bridge sessions ---------------------------------------------------------------------------

  // Polled every 2 s by each open sessions page: three queries, none of them over all rooms.
  const sessionViews = async (): Promise<views.SessionView[]> => {
    const list = await deps.store.bridgeSessions.list({ liveOrUpdatedSince: new Date(now().getTime() - 86_400_000), limit: 500 });
    const [rooms, meetings] = await Promise.all([
      deps.store.rooms.getMany(list.map((s) => s.roomId)),
      deps.store.meetings.getMany(list.map((s) => s.occurrenceKey)),
    ]);
    const roomName = new Map(rooms.map((r) => [r.id, r.displayName]));
    const subject = new Map(meetings.map((m) => [m.occurrenceKey, m.subjectShown]));
    return list.map((s) => views.sessionView(s, roomName.get(s.roomId) ?? s.roomId, subject.get(s.occurrenceKey) ?? null));
  };

  app.get("/admin/sessions", { config }, async (req, reply) => send(reply, views.sessionsPage(ctx(req), await sessionViews())));
  app.get("/admin/sessions.json", { config }, async (_req, reply) => reply.header("cache-control", "no-store").send({ sessions: await sessionViews() }));

  registerReports(app, { store: deps.store, clock: deps.clock, ctx: (req) => ctx(req), send, config, ...(deps.timeZone ? { timeZone: deps.timeZone } : {}) });

  // --- health ------------------------------------------------------------------------------------

  // --- alarms ------------------------------------------------------------------------------------

  /** Who acts: the signed-in user (named sign-in) or the admin token (break-glass). */
  const actor = (req: FastifyRequest) => {
    const session = req.consoleSession;
    return session ? `${session.who} (${session.via === "oidc" ? session.role : "admin token"})` : "admin (console)";
  };

  app.get("/admin/alarms", { config }, async (req, reply) => {
    const [open, history] = await Promise.all([deps.store.alarms.listOpen(), deps.store.alarms.history({ limit: 200 })]);
    return send(reply, alarmsPage(ctx(req), open, history, now()));
  });

  const alarmOr404 = async (req: FastifyRequest, reply: FastifyReply) => {
    const alarm = await deps.store.alarms.get((req.params as { id: string }).id);
    if (alarm === null) send(reply, views.messagePage(ctx(req), "Not found", "There is no such alarm."), 404);
    return alarm;
  };

  app.post("/admin/alarms/:id/ack", { config, bodyLimit: 16 * 1024 }, async (req, reply) => {
    const alarm = await alarmOr404(req, reply);
    if (alarm === null) return reply;
    await deps.store.alarms.acknowledge(alarm.id, actor(req), now());
    await audit(req, {
      kind: "admin.alarm-acknowledged",
      roomId: alarm.roomId,
      message: `acknowledged alarm ${alarm.code}`,
      data: { alarmId: alarm.id, code: alarm.code },
    });
    log.info({ alarmId: alarm.id, code: alarm.code }, "alarm acknowledged");
    return reply.redirect("/admin/alarms?done=alarm-acked", 303);
  });

  app.post("/admin/alarms/:id/mute", { config, bodyLimit: 16 * 1024 }, async (req, reply) => {
    const hours = formOf(req).hours ?? "";
    if (!MUTE_HOURS.some(([v]) => v === hours)) return send(reply, views.messagePage(ctx(req), "Not saved", "Choose how long to mute the alarm."), 400);
    const alarm = await alarmOr404(req, reply);
    if (alarm === null) return reply;
    const until = hours === "0" ? null : new Date(now().getTime() + Number(hours) * 3_600_000);
    await deps.store.alarms.mute(alarm.id, actor(req), until);
    await audit(req, {
      kind: until ? "admin.alarm-muted" : "admin.alarm-unmuted",
      roomId: alarm.roomId,
      message: until ? `muted alarm ${alarm.code} until ${until.toISOString()}` : `unmuted alarm ${alarm.code}`,
      data: { alarmId: alarm.id, code: alarm.code, mutedUntil: until?.toISOString() ?? null },
    });
    log.info({ alarmId: alarm.id, code: alarm.code, mutedUntil: until?.toISOString() ?? null }, until ? "alarm muted" : "alarm unmuted");
    return reply.redirect(`/admin/alarms?done=${until ? "alarm-muted" : "alarm-unmuted"}`, 303);
  });

  app.get("/admin/health", { config }, async (req, reply) => {
    const [checks, status, metrics, openAlarms] = await Promise.all([
      deps.readiness(),
      buildStatus(deps.store, now(), deps.settings),
      deps.metrics.registry.getMetricsAsJSON(),
      deps.store.alarms.listOpen(),
    ]);
    const sum = (name: string, filter: (labels: Record<string, unknown>) => boolean = () => true) =>
      (metrics.find((m) => m.name === name)?.values ?? []).filter((v) => filter(v.labels as Record<string, unknown>)).reduce((n, v) => n + Number(v.value), 0);
    const counters = [
      {
        label: "Poll rounds (ok / failed)",
        value: `${sum("otj_poll_rounds_total", (l) => l.outcome === "ok")} / ${sum("otj_poll_rounds_total", (l) => l.outcome !== "ok")}`,
      },
      {
        label: "Graph requests (all / throttled 429)",
        value: `${sum("otj_graph_requests_total")} / ${sum("otj_graph_requests_total", (l) => l.status === "429")}`,
      },
      { label: "Graph throttling waits", value: `${sum("otj_graph_throttle_wait_seconds_total").toFixed(1)} s` },
      {
        label: "Device pushes (ok / failed)",
        value: `${sum("otj_device_pushes_total", (l) => l.result === "ok")} / ${sum("otj_device_pushes_total", (l) => l.result !== "ok")}`,
      },
      { label: "Live bridge sessions", value: String(status.bridgeSessions.filter((s) => LIVE_BRIDGE_STATES.includes(s.state)).length) },
      {
        label: "Alarm notifications (delivered / failed)",
        value: `${sum("otj_alert_notifications_total", (l) => l.outcome === "delivered")} / ${sum("otj_alert_notifications_total", (l) => l.outcome !== "delivered")}`,
      },
    ];
    const alarms = status.rooms.flatMap((r) => r.alarms.map((a) => ({ room: r.displayName, mailbox: r.mailbox, ...a })));
    // Engine-wide alarms (no bridge, consent, secrets.key, failed notifications) from the alarm history.
    for (const a of openAlarms) {
      if (a.roomId === null) alarms.push({ room: "Engine-wide", mailbox: a.subject, code: a.code, since: a.raisedAt.toISOString(), message: a.message });
    }
    return send(reply, views.healthPage(ctx(req), { checks, metrics: counters, alarms, rooms: status.rooms.length }));
  });
}
