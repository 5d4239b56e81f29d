/** `otj run` (and `otj demo --serve`) on a port that is taken: a clear error, nothing left running. */
import { createServer, type Server } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Engine } from "../../app/main.ts";
import { resolveConfig } from "../../core/config.ts";
import { isOtjError } from "../../core/errors.ts";
import { createLogger } from "../../core/logger.ts";
import { ManualClock } from "../../core/manual-clock.ts";

let blocker: Server;
let port = 0;

beforeAll(async () => {
  blocker = createServer();
  await new Promise<void>((resolve) => blocker.listen(0, "127.0.0.1", resolve));
  port = (blocker.address() as { port: number }).port;
});
afterAll(async () => {
  await new Promise<void>((resolve) => blocker.close(() => resolve()));
});

describe("engine listening", () => {
  it("names the taken port instead of failing with a stack, and stops cleanly (twice is harmless)", async () => {
    const config = resolveConfig(
      { database: { url: "memory://" }, http: { host: "127.0.0.1", port, adminToken: "listen-test-token-0123456789abcdef" }, log: { level: "silent" } },
      { env: {}, cwd: process.cwd() },
    );
    const engine = new Engine({ config, clock: new ManualClock("2026-03-02T08:00:00.000Z"), logger: createLogger("silent"), cwd: process.cwd(), ticks: false });
    const error = await engine.start(true).then(
      () => null,
      (e: unknown) => e,
    );
    expect(isOtjError(error) && error.code).toBe("OTJ_CONFIG_INVALID");
    expect((error as Error).message).toContain(`127.0.0.1:${port} (the port is in use)`);
    await engine.stop();
    await engine.stop();
  });
});
