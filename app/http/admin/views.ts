/**
 * The console's page shell and what every page family's views share: navigation, notices, form
 * fields, times, the bridge state badge, sign-in and message pages. Each family renders its own
 * pages (room-views, provider-views, session-views, ...). Every value from the store or the
 * request goes through `html` (escaped); secrets are never rendered, except a device token right
 * after it was created or rotated, on a page that is not cached.
 */
import type { ConsoleRole } from "../../../core/config.ts";
import type { BridgeState } from "../../../core/domain.ts";
import { type Html, html } from "./html.ts";
import { roleAllows } from "./session.ts";

export interface PageContext {
  csrf: string | null;
  /** The section highlighted in the navigation. */
  section?: "rooms" | "providers" | "sessions" | "alarms" | "reports" | "health" | "import";
  notice?: string | null;
  errors?: string[];
  /** Who is signed in and as what, shown next to "Sign out". */
  user?: { who: string; role: ConsoleRole } | null;
}

const SECTIONS: Array<[NonNullable<PageContext["section"]>, string, string]> = [
  ["rooms", "Rooms", "/admin/rooms"],
  ["import", "Import", "/admin/import"],
  ["providers", "Providers", "/admin/providers"],
  ["sessions", "Bridge sessions", "/admin/sessions"],
  ["alarms", "Alarms", "/admin/alarms"],
  ["reports", "Reports", "/admin/reports"],
  ["health", "Health", "/admin/health"],
];

export function csrfField(csrf: string | null): Html {
  return csrf ? html`<input type="hidden" name="_csrf" value="${csrf}">` : html``;
}

export function page(title: string, ctx: PageContext, body: Html): string {
  const nav = ctx.csrf
    ? html`<nav aria-label="Main"><ul>${SECTIONS.filter(([id]) => id !== "import" || can(ctx, "admin")).map(
        ([id, label, href]) => html`<li><a href="${href}"${ctx.section === id ? html` aria-current="page"` : ""}>${label}</a></li>`,
      )}</ul><form method="post" action="/admin/logout" class="signout">${csrfField(ctx.csrf)}${ctx.user ? html`<span class="user">${ctx.user.who} (${ctx.user.role})</span> ` : ""}<button type="submit">Sign out</button></form></nav>`
    : html``;
  const notice = ctx.notice ? html`<p class="notice" role="status">${ctx.notice}</p>` : "";
  const errors = ctx.errors?.length ? html`<div class="errors" role="alert"><p>Not saved:</p><ul>${ctx.errors.map((e) => html`<li>${e}</li>`)}</ul></div>` : "";
  return html`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${title} · otj console</title><link rel="icon" href="/admin/assets/favicon.svg"><link rel="stylesheet" href="/admin/assets/console.css"><script src="/admin/assets/console.js" defer></script></head>
<body><a class="skip" href="#main">Skip to content</a>
<header><span class="brand">otj console</span>${nav}</header>
<main id="main"><h1>${title}</h1>${notice}${errors}${body}</main></body></html>`.text;
}

export const when = (d: Date | null) => (d === null ? "-" : d.toISOString().slice(0, 16).replace("T", " "));
export const timeOf = (d: Date) => html`<time datetime="${d.toISOString()}">${when(d)}</time>`;

/**
 * Whether the signed-in user's role may use an action needing `role`: pages show only what the
 * user may use (the server refuses the rest with 403 all the same).
 */
export function can(ctx: PageContext, role: ConsoleRole): boolean {
  return ctx.user ? roleAllows(ctx.user.role as ConsoleRole, role) : false;
}

export function loginPage(error: string | null, next: string, configured: boolean, notice: string | null = null, oidc = false): string {
  const named = oidc
    ? html`<p class="card narrow"><a class="button" id="oidc-sign-in" href="/admin/oidc/start?next=${encodeURIComponent(next)}">Sign in with your organisation account</a></p>`
    : html``;
  return page(
    "Sign in",
    { csrf: null, errors: error ? [error] : [], notice },
    configured
      ? html`${named}<form method="post" action="/admin/login" class="card narrow">
<input type="hidden" name="next" value="${next}">
<label for="token">Admin token</label>
<input id="token" name="token" type="password" autocomplete="current-password" required autofocus>
<button type="submit">Sign in</button></form>`
      : oidc
        ? named
        : html`<p class="card">The console needs an admin token: set <code>http.adminToken</code> (or <code>OTJ_HTTP_ADMIN_TOKEN</code>) and restart otj.</p>`,
  );
}

export function select(name: string, label: string, options: readonly string[], value: string, id = name): Html {
  return html`<label for="${id}">${label}</label><select id="${id}" name="${name}">${options.map((o) => html`<option value="${o}"${o === value ? html` selected` : ""}>${o}</option>`)}</select>`;
}

export function text(
  name: string,
  label: string,
  value: string | null,
  extra: { required?: boolean; type?: string; hint?: string; autocomplete?: string } = {},
): Html {
  return html`<label for="${name}">${label}</label><input id="${name}" name="${name}" type="${extra.type ?? "text"}" value="${value ?? ""}"${extra.required ? html` required` : ""} autocomplete="${extra.autocomplete ?? "off"}"${extra.hint ? html` aria-describedby="${name}-hint"` : ""}>${extra.hint ? html`<small id="${name}-hint">${extra.hint}</small>` : ""}`;
}

export function checkbox(name: string, label: string, checked: boolean): Html {
  return html`<label class="check"><input type="checkbox" name="${name}" value="true"${checked ? html` checked` : ""}> ${label}</label>`;
}

export const BRIDGE_STATE_TEXT: Record<BridgeState, string> = {
  scheduled: "scheduled",
  starting: "starting",
  lobby: "in the lobby",
  admitted: "admitted",
  ended: "ended",
  denied: "denied",
  timeout: "timed out",
  failed: "failed",
  cancelled: "cancelled",
};

export function stateBadge(state: BridgeState): Html {
  return html`<span class="badge state-${state}">${BRIDGE_STATE_TEXT[state]}</span>`;
}

/** Seconds between two entries as `42s`, `3m05s` or `2h07m`. */
export function waitText(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, "0")}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, "0")}m`;
}

/**
 * A page that moves on to `url` by itself (a meta refresh, no script): after the provider's
 * callback (a same-site step that carries the SameSite=Strict cookie), and to the provider's
 * sign-out (a form post may not redirect off the console under the CSP's form-action).
 */
export function forwardPage(title: string, url: string, link: string): string {
  return html`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta http-equiv="refresh" content="0;url=${url}">
<title>${title} · otj console</title><link rel="stylesheet" href="/admin/assets/console.css"></head>
<body><main id="main"><h1>${title}</h1><p><a href="${url}">${link}</a></p></main></body></html>`.text;
}

export const signedInPage = (next: string) => forwardPage("Signed in", next, "Continue to the console");

export function messagePage(ctx: PageContext, title: string, message: string): string {
  return page(title, ctx, html`<p class="card">${message}</p><p><a href="/admin/rooms">Back to the rooms</a></p>`);
}
