/** The Cisco pushers against the device emulator over real HTTP(S). */
import { readFileSync } from "node:fs";
import { afterEach, describe, expect, it } from "vitest";
import type { DeviceBooking, DeviceTarget } from "../../core/ports/device-pusher.ts";
import { CiscoDeviceEmulator } from "../../emulators/cisco-device/cisco-device-emulator.ts";
import { DEFAULT_XAPI_CONFIG, XapiDevicePusher } from "../../join/pushers/xapi-device-pusher.ts";

const tls = new URL("../fixtures/tls/", import.meta.url);
const deviceCa = readFileSync(new URL("device-cert.pem", tls), "utf8");
const otherCa = readFileSync(new URL("other-cert.pem", tls), "utf8");

const booking = (id: string, overrides: Partial<DeviceBooking> = {}): DeviceBooking => ({
  id,
  title: "Supplier review & <planning>",
  number: "918273645.contoso@m.webex.com",
  protocol: "SIP",
  platform: "MicrosoftTeams",
  privacy: "Public",
  organizer: { name: "Ana Ruiz", email: "ana.ruiz@fabrikam.example" },
  startTime: "2025-03-04T09:00:00.000Z",
  durationMinutes: 30,
  startBufferSeconds: 300,
  endBufferSeconds: 0,
  ...overrides,
});

const emulators: CiscoDeviceEmulator[] = [];
async function device(options: ConstructorParameters<typeof CiscoDeviceEmulator>[0] = {}) {
  const emu = new CiscoDeviceEmulator(options);
  await emu.start();
  emulators.push(emu);
  return emu;
}
afterEach(async () => {
  await Promise.all(emulators.splice(0).map((e) => e.stop()));
});

const target = (emu: CiscoDeviceEmulator, t: Partial<DeviceTarget> = {}): DeviceTarget => ({
  family: "xapi",
  address: emu.url,
  username: "admin",
  password: "secret",
  insecureTls: false,
  ...t,
});

describe("xapi putxml", () => {
  it("replaces the whole list with Bookings Put, with Cisco units", async () => {
    const emu = await device();
    const pusher = new XapiDevicePusher({ ...DEFAULT_XAPI_CONFIG, timeoutMs: 10_000 });
    await pusher.pushBookings(target(emu), [booking("a"), booking("b", { protocol: "H323", number: "198.51.100.7##4455" })]);
    expect(emu.bookings.map((b) => b.Id)).toEqual(["a", "b"]);
    expect(emu.bookings[0]).toMatchObject({
      Title: "Supplier review & <planning>",
      Protocol: "SIP",
      Organizer: { Name: "Ana Ruiz", Email: "ana.ruiz@fabrikam.example" },
      Time: { StartTime: "2025-03-04T09:00:00Z", Duration: 30, StartTimeBuffer: 300, EndTimeBuffer: 0 },
    });
    await pusher.pushBookings(target(emu), [booking("c")]);
    expect(emu.bookings.map((b) => b.Id)).toEqual(["c"]);
    await pusher.pushBookings(target(emu), []);
    expect(emu.bookings).toEqual([]);
  });

  it("maps device answers to error codes", async () => {
    const emu = await device({ users: { admin: { password: "secret", role: "Admin" }, viewer: { password: "v", role: "User" } } });
    // Generous for answers (a loaded machine is slow); the slow-device case below has its own.
    const pusher = new XapiDevicePusher({ ...DEFAULT_XAPI_CONFIG, timeoutMs: 10_000 });
    await expect(pusher.pushBookings(target(emu, { password: "wrong" }), [booking("a")])).rejects.toMatchObject({ code: "OTJ_DEVICE_AUTH", retryable: false });
    await expect(pusher.pushBookings(target(emu, { username: "viewer", password: "v" }), [booking("a")])).rejects.toMatchObject({ code: "OTJ_DEVICE_AUTH" });
    emu.knobs.teamsInstalled = true;
    await expect(pusher.pushBookings(target(emu), [booking("a")])).rejects.toMatchObject({ code: "OTJ_DEVICE_UNSUPPORTED" });
    emu.knobs.teamsInstalled = false;
    emu.knobs.maxBookings = 1;
    await expect(pusher.pushBookings(target(emu), [booking("a"), booking("b")])).rejects.toMatchObject({ code: "OTJ_DEVICE_REJECTED" });
    emu.knobs.failStatus = 503;
    await expect(pusher.pushBookings(target(emu), [booking("a")])).rejects.toMatchObject({ code: "OTJ_DEVICE_UNREACHABLE", retryable: true });
    emu.knobs.failStatus = null;
    emu.knobs.dropConnections = true;
    await expect(pusher.pushBookings(target(emu), [booking("a")])).rejects.toMatchObject({ code: "OTJ_DEVICE_UNREACHABLE" });
    emu.knobs.dropConnections = false;
    emu.knobs.delayMs = 5_000;
    const impatient = new XapiDevicePusher({ ...DEFAULT_XAPI_CONFIG, timeoutMs: 500 });
    await expect(impatient.pushBookings(target(emu), [booking("a")])).rejects.toMatchObject({ code: "OTJ_DEVICE_UNREACHABLE" });
  });

  it("a device that is down is unreachable", async () => {
    const emu = await device();
    const url = emu.url;
    await emu.stop();
    const pusher = new XapiDevicePusher({ ...DEFAULT_XAPI_CONFIG, timeoutMs: 10_000 });
    await expect(pusher.pushBookings(target(emu, { address: url }), [booking("a")])).rejects.toMatchObject({ code: "OTJ_DEVICE_UNREACHABLE" });
  });

  it("shows and clears lobby notices", async () => {
    const emu = await device();
    const pusher = new XapiDevicePusher();
    await pusher.showNotice(target(emu), { title: "Supplier review", text: "Waiting to be admitted…", durationSeconds: 0 });
    await pusher.clearNotice(target(emu));
    expect(emu.ui.map((m) => [m.kind, m.text ?? null])).toEqual([
      ["alert-display", "Waiting to be admitted…"],
      ["alert-clear", null],
    ]);
  });
});

describe("TLS", () => {
  it("verifies device certificates by default, trusts a configured CA, and honours the per-device opt-out", async () => {
    const emu = await device({ tls: true });
    const strict = new XapiDevicePusher({ ...DEFAULT_XAPI_CONFIG, timeoutMs: 10_000 });
    await expect(strict.pushBookings(target(emu), [booking("a")])).rejects.toMatchObject({ code: "OTJ_DEVICE_TLS" });
    const wrongCa = new XapiDevicePusher({ ...DEFAULT_XAPI_CONFIG, ca: otherCa, timeoutMs: 10_000 });
    await expect(wrongCa.pushBookings(target(emu), [booking("a")])).rejects.toMatchObject({ code: "OTJ_DEVICE_TLS" });
    await new XapiDevicePusher({ ...DEFAULT_XAPI_CONFIG, ca: deviceCa, timeoutMs: 10_000 }).pushBookings(target(emu), [booking("a")]);
    expect(emu.bookings).toHaveLength(1);
    await strict.pushBookings(target(emu, { insecureTls: true }), [booking("b")]);
    expect(emu.bookings.map((b) => b.Id)).toEqual(["b"]);
  });
});

describe("other transports", () => {
  it("legacy bookingsputxml replaces the list", async () => {
    const emu = await device();
    const pusher = new XapiDevicePusher();
    await pusher.pushBookings(target(emu, { family: "xapi-legacy" }), [booking("a"), booking("b")]);
    expect(emu.bookings.map((b) => [b.Id, b.Number, b.Time.Duration])).toEqual([
      ["a", "918273645.contoso@m.webex.com", 30],
      ["b", "918273645.contoso@m.webex.com", 30],
    ]);
    expect(emu.bookings[0]!.Organizer.Name).toBe("Ana Ruiz");
  });

  it("Webex cloud xAPI uses the bearer token and the device id", async () => {
    const emu = await device({ webexToken: "wx-token" });
    const pusher = new XapiDevicePusher({ ...DEFAULT_XAPI_CONFIG, webex: { token: "wx-token", baseUrl: emu.url } });
    await pusher.pushBookings(target(emu, { family: "webex-cloud", address: "webex://Y2lzY29zcGFyazovL2RldmljZS8x" }), [booking("a")]);
    expect(emu.bookings.map((b) => b.Id)).toEqual(["a"]);
    const bad = new XapiDevicePusher({ ...DEFAULT_XAPI_CONFIG, webex: { token: "nope", baseUrl: emu.url } });
    await expect(bad.pushBookings(target(emu, { family: "webex-cloud", address: "webex://x" }), [booking("a")])).rejects.toMatchObject({
      code: "OTJ_DEVICE_AUTH",
    });
  });
});
