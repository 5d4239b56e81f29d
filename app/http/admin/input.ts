/**
 * What the console reads from a request, declared once as zod schemas and parsed (never cast):
 * route parameters, query strings and form bodies. A form body is parsed here too (the console's
 * own parser: a repeated field, like the rooms picked for a bulk action, stays a list).
 */
import type { FastifyInstance, FastifyRequest } from "fastify";
import { z } from "zod";
import { isOtjError, OtjError } from "../../../core/errors.ts";

/** A query value as text: anything else (a repeated `?q=a&q=b`, absent) is the empty string. */
const queryText = z
  .unknown()
  .optional()
  .transform((v) => (typeof v === "string" ? v : ""));

export const IdParams = z.object({ id: z.string().min(1) });
export const AssetParams = z.object({ file: z.string() });

/** `?done=` names the notice a page shows after a redirect; `?next=` where sign-in goes on to. */
export const PageQuery = z.object({ done: queryText, next: queryText });

export const RoomsQuery = z.object({
  q: queryText,
  page: queryText,
  provider: queryText,
  family: queryText,
  source: queryText,
  failing: queryText,
  sort: queryText,
});

export const ReportsQuery = z.object({ from: queryText, to: queryText, tz: queryText });

/** A form: text fields by name; a field sent twice is a list. */
const FormBody = z.record(z.string(), z.union([z.string(), z.array(z.string())]));
export type Form = Record<string, string | undefined>;

/** Every field of a form that each field may appear once. */
export const TextForm = z.record(z.string(), z.string());

/** The rooms picked on the Rooms page and what to do with them. */
export const BulkForm = z.object({
  action: z.enum(["poll", "disable", "enable"]),
  room: z
    .union([z.string(), z.array(z.string())])
    .optional()
    .transform((v) => (v === undefined ? [] : Array.isArray(v) ? v : [v])),
});

export const MuteForm = z.object({ hours: z.string() });

/** The CSRF token every console form carries (absent or not text: none). */
export function csrfOf(body: unknown): string | undefined {
  const parsed = z.object({ _csrf: z.string() }).safeParse(body);
  return parsed.success ? parsed.data._csrf : undefined;
}

/** Parses `value`; a mismatch is OTJ_USAGE naming the field (a 400 page, never a crash). */
export function parseInput<T extends z.ZodType>(schema: T, value: unknown, what: string): z.output<T> {
  const result = schema.safeParse(value ?? {});
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  const field = issue?.path.length ? ` field ${issue.path.join(".")}` : "";
  throw new OtjError("OTJ_USAGE", `the ${what}${field} is not valid: ${issue?.message ?? "unexpected input"}`);
}

export const params = (req: FastifyRequest) => parseInput(IdParams, req.params, "address");
export const pageQuery = (req: FastifyRequest) => parseInput(PageQuery, req.query, "query");
/** The form's text fields (a repeated field is refused: no form of the console sends one). */
export const formOf = (req: FastifyRequest): Form => parseInput(TextForm, req.body, "form");

/**
 * The console's form parser, for its routes only (a fastify plugin's parsers are its own): like
 * the server's, but a field sent more than once keeps all its values.
 */
export function registerFormParser(app: FastifyInstance): void {
  if (app.hasContentTypeParser("application/x-www-form-urlencoded")) app.removeContentTypeParser("application/x-www-form-urlencoded");
  app.addContentTypeParser("application/x-www-form-urlencoded", { parseAs: "string" }, (_req, body, done) => {
    // A Map, then own properties: a field named __proto__ is a field like any other.
    const fields = new Map<string, string | string[]>();
    for (const [name, value] of new URLSearchParams(body as string)) {
      const seen = fields.get(name);
      fields.set(name, seen === undefined ? value : Array.isArray(seen) ? [...seen, value] : [seen, value]);
    }
    done(null, FormBody.parse(Object.fromEntries(fields)));
  });
}

/** An empty field is absent (keep), for optional text fields that may be cleared: null. */
export const optional = (value: string | undefined) => (value === undefined || value.trim() === "" ? null : value.trim());

/** A store refusal's problems (OTJ errors); anything else is not the user's to fix. */
export function problemsOf(error: unknown): string[] {
  if (isOtjError(error)) {
    const details = (error as { details?: { problems?: unknown } }).details;
    if (Array.isArray(details?.problems)) return details.problems.map(String);
    return [error.message];
  }
  throw error;
}
