/**
 * The console's reports page (`/admin/reports`, CSV at `/admin/reports.csv`): bridge sessions per
 * day by outcome, the admit rate, lobby waits (p50/p95) per day, device pushes per day,
 * meetings per day by route and the rooms with most failures, for
 * a date range in a time zone (the `tz` parameter, else UTC). The counts come from the store's SQL
 * (store/postgres/report-store.ts); charts are SVG drawn here, each with a title and a table.
 */
import { wallTimeToInstant } from "../../../core/time-zone.ts";
import type { FastifyInstance } from "fastify";
import type { ReportRange, Store } from "../../../core/ports/store.ts";
import { barChart } from "./charts.ts";
import { type ConsoleContext, routeOf } from "./context.ts";
import { type Html, html } from "./html.ts";
import { parseInput, ReportsQuery } from "./input.ts";
import { type PageContext, page } from "./views.ts";

const DAY_MS = 86_400_000;
/** The longest range one report covers. */
const MAX_DAYS = 366;
const DEFAULT_DAYS = 14;
const TOP_ROOMS = 10;
const DATE = /^\d{4}-\d{2}-\d{2}$/;
/** Session states that mean the guest was let in, and those that mean a decided lobby. */
const ADMITTED = ["admitted", "ended"];
const NOT_ADMITTED = ["denied", "timeout"];

export function validTimeZone(zone: string): boolean {
  if (zone.length === 0 || zone.length > 64) return false;
  try {
    new Intl.DateTimeFormat("en", { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}

/** The instant local midnight of `day` (YYYY-MM-DD) is in `zone`. */
export function startOfLocalDay(day: string, zone: string): Date {
  return new Date(wallTimeToInstant(Date.parse(`${day}T00:00:00Z`), zone));
}

/** The local date (YYYY-MM-DD) of `at` in `zone`. */
export function localDay(at: Date, zone: string): string {
  return new Intl.DateTimeFormat("en-CA", { timeZone: zone, year: "numeric", month: "2-digit", day: "2-digit" }).format(at);
}

function addDays(day: string, n: number): string {
  return new Date(Date.parse(`${day}T00:00:00Z`) + n * DAY_MS).toISOString().slice(0, 10);
}

export interface ReportQuery {
  from: string;
  to: string;
  tz: string;
  range: ReportRange;
  days: string[];
}

/** Reads `from`, `to` (local dates, `to` included) and `tz`; problems are returned, not thrown. */
export function reportQuery(query: Record<string, string | undefined>, now: Date, defaultZone: string): { query: ReportQuery; problems: string[] } {
  const problems: string[] = [];
  let tz = query.tz?.trim() || defaultZone;
  if (!validTimeZone(tz)) {
    problems.push(`unknown time zone ${JSON.stringify(tz.slice(0, 64))}; showing ${defaultZone}`);
    tz = defaultZone;
  }
  const today = localDay(now, tz);
  const dateOf = (name: "from" | "to", fallback: string) => {
    const value = query[name]?.trim();
    if (!value) return fallback;
    if (DATE.test(value) && !Number.isNaN(Date.parse(`${value}T00:00:00Z`))) return value;
    problems.push(`${name} must be a date as YYYY-MM-DD (got ${JSON.stringify(value.slice(0, 32))})`);
    return fallback;
  };
  let to = dateOf("to", today);
  let from = dateOf("from", addDays(to, -(DEFAULT_DAYS - 1)));
  if (from > to) {
    problems.push("from is after to; showing the days from to backwards");
    [from, to] = [addDays(to, -(DEFAULT_DAYS - 1)), to];
  }
  const span = Math.round((Date.parse(`${to}T00:00:00Z`) - Date.parse(`${from}T00:00:00Z`)) / DAY_MS) + 1;
  if (span > MAX_DAYS) {
    problems.push(`a report covers at most ${MAX_DAYS} days; showing the last ${MAX_DAYS} up to ${to}`);
    from = addDays(to, -(MAX_DAYS - 1));
  }
  const days: string[] = [];
  for (let d = from; d <= to; d = addDays(d, 1)) days.push(d);
  return { query: { from, to, tz, days, range: { from: startOfLocalDay(from, tz), to: startOfLocalDay(addDays(to, 1), tz), timeZone: tz } }, problems };
}

export interface ReportData {
  sessions: Array<{ day: string; state: string; count: number }>;
  meetings: Array<{ day: string; route: string; count: number }>;
  rooms: Array<{ roomId: string; mailbox: string; displayName: string; failedSessions: number; pollErrors: number }>;
  lobbyWaits: Array<{ day: string; sessions: number; p50Seconds: number; p95Seconds: number }>;
  pushes: Array<{ day: string; outcome: string; count: number }>;
}

export async function loadReport(store: Store, range: ReportRange): Promise<ReportData> {
  const [sessions, meetings, rooms, lobbyWaits, pushes] = await Promise.all([
    store.reports.sessionsPerDay(range),
    store.reports.meetingsPerDay(range),
    store.reports.roomFailures(range, TOP_ROOMS),
    store.reports.lobbyWaitsPerDay(range),
    store.reports.pushesPerDay(range),
  ]);
  return { sessions, meetings, rooms, lobbyWaits, pushes };
}

/** Admitted over decided (admitted, denied, timed out), or null when no lobby was decided. */
export function admitRate(sessions: ReportData["sessions"]): number | null {
  const sum = (states: string[]) => sessions.filter((s) => states.includes(s.state)).reduce((n, s) => n + s.count, 0);
  const admitted = sum(ADMITTED);
  const decided = admitted + sum(NOT_ADMITTED);
  return decided === 0 ? null : admitted / decided;
}

/** An instant shown in the report's zone, with UTC on hover. */
function timeTag(at: Date, zone: string): Html {
  const shown = new Intl.DateTimeFormat("en-GB", { timeZone: zone, dateStyle: "medium", timeStyle: "short" }).format(at);
  return html`<time datetime="${at.toISOString()}" title="${at.toISOString().replace("T", " ").slice(0, 16)} UTC">${shown} ${zone}</time>`;
}

export function reportsPage(ctx: PageContext, q: ReportQuery, data: ReportData): string {
  const rate = admitRate(data.sessions);
  const csv = `/admin/reports.csv?${new URLSearchParams({ from: q.from, to: q.to, tz: q.tz }).toString()}`;
  return page(
    "Reports",
    { ...ctx, section: "reports" },
    html`<form method="get" action="/admin/reports" class="inline" id="range"><label>From <input type="date" name="from" value="${q.from}"></label> <label>To <input type="date" name="to" value="${q.to}"></label> <label>Time zone <input name="tz" value="${q.tz}" size="20" autocomplete="off"></label> <button type="submit">Show</button> <a href="${csv}" id="csv">Download CSV</a></form>
<p class="summary">From ${timeTag(q.range.from, q.tz)} to ${timeTag(q.range.to, q.tz)}. Days are counted in ${q.tz}.</p>
<p id="admit-rate">Admit rate: <strong>${rate === null ? "no lobby decided in this range" : `${Math.round(rate * 1000) / 10} %`}</strong> <span class="muted">(sessions admitted, of those admitted, denied or timed out in the lobby)</span></p>
${barChart({
  id: "sessions-chart",
  title: "SIP Guest Join sessions per day by outcome",
  days: q.days,
  rows: data.sessions.map((s) => ({ day: s.day, key: s.state, count: s.count })),
  keyLabel: "By the day a session was due; the outcome is its state now.",
})}
${barChart({
  id: "lobby-chart",
  title: "Lobby wait per day (p50 and p95)",
  days: q.days,
  rows: data.lobbyWaits.flatMap((w) => [
    { day: w.day, key: "p50", count: w.p50Seconds },
    { day: w.day, key: "p95", count: w.p95Seconds },
  ]),
  keyLabel: "Seconds from entering the lobby to being admitted, denied or timing out, by the day the session entered the lobby.",
  mode: "grouped",
  unit: " s",
})}
${barChart({
  id: "pushes-chart",
  title: "Device pushes per day",
  days: q.days,
  rows: data.pushes.map((p) => ({ day: p.day, key: p.outcome, count: p.count })),
  keyLabel: "Bookings written to devices (ok) and attempts that failed, by the day of the attempt.",
})}
${barChart({
  id: "meetings-chart",
  title: "Meetings per day by route",
  days: q.days,
  rows: data.meetings.map((m) => ({ day: m.day, key: m.route, count: m.count })),
  keyLabel: "By the day a meeting starts; cancelled and declined meetings are left out.",
})}
<section aria-labelledby="rooms-h"><h2 id="rooms-h">Rooms with most failures</h2>${
      data.rooms.length === 0
        ? html`<p class="muted" id="rooms-empty">No failures in this range.</p>`
        : html`<table id="failing-rooms"><thead><tr><th scope="col">Room</th><th scope="col">Failed, denied or timed-out sessions</th><th scope="col">Poll errors</th></tr></thead><tbody>${data.rooms.map(
            (r) =>
              html`<tr><th scope="row"><a href="/admin/rooms/${r.roomId}">${r.displayName}</a> <span class="muted">${r.mailbox}</span></th><td>${r.failedSessions}</td><td>${r.pollErrors}</td></tr>`,
          )}</tbody></table>`
    }</section>`,
  );
}

function csvCell(value: string | number): string {
  const text = String(value);
  // A leading =, +, - or @ would be a formula in a spreadsheet.
  const safe = /^[=+\-@\t\r]/.test(text) ? `'${text}` : text;
  return /[",\n\r]/.test(safe) ? `"${safe.replace(/"/g, '""')}"` : safe;
}

export function reportCsv(q: ReportQuery, data: ReportData): string {
  const lines = [["report", "day", "key", "count"].join(",")];
  for (const s of data.sessions) lines.push(["sessions", s.day, s.state, s.count].map(csvCell).join(","));
  for (const m of data.meetings) lines.push(["meetings", m.day, m.route, m.count].map(csvCell).join(","));
  for (const w of data.lobbyWaits) {
    lines.push(["lobby-wait-p50-seconds", w.day, "", w.p50Seconds].map(csvCell).join(","));
    lines.push(["lobby-wait-p95-seconds", w.day, "", w.p95Seconds].map(csvCell).join(","));
  }
  for (const p of data.pushes) lines.push(["pushes", p.day, p.outcome, p.count].map(csvCell).join(","));
  for (const r of data.rooms) {
    lines.push(["room-failed-sessions", `${q.from}..${q.to}`, r.mailbox, r.failedSessions].map(csvCell).join(","));
    lines.push(["room-poll-errors", `${q.from}..${q.to}`, r.mailbox, r.pollErrors].map(csvCell).join(","));
  }
  return `${lines.join("\r\n")}\r\n`;
}

export function reportRoutes(app: FastifyInstance, c: ConsoleContext): void {
  const zone = c.deps.timeZone && validTimeZone(c.deps.timeZone) ? c.deps.timeZone : "UTC";
  const read = (query: unknown) => reportQuery(parseInput(ReportsQuery, query, "query"), c.now(), zone);
  app.get("/reports", routeOf(), async (req, reply) => {
    const { query, problems } = read(req.query);
    const data = await loadReport(c.store, query.range);
    const ctx = c.ctx(req);
    const body = reportsPage(problems.length > 0 ? { ...ctx, notice: problems.join("; ") } : ctx, query, data);
    return c.send(reply, body, problems.length > 0 ? 400 : 200);
  });
  app.get("/reports.csv", routeOf(), async (req, reply) => {
    const { query, problems } = read(req.query);
    if (problems.length > 0)
      return reply
        .code(400)
        .header("content-type", "text/plain; charset=utf-8")
        .send(`${problems.join("\n")}\n`);
    const data = await loadReport(c.store, query.range);
    return reply
      .header("content-type", "text/csv; charset=utf-8")
      .header("content-disposition", `attachment; filename="otj-report-${query.from}-${query.to}.csv"`)
      .header("cache-control", "no-store")
      .send(reportCsv(query, data));
  });
}
