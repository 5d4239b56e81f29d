/**
 * Charts of the reports page, drawn on the server as SVG (no script): each has a title for screen
 * readers, a legend, and its numbers as a table.
 */
import { type Html, html } from "./html.ts";

const COLORS = ["#2563eb", "#16a34a", "#dc2626", "#d97706", "#7c3aed", "#0891b2", "#db2777", "#4b5563", "#65a30d"];

export interface ChartSpec {
  id: string;
  title: string;
  days: readonly string[];
  rows: ReadonlyArray<{ day: string; key: string; count: number }>;
  /** The note under the chart: what is counted, by which day. */
  keyLabel: string;
  /** `stacked`: the keys add up (counts); `grouped`: side by side (e.g. p50 and p95). */
  mode?: "stacked" | "grouped";
  /** A unit after the values (`s`). */
  unit?: string;
}

/** A bar chart per day, with a title, a legend and the same numbers as a table. */
export function barChart(spec: ChartSpec): Html {
  const { id, title, days, rows, keyLabel } = spec;
  const grouped = spec.mode === "grouped";
  const unit = spec.unit ?? "";
  const keys = [...new Set(rows.map((r) => r.key))].sort();
  const count = (day: string, key: string) => rows.find((r) => r.day === day && r.key === key)?.count ?? 0;
  const totals = days.map((d) => keys.reduce((n, k) => n + count(d, k), 0));
  const highest = grouped ? Math.max(0, ...rows.map((r) => r.count)) : Math.max(0, ...totals);
  const max = Math.max(1, Math.ceil(highest));
  const width = Math.max(320, days.length * 24 + 40);
  const height = 160;
  const slot = Math.max(4, Math.floor((width - 40) / Math.max(1, days.length)) - 4);
  const barW = grouped ? Math.max(2, Math.floor(slot / Math.max(1, keys.length))) : slot;
  const color = (k: number) => COLORS[k % COLORS.length] ?? "#000";
  const bars = days.map((day, i) => {
    let y = height - 20;
    return keys.map((key, k) => {
      const n = count(day, key);
      if (n === 0) return "";
      const h = Math.max(1, Math.round((n / max) * (height - 40)));
      const x = 30 + i * (slot + 4) + (grouped ? k * barW : 0);
      if (grouped) y = height - 20 - h;
      else y -= h;
      return html`<rect x="${x}" y="${y}" width="${barW}" height="${h}" fill="${color(k)}"><title>${day} ${key}: ${n}${unit}</title></rect>`;
    });
  });
  const legend = keys.map(
    (key, k) => html`<li><svg width="10" height="10" aria-hidden="true"><rect width="10" height="10" fill="${color(k)}"/></svg> ${key}</li>`,
  );
  const most = grouped ? `highest: ${max}${unit}` : `most in a day: ${max}`;
  return html`<section aria-labelledby="${id}-h"><h2 id="${id}-h">${title}</h2>
${
  rows.length === 0
    ? html`<p class="muted" id="${id}-empty">Nothing in this range.</p>`
    : html`<figure><svg id="${id}" role="img" aria-labelledby="${id}-t" viewBox="0 0 ${width} ${height}" width="${width}" height="${height}" xmlns="http://www.w3.org/2000/svg"><title id="${id}-t">${title}, ${days[0] ?? ""} to ${days.at(-1) ?? ""} (${most})</title><line x1="28" y1="${height - 20}" x2="${width}" y2="${height - 20}" stroke="#888"/><text x="0" y="20" font-size="10">${max}${unit}</text>${bars}</svg>
<ul class="legend">${legend}</ul></figure>
<details><summary>Table</summary><div class="scroll"><table id="${id}-table"><thead><tr><th scope="col">Day</th>${keys.map((k) => html`<th scope="col">${k}</th>`)}${grouped ? "" : html`<th scope="col">All</th>`}</tr></thead><tbody>${days.map(
        (d, i) =>
          html`<tr><th scope="row">${d}</th>${keys.map((k) => html`<td>${count(d, k)}${unit}</td>`)}${grouped ? "" : html`<td>${totals[i] ?? 0}</td>`}</tr>`,
      )}</tbody></table></div></details>`
}<p class="muted">${keyLabel}</p></section>`;
}
