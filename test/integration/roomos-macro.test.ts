/**
 * The RoomOS macro (devices/roomos/otj-join.js) on a fake device, against the real engine's pull
 * API over HTTP (real PostgreSQL, Graph emulator): the panel lists the meetings in their join
 * window, a press joins by the planned route (CVI dial, Teams or Meet over WebRTC, SGJ alias),
 * the lobby notice shows, and rate limits and a refused token are handled.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { classicUrl, teamsHtmlV4, teamsHtmlV5 } from "../../emulators/invite-factory.ts";
import { type EngineHarness, startEngineHarness } from "../support/engine-harness.ts";
import { FakeXapi, runMacro } from "../support/fake-xapi.ts";

const ADMIN = "roomos-macro-admin-token-0123456789abcdef";
const BOARD = "board@contoso.example";
const HUDDLE = "huddle@contoso.example";

let h: EngineHarness;
let otjUrl = "";
const tokens: Record<string, string> = {};
const devices: FakeXapi[] = [];

function device(): FakeXapi {
  const d = new FakeXapi(() => h.clock.now().getTime());
  devices.push(d);
  return d;
}

/** Moves the shared clock and fires the device timers that are due. */
function advance(d: FakeXapi, ms: number): void {
  h.clock.advance(ms);
  d.timers.runDue();
}

beforeAll(async () => {
  h = await startEngineHarness({
    label: "roomos_macro",
    adminToken: ADMIN,
    startAt: "2026-12-07T08:40:00.000Z",
    provider: { name: "contoso-webex", tenantKey: "contoso@m.webex.com", sipDomain: "sgj.contoso.example" },
  });
  otjUrl = `http://127.0.0.1:${h.engine.port}`;
  for (const [mailbox, displayName, webrtc] of [
    [BOARD, "Board Room", "teams"],
    [HUDDLE, "Huddle", "meet"],
  ] as const) {
    h.graph.addRoom({ address: mailbox, displayName });
    const added = await h.engine.store.rooms.add({ mailbox, displayName, provider: "contoso-webex", deviceFamily: "macro", webrtc }, h.clock.now());
    tokens[mailbox] = added.deviceToken!;
  }
  const event = (mailbox: string, subject: string, start: string, end: string, content: string, organizer = "ana@contoso.example") =>
    h.graph.addEvent(mailbox, { subject, start, end, organizer: { name: "Ana Ruiz", address: organizer }, body: { contentType: "html", content } });
  event(
    BOARD,
    "Weekly sales sync",
    "2026-12-07T09:00:00Z",
    "2026-12-07T09:30:00Z",
    teamsHtmlV4({ threadKey: "mac-cvi", cvi: { tenantKey: "contoso@m.webex.com", videoId: "1198563286" } }, 200),
  );
  event(
    BOARD,
    "Supplier review",
    "2026-12-07T09:00:00Z",
    "2026-12-07T09:45:00Z",
    teamsHtmlV4({ threadKey: "mac-ext", tenantId: "fabf0000-1111-4222-8333-444455556666" }, 200),
    "ben@fabrikam.example",
  );
  event(
    BOARD,
    "Tomorrow's planning",
    "2026-12-08T09:00:00Z",
    "2026-12-08T10:00:00Z",
    teamsHtmlV4({ threadKey: "mac-later", cvi: { tenantKey: "contoso@m.webex.com", videoId: "1198563287" } }, 200),
  );
  event(
    HUDDLE,
    "Partner sync",
    "2026-12-07T09:00:00Z",
    "2026-12-07T09:30:00Z",
    teamsHtmlV5({ threadKey: "mac-sgj", meetingId: "357159246802468", passcode: "Hk4mN8pQ" }, 200),
    "ben@fabrikam.example",
  );
  event(
    HUDDLE,
    "Design crit",
    "2026-12-07T09:00:00Z",
    "2026-12-07T09:30:00Z",
    '<html><body><p>Join with Google Meet</p><p><a href="https://meet.google.com/kfd-wqzt-hbm">https://meet.google.com/kfd-wqzt-hbm</a></p></body></html>',
  );
  await h.step(2);
}, 120_000);

afterAll(async () => {
  await h?.close();
});

describe("otj-join macro on a RoomOS device", () => {
  it("shows no button before the join window, then one per meeting whose window is open", async () => {
    const d = device();
    runMacro(d, { otjUrl, roomId: BOARD, deviceToken: tokens[BOARD]!, options: { promptAtStart: false } });
    await expect.poll(() => d.http.length).toBe(1);
    await expect.poll(() => d.lastPanel()).toContain("No meeting to join right now");
    expect(d.http[0]!.headers.authorization).toBe(`Bearer ${tokens[BOARD]}`);

    // 08:55 is 09:00 minus the 5-minute start buffer: both 09:00 meetings open, tomorrow's does not.
    advance(d, 13 * 60_000);
    await expect.poll(() => d.panelButtons().length).toBe(2);
    expect(
      d
        .panelButtons()
        .map((b) => b.name.slice(6))
        .sort(),
    ).toEqual(["Supplier review", "Weekly sales sync"]);
  });

  it("a pressed button dials the CVI string, or joins an external Teams meeting over WebRTC with its URL", async () => {
    const d = device();
    runMacro(d, { otjUrl, roomId: BOARD, deviceToken: tokens[BOARD]!, options: { promptAtStart: false } });
    await expect.poll(() => d.panelButtons().length).toBe(2);
    const button = (name: string) => d.panelButtons().find((b) => b.name.endsWith(name))!.widgetId;

    d.emit("UserInterface.Extensions.Widget.Action", { WidgetId: button("Weekly sales sync"), Type: "clicked", Value: "" });
    await expect.poll(() => d.commandsOf("Dial").length).toBe(1);
    expect(d.commandsOf("Dial")[0]!.params).toMatchObject({ Number: "1198563286.contoso@m.webex.com", Protocol: "Sip" });

    d.emit("UserInterface.Extensions.Widget.Action", { WidgetId: button("Supplier review"), Type: "clicked", Value: "" });
    await expect.poll(() => d.commandsOf("WebRTC.Join").length).toBe(1);
    expect(d.commandsOf("WebRTC.Join")[0]!.params).toEqual({
      Type: "MSTeams",
      Url: classicUrl({ threadKey: "mac-ext", tenantId: "fabf0000-1111-4222-8333-444455556666" }),
    });
    // A press (not a click) of the same button does nothing more.
    d.emit("UserInterface.Extensions.Widget.Action", { WidgetId: button("Supplier review"), Type: "pressed", Value: "" });
    expect(d.commandsOf("WebRTC.Join")).toHaveLength(1);
  });

  it("an SGJ meeting is dialled by its alias with the lobby notice; a Meet meeting joins over WebRTC", async () => {
    const d = device();
    runMacro(d, { otjUrl, roomId: HUDDLE, deviceToken: tokens[HUDDLE]!, options: { promptAtStart: false } });
    await expect.poll(() => d.panelButtons().length).toBe(2);
    const meetings = (await (await fetch(`${otjUrl}/v1/rooms/${HUDDLE}/meetings`, { headers: { authorization: `Bearer ${ADMIN}` } })).json()) as {
      meetings: Array<{ subject: string; route: string; alias: string | null; joinUrl: string | null; platform: string | null }>;
    };
    const sgj = meetings.meetings.find((m) => m.subject === "Partner sync")!;
    expect(sgj).toMatchObject({ route: "sgj", platform: "teams", joinUrl: null });
    expect(sgj.alias).toMatch(/@sgj\.contoso\.example$/);
    expect(meetings.meetings.find((m) => m.subject === "Design crit")).toMatchObject({
      route: "webrtc",
      platform: "google-meet",
      alias: null,
      joinUrl: "https://meet.google.com/kfd-wqzt-hbm",
    });

    const button = (name: string) => d.panelButtons().find((b) => b.name.endsWith(name))!.widgetId;
    d.emit("UserInterface.Extensions.Widget.Action", { WidgetId: button("Partner sync"), Type: "clicked" });
    await expect.poll(() => d.commandsOf("Dial").length).toBe(1);
    expect(d.commandsOf("Dial")[0]!.params).toMatchObject({ Number: sgj.alias });
    const notice = d.commandsOf("UserInterface.Message.Alert.Display")[0]!.params;
    expect(String(notice.Text)).toContain("lobby");

    d.emit("UserInterface.Extensions.Widget.Action", { WidgetId: button("Design crit"), Type: "clicked" });
    await expect.poll(() => d.commandsOf("WebRTC.Join").length).toBe(1);
    expect(d.commandsOf("WebRTC.Join")[0]!.params).toEqual({ Type: "GoogleMeet", Url: "https://meet.google.com/kfd-wqzt-hbm" });
  });

  it("polls again with If-None-Match and keeps its panel on 304", async () => {
    const d = device();
    runMacro(d, { otjUrl, roomId: BOARD, deviceToken: tokens[BOARD]!, options: { promptAtStart: false } });
    await expect.poll(() => d.panelButtons().length).toBe(2);
    advance(d, 60_000);
    await expect.poll(() => d.http.length).toBe(2);
    expect(d.http[1]!.headers["if-none-match"]).toMatch(/^"[0-9a-f]{32}"$/);
    expect(d.http[1]!.status).toBe(304);
    await expect.poll(() => d.timers.pendingTimeouts()).toEqual([60_000]);
    expect(d.panelButtons()).toHaveLength(2);
  });

  it("offers a meeting when its window opens and joins on 'Join now'; auto-connect joins after the countdown", async () => {
    const d = device();
    runMacro(d, { otjUrl, roomId: BOARD, deviceToken: tokens[BOARD]!, options: { promptAtStart: true } });
    await expect.poll(() => d.commandsOf("UserInterface.Message.Prompt.Display").length).toBe(2);
    const prompt = d.commandsOf("UserInterface.Message.Prompt.Display").find((c) => String(c.params.Text).startsWith("Weekly sales sync"))!;
    d.emit("UserInterface.Message.Prompt.Response", { FeedbackId: prompt.params.FeedbackId, OptionId: "1" });
    await expect.poll(() => d.commandsOf("Dial").map((c) => c.params.Number)).toEqual(["1198563286.contoso@m.webex.com"]);

    const auto = device();
    runMacro(auto, { otjUrl, roomId: HUDDLE, deviceToken: tokens[HUDDLE]!, options: { autoConnect: true, autoConnectSeconds: 30 } });
    await expect.poll(() => auto.commandsOf("UserInterface.Message.Prompt.Display").length).toBe(1);
    expect(auto.commandsOf("Dial").length + auto.commandsOf("WebRTC.Join").length).toBe(0);
    advance(auto, 30_000);
    await expect.poll(() => auto.commandsOf("Dial").length + auto.commandsOf("WebRTC.Join").length).toBe(1);
  });

  it("waits as long as Retry-After says when rate limited, then polls again", async () => {
    // Use up the token's ten requests in this minute.
    for (let i = 0; i < 10; i++) await fetch(`${otjUrl}/v1/rooms/${HUDDLE}/meetings`, { headers: { authorization: `Bearer ${tokens[HUDDLE]}` } });
    const d = device();
    runMacro(d, { otjUrl, roomId: HUDDLE, deviceToken: tokens[HUDDLE]!, options: { promptAtStart: false } });
    await expect.poll(() => d.http.map((x) => x.status)).toEqual([429]);
    await expect.poll(() => d.logs.some((l) => l.includes("rate limited"))).toBe(true);
    const [wait] = d.timers.pendingTimeouts();
    expect(wait).toBeGreaterThan(0);
    expect(wait).toBeLessThanOrEqual(60_000);
    expect(wait! % 1000).toBe(0);
    advance(d, wait!);
    await expect.poll(() => d.http.map((x) => x.status)).toEqual([429, 200]);
    await expect.poll(() => d.panelButtons().length).toBe(2);
  });

  it("a refused token shows a notice once, empties the panel and backs off", async () => {
    const d = device();
    runMacro(d, { otjUrl, roomId: BOARD, deviceToken: "not-the-room-token-0123456789", options: { promptAtStart: false } });
    await expect.poll(() => d.http.map((x) => x.status)).toEqual([401]);
    await expect.poll(() => d.lastPanel()).toContain("Meetings unavailable");
    expect(d.panelButtons()).toEqual([]);
    expect(d.commandsOf("UserInterface.Message.Alert.Display")).toHaveLength(1);
    expect(d.timers.pendingTimeouts()).toEqual([900_000]);
    expect(d.logs.join("\n")).not.toContain("not-the-room-token");
  });

  it("shows the bridge's lobby and admission as notices for the SGJ meeting it joined", async () => {
    h.clock.advance(60_000); // past the minute the rate-limit test used up
    const d = device();
    runMacro(d, { otjUrl, roomId: HUDDLE, deviceToken: tokens[HUDDLE]!, options: { promptAtStart: false } });
    await expect.poll(() => d.panelButtons().some((b) => b.name.endsWith("Partner sync"))).toBe(true);
    d.emit("UserInterface.Extensions.Widget.Action", { WidgetId: d.panelButtons().find((b) => b.name.endsWith("Partner sync"))!.widgetId, Type: "clicked" });
    await expect.poll(() => d.commandsOf("Dial").length).toBe(1);
    const notices = () => d.commandsOf("UserInterface.Message.Alert.Display").map((c) => String(c.params.Text));
    // The engine's bridge scheduler starts the guest join; the emulated meeting admits after a minute.
    for (let i = 0; i < 4 && !notices().some((t) => t.startsWith("Admitted")); i++) {
      await h.step(1);
      d.timers.runDue();
      await expect.poll(() => d.http.length).toBeGreaterThan(i + 1);
    }
    await expect.poll(notices).toContainEqual("Admitted to the meeting.");
  });

  it("hangs up at the end of the meeting when asked to", async () => {
    const d = device();
    runMacro(d, { otjUrl, roomId: BOARD, deviceToken: tokens[BOARD]!, options: { promptAtStart: false, hangUpAtEnd: true } });
    await expect.poll(() => d.panelButtons().length).toBe(2);
    d.emit("UserInterface.Extensions.Widget.Action", {
      WidgetId: d.panelButtons().find((b) => b.name.endsWith("Weekly sales sync"))!.widgetId,
      Type: "clicked",
    });
    await expect.poll(() => d.commandsOf("Dial").length).toBe(1);
    d.status.Call = [{ id: "1", Status: "Connected" }];
    const now = h.clock.now().getTime();
    advance(d, Date.parse("2026-12-07T09:30:30Z") - now);
    await expect.poll(() => d.commandsOf("Call.Disconnect").length).toBe(1);
  });
});
