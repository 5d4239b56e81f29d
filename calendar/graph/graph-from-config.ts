/**
 * The Graph client and calendar source built from the `graph.*` and `poll.*` configuration:
 * one builder for `otj run` and the CLI commands that talk to Graph.
 */
import type { Logger } from "pino";
import type { Clock } from "../../core/clock.ts";
import type { Config } from "../../core/config.ts";
import { OtjError } from "../../core/errors.ts";
import { GraphCalendarSource } from "./graph-calendar-source.ts";
import { loadClientCertificate } from "./client-credentials-token-provider.ts";
import { GraphClient } from "./graph-client.ts";
import { ConcurrencyGate } from "./request-gate.ts";

export function hasGraphCredentials(config: Config): boolean {
  const g = config.graph;
  return g.tenantId !== null && g.clientId !== null && (g.clientSecret !== null || g.certificate.path !== null);
}

/**
 * @param extra.fetch wraps every HTTP call (the engine counts answers for /metrics).
 * @throws OtjError OTJ_CONFIG_INVALID naming the missing `graph.*` keys.
 */
export function graphFromConfig(
  config: Config,
  clock: Clock,
  extra: { fetch?: typeof fetch; logger?: Logger } = {},
): { client: GraphClient; source: GraphCalendarSource } {
  const g = config.graph;
  const missing: string[] = (["tenantId", "clientId"] as const).filter((k) => g[k] === null);
  if (g.clientSecret === null && g.certificate.path === null) missing.push("clientSecret (or certificate)");
  if (missing.length > 0) {
    throw new OtjError(
      "OTJ_CONFIG_INVALID",
      `Graph is not configured: set ${missing.map((k) => `graph.${k}`).join(", ")} (config file or OTJ_GRAPH__* variables)`,
      {
        details: { keys: missing.map((k) => `graph.${k}`) },
      },
    );
  }
  const client = new GraphClient(
    {
      tenantId: g.tenantId!,
      clientId: g.clientId!,
      // A certificate, when configured, wins over a secret (the safer credential).
      ...(g.certificate.path !== null && g.certificate.thumbprint !== null
        ? { certificate: loadClientCertificate(g.certificate.path, g.certificate.thumbprint) }
        : { clientSecret: g.clientSecret! }),
      cloud: g.cloud,
      baseUrl: g.baseUrl,
      authorityUrl: g.authorityUrl,
    },
    {
      clock,
      gate: new ConcurrencyGate({ perMailbox: config.poll.maxInFlightPerMailbox, global: config.poll.maxInFlight }),
      ...(extra.fetch ? { fetch: extra.fetch } : {}),
    },
  );
  const source = new GraphCalendarSource(
    { roundBudgetSeconds: config.poll.roundBudgetSeconds, maxPagesPerRound: config.poll.maxPagesPerRound },
    { client, clock, ...(extra.logger ? { logger: extra.logger } : {}) },
  );
  return { client, source };
}
