/**
 * The console's Alarms page: the open alarms (acknowledge, mute for a while) and the history of
 * raised and cleared ones. Rendered on the server like the other pages; no script needed.
 */
import type { AlarmRecord } from "../../../core/ports/alarm-store.ts";
import { type Html, html } from "./html.ts";
import { can, csrfField, type PageContext, page } from "./views.ts";

/** The mute durations offered, in hours ("0" unmutes). */
export const MUTE_HOURS: ReadonlyArray<[string, string]> = [
  ["1", "1 hour"],
  ["4", "4 hours"],
  ["24", "1 day"],
  ["168", "1 week"],
  ["0", "Unmute"],
];

const when = (d: Date | null) => (d === null ? "-" : d.toISOString().slice(0, 16).replace("T", " "));
const timeOf = (d: Date | null) => (d === null ? html`-` : html`<time datetime="${d.toISOString()}">${when(d)} UTC</time>`);

function state(a: AlarmRecord, now: Date): Html {
  const muted = a.mutedUntil !== null && a.mutedUntil > now;
  return html`${a.clearedAt === null ? html`<span class="badge bad">open</span>` : html`<span class="badge ok">cleared</span>`}${
    a.ackedBy !== null ? html` <span class="badge">acknowledged by ${a.ackedBy} at ${when(a.ackedAt)}</span>` : ""
  }${muted ? html` <span class="badge">muted by ${a.mutedBy ?? "-"} until ${when(a.mutedUntil)} UTC</span>` : ""}`;
}

/** Acknowledge (operator and above) and mute (admin): only the actions the user's role may use. */
function actions(a: AlarmRecord, ctx: PageContext): Html {
  const label = `${a.code} ${a.subject}`;
  const ack = can(ctx, "operator")
    ? html`<form method="post" action="/admin/alarms/${a.id}/ack" class="inline">${csrfField(ctx.csrf)}<button type="submit"${a.ackedBy !== null ? " disabled" : ""} aria-label="Acknowledge ${label}">Acknowledge</button></form>`
    : "";
  const mute = can(ctx, "admin")
    ? html`<form method="post" action="/admin/alarms/${a.id}/mute" class="inline">${csrfField(ctx.csrf)}<label for="mute-${a.id}">Mute</label> <select id="mute-${a.id}" name="hours">${MUTE_HOURS.map(([v, l]) => html`<option value="${v}">${l}</option>`)}</select> <button type="submit" aria-label="Mute ${label}">Apply</button></form>`
    : "";
  return html`${ack}
${mute}`;
}

/** Room alarms name their mailbox; engine-wide ones (no room) say so. */
const about = (a: AlarmRecord) => (a.roomId === null ? html`<span class="badge">engine-wide</span> ${a.subject}` : html`${a.subject}`);

export function alarmsPage(ctx: PageContext, open: AlarmRecord[], history: AlarmRecord[], now: Date): string {
  const head = html`<thead><tr><th scope="col">Code</th><th scope="col">About</th><th scope="col">Message</th><th scope="col">Raised</th><th scope="col">Cleared</th><th scope="col">State</th>`;
  return page(
    "Alarms",
    { ...ctx, section: "alarms" },
    html`<p class="summary">${open.length} open alarm(s). Notifications go out when an alarm is raised or cleared, unless it is muted.</p>
<h2>Open</h2>${
      open.length === 0
        ? html`<p class="muted" id="no-alarms">No open alarms.</p>`
        : html`<div class="scroll"><table id="open-alarms">${head}<th scope="col">Actions</th></tr></thead><tbody>${open.map(
            (a) =>
              html`<tr data-alarm="${a.id}"><td>${a.code}</td><td>${about(a)}</td><td>${a.message}</td><td>${timeOf(a.raisedAt)}</td><td>${timeOf(a.clearedAt)}</td><td>${state(a, now)}</td><td>${actions(a, ctx)}</td></tr>`,
          )}</tbody></table></div>`
    }
<h2>History</h2>${
      history.length === 0
        ? html`<p class="muted">No alarms yet.</p>`
        : html`<div class="scroll"><table id="alarm-history">${head}</tr></thead><tbody>${history.map(
            (a) =>
              html`<tr data-alarm="${a.id}"><td>${a.code}</td><td>${about(a)}</td><td>${a.message}</td><td>${timeOf(a.raisedAt)}</td><td>${timeOf(a.clearedAt)}</td><td>${state(a, now)}</td></tr>`,
          )}</tbody></table></div>`
    }`,
  );
}
