/**
 * Custom routing rules (docs/formats.md): validated and compiled once at start-up; a bad rule is
 * a configuration error that names the rule and the problem.
 */
import type { IvrFallback, JoinProvider } from "../core/domain.ts";
import { OtjError } from "../core/errors.ts";
import { SGJ_PLACEHOLDERS, templatePlaceholders } from "./dial-string.ts";

export type RuleField = "url" | "location" | "text" | "any";

/** A custom rule as written in the configuration (`join.rules[]`). */
export interface CustomRuleConfig {
  id: string;
  priority: number;
  match: { provider?: JoinProvider; field: RuleField; regex: string };
  route: "direct" | "sgj";
  template: string;
  ivr?: { address: string; dtmf: string };
}

export interface CompiledRule {
  id: string;
  priority: number;
  provider: JoinProvider | null;
  field: RuleField;
  regex: RegExp;
  route: "direct" | "sgj";
  template: string;
  ivr: IvrFallback | null;
  /** Position in the file, for ties. */
  order: number;
}

const PROVIDERS: readonly JoinProvider[] = ["teams", "zoom", "webex", "google-meet", "gotomeeting", "bluejeans", "chime", "jitsi", "sip", "h323", "other"];

/**
 * Rejects regexes that can backtrack catastrophically or are otherwise outside what B5.3 allows:
 * longer than 512 characters, back-references, lookbehind, and a quantified group that itself
 * contains an unbounded quantifier (`(a+)+`, `(a*)*`, `(a+)*`, `(a{2,})+`).
 */
export function regexProblem(source: string): string | null {
  if (source.length > 512) return "longer than 512 characters";
  if (/\\[1-9]|\\k</.test(source)) return "back-references are not allowed";
  if (/\(\?<[=!]/.test(source)) return "lookbehind is not allowed";
  // Per open group: does it contain an unbounded quantifier (*, +, {n,})?
  const stack: boolean[] = [];
  const unboundedAt = (i: number): number => {
    const m = /^(?:[*+]|\{\d+,\})\??/.exec(source.slice(i));
    return m ? m[0].length : 0;
  };
  let inClass = false;
  for (let i = 0; i < source.length; i++) {
    const c = source[i]!;
    if (c === "\\") {
      i++;
      continue;
    }
    if (inClass) {
      if (c === "]") inClass = false;
      continue;
    }
    if (c === "[") inClass = true;
    else if (c === "(") stack.push(false);
    else if (c === ")") {
      const inner = stack.pop() ?? false;
      const outer = unboundedAt(i + 1) > 0;
      if (inner && outer) return "nested quantifiers are not allowed";
      if (stack.length > 0 && (inner || outer)) stack[stack.length - 1] = true;
    } else if (stack.length > 0 && unboundedAt(i) > 0) stack[stack.length - 1] = true;
  }
  return null;
}

function fail(index: number, message: string): never {
  throw new OtjError("OTJ_CONFIG_INVALID", `join.rules[${index}]: ${message}`);
}

/** Validates and compiles `join.rules`; throws OTJ_CONFIG_INVALID naming the rule. */
export function compileRules(rules: readonly unknown[]): CompiledRule[] {
  const seen = new Set<string>();
  return rules.map((raw, index) => {
    if (raw === null || typeof raw !== "object") fail(index, "must be an object");
    const r = raw as Partial<CustomRuleConfig>;
    if (typeof r.id !== "string" || !/^[a-z0-9-]{1,40}$/.test(r.id)) fail(index, "id must match [a-z0-9-]{1,40}");
    if (seen.has(r.id)) fail(index, `duplicate id "${r.id}"`);
    seen.add(r.id);
    if (!Number.isInteger(r.priority) || r.priority! < 1 || r.priority! > 999) fail(index, "priority must be an integer 1-999");
    const match = r.match;
    if (!match || typeof match !== "object") fail(index, "match is required");
    if (match.provider !== undefined && !PROVIDERS.includes(match.provider)) fail(index, `match.provider must be one of ${PROVIDERS.join(", ")}`);
    if (!["url", "location", "text", "any"].includes(match.field)) fail(index, "match.field must be url, location, text or any");
    if (typeof match.regex !== "string") fail(index, "match.regex must be a string");
    const problem = regexProblem(match.regex);
    if (problem) fail(index, `match.regex: ${problem}`);
    let regex: RegExp;
    try {
      regex = new RegExp(match.regex, "u");
    } catch (error) {
      fail(index, `match.regex does not compile: ${(error as Error).message}`);
    }
    if (r.route !== "direct" && r.route !== "sgj") fail(index, "route must be direct or sgj");
    if (typeof r.template !== "string" || r.template.length === 0 || r.template.length > 255) fail(index, "template must be 1-255 characters");
    const groups = new Set([...match.regex.matchAll(/\(\?<([A-Za-z][A-Za-z0-9_]*)>/g)].map((m) => m[1]!));
    const names = [...templatePlaceholders(r.template), ...(r.ivr ? [...templatePlaceholders(r.ivr.address), ...templatePlaceholders(r.ivr.dtmf)] : [])];
    for (const n of names) {
      if (!groups.has(n) && !(SGJ_PLACEHOLDERS as readonly string[]).includes(n))
        fail(index, `template uses {${n}}, which is neither a named group nor a built-in placeholder`);
    }
    if (r.ivr !== undefined && (typeof r.ivr.address !== "string" || typeof r.ivr.dtmf !== "string")) fail(index, "ivr needs address and dtmf strings");
    return {
      id: r.id,
      priority: r.priority!,
      provider: match.provider ?? null,
      field: match.field,
      regex: regex!,
      route: r.route,
      template: r.template,
      ivr: r.ivr ? { address: r.ivr.address, dtmf: r.ivr.dtmf } : null,
      order: index,
    };
  });
}
