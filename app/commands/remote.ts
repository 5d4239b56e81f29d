/**
 * `--url`/`--token`: commands that would open the database talk to a running engine's HTTP API
 * instead (the embedded database is locked while the engine runs). The token is the engine's
 * `http.adminToken`, from `--token` or OTJ_HTTP__ADMIN_TOKEN; it is sent only as a bearer header.
 */
import type { Command } from "commander";
import { ERROR_CODES, type ErrorCode, OtjError } from "../../core/errors.ts";
import type { CliIo } from "../cli-context.ts";

export interface RemoteFlags {
  url?: string;
  token?: string;
}

/** The longest the CLI waits for the engine's answer. */
const REMOTE_TIMEOUT_MS = 60_000;

export function addRemoteOptions(cmd: Command): Command {
  return cmd
    .option("--url <url>", "the running engine's HTTP address (e.g. http://127.0.0.1:8080): use its API, not the database")
    .option("--token <token>", "with --url: the engine's admin token (default: $OTJ_HTTP__ADMIN_TOKEN)");
}

/** True when the command should use the engine's API. Throws OTJ_USAGE for --token without --url. */
export function isRemote(flags: RemoteFlags & { databaseUrl?: string }): boolean {
  if (flags.url === undefined) {
    if (flags.token !== undefined) throw new OtjError("OTJ_USAGE", "--token needs --url");
    return false;
  }
  if (flags.databaseUrl !== undefined) throw new OtjError("OTJ_USAGE", "give either --url or --database-url, not both");
  return true;
}

function baseUrl(url: string): URL {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new OtjError("OTJ_USAGE", `--url ${JSON.stringify(url)} is not a URL`);
  }
  if (parsed.protocol !== "http:" && parsed.protocol !== "https:") throw new OtjError("OTJ_USAGE", "--url must be an http:// or https:// address");
  return parsed;
}

/**
 * Calls the engine's API; a JSON answer is returned, an error answer becomes the OtjError it names
 * (except the statuses in `answerOn`, whose body is returned).
 */
export async function callEngine(
  flags: RemoteFlags,
  io: CliIo,
  method: string,
  path: string,
  body?: unknown,
  options: { answerOn?: readonly number[] } = {},
): Promise<unknown> {
  const base = baseUrl(flags.url ?? "");
  const token = flags.token ?? io.env.OTJ_HTTP__ADMIN_TOKEN;
  if (token === undefined || token === "") throw new OtjError("OTJ_USAGE", "--url needs the engine's admin token: --token or OTJ_HTTP__ADMIN_TOKEN");
  const target = new URL(path.replace(/^\//, ""), base.href.endsWith("/") ? base.href : `${base.href}/`);
  let response: Response;
  try {
    response = await fetch(target, {
      method,
      headers: { authorization: `Bearer ${token}`, accept: "application/json", ...(body !== undefined ? { "content-type": "application/json" } : {}) },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
      signal: AbortSignal.timeout(REMOTE_TIMEOUT_MS),
    });
  } catch (error) {
    throw new OtjError("OTJ_STORE_UNREACHABLE", `cannot reach the engine at ${base.origin} (${(error as Error).name})`, { cause: error });
  }
  const text = await response.text();
  let parsed: unknown = null;
  if (text !== "") {
    try {
      parsed = JSON.parse(text);
    } catch {
      parsed = null;
    }
  }
  if (response.ok || options.answerOn?.includes(response.status)) return parsed;
  const error = (parsed as { error?: { code?: unknown; message?: unknown } } | null)?.error;
  const code = typeof error?.code === "string" && error.code in ERROR_CODES ? (error.code as ErrorCode) : "OTJ_INTERNAL";
  const message = typeof error?.message === "string" ? error.message : `the engine answered ${response.status}`;
  throw new OtjError(code, `${message} (engine at ${base.origin}, HTTP ${response.status})`, { details: { status: response.status } });
}
