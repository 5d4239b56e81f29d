/**
 * The Google client and calendar source built from the `google.*` and `poll.*` configuration:
 * one builder for `otj run` and the CLI commands that talk to Google.
 */
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import type { Logger } from "pino";
import type { Clock } from "../../core/clock.ts";
import type { Config } from "../../core/config.ts";
import { OtjError } from "../../core/errors.ts";
import { GoogleCalendarSource } from "./google-calendar-source.ts";
import { GoogleClient, parseServiceAccountKey, type ServiceAccountKey, type SharedBudget } from "./google-client.ts";

/**
 * @param cwd base of a relative `google.serviceAccountKeyFile`.
 * @throws OtjError OTJ_CONFIG_INVALID naming the missing or unreadable `google.*` keys (never their values).
 */
export function googleFromConfig(
  config: Config,
  clock: Clock,
  extra: { cwd?: string; logger?: Logger; sharedBudget?: SharedBudget } = {},
): { client: GoogleClient; source: GoogleCalendarSource } {
  const g = config.google;
  const missing: string[] = [];
  if (g.serviceAccountKey === null && g.serviceAccountKeyFile === null) missing.push("google.serviceAccountKeyFile (or google.serviceAccountKey)");
  if (g.subject === null) missing.push("google.subject");
  if (missing.length > 0) {
    throw new OtjError("OTJ_CONFIG_INVALID", `Google Workspace is not configured: set ${missing.join(", ")} (config file or OTJ_GOOGLE__* variables)`, {
      details: { keys: missing },
    });
  }
  let key: ServiceAccountKey;
  if (g.serviceAccountKey !== null) {
    key = parseServiceAccountKey(g.serviceAccountKey, "google.serviceAccountKey");
  } else {
    let text: string;
    try {
      text = readFileSync(resolve(extra.cwd ?? process.cwd(), g.serviceAccountKeyFile!), "utf8");
    } catch (error) {
      throw new OtjError("OTJ_CONFIG_SECRET_FILE", `cannot read google.serviceAccountKeyFile (${(error as NodeJS.ErrnoException).code ?? "error"})`, {
        cause: error,
      });
    }
    key = parseServiceAccountKey(text, "google.serviceAccountKeyFile");
  }
  const client = new GoogleClient(
    {
      key,
      subject: g.subject!,
      apiRoot: g.apiRoot,
      tokenUrl: g.tokenUrl,
      dailyRequestBudget: g.dailyRequestBudget,
      ...(extra.sharedBudget ? { sharedBudget: extra.sharedBudget } : {}),
    },
    { clock },
  );
  const source = new GoogleCalendarSource(
    { roundBudgetSeconds: config.poll.roundBudgetSeconds, maxPagesPerRound: config.poll.maxPagesPerRound },
    { api: client, clock, ...(extra.logger ? { logger: extra.logger } : {}) },
  );
  return { client, source };
}
