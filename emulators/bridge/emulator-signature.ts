/**
 * The bridge emulator's own signer: `X-Otj-Signature: sha256=<hex HMAC-SHA256 of the raw body
 * bytes>`. Written apart from bridge/bridge-signature.ts on purpose, so that the emulator checks
 * the engine against the protocol rather than against the engine's own code; fixed test vectors
 * (test/unit/bridge-signature-vectors.test.ts) hold both to the same answers.
 */
import { createHmac, timingSafeEqual } from "node:crypto";

export const EMULATOR_SIGNATURE_HEADER = "x-otj-signature";

export function emulatorSign(secret: string, body: string | Uint8Array): string {
  const mac = createHmac("sha256", Buffer.from(secret, "utf8"));
  mac.update(typeof body === "string" ? Buffer.from(body, "utf8") : body);
  return `sha256=${mac.digest("hex")}`;
}

export function emulatorVerify(secret: string, body: string | Uint8Array, header: string | undefined): boolean {
  const match = /^sha256=([0-9a-f]{64})$/.exec(header ?? "");
  if (!match) return false;
  const given = Buffer.from(match[1]!, "hex");
  const expected = createHmac("sha256", Buffer.from(secret, "utf8"))
    .update(typeof body === "string" ? Buffer.from(body, "utf8") : body)
    .digest();
  return timingSafeEqual(given, expected);
}
