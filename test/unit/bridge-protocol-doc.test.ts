/** docs/bridge-protocol.md's signing test vectors: read from the page, checked by node:crypto and by our signing code. */
import { createHmac } from "node:crypto";
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { signBody, verifyBody } from "../../bridge/bridge-signature.ts";

interface Vector {
  title: string;
  key: string;
  body: string;
  header: string;
}

function readVectors(markdown: string): Vector[] {
  const sections = markdown.split(/^#### /m).slice(1).filter((s) => s.startsWith("Vector"));
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
});
