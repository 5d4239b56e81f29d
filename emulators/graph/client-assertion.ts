/**
 * The emulator's check of an OAuth client assertion (`client_assertion_type=
 * urn:ietf:params:oauth:client-assertion-type:jwt-bearer`), written with node:crypto alone so
 * that it does not share code with the engine that signs the assertion.
 *
 * Accepted: a compact JWS with `alg: RS256`, whose `x5t` (or `x5t#S256`) names the registered
 * certificate, whose signature verifies with that certificate's public key, with `iss` and `sub`
 * equal to the client id, `aud` the token endpoint, and `nbf <= now < exp` (5 minutes of skew)
 * over a lifetime of at most 10 minutes.
 */
import { createHash, verify, type X509Certificate } from "node:crypto";

export type AssertionCheck = { ok: true } | { ok: false; code: number; description: string };

function decodePart(part: string): Record<string, unknown> | null {
  try {
    const value: unknown = JSON.parse(Buffer.from(part, "base64url").toString("utf8"));
    return value !== null && typeof value === "object" && !Array.isArray(value) ? (value as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}

/**
 * @param tokenPath the path of the token endpoint the assertion was posted to (`/{tenant}/oauth2/v2.0/token`);
 *   the audience must be a URL ending in it.
 */
export function checkClientAssertion(
  assertion: string,
  expected: { certificate: X509Certificate | null; clientId: string; tokenPath: string; now: Date },
): AssertionCheck {
  const refuse = (code: number, description: string): AssertionCheck => ({ ok: false, code, description });
  const parts = assertion.split(".");
  if (parts.length !== 3) return refuse(50027, "JWT token is invalid or malformed.");
  const [h, p, s] = parts as [string, string, string];
  const header = decodePart(h);
  const claims = decodePart(p);
  if (header === null || claims === null) return refuse(50027, "JWT token is invalid or malformed.");
  const certificate = expected.certificate;
  if (certificate === null) return refuse(700027, "Client assertion failed signature validation: no certificate is registered for the application.");
  if (header["alg"] !== "RS256") return refuse(5002738, `Invalid JWT token. '${String(header["alg"])}' is not a supported signature algorithm.`);
  const sha1 = createHash("sha1").update(certificate.raw).digest("base64url");
  const sha256 = createHash("sha256").update(certificate.raw).digest("base64url");
  if (header["x5t"] !== sha1 && header["x5t#S256"] !== sha256) {
    return refuse(700027, "Client assertion failed signature validation: the key was not found (x5t does not name a registered certificate).");
  }
  if (!verify("RSA-SHA256", Buffer.from(`${h}.${p}`), certificate.publicKey, Buffer.from(s, "base64url"))) {
    return refuse(700027, "Client assertion failed signature validation.");
  }
  if (claims["iss"] !== expected.clientId || claims["sub"] !== expected.clientId) {
    return refuse(700021, "Client assertion application identifier doesn't match 'client_id' parameter.");
  }
  const aud = claims["aud"];
  if (typeof aud !== "string" || !URL.canParse(aud) || new URL(aud).pathname !== expected.tokenPath) {
    return refuse(700212, "No matching federated identity record found for presented assertion audience.");
  }
  const nowSeconds = expected.now.getTime() / 1000;
  const skew = 300;
  const exp = claims["exp"];
  const nbf = claims["nbf"] ?? claims["iat"];
  if (typeof exp !== "number" || typeof nbf !== "number") return refuse(700023, "Client assertion is missing nbf or exp.");
  if (exp - nbf > 600) return refuse(700025, "Client assertion is valid for longer than 10 minutes.");
  if (nowSeconds >= exp + skew) return refuse(700024, "Client assertion is not within its valid time range (expired).");
  if (nowSeconds < nbf - skew) return refuse(700024, "Client assertion is not within its valid time range (not yet valid).");
  return { ok: true };
}
