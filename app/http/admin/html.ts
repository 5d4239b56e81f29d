/**
 * HTML built from tagged templates: every interpolated value is escaped unless it is itself a
 * fragment made by `html` (or `raw`, for markup written here). Invite content is hostile input;
 * this is what makes `<img src=x onerror=...>` in a subject show as text.
 */

const SAFE = Symbol("safe html");

export interface Html {
  readonly [SAFE]: true;
  readonly text: string;
}

const ESCAPES: Record<string, string> = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;", "`": "&#96;" };

export function escapeHtml(value: string): string {
  return value.replace(/[&<>"'`]/g, (c) => ESCAPES[c]!);
}

function isHtml(value: unknown): value is Html {
  return typeof value === "object" && value !== null && (value as Html)[SAFE] === true;
}

/** Markup written in this codebase (never data). */
export function raw(text: string): Html {
  return { [SAFE]: true, text };
}

type Value = Html | string | number | boolean | null | undefined | readonly Value[];

function render(value: Value): string {
  if (value === null || value === undefined || value === false) return "";
  if (Array.isArray(value)) return value.map(render).join("");
  if (isHtml(value)) return value.text;
  return escapeHtml(String(value));
}

export function html(strings: TemplateStringsArray, ...values: Value[]): Html {
  let out = strings[0] ?? "";
  values.forEach((value, i) => {
    out += render(value) + (strings[i + 1] ?? "");
  });
  return raw(out);
}
