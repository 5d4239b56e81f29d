/** docs/operations.md's systemd unit: hardened, and valid for systemd where systemd-analyze exists. */
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";

const doc = readFileSync(new URL("../../docs/operations.md", import.meta.url), "utf8");
const unit = /^```ini\n([\s\S]*?)^```$/m.exec(doc)?.[1] ?? "";
const directives = new Map<string, string[]>();
for (const line of unit.split("\n")) {
  const m = /^([A-Za-z]+)=(.*)$/.exec(line);
  if (m) directives.set(m[1]!, [...(directives.get(m[1]!) ?? []), m[2]!]);
}
const one = (key: string) => directives.get(key)?.[0];

describe("docs/operations.md systemd unit", () => {
  it("runs otj as an unprivileged, sandboxed service", () => {
    expect(one("ExecStart")).toMatch(/bin\/otj\.js run --config /);
    expect(one("DynamicUser") === "yes" || one("User") !== undefined).toBe(true);
    for (const [key, value] of [
      ["NoNewPrivileges", "yes"],
      ["ProtectSystem", "strict"],
      ["ProtectHome", "yes"],
      ["PrivateTmp", "yes"],
      ["RestrictSUIDSGID", "yes"],
      ["CapabilityBoundingSet", ""],
    ] as const) {
      expect(one(key), key).toBe(value);
    }
    // Node's JIT needs writable executable memory: this directive would crash otj at start.
    expect(directives.has("MemoryDenyWriteExecute")).toBe(false);
  });

  it("stops with SIGTERM and leaves otj longer than its default grace period", () => {
    expect(one("KillSignal")).toBe("SIGTERM");
    expect(Number(one("TimeoutStopSec"))).toBeGreaterThan(10);
  });

  it("passes secrets as credentials through *_FILE variables, never inline", () => {
    const env = directives.get("Environment") ?? [];
    expect(env.filter((e) => /^OTJ_[A-Z_]+_FILE=%d\//.test(e)).length).toBeGreaterThanOrEqual(3);
    expect(env.some((e) => /SECRET=|TOKEN=/.test(e))).toBe(false);
  });

  it.skipIf(!existsSync("/usr/bin/systemd-analyze"))("has only directives systemd-analyze verify knows and accepts", () => {
    const dir = mkdtempSync(join(tmpdir(), "otj-unit-"));
    try {
      writeFileSync(join(dir, "otj.service"), unit);
      const run = spawnSync("systemd-analyze", ["verify", join(dir, "otj.service")], { encoding: "utf8" });
      // Unknown or malformed directives; where node lives differs between machines, so not that.
      expect(run.stderr.split("\n").filter((l) => /unknown|invalid|failed to parse|ignoring/i.test(l))).toEqual([]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
