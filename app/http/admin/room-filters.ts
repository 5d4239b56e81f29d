/** The Rooms page's filters and order: read from its query, carried in its links, shown as a form. */
import { CALENDAR_SOURCES } from "../../../core/domain.ts";
import type { Provider } from "../../../core/ports/store.ts";
import { DEVICE_FAMILIES } from "../../../store/validation.ts";
import { type Html, html } from "./html.ts";

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

export function filterParams(f: RoomFilters | undefined): Record<string, string> {
  if (!f) return {};
  return {
    ...(f.provider ? { provider: f.provider } : {}),
    ...(f.family ? { family: f.family } : {}),
    ...(f.source ? { source: f.source } : {}),
    ...(f.failing ? { failing: "1" } : {}),
    ...(f.sort !== "mailbox" ? { sort: f.sort } : {}),
  };
}

export function filterForm(search: string, f: RoomFilters, providers: readonly string[]): Html {
  const select = (name: string, label: string, values: readonly string[], current: string | null, any: string) =>
    html`<label>${label} <select name="${name}"><option value="">${any}</option>${values.map((v) => html`<option value="${v}"${v === current ? html` selected` : ""}>${v}</option>`)}</select></label>`;
  return html`<form method="get" action="/admin/rooms" id="room-filters" class="inline" aria-label="Filter rooms">${search ? html`<input type="hidden" name="q" value="${search}">` : ""}
${select("provider", "Provider", providers, f.provider, "any")} ${select("family", "Device family", DEVICE_FAMILIES, f.family, "any")} ${select("source", "Source", CALENDAR_SOURCES, f.source, "any")}
<label><input type="checkbox" name="failing" value="1"${f.failing ? html` checked` : ""}> Only with errors</label>
${select("sort", "Sort by", ["name", "provider"], f.sort === "mailbox" ? null : f.sort, "mailbox")} <button type="submit">Apply</button></form>`;
}
