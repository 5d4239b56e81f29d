/**
 * Fixed HMAC test vectors for the bridge protocol's `X-Otj-Signature` (HMAC-SHA256 of the raw
 * body bytes, hex, prefixed `sha256=`). The expected values are literals, computed once outside
 * otj (`printf '%s' BODY | openssl dgst -sha256 -hmac KEY`) and checked again here with
 * node:crypto directly; the engine's signer (bridge/bridge-signature.ts) and the bridge emulator's
 * own signer (emulators/bridge/emulator-signature.ts) must both reproduce them, so neither can
 * drift while the other follows it.
 */
import { createHmac } from "node:crypto";
import { describe, expect, it } from "vitest";
import { SIGNATURE_HEADER, signBody, verifyBody } from "../../bridge/bridge-signature.ts";
import { EMULATOR_SIGNATURE_HEADER, emulatorSign, emulatorVerify } from "../../emulators/bridge/emulator-signature.ts";

const KEY = "otj-bridge-test-vector-key";

const VECTORS: ReadonlyArray<{ name: string; key: string; body: string; signature: string }> = [
  {
    name: "lobby callback",
    key: KEY,
    body: '{"sessionId":"sgj_0123456789ab","state":"lobby","at":"2026-03-04T09:00:00.000Z","detail":null}',
    signature: "sha256=e2ff7ca11351f75f5bf3ba10cc18826ca9f4941d5b2ba4602a0dc9860ed673cd",
  },
  {
    name: "empty body (DELETE /sessions/{id})",
    key: KEY,
    body: "",
    signature: "sha256=97dffce87a18cd051b5526b079eb809eaf7385016430e9bf5118b7b7d4856f13",
  },
  {
    name: "non-ASCII detail (UTF-8 bytes are signed)",
    key: KEY,
    body: '{"sessionId":"sgj_0123456789ab","state":"admitted","at":"2026-03-04T09:01:00.000Z","detail":"Zoë’s room"}',
    signature: "sha256=b2c1012fdfc973200b3a5074484491a24bff700b05d439d8da8ddaa9c2b9bff5",
  },
  {
    name: "same body, another key",
    key: "other-key",
    body: '{"sessionId":"sgj_0123456789ab","state":"lobby","at":"2026-03-04T09:00:00.000Z","detail":null}',
    signature: "sha256=a309b5ca9e29279881d3186f48cc0067cf876cecec20bd818c52068c000d0c7d",
  },
];

describe("bridge signature test vectors", () => {
  it("the literals are HMAC-SHA256 of the UTF-8 body bytes (node:crypto by hand)", () => {
    for (const v of VECTORS) {
      const mac = createHmac("sha256", Buffer.from(v.key, "utf8")).update(Buffer.from(v.body, "utf8")).digest("hex");
      expect(`sha256=${mac}`, v.name).toBe(v.signature);
    }
  });

  it("the engine's signer reproduces every vector and verifies it", () => {
    for (const v of VECTORS) {
      expect(signBody(v.key, v.body), v.name).toBe(v.signature);
      expect(signBody(v.key, Buffer.from(v.body, "utf8")), v.name).toBe(v.signature);
      expect(verifyBody(v.key, v.body, v.signature), v.name).toBe(true);
    }
  });

  it("the emulator's signer reproduces every vector and verifies it", () => {
    for (const v of VECTORS) {
      expect(emulatorSign(v.key, v.body), v.name).toBe(v.signature);
      expect(emulatorSign(v.key, Buffer.from(v.body, "utf8")), v.name).toBe(v.signature);
      expect(emulatorVerify(v.key, v.body, v.signature), v.name).toBe(true);
    }
  });

  it("both refuse a vector under the wrong key, a changed body, or a mangled header", () => {
    const [lobby, , , otherKey] = VECTORS;
    for (const verify of [verifyBody, emulatorVerify]) {
      expect(verify(KEY, lobby!.body, otherKey!.signature)).toBe(false);
      expect(verify(KEY, `${lobby!.body} `, lobby!.signature)).toBe(false);
      expect(verify(KEY, lobby!.body, lobby!.signature.toUpperCase())).toBe(false);
      expect(verify(KEY, lobby!.body, lobby!.signature.slice(7))).toBe(false);
      expect(verify(KEY, lobby!.body, undefined)).toBe(false);
    }
    expect(EMULATOR_SIGNATURE_HEADER).toBe(SIGNATURE_HEADER);
  });
});
