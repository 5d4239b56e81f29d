/**
 * The Rooms pages: the list (with the bulk actions), one room with its meetings, its timeline,
 * the device test's outcome, a device token shown once, and the remove confirmation.
 */
import type { BridgeSession, DeviceState, LoggedEvent, Meeting, Room, SyncCursor } from "../../../core/ports/store.ts";
import type { DoctorCheck } from "../../doctor.ts";
import type { StatusOutput } from "../../status.ts";
import { type Html, html } from "./html.ts";
import { filterForm, filterParams, type RoomFilters } from "./room-filters.ts";
import { can, csrfField, type PageContext, page, stateBadge, timeOf, waitText, when } from "./views.ts";

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

export function roomsPage(
  ctx: PageContext,
  rows: RoomRowView[],
  query: { search: string; page: number; pages: number; total: number; filters?: RoomFilters; providers?: readonly string[] },
): string {
  // Bulk actions (poll now, disable, enable) for operators and admins only.
  const bulk = can(ctx, "operator");
  const link = (p: number) =>
    `/admin/rooms?${new URLSearchParams({ ...(query.search ? { q: query.search } : {}), ...filterParams(query.filters), page: String(p) }).toString()}`;
  return page(
    "Rooms",
    { ...ctx, section: "rooms" },
    html`<div class="toolbar">
<form method="get" action="/admin/rooms" role="search"><label for="q">Search rooms</label>
<input id="q" name="q" type="search" value="${query.search}" placeholder="mailbox or name"><button type="submit">Search</button></form>
${can(ctx, "admin") ? html`<a class="button" href="/admin/rooms/new">Add room</a> ` : ""}<a href="/admin/rooms.csv" id="rooms-csv" download>Export CSV</a></div>
${query.filters ? filterForm(query.search, query.filters, query.providers ?? []) : ""}
<p class="summary">${query.total} room${query.total === 1 ? "" : "s"}${query.search ? html` matching “${query.search}”` : ""}${query.pages > 1 ? html`, page ${query.page} of ${query.pages}` : ""}</p>
${bulk ? html`<form method="post" action="/admin/rooms/bulk" id="bulk">${csrfField(ctx.csrf)}` : ""}<div class="scroll"><table id="rooms"><thead><tr>${bulk ? html`<th scope="col"><input type="checkbox" data-select-all="room" aria-label="Select every room of this page"></th>` : ""}<th scope="col">Room</th><th scope="col">Provider</th><th scope="col">Last poll</th><th scope="col">Device</th><th scope="col">Alarms</th><th scope="col">Next meeting</th></tr></thead><tbody>
${rows.map(
  (
    r,
  ) => html`<tr>${bulk ? html`<td><input type="checkbox" name="room" value="${r.room.id}" aria-label="Select ${r.room.displayName}"></td>` : ""}<td><a href="/admin/rooms/${r.room.id}">${r.room.displayName}</a>${r.room.enabled ? "" : html` <span class="badge muted">disabled</span>`}<br><small>${r.room.mailbox}</small></td>
<td>${r.room.providerName ?? "-"}</td><td>${pollCell(r.lastPoll)}</td><td>${deviceCell(r.device)}</td>
<td>${r.alarms.length === 0 ? html`<span class="muted">none</span>` : r.alarms.map((a) => html`<span class="badge bad" title="${a.message}">${a.code}</span> `)}</td>
<td>${r.next ? html`${timeOf(r.next.start)} <span class="route route-${r.next.route}">${r.next.route}</span>` : html`<span class="muted">none</span>`}</td></tr>`,
)}
</tbody></table></div>
${
  bulk
    ? html`<div class="actions" role="group" aria-label="With the selected rooms"><button type="submit" name="action" value="poll">Poll now</button> <button type="submit" name="action" value="disable">Disable</button> <button type="submit" name="action" value="enable">Enable</button></div></form>`
    : ""
}
${
  query.pages > 1
    ? html`<nav class="pager" aria-label="Pages">${query.page > 1 ? html`<a href="${link(query.page - 1)}" rel="prev">Previous</a>` : ""} <span>Page ${query.page} of ${query.pages}</span> ${query.page < query.pages ? html`<a href="${link(query.page + 1)}" rel="next">Next</a>` : ""}</nav>`
    : ""
}`,
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
  /** The engine can probe devices ("Test device"). */
  canTestDevice: boolean;
}

function explainBlock(m: Meeting): Html {
  if (!m.explain) return html`<small class="muted">no account kept (planned before this version)</small>`;
  return html`<details><summary>Why ${m.route}${m.rule ? html` (rule ${m.rule})` : ""}</summary>
${m.explain.matchedText ? html`<p>Matched text: <code>${m.explain.matchedText}</code></p>` : ""}
<ol class="trace">${m.explain.trace.map((t) => html`<li class="${t.outcome === "matched" ? "matched" : ""}"><code>${t.rule}</code> ${t.outcome}: ${t.reason}</li>`)}</ol></details>`;
}

export function roomDetailPage(ctx: PageContext, v: RoomDetailView): string {
  const { room } = v;
  const operator = can(ctx, "operator");
  const admin = can(ctx, "admin");
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
${operator ? html`<form method="post" action="/admin/rooms/${room.id}/poll">${csrfField(ctx.csrf)}<button type="submit">Poll now</button></form>` : ""}
${operator && v.canTestDevice ? html`<form method="post" action="/admin/rooms/${room.id}/test">${csrfField(ctx.csrf)}<button type="submit">Test device</button></form>` : ""}
${admin ? html`<a class="button" href="/admin/rooms/${room.id}/edit">Edit</a>` : ""}
<a class="button" href="/admin/rooms/${room.id}/timeline">Timeline</a>
${operator ? html`<form method="post" action="/admin/rooms/${room.id}/token">${csrfField(ctx.csrf)}<button type="submit">${room.device.hasToken ? "Rotate device token" : "Create device token"}</button></form>` : ""}
${admin ? html`<a class="button danger" href="/admin/rooms/${room.id}/remove">Remove</a>` : ""}</div>
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

/** The outcome of "Test device": the doctor's read-only device probe, with the fix when it fails. */
export function deviceTestPage(ctx: PageContext, room: Room, check: DoctorCheck): string {
  const badge = check.outcome === "pass" ? "ok" : check.outcome === "fail" ? "bad" : "muted";
  return page(
    `Device test: ${room.displayName}`,
    { ...ctx, section: "rooms" },
    html`<div class="card" id="device-test"><p><span class="badge ${badge}" id="device-test-outcome">${check.outcome}</span> ${check.detail}</p>
${check.fix ? html`<p id="device-test-fix"><strong>Fix:</strong> ${check.fix}</p>` : ""}
<p class="muted">A read-only check: otj asked the device what it is, with the room's credentials; nothing was written to it.</p>
<p><a href="/admin/rooms/${room.id}">Back to the room</a></p></div>`,
  );
}
