/**
 * The console's pages, rendered on the server. Every value from the store or the request goes
 * through `html` (escaped); secrets are never rendered, except a device token right after it was
 * created or rotated, on a page that is not cached.
 */
import { type BridgeState, CALENDAR_SOURCES } from "../../../core/domain.ts";
import type { BridgeSession, DeviceState, LoggedEvent, Meeting, Provider, Room, SyncCursor } from "../../../core/ports/store.ts";
import { DELIVERIES, DEVICE_FAMILIES, PARTNERS, PRIVATE_JOIN, PRIVATE_MEETINGS, SUBJECT_REPLACE } from "../../../store/validation.ts";
import type { StatusOutput } from "../../status.ts";
import { type Html, html } from "./html.ts";
import type { ImportDiff } from "./import-diff.ts";

export interface PageContext {
  csrf: string | null;
  /** The section highlighted in the navigation. */
  section?: "rooms" | "providers" | "sessions" | "alarms" | "reports" | "health" | "import";
  notice?: string | null;
  errors?: string[];
  /** Who is signed in and as what, shown next to "Sign out". */
  user?: { who: string; role: string } | null;
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
    ? html`<nav aria-label="Main"><ul>${SECTIONS.map(
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

const when = (d: Date | null) => (d === null ? "-" : d.toISOString().slice(0, 16).replace("T", " "));
const timeOf = (d: Date) => html`<time datetime="${d.toISOString()}">${when(d)}</time>`;

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

// --- rooms -------------------------------------------------------------------------------------

export interface RoomRowView {
  room: Room;
  lastPoll: StatusOutput["rooms"][number]["lastPoll"];
  device: StatusOutput["rooms"][number]["device"];
  alarms: StatusOutput["rooms"][number]["alarms"];
  next: Meeting | null;
}

function pollCell(p: RoomRowView["lastPoll"], full = false): Html {
  if (p.outcome === "never") return html`<span class="badge muted">not yet</span>`;
  const error = !full && p.error && p.error.length > 96 ? `${p.error.slice(0, 95)}…` : p.error;
  return html`<span class="badge ${p.outcome === "ok" ? "ok" : "bad"}">${p.outcome}</span> ${p.at ? when(new Date(p.at)) : ""}${p.error ? html`<br><small title="${p.error}">${error}</small>` : ""}`;
}

function deviceCell(d: RoomRowView["device"]): Html {
  return html`${d.family} <span class="badge ${d.state === "ok" ? "ok" : d.state === "error" ? "bad" : "muted"}">${d.state}</span>${d.lastError ? html`<br><small>${d.lastError}</small>` : ""}`;
}

/** The Rooms page's filters and order, read from its query (unknown values are ignored). */
export interface RoomFilters {
  provider: string | null;
  family: string | null;
  source: string | null;
  failing: boolean;
  sort: "mailbox" | "name" | "provider";
}

export function roomFilters(query: Record<string, unknown>, providers: readonly Provider[]): RoomFilters {
  const text = (name: string) => (typeof query[name] === "string" ? (query[name] as string) : "");
  const provider = providers.find((p) => p.name === text("provider"))?.name ?? null;
  const family = (DEVICE_FAMILIES as readonly string[]).includes(text("family")) ? text("family") : null;
  const source = (CALENDAR_SOURCES as readonly string[]).includes(text("source")) ? text("source") : null;
  const sort = text("sort") === "name" || text("sort") === "provider" ? (text("sort") as "name" | "provider") : "mailbox";
  return { provider, family, source, failing: text("failing") === "1", sort };
}

function filterParams(f: RoomFilters | undefined): Record<string, string> {
  if (!f) return {};
  return {
    ...(f.provider ? { provider: f.provider } : {}),
    ...(f.family ? { family: f.family } : {}),
    ...(f.source ? { source: f.source } : {}),
    ...(f.failing ? { failing: "1" } : {}),
    ...(f.sort !== "mailbox" ? { sort: f.sort } : {}),
  };
}

function filterForm(search: string, f: RoomFilters, providers: readonly string[]): Html {
  const select = (name: string, label: string, values: readonly string[], current: string | null, any: string) =>
    html`<label>${label} <select name="${name}"><option value="">${any}</option>${values.map((v) => html`<option value="${v}"${v === current ? html` selected` : ""}>${v}</option>`)}</select></label>`;
  return html`<form method="get" action="/admin/rooms" id="room-filters" class="inline" aria-label="Filter rooms">${search ? html`<input type="hidden" name="q" value="${search}">` : ""}
${select("provider", "Provider", providers, f.provider, "any")} ${select("family", "Device family", DEVICE_FAMILIES, f.family, "any")} ${select("source", "Source", CALENDAR_SOURCES, f.source, "any")}
<label><input type="checkbox" name="failing" value="1"${f.failing ? html` checked` : ""}> Only with errors</label>
${select("sort", "Sort by", ["name", "provider"], f.sort === "mailbox" ? null : f.sort, "mailbox")} <button type="submit">Apply</button></form>`;
}

export function roomsPage(
  ctx: PageContext,
  rows: RoomRowView[],
  query: { search: string; page: number; pages: number; total: number; filters?: RoomFilters; providers?: readonly string[] },
): string {
  const link = (p: number) =>
    `/admin/rooms?${new URLSearchParams({ ...(query.search ? { q: query.search } : {}), ...filterParams(query.filters), page: String(p) }).toString()}`;
  return page(
    "Rooms",
    { ...ctx, section: "rooms" },
    html`<div class="toolbar">
<form method="get" action="/admin/rooms" role="search"><label for="q">Search rooms</label>
<input id="q" name="q" type="search" value="${query.search}" placeholder="mailbox or name"><button type="submit">Search</button></form>
<a class="button" href="/admin/rooms/new">Add room</a> <a href="/admin/rooms.csv" id="rooms-csv" download>Export CSV</a></div>
${query.filters ? filterForm(query.search, query.filters, query.providers ?? []) : ""}
<p class="summary">${query.total} room${query.total === 1 ? "" : "s"}${query.search ? html` matching “${query.search}”` : ""}${query.pages > 1 ? html`, page ${query.page} of ${query.pages}` : ""}</p>
<div class="scroll"><table id="rooms"><thead><tr><th scope="col">Room</th><th scope="col">Provider</th><th scope="col">Last poll</th><th scope="col">Device</th><th scope="col">Alarms</th><th scope="col">Next meeting</th></tr></thead><tbody>
${rows.map(
  (r) => html`<tr><td><a href="/admin/rooms/${r.room.id}">${r.room.displayName}</a><br><small>${r.room.mailbox}</small></td>
<td>${r.room.providerName ?? "-"}</td><td>${pollCell(r.lastPoll)}</td><td>${deviceCell(r.device)}</td>
<td>${r.alarms.length === 0 ? html`<span class="muted">none</span>` : r.alarms.map((a) => html`<span class="badge bad" title="${a.message}">${a.code}</span> `)}</td>
<td>${r.next ? html`${timeOf(r.next.start)} <span class="route route-${r.next.route}">${r.next.route}</span>` : html`<span class="muted">none</span>`}</td></tr>`,
)}
</tbody></table></div>
${
  query.pages > 1
    ? html`<nav class="pager" aria-label="Pages">${query.page > 1 ? html`<a href="${link(query.page - 1)}" rel="prev">Previous</a>` : ""} <span>Page ${query.page} of ${query.pages}</span> ${query.page < query.pages ? html`<a href="${link(query.page + 1)}" rel="next">Next</a>` : ""}</nav>`
    : ""
}`,
  );
}

function select(name: string, label: string, options: readonly string[], value: string, id = name): Html {
  return html`<label for="${id}">${label}</label><select id="${id}" name="${name}">${options.map((o) => html`<option value="${o}"${o === value ? html` selected` : ""}>${o}</option>`)}</select>`;
}

function text(
  name: string,
  label: string,
  value: string | null,
  extra: { required?: boolean; type?: string; hint?: string; autocomplete?: string } = {},
): Html {
  return html`<label for="${name}">${label}</label><input id="${name}" name="${name}" type="${extra.type ?? "text"}" value="${value ?? ""}"${extra.required ? html` required` : ""} autocomplete="${extra.autocomplete ?? "off"}"${extra.hint ? html` aria-describedby="${name}-hint"` : ""}>${extra.hint ? html`<small id="${name}-hint">${extra.hint}</small>` : ""}`;
}

function checkbox(name: string, label: string, checked: boolean): Html {
  return html`<label class="check"><input type="checkbox" name="${name}" value="true"${checked ? html` checked` : ""}> ${label}</label>`;
}

/** Form values as entered (re-shown after an error); passwords are never echoed. */
export type RoomForm = Record<string, string | undefined>;

export function roomFormValues(room: Room): RoomForm {
  return {
    mailbox: room.mailbox,
    displayName: room.displayName,
    provider: room.providerName ?? "",
    deviceFamily: room.device.family,
    deviceAddress: room.device.address ?? "",
    deviceUsername: room.device.username ?? "",
    insecureTls: room.device.insecureTls ? "true" : undefined,
    allowInsecureHttp: room.device.allowInsecureHttp ? "true" : undefined,
    sipUri: room.sipUri ?? "",
    privateMeetings: room.privacy.privateMeetings,
    subjectReplace: room.privacy.subjectReplace,
    subjectTemplate: room.privacy.subjectTemplate,
    privateJoin: room.privacy.privateJoin,
    webrtc: room.webrtc.join(","),
    delivery: room.delivery,
    source: room.source,
  };
}

export function roomFormPage(ctx: PageContext, providers: Provider[], values: RoomForm, room: Room | null): string {
  const v = (k: string) => values[k] ?? "";
  const title = room ? `Edit ${room.displayName}` : "Add room";
  return page(
    title,
    { ...ctx, section: "rooms" },
    html`<form method="post" action="${room ? `/admin/rooms/${room.id}` : "/admin/rooms"}" class="card form">${csrfField(ctx.csrf)}
<fieldset><legend>Room</legend>
${room ? html`<p>Mailbox <code>${room.mailbox}</code> (fixed: it names the room's meetings)</p>` : text("mailbox", "Mailbox", v("mailbox"), { required: true, type: "email", hint: "the room's mailbox address" })}
${text("displayName", "Display name", v("displayName"), { required: true, hint: "also the guest name when the room joins as a guest" })}
${
  providers.length === 0
    ? html`<p class="errors">Add a provider first.</p>`
    : select(
        "provider",
        "Provider",
        providers.map((p) => p.name),
        v("provider") || (providers[0]?.name ?? ""),
      )
}
${text("sipUri", "Room SIP URI", v("sipUri"), { hint: "optional, user@host" })}
${select("source", "Calendar source", CALENDAR_SOURCES, v("source") || "graph")}</fieldset>
<fieldset><legend>Device</legend>
${select("deviceFamily", "Device family", DEVICE_FAMILIES, v("deviceFamily") || "xapi")}
${text("deviceAddress", "Device address", v("deviceAddress"), { hint: "https://host[:port] for xapi, webex://<deviceId> for webex-cloud, empty for pull" })}
${text("deviceUsername", "Device username", v("deviceUsername"))}
${text("devicePassword", "Device password", "", { type: "password", autocomplete: "new-password", hint: room ? (room.device.hasPassword ? "a password is set; leave empty to keep it (a new device address needs it again)" : "no password is set") : "write-only: it is never shown again" })}
${room?.device.hasPassword ? checkbox("clearPassword", "Clear the stored password", values.clearPassword === "true") : ""}
${checkbox("insecureTls", "Do not verify the device's TLS certificate (self-signed)", values.insecureTls === "true")}
${text("webrtc", "Joins over WebRTC", v("webrtc"), { hint: "teams, meet (comma-separated): the device joins these meetings natively; empty for none" })}
${select("delivery", "Delivery (empty: the family's default)", ["", ...DELIVERIES], v("delivery"))}
${checkbox("allowInsecureHttp", "Allow plain http:// to this device (the password crosses the network in clear)", values.allowInsecureHttp === "true")}</fieldset>
<fieldset><legend>Privacy</legend>
${select("privateMeetings", "Private meetings", PRIVATE_MEETINGS, v("privateMeetings") || "process")}
${select("subjectReplace", "Replace subject", SUBJECT_REPLACE, v("subjectReplace") || "private")}
${text("subjectTemplate", "Subject template", v("subjectTemplate") || "Private meeting", { hint: "placeholders {organizerName} and {subject}" })}
${select("privateJoin", "Join private meetings", PRIVATE_JOIN, v("privateJoin") || "enabled")}</fieldset>
<div class="actions"><button type="submit">${room ? "Save" : "Add room"}</button> <a href="${room ? `/admin/rooms/${room.id}` : "/admin/rooms"}">Cancel</a></div></form>`,
  );
}

export function tokenPage(ctx: PageContext, room: Room, token: string, why: string): string {
  return page(
    `Device token of ${room.displayName}`,
    { ...ctx, section: "rooms" },
    html`<div class="card"><p>${why} Copy it now: it is shown only this once.</p>
<p><label for="token">Device token</label><input id="token" class="secret" readonly value="${token}"></p>
<p>Devices and panels use it as <code>Authorization: Bearer …</code> on <code>/v1/rooms/${room.id}/meetings</code>.</p>
<p><a href="/admin/rooms/${room.id}">Back to the room</a></p></div>`,
  );
}

const BRIDGE_STATE_TEXT: Record<BridgeState, string> = {
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

export interface RoomDetailView {
  room: Room;
  cursor: SyncCursor | null;
  device: DeviceState | null;
  lastPoll: RoomRowView["lastPoll"];
  deviceStatus: RoomRowView["device"];
  alarms: RoomRowView["alarms"];
  meetings: Meeting[];
  sessions: Map<string, BridgeSession>;
  window: { from: Date; to: Date };
  now: Date;
}

function explainBlock(m: Meeting): Html {
  if (!m.explain) return html`<small class="muted">no account kept (planned before this version)</small>`;
  return html`<details><summary>Why ${m.route}${m.rule ? html` (rule ${m.rule})` : ""}</summary>
${m.explain.matchedText ? html`<p>Matched text: <code>${m.explain.matchedText}</code></p>` : ""}
<ol class="trace">${m.explain.trace.map((t) => html`<li class="${t.outcome === "matched" ? "matched" : ""}"><code>${t.rule}</code> ${t.outcome}: ${t.reason}</li>`)}</ol></details>`;
}

export function roomDetailPage(ctx: PageContext, v: RoomDetailView): string {
  const { room } = v;
  const held = new Set((v.device?.entries ?? []).map((e) => e.key));
  const onDevice = (m: Meeting) =>
    m.cancelled || m.declined
      ? "withdrawn"
      : room.device.family === "pull"
        ? "pull API"
        : room.device.family === "ews"
          ? "EWS feed"
          : held.has(m.occurrenceKey)
            ? "on device"
            : m.route === "none"
              ? "-"
              : m.end <= v.now
                ? "ended"
                : "pending";
  return page(
    room.displayName,
    { ...ctx, section: "rooms" },
    html`<div class="toolbar">
<form method="post" action="/admin/rooms/${room.id}/poll">${csrfField(ctx.csrf)}<button type="submit">Poll now</button></form>
<a class="button" href="/admin/rooms/${room.id}/edit">Edit</a>
<a class="button" href="/admin/rooms/${room.id}/timeline">Timeline</a>
<form method="post" action="/admin/rooms/${room.id}/token">${csrfField(ctx.csrf)}<button type="submit">${room.device.hasToken ? "Rotate device token" : "Create device token"}</button></form>
<a class="button danger" href="/admin/rooms/${room.id}/remove">Remove</a></div>
<dl class="facts">
<dt>Mailbox</dt><dd>${room.mailbox}</dd>
<dt>Provider</dt><dd>${room.providerName ?? "- (built-in defaults)"}</dd>
<dt>Device</dt><dd>${room.device.family}${room.device.address ? html` at <code>${room.device.address}</code>` : ""}${room.device.hasPassword ? " (password set)" : ""}${room.device.insecureTls ? " (TLS not verified)" : ""}</dd>
<dt>Device push</dt><dd>${deviceCell(v.deviceStatus)}${v.deviceStatus.lastPushAt ? html`, last push ${when(new Date(v.deviceStatus.lastPushAt))}` : ""}</dd>
<dt>Last poll</dt><dd>${pollCell(v.lastPoll, true)}${v.cursor?.dueAt ? html`, next due ${when(v.cursor.dueAt)}` : ""}</dd>
<dt>Alarms</dt><dd>${v.alarms.length === 0 ? "none" : v.alarms.map((a) => html`<span class="badge bad">${a.code}</span> ${a.message} (since ${when(new Date(a.since))}) `)}</dd>
<dt>Device token</dt><dd>${room.device.hasToken ? "set (write-only: rotate to see a new one)" : "none"}</dd>
</dl>
<h2>Meetings from ${when(v.window.from)} to ${when(v.window.to)} UTC</h2>
${
  v.meetings.length === 0
    ? html`<p class="muted">No meetings in the window.</p>`
    : html`<div class="scroll"><table id="meetings"><thead><tr><th scope="col">Start</th><th scope="col">End</th><th scope="col">Subject shown</th><th scope="col">Route</th><th scope="col">Dial string</th><th scope="col">Device</th><th scope="col">Bridge</th><th scope="col">Explain</th></tr></thead><tbody>
${v.meetings.map((m) => {
  const session = v.sessions.get(m.occurrenceKey);
  const route = m.cancelled || m.declined ? "none" : m.route;
  return html`<tr class="${m.cancelled ? "cancelled" : ""}"><td>${timeOf(m.start)}</td><td>${timeOf(m.end)}</td><td class="subject">${m.subjectShown ?? html`<span class="muted">(none)</span>`}${m.cancelled ? html` <span class="badge muted">cancelled</span>` : ""}</td>
<td><span class="route route-${route}">${route}</span></td><td>${route === "none" || !m.dialString ? "-" : html`<code class="dial">${m.dialString}</code>`}</td>
<td>${onDevice(m)}</td><td>${session ? stateBadge(session.state) : "-"}</td><td>${explainBlock(m)}</td></tr>`;
})}</tbody></table></div>`
}`,
  );
}

export function confirmRemovePage(ctx: PageContext, room: Room): string {
  return page(
    `Remove ${room.displayName}?`,
    { ...ctx, section: "rooms" },
    html`<form method="post" action="/admin/rooms/${room.id}/remove" class="card">${csrfField(ctx.csrf)}
<p>This removes <code>${room.mailbox}</code> and everything kept for it: its meetings, device state and bridge sessions. Bookings already on the device stay until their meetings end.</p>
<div class="actions"><button type="submit" class="danger">Remove room</button> <a href="/admin/rooms/${room.id}">Cancel</a></div></form>`,
  );
}

// --- import ------------------------------------------------------------------------------------

export function importPage(ctx: PageContext, csv: string, diff: ImportDiff | null): string {
  const actionText = { add: "add", change: "change", unchanged: "unchanged", refuse: "refused" } as const;
  return page(
    "Import rooms",
    { ...ctx, section: "import" },
    html`<form method="post" action="/admin/import" class="card form">${csrfField(ctx.csrf)}
<p>Columns: <code>mailbox,displayName,provider,deviceFamily,deviceAddress,deviceUsername,devicePassword</code> (optional: sipUri, insecureTls, insecureHttp, privateMeetings, subjectReplace, subjectTemplate, privateJoin, webrtc, delivery, source). A row whose mailbox exists changes that room.</p>
<label for="csvfile">CSV file</label><input id="csvfile" type="file" accept=".csv,text/csv" data-fill="csv">
<label for="csv">CSV text</label><textarea id="csv" name="csv" rows="10" spellcheck="false" required>${csv}</textarea>
<div class="actions"><button type="submit" name="mode" value="check">Check (dry run)</button></div></form>
${
  diff
    ? html`<section aria-labelledby="diff-title"><h2 id="diff-title">What the import would do</h2>
<p class="summary" id="diff-summary">${diff.counts.add} to add, ${diff.counts.change} to change, ${diff.counts.unchanged} unchanged, ${diff.counts.refuse} refused${diff.ignoredColumns.length ? html`; ignored column(s): ${diff.ignoredColumns.join(", ")}` : ""}</p>
<div class="scroll"><table id="diff"><thead><tr><th scope="col">Line</th><th scope="col">Mailbox</th><th scope="col">Action</th><th scope="col">Details</th></tr></thead><tbody>
${diff.lines.map((l) => html`<tr class="diff-${l.action}"><td>${l.line}</td><td>${l.mailbox || "-"}</td><td><span class="badge ${l.action === "refuse" ? "bad" : l.action === "unchanged" ? "muted" : "ok"}">${actionText[l.action]}</span></td><td>${l.details.length ? html`<ul>${l.details.map((d) => html`<li>${d}</li>`)}</ul>` : "-"}</td></tr>`)}
</tbody></table></div>
${
  diff.counts.refuse > 0
    ? html`<p class="errors" role="alert">Nothing can be applied while a line is refused: fix the file and check it again.</p>`
    : diff.counts.add + diff.counts.change === 0
      ? html`<p>Nothing to apply.</p>`
      : html`<form method="post" action="/admin/import">${csrfField(ctx.csrf)}<textarea name="csv" hidden>${csv}</textarea><button type="submit" name="mode" value="apply">Apply: add ${diff.counts.add}, change ${diff.counts.change}</button></form>`
}</section>`
    : ""
}`,
  );
}

export function importDonePage(ctx: PageContext, added: Array<{ room: Room; deviceToken: string | null }>, changed: Room[]): string {
  const tokens = added.filter((a) => a.deviceToken !== null);
  return page(
    "Import applied",
    { ...ctx, section: "import", notice: `Added ${added.length} room(s), changed ${changed.length}.` },
    html`${
      tokens.length
        ? html`<p>Device tokens of the new pull rooms, shown only this once:</p><table><thead><tr><th scope="col">Mailbox</th><th scope="col">Device token</th></tr></thead><tbody>${tokens.map((t) => html`<tr><td>${t.room.mailbox}</td><td><code class="secret">${t.deviceToken}</code></td></tr>`)}</tbody></table>`
        : ""
    }<p><a href="/admin/rooms">Back to the rooms</a></p>`,
  );
}

// --- providers ---------------------------------------------------------------------------------

export type ProviderForm = Record<string, string | undefined>;

export function providerFormValues(p: Provider): ProviderForm {
  return {
    name: p.name,
    partner: p.partner,
    tenantKey: p.tenantKey ?? "",
    sipDomain: p.sipDomain ?? "",
    ivrAddress: p.ivrAddress ?? "",
    sgjEnabled: p.sgjEnabled ? "true" : undefined,
    sgjTemplate: p.sgjTemplate ?? "",
    instructionUrl: p.instructionUrl ?? "",
  };
}

function providerFields(values: ProviderForm): Html {
  const v = (k: string) => values[k] ?? "";
  return html`${text("name", "Name", v("name"), { required: true })}
${select("partner", "Partner", PARTNERS, v("partner") || "cisco")}
${text("tenantKey", "Tenant key", v("tenantKey"), { hint: "the partner's SIP address for the tenant, as printed in invites (contoso@m.webex.com)" })}
${text("sipDomain", "SIP domain", v("sipDomain"), { hint: "the guest join {domain}" })}
${text("ivrAddress", "IVR address", v("ivrAddress"))}
${checkbox("sgjEnabled", "SIP Guest Join for external meetings", values.sgjEnabled === "true")}
${text("sgjTemplate", "SGJ dial string template", v("sgjTemplate"), { hint: "empty for the default" })}
${text("instructionUrl", "Instruction URL", v("instructionUrl"), { type: "url" })}`;
}

export function providersPage(ctx: PageContext, providers: Provider[], usage: Map<string, number>, values: ProviderForm): string {
  return page(
    "Providers",
    { ...ctx, section: "providers" },
    html`<div class="scroll"><table id="providers"><thead><tr><th scope="col">Name</th><th scope="col">Partner</th><th scope="col">Tenant key</th><th scope="col">SIP domain</th><th scope="col">SGJ</th><th scope="col">Rooms</th><th scope="col"><span class="sr-only">Actions</span></th></tr></thead><tbody>
${providers.map(
  (
    p,
  ) => html`<tr><td>${p.name}</td><td>${p.partner}</td><td>${p.tenantKey ?? "-"}</td><td>${p.sipDomain ?? "-"}</td><td>${p.sgjEnabled ? "on" : "off"}</td><td>${usage.get(p.id) ?? 0}</td>
<td><a href="/admin/providers/${p.id}/edit" aria-label="Edit ${p.name}">Edit</a></td></tr>`,
)}</tbody></table></div>
<h2>Add provider</h2>
<form method="post" action="/admin/providers" class="card form">${csrfField(ctx.csrf)}${providerFields(values)}
<div class="actions"><button type="submit">Add provider</button></div></form>`,
  );
}

export function providerEditPage(ctx: PageContext, provider: Provider, values: ProviderForm, rooms: number): string {
  return page(
    `Provider ${provider.name}`,
    { ...ctx, section: "providers" },
    html`<form method="post" action="/admin/providers/${provider.id}" class="card form">${csrfField(ctx.csrf)}${providerFields(values)}
<div class="actions"><button type="submit">Save</button> <a href="/admin/providers">Cancel</a></div></form>
<form method="post" action="/admin/providers/${provider.id}/remove" class="card">${csrfField(ctx.csrf)}
<p>${rooms > 0 ? `${rooms} room(s) use this provider: removing it makes them fall back to the built-in defaults.` : "No room uses this provider."}</p>
${rooms > 0 ? checkbox("force", "Remove it anyway", false) : ""}
<button type="submit" class="danger">Remove provider</button></form>`,
  );
}

// --- bridge sessions ---------------------------------------------------------------------------

export interface SessionView {
  occurrenceKey: string;
  room: string;
  subject: string | null;
  dueAt: string;
  updatedAt: string;
  state: BridgeState;
  stateText: string;
  externalId: string | null;
  lastError: string | null;
}

export function sessionView(s: BridgeSession, roomName: string, subject: string | null): SessionView {
  return {
    occurrenceKey: s.occurrenceKey,
    room: roomName,
    subject,
    dueAt: s.dueAt.toISOString(),
    updatedAt: s.updatedAt.toISOString(),
    state: s.state,
    stateText: BRIDGE_STATE_TEXT[s.state],
    externalId: s.externalId,
    lastError: s.lastErrorCode ? `${s.lastErrorCode}: ${s.lastError ?? ""}` : null,
  };
}

export function sessionRow(s: SessionView): Html {
  return html`<tr data-key="${s.occurrenceKey}"><td>${s.room}</td><td>${s.subject ?? "-"}</td><td>${when(new Date(s.dueAt))}</td><td>${stateBadge(s.state)}</td><td>${when(new Date(s.updatedAt))}</td><td>${s.externalId ?? "-"}</td><td>${s.lastError ?? "-"}</td></tr>`;
}

export function sessionsPage(ctx: PageContext, sessions: SessionView[]): string {
  return page(
    "Bridge sessions",
    { ...ctx, section: "sessions" },
    html`<p class="summary">SIP Guest Join sessions of the last day and the days ahead. <span id="live" role="status" aria-live="polite">Updates every 2 s.</span></p>
<div class="scroll"><table id="sessions" data-live="/admin/sessions.json"><thead><tr><th scope="col">Room</th><th scope="col">Meeting</th><th scope="col">Due</th><th scope="col">State</th><th scope="col">Updated</th><th scope="col">Bridge id</th><th scope="col">Last error</th></tr></thead>
<tbody>${sessions.map(sessionRow)}</tbody></table></div>
${sessions.length === 0 ? html`<p class="muted" id="no-sessions">No bridge sessions.</p>` : ""}`,
  );
}

// --- health ------------------------------------------------------------------------------------

export interface HealthView {
  checks: Record<string, true | string>;
  metrics: Array<{ label: string; value: string }>;
  alarms: Array<{ room: string; mailbox: string; code: string; since: string; message: string }>;
  rooms: number;
}

export function healthPage(ctx: PageContext, v: HealthView): string {
  const ready = Object.values(v.checks).every((c) => c === true);
  return page(
    "Health",
    { ...ctx, section: "health" },
    html`<p class="summary"><span class="badge ${ready ? "ok" : "bad"}">${ready ? "ready" : "not ready"}</span> ${v.rooms} rooms</p>
<h2>Readiness</h2><table id="checks"><tbody>${Object.entries(v.checks).map(([name, c]) => html`<tr><th scope="row">${name === "graph" ? "Graph token" : name}</th><td>${c === true ? html`<span class="badge ok">ok</span>` : html`<span class="badge bad">failing</span> ${c}`}</td></tr>`)}</tbody></table>
<h2>Since start</h2><table id="counters"><tbody>${v.metrics.map((m) => html`<tr><th scope="row">${m.label}</th><td>${m.value}</td></tr>`)}</tbody></table>
<h2>Alarms</h2>${
      v.alarms.length === 0
        ? html`<p class="muted">No alarms.</p>`
        : html`<table id="alarms"><thead><tr><th scope="col">Room</th><th scope="col">Code</th><th scope="col">Since</th><th scope="col">Message</th></tr></thead><tbody>${v.alarms.map((a) => html`<tr><td>${a.room}<br><small>${a.mailbox}</small></td><td>${a.code}</td><td>${when(new Date(a.since))}</td><td>${a.message}</td></tr>`)}</tbody></table>`
    }`,
  );
}

/** Seconds between two entries as `42s`, `3m05s` or `2h07m`. */
function waitText(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, "0")}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, "0")}m`;
}

/** A room's event log, oldest first: planned, pushed, bridge steps, console changes, with the waits. */
export function timelinePage(ctx: PageContext, room: Room, events: readonly LoggedEvent[]): string {
  const rows = events.map((e, i) => {
    const previous = i > 0 ? events[i - 1] : undefined;
    const who = typeof e.data?.who === "string" ? e.data.who : "";
    return html`<tr><td>${timeOf(e.at)}</td><td>${previous ? `+${waitText(e.at.getTime() - previous.at.getTime())}` : ""}</td><td><code>${e.kind}</code></td><td>${e.message}</td><td>${who}</td></tr>`;
  });
  return page(
    `Timeline: ${room.displayName}`,
    { ...ctx, section: "rooms" },
    events.length === 0
      ? html`<p class="card">No events for this room yet.</p><p><a href="/admin/rooms/${room.id}">Back to the room</a></p>`
      : html`<p><a href="/admin/rooms/${room.id}">Back to the room</a></p><table><caption>Events of ${room.mailbox}, oldest first (the newest 500)</caption>
<thead><tr><th scope="col">When (UTC)</th><th scope="col">Wait</th><th scope="col">Event</th><th scope="col">What</th><th scope="col">Who</th></tr></thead>
<tbody>${rows}</tbody></table>`,
  );
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
