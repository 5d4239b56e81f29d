/**
 * Signing in to the console and out: the admin token (break-glass, an HttpOnly SameSite=Strict
 * session cookie) and named sign-in with OpenID Connect (oidc.ts), and what both share: the
 * session cookies, the same-origin rule and whether the browser reached us over https.
 */
import { randomBytes } from "node:crypto";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { isOtjError } from "../../../core/errors.ts";
import { FailureLimiter, secretEquals } from "../auth.ts";
import type { ConsoleContext, ConsoleDeps } from "./context.ts";
import { NOTICES, routeOf } from "./context.ts";
import { formOf, pageQuery } from "./input.ts";
import { OidcSignIn, type PendingSignIn } from "./oidc.ts";
import { ConsoleSessions, cookieValue, SESSION_COOKIE } from "./session.ts";
import { forwardPage, loginPage, messagePage, signedInPage } from "./views.ts";

const PENDING_COOKIE = "otj_oidc";
/** How long a browser may spend at the provider between the redirect and the callback. */
const PENDING_TTL_MS = 10 * 60_000;

/** Only a console path: no scheme, no other host, no dot segments. */
export function safeNext(next: string | undefined): string {
  return next && /^\/admin(\/[A-Za-z0-9_./?=&%-]*)?$/.test(next) && !next.includes("//") && !next.includes("..") ? next : "/admin/rooms";
}

/** The console's sessions and the request facts sign-in depends on. */
export class ConsoleAuth {
  readonly oidc: OidcSignIn | null;
  readonly sessions: ConsoleSessions;
  readonly #publicOrigin: string | null;

  constructor(readonly deps: ConsoleDeps) {
    this.oidc = deps.oidc ? new OidcSignIn(deps.oidc) : null;
    // Without an admin token the cookies are signed with the client secret, or a key of this process.
    const keyMaterial = this.oidc ? (deps.oidc?.clientSecret ?? randomBytes(32).toString("base64url")) : null;
    this.sessions = new ConsoleSessions(deps.adminToken, deps.sessionTtlMs ?? 8 * 3_600_000, deps.store.consoleRevocations, keyMaterial);
    this.#publicOrigin = deps.publicUrl ? new URL(deps.publicUrl).origin : null;
  }

  cookieOf(req: FastifyRequest): string | undefined {
    return cookieValue(req.headers.cookie, SESSION_COOKIE);
  }

  /** Behind a TLS terminator otj sees plain HTTP: https in http.publicUrl or X-Forwarded-Proto still marks the cookie Secure. */
  secure(req: FastifyRequest): boolean {
    return req.protocol === "https" || this.#publicOrigin?.startsWith("https:") === true || req.headers["x-forwarded-proto"] === "https";
  }

  /** Same origin: this host (any scheme: a TLS terminator changes it), or http.publicUrl's origin. */
  sameOrigin(origin: string, req: FastifyRequest): boolean {
    if (origin === this.#publicOrigin) return true;
    try {
      const url = new URL(origin);
      return (url.protocol === "http:" || url.protocol === "https:") && url.host === req.headers.host;
    } catch {
      return false;
    }
  }

  origin(req: FastifyRequest): string {
    return this.#publicOrigin ?? `${req.protocol}://${req.headers.host ?? "127.0.0.1"}`;
  }

  pendingCookie(value: string | null, req: FastifyRequest): string {
    // Lax: the provider sends the browser back with a cross-site top-level GET.
    const attributes = ["Path=/admin/oidc", "HttpOnly", "SameSite=Lax", ...(this.secure(req) ? ["Secure"] : [])];
    return [`${PENDING_COOKIE}=${value ?? ""}`, `Max-Age=${value === null ? 0 : PENDING_TTL_MS / 1000}`, ...attributes].join("; ");
  }
}

export function authRoutes(app: FastifyInstance, c: ConsoleContext, auth: ConsoleAuth): void {
  const { deps, log, now, send } = c;
  const { oidc, sessions } = auth;
  // Failed sign-ins per client address (behind a proxy: http.trustProxy makes that the browser's).
  const signInFailures = new FailureLimiter(10, 60_000);
  const open = { config: { ...routeOf().config, signIn: true } };
  const login = (error: string | null, next: string, notice: string | null = null) => loginPage(error, next, deps.adminToken !== null, notice, oidc !== null);
  const signInFailed = (reply: FastifyReply, req: FastifyRequest, message: string, status: number) =>
    send(reply.header("set-cookie", auth.pendingCookie(null, req)), login(message, "/admin/rooms"), status);

  app.get("/login", open, async (req, reply) => {
    const q = pageQuery(req);
    return send(reply, login(null, safeNext(q.next), q.done === "signed-out" ? (NOTICES["signed-out"] ?? null) : null));
  });

  app.get("/oidc/start", open, async (req, reply) => {
    if (!oidc) return send(reply, messagePage(c.ctx(req), "Not found", "Named sign-in is not configured."), 404);
    const next = safeNext(pageQuery(req).next);
    try {
      const { url, pending } = await oidc.start(`${auth.origin(req)}/admin/oidc/callback`, next);
      const sealed = sessions.seal(JSON.stringify({ ...pending, expiresAt: now().getTime() + PENDING_TTL_MS }));
      return reply.header("set-cookie", auth.pendingCookie(sealed, req)).redirect(url, 303);
    } catch (error) {
      log.error({ err: (error as Error).message }, "named sign-in cannot start");
      return signInFailed(reply, req, "The sign-in provider cannot be reached; try again later or use the admin token.", 502);
    }
  });

  app.get("/oidc/callback", open, async (req, reply) => {
    if (!oidc) return send(reply, messagePage(c.ctx(req), "Not found", "Named sign-in is not configured."), 404);
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
      await c.audit(req, { kind: "admin.sign-in", message: `${user.who} signed in as ${user.role}` });
      // A page, not a redirect: a redirect chain that began at the provider (another site) would
      // not carry the SameSite=Strict session cookie to the next page.
      return send(reply.header("set-cookie", [sessions.setCookie(cookie, auth.secure(req)), auth.pendingCookie(null, req)]), signedInPage(pending.next));
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
  app.post("/login", { ...open, bodyLimit: 16 * 1024 }, async (req, reply) => {
    const form = formOf(req);
    const next = safeNext(form.next);
    const wait = signInFailures.waitMs(req.ip, now().getTime());
    if (wait > 0) return send(reply.header("retry-after", String(Math.ceil(wait / 1000))), login("Too many failed attempts: wait a minute.", next), 429);
    if (!sessions.enabled || !secretEquals(form.token ?? null, deps.adminToken)) {
      signInFailures.fail(req.ip, now().getTime());
      log.warn({ ip: req.ip }, "console sign-in refused");
      return send(reply, login("That is not the admin token.", next), 401);
    }
    const { cookie, session } = sessions.create(now().getTime());
    log.warn({ ip: req.ip, who: session.who, breakGlass: true }, "console sign-in with the admin token (break-glass)");
    req.consoleSession = session;
    await c.audit(req, { kind: "admin.sign-in", message: "signed in with the admin token (break-glass)", data: { breakGlass: true } });
    return reply.header("set-cookie", sessions.setCookie(cookie, auth.secure(req))).redirect(next, 303);
  });

  app.post("/logout", routeOf("viewer"), async (req, reply) => {
    if (req.consoleSession) await sessions.revoke(req.consoleSession, now().getTime());
    reply.header("set-cookie", sessions.setCookie(null, auth.secure(req)));
    const back = `${auth.origin(req)}/admin/login?done=signed-out`;
    if (oidc && req.consoleSession?.via === "oidc") {
      // Also end the session at the provider when it offers that; otj's own is gone either way.
      const url = await oidc.endSessionUrl(back, null).catch(() => null);
      if (url !== null) return send(reply, forwardPage("Signed out", url, "Sign out at your organisation's sign-in too"));
    }
    return reply.redirect("/admin/login?done=signed-out", 303);
  });
}
