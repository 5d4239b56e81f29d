/** `otj bridge check` against the bridge emulator (conforms) and a bridge broken in one way at a time (does not). */
import { afterEach, describe, expect, it } from "vitest";
import { systemClock } from "../../core/clock.ts";
import { BridgeEmulator } from "../../emulators/bridge/bridge-emulator.ts";
import { type BridgeFault, BrokenBridge } from "../support/broken-bridge.ts";
import { runCli } from "../support/cli.ts";

const TOKEN = "partner-bridge-token";
const SECRET = "partner-hmac-secret";
const cleanups: Array<() => Promise<void>> = [];

afterEach(async () => {
  for (const c of cleanups.splice(0)) await c();
});

interface CheckJson {
  conforms: boolean;
  checks: Array<{ name: string; ok: boolean; detail: string }>;
}

async function check(url: string, extra: string[] = []): Promise<{ code: number; json: CheckJson; stderr: string }> {
  const run = await runCli(["bridge", "check", "--url", url, "--token", TOKEN, "--hmac-secret", SECRET, "--json", ...extra]);
  return { code: run.code, json: JSON.parse(run.stdout) as CheckJson, stderr: run.stderr };
}

const ALL_CHECKS = [
  "auth-required",
  "signature-required",
  "lobby-bypass-refused",
  "target-required",
  "create",
  "create-idempotent",
  "waits-for-not-before",
  "callback-signed",
  "stop-signature-required",
  "stop",
  "stop-idempotent",
  "stop-unknown",
];

describe("otj bridge check", () => {
  it("passes every check against the bridge emulator and exits 0", async () => {
    // The check sends notBefore = now from the wall clock, so the emulator runs on it too.
    const emulator = new BridgeEmulator({ clock: systemClock, token: TOKEN, hmacSecret: SECRET, plan: () => ({ kind: "never" }) });
    await emulator.start();
    cleanups.push(() => emulator.stop());
    const { code, json } = await check(emulator.url);
    expect(json.checks.map((c) => c.name)).toEqual(ALL_CHECKS);
    expect(json.checks.filter((c) => !c.ok)).toEqual([]);
    expect(json.conforms).toBe(true);
    expect(code).toBe(0);
    // One session for the check's sessionId, whatever was sent, one for the notBefore check, both stopped.
    expect(emulator.sessions.size).toBe(2);
    expect([...emulator.sessions.values()].map((s) => s.stoppedAt !== null)).toEqual([true, true]);
    // The notBefore check's session was stopped before its notBefore: the emulator never joined it.
    const early = [...emulator.sessions.values()].find((s) => s.stoppedAt! < Date.parse(s.request.notBefore));
    expect(early).toBeDefined();
  });

  it("prints PASS lines and a verdict without --json", async () => {
    const emulator = new BridgeEmulator({ clock: systemClock, token: TOKEN, hmacSecret: SECRET, plan: () => ({ kind: "never" }) });
    await emulator.start();
    cleanups.push(() => emulator.stop());
    const run = await runCli(["bridge", "check", "--url", emulator.url, "--token", TOKEN, "--hmac-secret", SECRET]);
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/^PASS {2}create-idempotent /m);
    expect(run.stdout).not.toMatch(/^FAIL/m);
    expect(run.stdout).toContain("conforms to the otj bridge protocol v1");
  });

  it("fails against the emulator when the token or secret is wrong", async () => {
    const emulator = new BridgeEmulator({ clock: systemClock, token: TOKEN, hmacSecret: `${SECRET}-other`, plan: () => ({ kind: "never" }) });
    await emulator.start();
    cleanups.push(() => emulator.stop());
    const { code, json } = await check(emulator.url, ["--callback-wait-seconds", "0.2"]);
    expect(code).toBe(1);
    expect(json.conforms).toBe(false);
    expect(json.checks.find((c) => c.name === "create")).toMatchObject({ ok: false });
  });

  const faults: Array<[BridgeFault, string[]]> = [
    ["duplicate-sessions", ["create-idempotent"]],
    // The bad-signature start creates the session, so the real start finds it already there.
    ["accepts-bad-signatures", ["signature-required", "create", "stop-signature-required"]],
    ["accepts-lobby-bypass", ["lobby-bypass-refused", "create"]],
    ["unsigned-callbacks", ["callback-signed"]],
    ["stop-not-idempotent", ["stop-idempotent"]],
    ["joins-early", ["waits-for-not-before"]],
  ];

  it.each(faults)("a bridge with the fault %s fails exactly %j and exits 1", async (fault, failing) => {
    const bridge = new BrokenBridge({ token: TOKEN, hmacSecret: SECRET, fault });
    await bridge.start();
    cleanups.push(() => bridge.stop());
    const { code, json } = await check(bridge.url);
    expect(json.checks.filter((c) => !c.ok).map((c) => c.name)).toEqual(failing);
    expect(json.conforms).toBe(false);
    expect(code).toBe(1);
  });

  it("the same small bridge without a fault conforms (the faults above are the only difference)", async () => {
    const bridge = new BrokenBridge({ token: TOKEN, hmacSecret: SECRET, fault: "none" });
    await bridge.start();
    cleanups.push(() => bridge.stop());
    const { code, json } = await check(bridge.url);
    expect(json.checks.filter((c) => !c.ok)).toEqual([]);
    expect(code).toBe(0);
    // Its callbacks were accepted by the check's receiver: joining, then ended after the stop.
    // (the notBefore check's session ended before it joined).
    await expect.poll(() => bridge.callbacks.map((c) => `${c.state}:${c.status}`).sort()).toEqual(["ended:204", "ended:204", "joining:204"]);
  });

  it("fails callback-signed when no callback arrives in the wait", async () => {
    const bridge = new BrokenBridge({ token: TOKEN, hmacSecret: SECRET, fault: "no-callbacks" });
    await bridge.start();
    cleanups.push(() => bridge.stop());
    const { code, json } = await check(bridge.url, ["--callback-wait-seconds", "0.2"]);
    expect(json.checks.filter((c) => !c.ok).map((c) => c.name)).toEqual(["callback-signed"]);
    expect(code).toBe(1);
  });

  it("fails every request check when nothing listens at the URL", async () => {
    const bridge = new BrokenBridge({ token: TOKEN, hmacSecret: SECRET, fault: "none" });
    const url = await bridge.start();
    await bridge.stop();
    const { code, json } = await check(url, ["--callback-wait-seconds", "0.2"]);
    expect(code).toBe(1);
    expect(json.checks.every((c) => !c.ok)).toBe(true);
    expect(json.checks.find((c) => c.name === "create")!.detail).toMatch(/request failed/);
  });

  it("bad usage exits 2", async () => {
    expect((await runCli(["bridge", "check", "--url", "http://127.0.0.1:9"])).code).toBe(2);
    expect((await runCli(["bridge", "check", "--url", "ftp://x", "--token", "t", "--hmac-secret", "s"])).code).toBe(2);
    expect((await runCli(["bridge", "check", "--url", "http://127.0.0.1:9", "--token", "t", "--hmac-secret", "s", "--timeout-seconds", "x"])).code).toBe(2);
  });
});
