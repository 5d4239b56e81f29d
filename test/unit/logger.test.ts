import { Writable } from "node:stream";
import { describe, expect, it } from "vitest";
import { createLogger, prettyStream } from "../../core/logger.ts";

function capture() {
  const chunks: string[] = [];
  const stream = new Writable({
    write(c, _e, done) {
      chunks.push(String(c));
      done();
    },
  });
  return { stream, text: () => chunks.join("") };
}

describe("logger", () => {
  it("redacts secrets and passcodes at any depth", () => {
    const out = capture();
    const log = createLogger("info", out.stream);
    log.info(
      { password: "p1", device: { password: "p2" }, graph: { clientSecret: "s3" }, teams: { join: { passcode: "Xy7Qp2" } }, authorization: "Bearer abc" },
      "hello",
    );
    const text = out.text();
    for (const secret of ["p1", "p2", "s3", "Xy7Qp2", "Bearer abc"]) expect(text).not.toContain(secret);
    expect(text).toContain("[redacted]");
  });

  it("prints readable lines on a terminal", () => {
    const out = capture();
    const log = createLogger("info", prettyStream(out.stream));
    log.warn({ port: 8080 }, "listening");
    expect(out.text()).toMatch(/^\d\d:\d\d:\d\d WARN {2}listening {2}port=8080\n$/);
  });
});
