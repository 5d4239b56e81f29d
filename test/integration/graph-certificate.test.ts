/**
 * Certificate credentials (graph.certificate.path/thumbprint): the token provider signs a client
 * assertion and the Graph emulator's token endpoint verifies it against the registered certificate
 * over real HTTP. Regression: a certificate-only configuration used to never get a token.
 */
import { createHash, createPrivateKey, X509Certificate } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { clientCertificateFromPem, loadClientCertificate } from "../../calendar/graph/client-credentials-token-provider.ts";
import { GraphClient } from "../../calendar/graph/graph-client.ts";
import { graphFromConfig, hasGraphCredentials } from "../../calendar/graph/graph-from-config.ts";
import { resolveConfig } from "../../core/config.ts";
import { GraphEmulator } from "../../emulators/graph/graph-emulator.ts";
import { FakeClock } from "../support/fake-clock.ts";

const TLS = join(import.meta.dirname, "..", "fixtures", "tls");
const APP_PEM_PATH = join(TLS, "graph-app.pem");
const APP_PEM = readFileSync(APP_PEM_PATH, "utf8");
const OTHER_PEM = readFileSync(join(TLS, "other-cert.pem"), "utf8") + readFileSync(join(TLS, "other-key.pem"), "utf8");

function thumbprintOf(pem: string): string {
  return createHash("sha1").update(new X509Certificate(pem).raw).digest("hex").toUpperCase();
}

const running: GraphEmulator[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((e) => e.stop()));
});

async function emulator(clock: FakeClock): Promise<GraphEmulator> {
  const emu = await GraphEmulator.start({ seed: "cert", clock, clientCertificate: APP_PEM, clientSecret: "only-for-secret-clients" });
  running.push(emu);
  return emu;
}

function clientWith(emu: GraphEmulator, clock: FakeClock, credential: { certificate: ReturnType<typeof loadClientCertificate> }): GraphClient {
  return new GraphClient({ tenantId: emu.tenantId, clientId: emu.clientId, baseUrl: emu.url, authorityUrl: emu.url, ...credential }, { clock });
}

describe("Graph certificate credentials", () => {
  it("a certificate-only configuration gets a token (graphFromConfig reads the PEM file)", async () => {
    const clock = new FakeClock(new Date("2026-03-04T08:00:00Z"));
    const emu = await emulator(clock);
    emu.addRoom({ address: "room101@contoso.example", displayName: "Room 101" });
    const config = resolveConfig(
      {
        graph: {
          tenantId: emu.tenantId,
          clientId: emu.clientId,
          certificate: { path: APP_PEM_PATH, thumbprint: thumbprintOf(APP_PEM).match(/../g)!.join(":") },
          baseUrl: emu.url,
          authorityUrl: emu.url,
        },
      },
      { env: {}, cwd: TLS },
    );
    expect(config.graph.clientSecret).toBeNull();
    expect(hasGraphCredentials(config)).toBe(true);
    const { client } = graphFromConfig(config, clock);
    await client.connect(AbortSignal.timeout(10_000));
    expect(emu.stats().tokensIssued).toBe(1);
  });

  it("sends a client assertion, never a secret, and renews it with a fresh one", async () => {
    const clock = new FakeClock(new Date("2026-03-04T08:00:00Z"));
    const emu = await emulator(clock);
    const bodies: URLSearchParams[] = [];
    const recording: typeof fetch = async (url, init) => {
      if (String(url).includes("/oauth2/")) bodies.push(new URLSearchParams(String(init?.body)));
      return fetch(url, init);
    };
    const client = new GraphClient(
      {
        tenantId: emu.tenantId,
        clientId: emu.clientId,
        baseUrl: emu.url,
        authorityUrl: emu.url,
        certificate: clientCertificateFromPem(APP_PEM, thumbprintOf(APP_PEM)),
      },
      { clock, fetch: recording },
    );
    const first = await client.tokens.getToken();
    clock.advance(3600_000);
    const second = await client.tokens.getToken();
    expect(second).not.toBe(first);
    expect(bodies).toHaveLength(2);
    for (const body of bodies) {
      expect(body.get("client_secret")).toBeNull();
      expect(body.get("client_assertion_type")).toBe("urn:ietf:params:oauth:client-assertion-type:jwt-bearer");
    }
    const [a1, a2] = bodies.map((b) => b.get("client_assertion")!);
    expect(a1).not.toBe(a2);
    const header = JSON.parse(Buffer.from(a1!.split(".")[0]!, "base64url").toString("utf8"));
    expect(header).toMatchObject({ alg: "RS256", x5t: Buffer.from(thumbprintOf(APP_PEM), "hex").toString("base64url") });
    const claims = JSON.parse(Buffer.from(a1!.split(".")[1]!, "base64url").toString("utf8"));
    expect(claims).toMatchObject({ iss: emu.clientId, sub: emu.clientId, aud: `${emu.url}/${emu.tenantId}/oauth2/v2.0/token` });
    expect(claims.exp - claims.nbf).toBeLessThanOrEqual(600);
  });

  it("the emulator refuses an unregistered certificate", async () => {
    const clock = new FakeClock(new Date("2026-03-04T08:00:00Z"));
    const emu = await emulator(clock);
    const client = clientWith(emu, clock, { certificate: clientCertificateFromPem(OTHER_PEM, thumbprintOf(OTHER_PEM)) });
    await expect(client.connect(AbortSignal.timeout(10_000))).rejects.toMatchObject({ code: "OTJ_GRAPH_AUTH", retryable: false });
    expect(emu.stats().tokensIssued).toBe(0);
  });

  it("the emulator refuses an assertion naming the registered certificate but signed with another key", async () => {
    const clock = new FakeClock(new Date("2026-03-04T08:00:00Z"));
    const emu = await emulator(clock);
    const registered = clientCertificateFromPem(APP_PEM, thumbprintOf(APP_PEM));
    const forged = { ...registered, privateKey: createPrivateKey(readFileSync(join(TLS, "other-key.pem"), "utf8")) };
    const client = clientWith(emu, clock, { certificate: forged });
    await expect(client.connect(AbortSignal.timeout(10_000))).rejects.toMatchObject({ code: "OTJ_GRAPH_AUTH", retryable: false });
    expect(emu.stats().tokensIssued).toBe(0);
  });

  it("the emulator refuses an assertion when no certificate is registered", async () => {
    const clock = new FakeClock(new Date("2026-03-04T08:00:00Z"));
    const emu = await emulator(clock);
    emu.setCredentials({ clientCertificate: null });
    const client = clientWith(emu, clock, { certificate: clientCertificateFromPem(APP_PEM, thumbprintOf(APP_PEM)) });
    await expect(client.connect(AbortSignal.timeout(10_000))).rejects.toMatchObject({ code: "OTJ_GRAPH_AUTH" });
  });

  it("refuses at start a thumbprint that does not name the certificate, or a key of another certificate", () => {
    expect(() => loadClientCertificate(APP_PEM_PATH, thumbprintOf(OTHER_PEM))).toThrow(/graph\.certificate\.thumbprint: does not match/);
    const mismatched = readFileSync(join(TLS, "other-cert.pem"), "utf8") + readFileSync(join(TLS, "device-key.pem"), "utf8");
    expect(() => clientCertificateFromPem(mismatched, thumbprintOf(OTHER_PEM))).toThrow(/does not belong to the certificate/);
    expect(() => loadClientCertificate(join(TLS, "absent.pem"), "00")).toThrow(/graph\.certificate\.path: cannot read/);
    expect(() => clientCertificateFromPem("not a pem", "00")).toThrow(/expected a PEM file/);
  });
});
