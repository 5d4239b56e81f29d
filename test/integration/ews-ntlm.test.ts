/**
 * The EWS calendar source with `ews.auth: ntlm` against the EWS emulator speaking IIS's NTLM over
 * real HTTP: the handshake runs once per kept-alive connection and later requests ride on it; a
 * wrong password is OTJ_EWS_AUTH; a connection the server forgot is authenticated again.
 */
import { afterEach, describe, expect, it } from "vitest";
import { ewsCalendarSourceFromConfig } from "../../calendar/ews/ews-from-config.ts";
import { resolveConfig } from "../../core/config.ts";
import { OtjError } from "../../core/errors.ts";
import { ManualClock } from "../../core/manual-clock.ts";
import { EwsEmulator } from "../../emulators/ews/ews-emulator.ts";

const ROOM = "room101@contoso.example";
const WINDOW = { start: "2025-03-03T00:00:00.000Z", end: "2025-03-12T00:00:00.000Z" };

const running: Array<{ stop(): Promise<void> }> = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((r) => r.stop()));
});

async function setup(password?: string) {
  const clock = new ManualClock("2025-03-04T08:00:00.000Z");
  const emu = await EwsEmulator.start({ clock, auth: "ntlm" });
  running.push(emu);
  emu.addRoom({ address: ROOM, displayName: "Room 101" });
  emu.createEvent(ROOM, {
    subject: "Quarterly review",
    start: "2025-03-04T09:00:00Z",
    end: "2025-03-04T10:00:00Z",
    organizer: { name: "Adele Vance", email: "adele@contoso.example" },
  });
  const config = resolveConfig(
    { ews: { url: emu.url, username: emu.username, password: password ?? emu.password, auth: "ntlm" } },
    { env: {}, cwd: process.cwd(), source: "test" },
  );
  const { client, source } = ewsCalendarSourceFromConfig(config, { clock });
  running.push({ stop: () => client.close() });
  return { emu, client, source };
}

describe("EWS over NTLM", () => {
  it("reads a room's calendar; the handshake runs once and later rounds reuse the authenticated connection", async () => {
    const { emu, client, source } = await setup();
    const first = await source.syncRoom(ROOM, null, WINDOW, AbortSignal.timeout(10_000));
    expect(first.changed.map((o) => o.subject)).toEqual(["Quarterly review"]);
    const requests = emu.requests.length;
    expect(requests).toBeGreaterThanOrEqual(2);
    await source.syncRoom(ROOM, first.cursor, WINDOW, AbortSignal.timeout(10_000));
    expect(emu.requests.length).toBeGreaterThan(requests);
    expect(emu.requests.every((r) => r.authorization === "ntlm")).toBe(true);
    expect(emu.ntlm!.handshakes).toBe(1);
    expect(client.ntlmHandshakes).toBe(1);
  });

  it("a connection whose authentication the server dropped is authenticated again, within the same request", async () => {
    const { emu, client, source } = await setup();
    const first = await source.syncRoom(ROOM, null, WINDOW, AbortSignal.timeout(10_000));
    emu.ntlm!.forget();
    const second = await source.syncRoom(ROOM, first.cursor, WINDOW, AbortSignal.timeout(10_000));
    expect(second.changed).toEqual([]);
    expect(client.ntlmHandshakes).toBe(2);
    expect(emu.ntlm!.handshakes).toBe(2);
  });

  it("a wrong password is OTJ_EWS_AUTH and reaches no SOAP operation", async () => {
    const { emu, source } = await setup("not-the-password");
    const error = await source.syncRoom(ROOM, null, WINDOW, AbortSignal.timeout(10_000)).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OtjError);
    expect((error as OtjError).code).toBe("OTJ_EWS_AUTH");
    expect((error as OtjError).message).not.toContain("not-the-password");
    expect(emu.requests).toEqual([]);
  });
});
