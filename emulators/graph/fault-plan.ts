/**
 * Injected failures for the Graph emulator: data, not code. A rule matches requests by route and
 * mailbox and answers a number of them with an error (or drops the connection).
 */

export type RouteKind = "token" | "calendarView" | "delta" | "events" | "places" | "batch" | "messages" | "subscriptions" | "calls";

export interface FaultRule {
  /** Only requests for this mailbox (case-insensitive); absent: any request. */
  readonly mailbox?: string;
  /** Only these routes; absent: every route except the token endpoint. */
  readonly routes?: readonly RouteKind[];
  /** Let this many matching requests through first (default 0). */
  readonly after?: number;
  /** How many matching requests fail (default: every one until the rule is removed). */
  readonly times?: number;
  /** Fail only this share (0-1) of matching requests, drawn from the emulator's seeded generator. */
  readonly rate?: number;
  /** Default 503. */
  readonly status?: number;
  /** Graph `error.code` (default by status). */
  readonly code?: string;
  readonly message?: string;
  /** The `Retry-After` header (fractional seconds allowed); absent or null: none. */
  readonly retryAfter?: string | null;
  /** Close the connection without answering (a `$batch` item gets 504 instead). */
  readonly drop?: boolean;
  readonly headers?: Readonly<Record<string, string>>;
}

export const DEFAULT_ERROR_CODES: Readonly<Record<number, [string, string]>> = {
  400: ["BadRequest", "Invalid request."],
  401: ["InvalidAuthenticationToken", "Access token validation failure."],
  403: ["ErrorAccessDenied", "Access to OData is disabled."],
  404: ["ErrorItemNotFound", "The specified object was not found in the store."],
  429: ["ApplicationThrottled", "Application is over its MailboxConcurrency limit."],
  500: ["generalException", "An internal server error occurred."],
  503: ["ServiceUnavailable", "The service is temporarily unavailable. Please retry later."],
  504: ["GatewayTimeout", "The gateway did not receive a timely response."],
};

export interface FaultHandle {
  /** Matching requests that got the fault so far. */
  readonly hits: number;
  remove(): void;
}

interface ActiveRule {
  readonly rule: FaultRule;
  readonly mailbox: string | undefined;
  seen: number;
  hits: number;
}

export class FaultPlan {
  #rules: ActiveRule[] = [];
  readonly #random: () => number;

  /** @param random Uniform in [0, 1); seeded by the emulator so runs repeat. */
  constructor(random: () => number) {
    this.#random = random;
  }

  add(rule: FaultRule): FaultHandle {
    const active: ActiveRule = { rule, mailbox: rule.mailbox?.toLowerCase(), seen: 0, hits: 0 };
    this.#rules.push(active);
    return {
      get hits() {
        return active.hits;
      },
      remove: () => {
        this.#rules = this.#rules.filter((r) => r !== active);
      },
    };
  }

  clear(): void {
    this.#rules = [];
  }

  /** The first rule that applies to this request, counted as used; null when none. */
  take(route: RouteKind, mailbox: string | null): FaultRule | null {
    for (const active of this.#rules) {
      const { rule } = active;
      if (rule.routes ? !rule.routes.includes(route) : route === "token") continue;
      if (active.mailbox !== undefined && active.mailbox !== mailbox) continue;
      active.seen++;
      if (active.seen <= (rule.after ?? 0)) continue;
      if (rule.times !== undefined && active.hits >= rule.times) continue;
      if (rule.rate !== undefined && this.#random() >= rule.rate) continue;
      active.hits++;
      return rule;
    }
    return null;
  }
}
