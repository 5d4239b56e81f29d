/**
 * The EWS client and calendar source built from the `ews.*` and `poll.*` configuration (the
 * counterpart of graph-from-config.ts; the composition root picks it for rooms whose source is ews).
 */
import { readFileSync } from "node:fs";
import type { Logger } from "pino";
import type { Clock } from "../../core/clock.ts";
import type { Config } from "../../core/config.ts";
import { OtjError } from "../../core/errors.ts";
import { ConcurrencyGate } from "../graph/request-gate.ts";
import { EwsCalendarSource } from "./ews-calendar-source.ts";
import { EwsClient } from "./ews-client.ts";

/** EWS's default throttling policy lets one account run 27 requests at once (EWSMaxConcurrency). */
const EWS_MAX_CONCURRENCY = 27;

export function hasEwsCredentials(config: Config): boolean {
  const e = config.ews;
  return e.url !== null && e.username !== null && e.password !== null;
}

/**
 * @param deps.fetch wraps every HTTP call (metrics, tests).
 * @throws OtjError OTJ_CONFIG_INVALID naming the missing or unsupported `ews.*` keys, or an
 *   unreadable `ews.caFile`.
 */
export function ewsCalendarSourceFromConfig(
  config: Config,
  deps: { clock: Clock; fetch?: typeof fetch; logger?: Logger },
): { client: EwsClient; source: EwsCalendarSource } {
  const e = config.ews;
  const missing = (["url", "username", "password"] as const).filter((k) => e[k] === null);
  if (e.auth === "oauth" && e.tokenUrl === null) missing.push("tokenUrl" as never);
  if (missing.length > 0) {
    throw new OtjError("OTJ_CONFIG_INVALID", `EWS is not configured: set ${missing.map((k) => `ews.${k}`).join(", ")} (config file or OTJ_EWS__* variables)`, {
      details: { keys: missing.map((k) => `ews.${k}`) },
    });
  }
  let ca: string | null = null;
  if (e.caFile !== null) {
    try {
      ca = readFileSync(e.caFile, "utf8");
    } catch (cause) {
      throw new OtjError("OTJ_CONFIG_INVALID", `ews.caFile: cannot read ${e.caFile}`, { cause, details: { key: "ews.caFile" } });
    }
  }
  const client = new EwsClient(
    { url: e.url!, username: e.username!, password: e.password!, auth: e.auth, impersonation: e.impersonation, ca, tokenUrl: e.tokenUrl },
    {
      clock: deps.clock,
      gate: new ConcurrencyGate({ perMailbox: config.poll.maxInFlightPerMailbox, global: Math.min(config.poll.maxInFlight, EWS_MAX_CONCURRENCY) }),
      ...(deps.fetch ? { fetch: deps.fetch } : {}),
    },
  );
  const source = new EwsCalendarSource(
    { roundBudgetSeconds: config.poll.roundBudgetSeconds, maxPagesPerRound: config.poll.maxPagesPerRound },
    { client, clock: deps.clock, ...(deps.logger ? { logger: deps.logger } : {}) },
  );
  return { client, source };
}
