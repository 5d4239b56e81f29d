import { describe, expect, it } from "vitest";
import { ConcurrencyGate } from "../../calendar/graph/request-gate.ts";

describe("ConcurrencyGate", () => {
  it("holds a mailbox at its limit and lets other mailboxes pass", async () => {
    const gate = new ConcurrencyGate({ perMailbox: 2, global: 10 });
    const a1 = await gate.acquire(["A@x.example"]);
    const a2 = await gate.acquire(["a@x.example"]);
    let third = false;
    const pending = gate.acquire(["a@x.example"]).then((release) => {
      third = true;
      return release;
    });
    const b = await gate.acquire(["b@x.example"]);
    await Promise.resolve();
    expect(third).toBe(false);
    expect(gate.inFlight("a@x.example")).toBe(2);
    a1();
    const a3 = await pending;
    expect(third).toBe(true);
    a1(); // a second release changes nothing
    expect(gate.inFlight("a@x.example")).toBe(2);
    for (const r of [a2, a3, b]) r();
    expect(gate.inFlight()).toBe(0);
  });

  it("counts batch items per mailbox and takes all slots at once", async () => {
    const gate = new ConcurrencyGate({ perMailbox: 4, global: 1 });
    const batch = await gate.acquire(["a@x.example", "a@x.example", "b@x.example"]);
    expect(gate.inFlight("a@x.example")).toBe(2);
    const next = gate.acquire([]);
    batch();
    (await next)();
    await expect(gate.acquire(Array(5).fill("a@x.example"))).rejects.toThrow(RangeError);
  });

  it("gives up waiting when the signal aborts", async () => {
    const gate = new ConcurrencyGate({ perMailbox: 1, global: 5 });
    const held = await gate.acquire(["a@x.example"]);
    const controller = new AbortController();
    const waiting = gate.acquire(["a@x.example"], controller.signal);
    controller.abort(new Error("stop"));
    await expect(waiting).rejects.toThrow("stop");
    held();
    expect(gate.inFlight()).toBe(0);
  });
});
