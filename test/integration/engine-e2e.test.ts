/**
 * End to end: the real engine (app/main.ts) against the Graph, Cisco device and bridge emulators
 * over real HTTP, on real PostgreSQL, driven by a manual clock.
 */
import { randomBytes } from "node:crypto";
import { Writable } from "node:stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Engine } from "../../app/main.ts";
import type { StatusOutput } from "../../app/status.ts";
import { createLogger } from "../../core/logger.ts";
import type { ManualClock } from "../../core/manual-clock.ts";
import type { BridgeEmulator } from "../../emulators/bridge/bridge-emulator.ts";
import type { CiscoDeviceEmulator } from "../../emulators/cisco-device/cisco-device-emulator.ts";
import type { GraphEmulator } from "../../emulators/graph/graph-emulator.ts";
import { classicUrl, teamsHtmlV4, teamsHtmlV5 } from "../../emulators/invite-factory.ts";
import { bookingId } from "../../join/device-bookings.ts";
import { createDatabase } from "../../store/create-database.ts";
import { PostgresStore } from "../../store/postgres-store.ts";
import { type EngineHarness, startEngineHarness } from "../support/engine-harness.ts";
import type { TestPostgres } from "../support/test-database.ts";

const at = (hhmm: string) => `2026-03-02T${hhmm}:00.000Z`;
const ADMIN = randomBytes(16).toString("hex");
const logLines: string[] = [];

let harness: EngineHarness;
let pg: TestPostgres;
let clock: ManualClock;
let graph: GraphEmulator;
let device: CiscoDeviceEmulator;
let bridge: BridgeEmulator;
let engine: Engine;
let HMAC = "";
const step = (minutes = 1) => harness.step(minutes);

async function status(): Promise<StatusOutput> {
  const r = await fetch(`http://127.0.0.1:${engine.port}/v1/status`, { headers: { authorization: `Bearer ${ADMIN}` } });
  return (await r.json()) as StatusOutput;
}

beforeAll(async () => {
  const sink = new Writable({
    write(chunk, _enc, done) {
      logLines.push(String(chunk));
      done();
    },
  });
  harness = await startEngineHarness({
    label: "e2e",
    adminToken: ADMIN,
    startAt: at("07:30"),
    logger: createLogger("debug", sink),
    provider: { name: "webex", tenantKey: "contoso@m.webex.com", sipDomain: "sgj.contoso.example" },
  });
  ({ pg, clock, graph, device, bridge, engine, hmacSecret: HMAC } = harness);
});

afterAll(async () => {
  await harness?.close();
});

describe("engine end to end", () => {
  let cviId = "";

  it("an invite created in the room's calendar becomes a booking on the device", async () => {
    const ev = graph.addEvent("room101@contoso.example", {
      subject: "Weekly sales sync",
      start: at("09:00"),
      end: at("09:30"),
      organizer: { name: "Ana Ruiz", address: "ana@contoso.example" },
      onlineMeeting: { joinUrl: classicUrl({ threadKey: "e2e-sync" }) },
      body: {
        contentType: "html",
        content: teamsHtmlV4({ threadKey: "e2e-sync", passcode: "Zq9Pw3Lk", cvi: { tenantKey: "contoso@m.webex.com", videoId: "1198563286" } }, 200),
      },
    });
    cviId = ev!.id;
    await step(2);
    expect(device.bookings).toHaveLength(1);
    expect(device.bookings[0]).toMatchObject({
      Title: "Weekly sales sync",
      Number: "1198563286.contoso@m.webex.com",
      Protocol: "SIP",
      MeetingPlatform: "MicrosoftTeams",
    });
    const s = await status();
    expect(s.rooms[0]).toMatchObject({ lastPoll: { outcome: "ok" }, device: { state: "ok" } });
    expect(s.rooms[0]!.meetings[0]).toMatchObject({ route: "cvi", onDevice: true });
  });

  it("a change re-pushes, a quiet minute does not", async () => {
    const puts = device.putCount;
    await step(2);
    expect(device.putCount).toBe(puts);
    graph.updateEvent("room101@contoso.example", cviId, { subject: "Weekly sales sync (moved room)" });
    await step(2);
    expect(device.putCount).toBe(puts + 1);
    expect(device.bookings[0]!.Title).toBe("Weekly sales sync (moved room)");
  });

  it("an external meeting is routed to SIP Guest Join with the session alias", async () => {
    graph.addEvent("room101@contoso.example", {
      subject: "Supplier review",
      start: at("10:00"),
      end: at("10:30"),
      organizer: { name: "Ben Okafor", address: "ben@fabrikam.example" },
      body: { contentType: "html", content: teamsHtmlV5({ threadKey: "e2e-ext", meetingId: "357159246802468", passcode: "Hk4mN8pQ" }, 200) },
    });
    await step(2);
    const sgj = device.bookings.find((b) => b.Title === "Supplier review");
    expect(sgj?.Number).toMatch(/^sgj_[0-9a-f]{12}@sgj\.contoso\.example$/);
  });

  it("a cancelled meeting is withdrawn from the device", async () => {
    graph.cancelEvent("room101@contoso.example", cviId);
    await step(2);
    expect(device.bookings.map((b) => b.Title)).toEqual(["Supplier review"]);
    const s = await status();
    const cancelled = s.rooms[0]!.meetings.find((m) => m.subject?.startsWith("Weekly"));
    expect(cancelled).toMatchObject({ route: "none", dialString: null, onDevice: false });
    expect(device.everHeld.has(bookingId(s.rooms[0]!.meetings.find((m) => m.route === "sgj")!.occurrenceKey))).toBe(true);
  });

  it("at meeting time the bridge joins as a guest, waits in the lobby, is admitted, and ends with the meeting", async () => {
    const sessionOf = async () => (await status()).bridgeSessions.find((b) => b.mailbox === "room101@contoso.example");
    expect((await sessionOf())?.state).toBe("scheduled");
    const scheduler = engine.scheduler;
    const settle = async () => {
      // Timers due "now" on the manual clock fire on the next advance; callbacks are real HTTP.
      for (let i = 0; i < 3; i++) {
        await scheduler.idle();
        clock.advance(0);
        await bridge.idle();
      }
      await scheduler.idle();
    };
    clock.advanceTo(new Date("2026-03-02T09:57:30.000Z"));
    await engine.workflows.step(); // claims the session and arms its timer for 09:58 (10:00 minus the 120 s lead)
    clock.advanceTo(new Date("2026-03-02T09:58:00.000Z"));
    await settle();
    const created = [...bridge.sessions.values()];
    expect(created).toHaveLength(1);
    expect(created[0]!.request).toMatchObject({ guestDisplayName: "Room 101", lobbyBypass: false });
    expect((await sessionOf())?.state).toBe("lobby");
    clock.advance(60_000); // the organizer admits the room after a minute
    await settle();
    expect((await sessionOf())?.state).toBe("admitted");
    expect(device.ui.map((u) => u.text)).toEqual(expect.arrayContaining([expect.stringMatching(/^Waiting to be admitted/), "Admitted"]));
    clock.advanceTo(new Date(at("10:30")));
    await settle();
    await step(1);
    await settle();
    expect((await sessionOf())?.state).toBe("ended");
    const events = await engine.store.eventLog.list({ kind: undefined, limit: 200 });
    expect(
      events
        .filter((e) => e.kind.startsWith("bridge."))
        .map((e) => e.kind)
        .reverse(),
    ).toEqual(expect.arrayContaining(["bridge.starting", "bridge.lobby", "bridge.admitted", "bridge.ended"]));
  });

  it("exposes what happened as Prometheus metrics", async () => {
    const text = await (await fetch(`http://127.0.0.1:${engine.port}/metrics`)).text();
    const value = (pattern: RegExp) => Number(pattern.exec(text)?.[1] ?? Number.NaN);
    expect(value(/^otj_poll_rounds_total\{outcome="ok"\} (\d+)/m)).toBeGreaterThan(0);
    expect(value(/^otj_poll_round_seconds_count (\d+)/m)).toBeGreaterThan(0);
    expect(value(/^otj_device_pushes_total\{result="ok"\} (\d+)/m)).toBeGreaterThanOrEqual(3);
    expect(text).toMatch(/^otj_bridge_sessions\{state="[a-z]+"\} \d+/m);
    expect(value(/^otj_graph_requests_total\{status="200"\} (\d+)/m)).toBeGreaterThan(0);
    expect(value(/^otj_bridge_start_lateness_seconds_count (\d+)/m)).toBe(1);
  });

  it("stopping mid-round finishes or abandons the round and leaves no lease behind", async () => {
    graph.setLatency(300);
    await engine.store.syncCursors.markDue((await engine.store.rooms.get("room101@contoso.example"))!.id, clock.now());
    const round = engine.poller!.runRound();
    await new Promise((r) => setImmediate(r));
    await engine.stop();
    const report = await round.catch(() => null);
    graph.setLatency(0);
    // Read back through a fresh connection: no room is left leased, and the round either
    // completed (recorded) or was abandoned (nothing recorded).
    const handle = await createDatabase(pg.url, { cwd: process.cwd(), poolSize: 2 });
    try {
      const store = new PostgresStore(handle.db, {});
      const room = (await store.rooms.get("room101@contoso.example"))!;
      const cursor = (await store.syncCursors.get(room.id))!;
      expect(cursor.leaseOwner).toBeNull();
      expect(["ok", "aborted", "lease-lost", undefined]).toContain(report?.rooms[0]?.outcome);
    } finally {
      await handle.close();
    }
  });

  it("never logs secrets, passcodes or device passwords", () => {
    const all = logLines.join("");
    expect(all.length).toBeGreaterThan(0);
    for (const secret of [ADMIN, HMAC, graph.clientSecret, "device-secret-pw", "Zq9Pw3Lk", "Hk4mN8pQ"]) expect(all).not.toContain(secret);
  });
});
