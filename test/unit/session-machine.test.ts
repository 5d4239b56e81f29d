import { describe, expect, it } from "vitest";
import type { BridgeState } from "../../core/domain.ts";
import { NO_LOBBY_REPORTED, type SessionEvent, transition } from "../../bridge/session-machine.ts";

function run(events: SessionEvent[], from: BridgeState = "scheduled"): { state: BridgeState; log: string[]; effects: string[] } {
  let state = from;
  const log: string[] = [];
  const effects: string[] = [];
  for (const e of events) {
    const r = transition(state, e);
    if (r.ok) {
      state = r.transition.to;
      log.push(state);
      for (const eff of r.transition.effects) effects.push(eff.kind === "notice" ? `notice:${eff.notice}` : eff.kind);
    } else log.push(`ignored(${r.reason})`);
  }
  return { state, log, effects };
}

describe("SGJ session machine", () => {
  it("starting -> admitted is allowed (guests may bypass the lobby) and records that no lobby was reported", () => {
    const r = transition("starting", { type: "bridge", state: "admitted", detail: "roster shows the room in the meeting" });
    expect(r).toMatchObject({ ok: true, transition: { from: "starting", to: "admitted", effects: [{ kind: "notice", notice: "admitted" }] } });
    expect(r.ok && r.transition.cause).toBe(`bridge reported admitted (${NO_LOBBY_REPORTED}): roster shows the room in the meeting`);
    const viaLobby = transition("lobby", { type: "bridge", state: "admitted" });
    expect(viaLobby.ok && viaLobby.transition.cause).toBe("bridge reported admitted");
    expect(run([{ type: "start" }, { type: "bridge", state: "joining" }, { type: "bridge", state: "admitted" }, { type: "meeting-over" }]).log).toEqual([
      "starting",
      "ignored(stale or duplicate report joining while starting)",
      "admitted",
      "ended",
    ]);
  });

  it("scheduled -> starting -> lobby -> admitted -> ended", () => {
    const r = run([
      { type: "start" },
      { type: "bridge", state: "joining" },
      { type: "bridge", state: "lobby" },
      { type: "bridge", state: "admitted" },
      { type: "meeting-over" },
    ]);
    expect(r.state).toBe("ended");
    expect(r.log.filter((l) => !l.startsWith("ignored"))).toEqual(["starting", "lobby", "admitted", "ended"]);
    expect(r.effects).toEqual(["notice:waiting", "notice:admitted", "stop-bridge", "notice:clear"]);
  });

  it("denied and timeout end the session with the room told", () => {
    expect(run([{ type: "start" }, { type: "bridge", state: "lobby" }, { type: "bridge", state: "denied" }]).effects).toContain("notice:denied");
    const t = run([{ type: "start" }, { type: "bridge", state: "lobby" }, { type: "lobby-timeout" }]);
    expect(t.state).toBe("timeout");
    expect(t.effects).toEqual(["notice:waiting", "stop-bridge", "notice:timeout"]);
  });

  it("never starts twice and ignores stale or duplicate reports", () => {
    const r = run([
      { type: "start" },
      { type: "start" },
      { type: "bridge", state: "lobby" },
      { type: "bridge", state: "joining" },
      { type: "bridge", state: "lobby" },
    ]);
    expect(r.state).toBe("lobby");
    expect(r.log.filter((l) => l.startsWith("ignored"))).toHaveLength(3);
  });

  it("retryable start failures go back to scheduled; final ones fail", () => {
    expect(run([{ type: "start" }, { type: "start-failed", retryable: true, reason: "503" }]).state).toBe("scheduled");
    expect(run([{ type: "start" }, { type: "start-failed", retryable: false, reason: "400" }]).state).toBe("failed");
  });

  it("cancellation stops a live session but not a scheduled one", () => {
    expect(run([{ type: "start" }, { type: "bridge", state: "lobby" }, { type: "cancel", reason: "meeting cancelled" }]).effects).toContain("stop-bridge");
    expect(run([{ type: "cancel", reason: "meeting moved" }]).effects).toEqual([]);
  });

  it("final states are final", () => {
    for (const final of ["ended", "denied", "timeout", "failed", "cancelled"] as const) {
      expect(transition(final, { type: "bridge", state: "admitted" }).ok).toBe(false);
      expect(transition(final, { type: "start" }).ok).toBe(false);
    }
  });

  it("a bridge that ends before admission means the room was not let in", () => {
    expect(run([{ type: "start" }, { type: "bridge", state: "lobby" }, { type: "bridge", state: "ended" }]).state).toBe("denied");
  });

  it("a meeting over while scheduled cancels, while in the lobby times out", () => {
    expect(run([{ type: "meeting-over" }]).state).toBe("cancelled");
    expect(run([{ type: "start" }, { type: "bridge", state: "lobby" }, { type: "meeting-over" }]).state).toBe("timeout");
  });
});
