/** docs/bridge-protocol.md's signing test vectors: read from the page, checked by node:crypto and by our signing code. */
import { createHmac } from "node:crypto";
import { readFileSync } from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { describe, expect, it } from "vitest";
import { HttpMediaBridge } from "../../bridge/adapters/http-media-bridge.ts";
import { SIGNATURE_HEADER, signBody, verifyBody } from "../../bridge/bridge-signature.ts";

interface Vector {
  title: string;
  key: string;
  body: string;
  header: string;
}

function readVectors(markdown: string): Vector[] {
  const sections = markdown
    .split(/^#### /m)
    .slice(1)
    .filter((s) => s.startsWith("Vector"));
  return sections.map((section) => {
    const title = section.split("\n", 1)[0]!;
    const key = /^- key: `([^`]*)`$/m.exec(section)?.[1];
    const body = /^```[a-z]* vector-body\n([\s\S]*?)^```$/m.exec(section)?.[1];
    const header = /^- header: `X-Otj-Signature: (sha256=[0-9a-f]{64})`$/m.exec(section)?.[1];
    if (key === undefined || body === undefined || header === undefined) throw new Error(`vector "${title}" is missing its key, body or header`);
    return { title, key, body: body.replace(/\n$/, ""), header };
  });
}

const doc = readFileSync(new URL("../../docs/bridge-protocol.md", import.meta.url), "utf8");
const vectors = readVectors(doc);

describe("docs/bridge-protocol.md test vectors", () => {
  it("has the start, callback and empty-body vectors", () => {
    expect(vectors.map((v) => v.title.split(":")[0])).toEqual(["Vector 1", "Vector 2", "Vector 3"]);
    expect(vectors[2]!.body).toBe("");
    // Vector 1 carries a non-ASCII character, so the UTF-8 encoding of the body is exercised.
    expect(vectors[0]!.body).toMatch(/[^\x00-\x7f]/);
  });

  it.each(vectors.map((v) => [v.title, v] as const))("%s: node:crypto computes the documented signature", (_title, v) => {
    expect(`sha256=${createHmac("sha256", Buffer.from(v.key, "utf8")).update(Buffer.from(v.body, "utf8")).digest("hex")}`).toBe(v.header);
  });

  it.each(vectors.map((v) => [v.title, v] as const))("%s: otj's signBody and verifyBody agree with the page", (_title, v) => {
    expect(signBody(v.key, v.body)).toBe(v.header);
    expect(signBody(v.key, Buffer.from(v.body, "utf8"))).toBe(v.header);
    expect(verifyBody(v.key, v.body, v.header)).toBe(true);
    expect(verifyBody(`${v.key}x`, v.body, v.header)).toBe(false);
    expect(verifyBody(v.key, `${v.body} `, v.header)).toBe(false);
    expect(verifyBody(v.key, v.body, v.header.toUpperCase())).toBe(false);
  });

  it("vector bodies are valid protocol bodies", () => {
    const start = JSON.parse(vectors[0]!.body) as { sessionId: string; lobbyBypass: unknown };
    expect(start.sessionId).toMatch(/^sgj_[0-9a-f]{12}$/);
    expect(start.lobbyBypass).toBe(false);
    const callback = JSON.parse(vectors[1]!.body) as { state: string };
    expect(callback.state).toBe("lobby");
  });

  it("every JSON Schema block on the page is valid JSON", () => {
    const blocks = [...doc.matchAll(/^```json\n([\s\S]*?)^```$/gm)].map((m) => m[1]!);
    const schemas = blocks.filter((b) => b.includes('"$schema"'));
    expect(schemas.length).toBeGreaterThanOrEqual(5);
    for (const s of schemas) expect(() => JSON.parse(s)).not.toThrow();
  });

  it("the start request schema lists exactly the fields otj sends, and otj's signature verifies", async () => {
    const schemas = [...doc.matchAll(/^```json\n([\s\S]*?)^```$/gm)].map(
      (m) => JSON.parse(m[1]!) as { $id?: string; required?: string[]; properties?: Record<string, { required?: string[] }> },
    );
    const start = schemas.find((x) => x.$id?.endsWith("/start-request.json"))!;
    let seen: { body: string; signature: string | undefined } | null = null;
    const server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => {
        seen = { body: Buffer.concat(chunks).toString("utf8"), signature: req.headers[SIGNATURE_HEADER] as string | undefined };
        res.writeHead(201, { "content-type": "application/json" });
        res.end('{"id":"brg-1"}');
      });
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const bridge = new HttpMediaBridge({
      baseUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
      token: "t",
      hmacSecret: "k",
      timeoutMs: 10_000,
    });
    try {
      await bridge.start({
        sessionId: "sgj_e3495aaf97d3",
        teams: { joinUrl: null, meetingId: "228859003479315", passcode: "Xy7pQ2", tenantId: null, threadId: null, organizerId: null },
        guestDisplayName: "Room 101",
        dialString: "sgj_e3495aaf97d3@sgj.contoso.example",
        vtcDialString: null,
        notBefore: "2025-03-04T08:58:00.000Z",
        notAfter: "2025-03-04T09:30:00.000Z",
        callbackUrl: "https://otj.contoso.example/v1/callbacks/bridge",
      });
    } finally {
      bridge.close();
      await new Promise<void>((r) => server.close(() => r()));
    }
    const got = seen as { body: string; signature: string | undefined } | null;
    expect(got).not.toBeNull();
    const sent = JSON.parse(got!.body) as Record<string, unknown> & { teams: Record<string, unknown> };
    expect(Object.keys(sent).sort()).toEqual([...start.required!].sort());
    expect(Object.keys(sent.teams).sort()).toEqual([...start.properties!.teams!.required!].sort());
    expect(sent.lobbyBypass).toBe(false);
    expect(verifyBody("k", got!.body, got!.signature)).toBe(true);
  });
});
