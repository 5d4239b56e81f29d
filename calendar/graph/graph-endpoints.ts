/**
 * Where Graph requests go: the cloud's roots from `graph.cloud`, `graph.baseUrl` and
 * `graph.authorityUrl`, validated (https, or http on loopback only; no query, fragment or
 * credentials; never the `common` tenant).
 */
import { GRAPH_CLOUDS } from "../../core/config.ts";
import { OtjError } from "../../core/errors.ts";
import type { GraphClientConfig } from "./graph-client.ts";

/** Where requests go, after validating the configuration. */
export interface GraphEndpoints {
  /** The cloud's https root the SDK builds URLs on. */
  readonly sdkRoot: string;
  /** Where requests actually go (`graph.baseUrl` without trailing slash), or null for the cloud root. */
  readonly wireRoot: string | null;
  readonly tokenUrl: string;
  readonly scope: string;
}

/** Validates the endpoint settings. @throws OtjError `OTJ_CONFIG_INVALID` naming the key. */
export function resolveGraphEndpoints(config: GraphClientConfig): GraphEndpoints {
  const cloud = config.cloud ?? "global";
  const endpoints = Object.hasOwn(GRAPH_CLOUDS, cloud) ? GRAPH_CLOUDS[cloud] : undefined;
  if (!endpoints) throw configError("graph.cloud", `one of ${Object.keys(GRAPH_CLOUDS).join(", ")}`, String(cloud));
  if (!config.tenantId || config.tenantId.toLowerCase() === "common") {
    throw configError("graph.tenantId", "the tenant GUID or a verified domain (never `common`)", config.tenantId);
  }
  const base = config.baseUrl ? checkRoot("graph.baseUrl", config.baseUrl) : null;
  const authority = config.authorityUrl ? checkRoot("graph.authorityUrl", config.authorityUrl) : endpoints.authorityUrl;
  return {
    sdkRoot: endpoints.baseUrl,
    wireRoot: base === null || base === endpoints.baseUrl ? null : base,
    tokenUrl: `${authority}/${encodeURIComponent(config.tenantId)}/oauth2/v2.0/token`,
    // Always the cloud's scope: a token for an overridden root would not be accepted.
    scope: endpoints.scope,
  };
}

function checkRoot(key: string, value: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw configError(key, "an absolute http(s) URL", value);
  }
  if (url.search || url.hash || url.username || url.password) throw configError(key, "a URL without query, fragment or credentials", value);
  if (url.protocol === "http:" && !isLoopback(url.hostname)) {
    throw configError(key, "https:// (http:// is allowed on a loopback address only)", value);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") throw configError(key, "an http(s) URL", value);
  const path = url.pathname.replace(/\/+$/, "");
  if (/\/v1\.0$|\/beta$/.test(path)) throw configError(key, "the service root without /v1.0", value);
  return `${url.origin}${path}`;
}

/** localhost, [::1] or 127.x.x.x: where plain http is allowed. */
export function isLoopback(hostname: string): boolean {
  return hostname === "localhost" || hostname === "[::1]" || /^127(\.\d{1,3}){3}$/.test(hostname);
}

function configError(key: string, expected: string, got: string | undefined): OtjError {
  return new OtjError("OTJ_CONFIG_INVALID", `${key}: expected ${expected}, got ${JSON.stringify(got ?? null)}`, {
    details: { key },
  });
}
