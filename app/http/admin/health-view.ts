/** The Health page: readiness, counters since start, open alarms. */
import { html } from "./html.ts";
import { type PageContext, page, when } from "./views.ts";

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
