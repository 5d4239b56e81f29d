/**
 * The console's named sign-in settings from `http.oidc.*` (kept apart from oidc.ts so the engine
 * reads them without loading the OpenID client library).
 */
import type { Config } from "../../../core/config.ts";
import { OtjError } from "../../../core/errors.ts";
import type { OidcSettings } from "./oidc.ts";

/** The settings, or null when no issuer is set (the console then takes the admin token only). */
export function oidcSettings(config: Config): OidcSettings | null {
  const o = config.http.oidc;
  if (o.issuer === null) return null;
  if (o.clientId === null) throw new OtjError("OTJ_CONFIG_INVALID", "http.oidc.clientId: expected a client id when http.oidc.issuer is set");
  return { issuer: o.issuer, clientId: o.clientId, clientSecret: o.clientSecret, rolesClaim: o.rolesClaim, roles: { ...o.roles } };
}
