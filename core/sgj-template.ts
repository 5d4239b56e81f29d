/**
 * SGJ dial string templates: the one check of a template an operator gives (a provider's
 * `--sgj-template`, its field in the API and in imports).
 *
 * A template is a SIP address `user@host` with placeholders in braces: `{meetingId}`,
 * `{passcode}`, `{sessionId}` and `{domain}` (the provider's SIP domain). Anything else in braces
 * is refused, so a typo never reaches a device as a literal `{meetingid}`.
 */
import { normalizeSipAddress } from "./sip-address.ts";

export const SGJ_PLACEHOLDERS = ["meetingId", "passcode", "sessionId", "domain"] as const;

/** Everything written in braces, known or not (the check reports the unknown ones). */
function bracedNames(template: string): string[] {
  return [...template.matchAll(/\{([^{}]*)\}/g)].map((m) => m[1] ?? "");
}

/** User input echoed in a message: JSON-quoted (no raw line breaks), at most 80 characters. */
function quote(value: string): string {
  return JSON.stringify(value.length > 80 ? `${value.slice(0, 77)}...` : value);
}

const EXAMPLE = '(e.g. "{meetingId}.{passcode}@sgj.example.com")';

/** Why an SGJ template is refused, or null when it is good. */
export function sgjTemplateProblem(template: string): string | null {
  if (template.length === 0) return "SGJ template is empty";
  const unknown = bracedNames(template).filter((name) => !(SGJ_PLACEHOLDERS as readonly string[]).includes(name));
  if (unknown.length > 0) {
    return `SGJ template has unknown placeholder ${unknown.map((n) => `{${n}}`).join(", ")} (use ${SGJ_PLACEHOLDERS.map((n) => `{${n}}`).join(", ")})`;
  }
  if (!template.includes("@")) return `SGJ template ${quote(template)} does not give a SIP address: it has no '@' ${EXAMPLE}`;
  const sample = template
    .replaceAll("{meetingId}", "228859003479315")
    .replaceAll("{passcode}", "Xy7pQ2")
    .replaceAll("{sessionId}", "sgj_e3495aaf97d3")
    .replaceAll("{domain}", "sgj.otj.invalid");
  if (normalizeSipAddress(sample) === null || sample.length > 255) {
    return `SGJ template ${quote(template)} does not give a SIP address user@host ${EXAMPLE}`;
  }
  return null;
}
