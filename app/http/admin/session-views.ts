/**
 * The Bridge sessions pages: the live list (its rows are also served alone, as the fragment the
 * page's script swaps in every 2 s: one renderer) and one session's timeline.
 */
import type { BridgeState } from "../../../core/domain.ts";
import type { BridgeSession, LoggedEvent } from "../../../core/ports/store.ts";
import { type Html, html } from "./html.ts";
import { BRIDGE_STATE_TEXT, type PageContext, page, stateBadge, timeOf, waitText, when } from "./views.ts";

export interface SessionView {
  occurrenceKey: string;
  sessionId: string;
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
    sessionId: s.sessionId,
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

function sessionRow(s: SessionView): Html {
  return html`<tr data-key="${s.occurrenceKey}"><td><a href="/admin/sessions/${encodeURIComponent(s.sessionId)}" aria-label="Timeline of ${s.room} at ${when(new Date(s.dueAt))}">${s.room}</a></td><td>${s.subject ?? "-"}</td><td>${when(new Date(s.dueAt))}</td><td>${stateBadge(s.state)}</td><td>${when(new Date(s.updatedAt))}</td><td>${s.externalId ?? "-"}</td><td>${s.lastError ?? "-"}</td></tr>`;
}

/** The table's rows alone: the page's first render and the fragment its script fetches. */
export function sessionRows(sessions: readonly SessionView[]): string {
  return html`${sessions.map(sessionRow)}`.text;
}

export function sessionsPage(ctx: PageContext, sessions: SessionView[]): string {
  return page(
    "Bridge sessions",
    { ...ctx, section: "sessions" },
    html`<p class="summary">SIP Guest Join sessions of the last day and the days ahead. <span id="live" role="status" aria-live="polite">Updates every 2 s.</span></p>
<div class="scroll"><table id="sessions" data-live="/admin/sessions/rows"><thead><tr><th scope="col">Room</th><th scope="col">Meeting</th><th scope="col">Due</th><th scope="col">State</th><th scope="col">Updated</th><th scope="col">Bridge id</th><th scope="col">Last error</th></tr></thead>
<tbody>${sessions.map(sessionRow)}</tbody></table></div>
<p class="muted" id="no-sessions"${sessions.length === 0 ? "" : html` hidden`}>No bridge sessions.</p>`,
  );
}

/** One bridge session's log, oldest first: scheduled, starting, lobby, admitted or denied, ended, callbacks, with the waits. */
export function sessionTimelinePage(ctx: PageContext, sessionId: string, session: SessionView | null, events: readonly LoggedEvent[]): string {
  const rows = events.map((e, i) => {
    const previous = i > 0 ? events[i - 1] : undefined;
    const change = typeof e.data?.from === "string" && typeof e.data?.to === "string" ? `${e.data.from} → ${e.data.to}` : "";
    return html`<tr><td>${timeOf(e.at)}</td><td>${previous ? `+${waitText(e.at.getTime() - previous.at.getTime())}` : ""}</td><td><code>${e.kind}</code></td><td>${change}</td><td>${e.message}</td></tr>`;
  });
  const facts = session
    ? html`<dl class="facts"><dt>Room</dt><dd>${session.room}</dd><dt>Due</dt><dd>${when(new Date(session.dueAt))} UTC</dd><dt>State</dt><dd>${stateBadge(session.state)}</dd><dt>Bridge id</dt><dd>${session.externalId ?? "-"}</dd>${session.lastError ? html`<dt>Last error</dt><dd>${session.lastError}</dd>` : ""}</dl>`
    : html`<p class="muted">The session itself is no longer kept (pruned); its log entries follow.</p>`;
  return page(
    `Bridge session ${sessionId}`,
    { ...ctx, section: "sessions" },
    html`<p><a href="/admin/sessions">Back to the bridge sessions</a></p>${facts}
${
  events.length === 0
    ? html`<p class="card" id="no-events">No events for this session yet.</p>`
    : html`<div class="scroll"><table id="session-events"><caption>State changes and callbacks, oldest first (the newest 500)</caption>
<thead><tr><th scope="col">When (UTC)</th><th scope="col">Wait</th><th scope="col">Event</th><th scope="col">Change</th><th scope="col">What</th></tr></thead>
<tbody>${rows}</tbody></table></div>`
}`,
  );
}
