/**
 * A route table for the emulators: method + path pattern -> handler, first match wins.
 *
 * A pattern is a path of segments joined by `/`: a literal (matched without regard to case), a
 * `:name` (any one segment, captured as sent), or a final `*` (the rest, zero or more segments,
 * captured as sent).
 */

export interface RouteMatch {
  readonly params: Readonly<Record<string, string>>;
  readonly rest: readonly string[];
}

export interface Route<C, R> {
  /** An HTTP method, or `*` for any. */
  readonly method: string;
  readonly pattern: string;
  readonly handle: (context: C, match: RouteMatch) => R;
}

/** Matches decoded path segments against a pattern; null when they do not match. */
export function matchPattern(pattern: string, segments: readonly string[]): RouteMatch | null {
  const parts = pattern.split("/").filter((p) => p !== "");
  const params: Record<string, string> = {};
  for (const [i, part] of parts.entries()) {
    if (part === "*" && i === parts.length - 1) return { params, rest: segments.slice(i) };
    const segment = segments[i];
    if (segment === undefined) return null;
    if (part.startsWith(":")) params[part.slice(1)] = segment;
    else if (part !== segment.toLowerCase()) return null;
  }
  return segments.length === parts.length ? { params, rest: [] } : null;
}

export class RouteTable<C, R> {
  readonly #routes: ReadonlyArray<Route<C, R>>;

  constructor(routes: ReadonlyArray<Route<C, R>>) {
    this.#routes = routes;
  }

  /** The first route whose method and pattern match, applied to `context`; null when none does. */
  dispatch(method: string, segments: readonly string[], context: C): R | null {
    for (const route of this.#routes) {
      if (route.method !== "*" && route.method !== method) continue;
      const match = matchPattern(route.pattern, segments);
      if (match !== null) return route.handle(context, match);
    }
    return null;
  }
}
