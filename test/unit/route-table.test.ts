/** The emulators' route table: literals without case, `:name` captures, a final `*` rest, first match by method. */
import { describe, expect, it } from "vitest";
import { matchPattern, RouteTable } from "../../emulators/shared/route-table.ts";

describe("matchPattern", () => {
  it("matches literals without regard to case and captures params and the rest as sent", () => {
    expect(matchPattern("users/:id/calendarview", ["Users", "Room@X.com", "calendarView"])).toEqual({ params: { id: "Room@X.com" }, rest: [] });
    expect(matchPattern("communications/calls/*", ["communications", "calls", "Abc", "participants"])).toEqual({ params: {}, rest: ["Abc", "participants"] });
    expect(matchPattern("communications/calls/*", ["communications", "calls"])).toEqual({ params: {}, rest: [] });
  });

  it("refuses a path longer or shorter than the pattern, or with another literal", () => {
    expect(matchPattern("users/:id/events", ["users", "a", "events", "e1"])).toBeNull();
    expect(matchPattern("users/:id/events", ["users", "a"])).toBeNull();
    expect(matchPattern("users/:id/events", ["users", "a", "messages"])).toBeNull();
  });
});

describe("RouteTable", () => {
  it("dispatches to the first route whose method and pattern match, and answers null otherwise", () => {
    const table = new RouteTable<string, string>([
      { method: "POST", pattern: "subscriptions", handle: (c) => `create ${c}` },
      { method: "*", pattern: "subscriptions/:id", handle: (c, m) => `one ${m.params.id} ${c}` },
    ]);
    expect(table.dispatch("POST", ["subscriptions"], "x")).toBe("create x");
    expect(table.dispatch("DELETE", ["subscriptions", "S1"], "x")).toBe("one S1 x");
    expect(table.dispatch("GET", ["subscriptions"], "x")).toBeNull();
  });
});
