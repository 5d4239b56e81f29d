/**
 * The admin web console, a fastify plugin the server registers under `/admin`: server-rendered
 * pages and one small script (live bridge sessions, CSV file picker). Its hooks are its own (a
 * plugin's hooks run for its routes only): security headers, the sign-in gate, and on every POST
 * the same-origin check, the session's CSRF token and the route's role. Every page has a strict
 * Content-Security-Policy (no inline script or style at all).
 *
 * Named sign-in (`http.oidc.*`, oidc.ts) gives each user a role: `viewer` reads, `operator` also
 * polls now, tests devices, acknowledges alarms and rotates device tokens, `admin` changes rooms,
 * providers and imports. The admin token stays as break-glass (admin, logged as such). Every
 * change made here is written to the event log with who made it, before and after.
 *
 * The page families live in their own files: auth-routes (sign-in), room-routes, import-routes,
 * provider-routes, session-routes, alarm-routes (alarms and health) and reports.
 */
import { readFileSync } from "node:fs";
import type { FastifyInstance, FastifyRequest } from "fastify";
import { isOtjError } from "../../../core/errors.ts";
import { alarmRoutes } from "./alarm-routes.ts";
import { adminAudit } from "./audit.ts";
import { authRoutes, ConsoleAuth } from "./auth-routes.ts";
import { type ConsoleContext, type ConsoleDeps, NOTICES, routeOf } from "./context.ts";
import { importRoutes } from "./import-routes.ts";
import { AssetParams, csrfOf, PageQuery, parseInput, registerFormParser } from "./input.ts";
import { providerRoutes } from "./provider-routes.ts";
import { reportRoutes } from "./reports.ts";
import { roomRoutes } from "./room-routes.ts";
import { sessionRoutes } from "./session-routes.ts";
import { roleAllows } from "./session.ts";
import { messagePage } from "./views.ts";

export type { ConsoleDeps } from "./context.ts";

const CSP =
  "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

const ASSETS: Readonly<Record<string, { type: string; body: string }>> = {
  "console.css": { type: "text/css; charset=utf-8", body: readFileSync(new URL("./assets/console.css", import.meta.url), "utf8") },
  "console.js": { type: "text/javascript; charset=utf-8", body: readFileSync(new URL("./assets/console.js", import.meta.url), "utf8") },
  "favicon.svg": { type: "image/svg+xml", body: readFileSync(new URL("./assets/favicon.svg", import.meta.url), "utf8") },
};

/** The console; register it with `app.register(adminConsole, { prefix: "/admin", ...deps })`. */
export async function adminConsole(app: FastifyInstance, deps: ConsoleDeps): Promise<void> {
  const log = deps.logger.child({ component: "console" });
  const now = () => deps.clock.now();
  const auth = new ConsoleAuth(deps);

  const c: ConsoleContext = {
    deps,
    store: deps.store,
    log,
    now,
    send: (reply, body, status = 200) => reply.code(status).header("content-type", "text/html; charset=utf-8").header("cache-control", "no-store").send(body),
    ctx: (req, extra = {}) => {
      // Never throws: it also renders the error pages of requests whose query did not parse.
      const parsed = PageQuery.safeParse(req.query ?? {});
      const code = parsed.success ? parsed.data.done : "";
      const session = req.consoleSession;
      return {
        csrf: session?.csrf ?? null,
        notice: code ? (NOTICES[code] ?? null) : null,
        user: session ? { who: session.who, role: session.role } : null,
        ...extra,
      };
    },
    audit: async (req, entry) => {
      const session = req.consoleSession;
      const by = session ? { who: session.who, via: session.via, role: session.role } : { who: "unknown", via: "token" as const, role: "admin" as const };
      try {
        await deps.store.eventLog.append([adminAudit(now(), by, entry)]);
      } catch (error) {
        // The change is made; a lost audit line is logged (not the values) rather than undoing it.
        log.error({ kind: entry.kind, err: (error as Error).message }, "audit entry not written");
      }
    },
    notFound: (req, reply, what) => c.send(reply, messagePage(c.ctx(req), "Not found", `There is no such ${what}.`), 404),
    actor: (req) => {
      const session = req.consoleSession;
      return session ? `${session.who} (${session.via === "oidc" ? session.role : "admin token"})` : "admin (console)";
    },
  };

  registerFormParser(app);
  const pathOf = (req: FastifyRequest) => req.url.split("?")[0] ?? "";

  // Security headers on every console answer, and the sign-in gate.
  app.addHook("onRequest", async (req, reply) => {
    reply.header("content-security-policy", CSP);
    reply.header("x-content-type-options", "nosniff");
    reply.header("x-frame-options", "DENY");
    // same-origin, not no-referrer: with no-referrer browsers send `Origin: null` on form posts.
    reply.header("referrer-policy", "same-origin");
    if (req.routeOptions.config?.signIn === true) return;
    const session = await auth.sessions.verify(auth.cookieOf(req), now().getTime());
    if (session === null) {
      if (pathOf(req).endsWith(".json")) return reply.code(401).send({ error: { code: "OTJ_HTTP_UNAUTHORIZED", message: "sign in first" } });
      const next = req.method === "GET" ? req.url : "/admin/rooms";
      return reply.redirect(`/admin/login?next=${encodeURIComponent(next)}`, 303);
    }
    req.consoleSession = session;
  });

  // Every change: same origin when the browser says where it comes from, the CSRF token, the role.
  app.addHook("preHandler", async (req, reply) => {
    if (req.method !== "POST") return;
    const origin = req.headers.origin;
    if (origin !== undefined && !auth.sameOrigin(origin, req)) {
      return c.send(reply, messagePage({ csrf: null }, "Refused", "The request did not come from this console."), 403);
    }
    if (req.routeOptions.config?.signIn === true) return;
    const session = req.consoleSession;
    const csrf = csrfOf(req.body);
    if (!session || !auth.sessions.checkCsrf(session, csrf)) {
      log.warn({ path: pathOf(req) }, "console change refused: missing or wrong CSRF token");
      return c.send(
        reply,
        messagePage({ csrf: session?.csrf ?? null }, "Refused", "The form expired or did not come from this console: reload the page and try again."),
        403,
      );
    }
    const needed = req.routeOptions.config?.role ?? "admin";
    if (!roleAllows(session.role, needed)) {
      log.warn({ path: pathOf(req), who: session.who, role: session.role, needed }, "console change refused: role");
      return c.send(
        reply,
        messagePage({ csrf: session.csrf }, "Not allowed", `This action needs the ${needed} role; you are signed in as ${session.role}.`),
        403,
      );
    }
  });

  // Input that does not fit a route's schema is a 400 page; other errors keep the server's answer.
  app.setErrorHandler((error: Error, req, reply) => {
    if (isOtjError(error) && error.code === "OTJ_USAGE") return c.send(reply, messagePage(c.ctx(req), "Not understood", error.message), 400);
    throw error;
  });
  app.setNotFoundHandler((req, reply) => c.send(reply, messagePage(c.ctx(req), "Not found", "There is no such page."), 404));

  const open = { config: { ...routeOf().config, signIn: true } };
  app.get("/assets/:file", open, async (req, reply) => {
    const { file } = parseInput(AssetParams, req.params, "address");
    // Own keys only: `__proto__`, `constructor` and friends are no assets.
    const asset = Object.hasOwn(ASSETS, file) ? ASSETS[file] : undefined;
    if (!asset) return reply.code(404).send("not found");
    return reply.header("content-type", asset.type).header("cache-control", "public, max-age=300").send(asset.body);
  });
  app.get("/", routeOf(), async (_req, reply) => reply.redirect("/admin/rooms", 303));

  authRoutes(app, c, auth);
  roomRoutes(app, c);
  importRoutes(app, c);
  providerRoutes(app, c);
  sessionRoutes(app, c);
  alarmRoutes(app, c);
  reportRoutes(app, c);
}
