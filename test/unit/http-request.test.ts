/**
 * Device replies over 4 MiB fail with OTJ_DEVICE_REPLY_TOO_LARGE instead of being cut at 4 MiB and
 * used as if whole (regression). Real HTTP on loopback.
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { classifyTransportError, httpRequest, MAX_REPLY_BYTES } from "../../join/pushers/device-http.ts";

let server: Server;
let base = "";

beforeAll(async () => {
  server = createServer((req, res) => {
    const size = Number(new URL(req.url ?? "/", "http://x").searchParams.get("size"));
    const declare = req.url?.includes("declare=1");
    res.writeHead(200, { "content-type": "text/xml", ...(declare ? { "content-length": String(size) } : {}) });
    // Written in 64 KiB chunks, without a Content-Length unless asked: the reader must count.
    const chunk = Buffer.alloc(64 * 1024, "a");
    let left = size;
    const pump = () => {
      while (left > 0) {
        const part = chunk.subarray(0, Math.min(left, chunk.length));
        left -= part.length;
        if (!res.write(part)) return void res.once("drain", pump);
      }
      res.end();
    };
    res.on("error", () => {});
    pump();
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

describe("httpRequest reply limit", () => {
  it("returns a reply of exactly 4 MiB whole", async () => {
    const reply = await httpRequest(`${base}/?size=${MAX_REPLY_BYTES}`, { method: "GET", timeoutMs: 20_000 });
    expect(reply.body.length).toBe(MAX_REPLY_BYTES);
  });

  it("fails on a streamed reply one byte over 4 MiB, with a clear error the pusher keeps", async () => {
    const failure = await httpRequest(`${base}/?size=${MAX_REPLY_BYTES + 1}`, { method: "GET", timeoutMs: 20_000 }).then(
      () => null,
      (error: unknown) => error,
    );
    expect(failure).toMatchObject({ code: "OTJ_DEVICE_REPLY_TOO_LARGE", retryable: false });
    expect(classifyTransportError(failure, "device 10.0.0.5")).toBe(failure);
  });

  it("fails at once on a declared Content-Length over 4 MiB", async () => {
    await expect(httpRequest(`${base}/?size=${8 * MAX_REPLY_BYTES}&declare=1`, { method: "GET", timeoutMs: 20_000 })).rejects.toMatchObject({
      code: "OTJ_DEVICE_REPLY_TOO_LARGE",
    });
  });
});
