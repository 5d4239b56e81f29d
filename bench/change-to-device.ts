/**
 * change-to-device: seconds from a calendar change (in the Graph emulator) to the changed booking
 * on the emulated Cisco device, with the real engine on the wall clock (`otj run` wiring, node-cron
 * ticks). Polling only: poll.intervalSeconds = 5, target p95 <= interval + 2 s. With
 * notifications: the change is announced the way a Graph notification does it (the room marked
 * due and the poller woken), target p95 <= 5 s.
 */
import { randomBytes } from "node:crypto";
import { Engine } from "../app/main.ts";
import { systemClock } from "../core/clock.ts";
import { resolveConfig } from "../core/config.ts";
import { createLogger } from "../core/logger.ts";
import { CiscoDeviceEmulator } from "../emulators/cisco-device/cisco-device-emulator.ts";
import { GraphEmulator } from "../emulators/graph/graph-emulator.ts";
import { teamsHtmlV4 } from "../emulators/invite-factory.ts";
import { createTestPostgres } from "../test/support/test-database.ts";
import { report } from "./report.ts";

const INTERVAL = 5;
const CHANGES = 12;

function p95(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil(s.length * 0.95) - 1)]!;
}

async function measure(notify: boolean): Promise<number[]> {
  const pg = await createTestPostgres("c2d");
  const graph = new GraphEmulator({ seed: `c2d-${notify}` });
  await graph.listen();
  graph.addRoom({ address: "room101@contoso.example", displayName: "Room 101" });
  const device = new CiscoDeviceEmulator();
  await device.start();
  const config = resolveConfig(
    {
      database: { url: pg.url },
      graph: {
        tenantId: "c0ffee00-1111-2222-3333-444455556666",
        clientId: graph.clientId,
        clientSecret: graph.clientSecret,
        baseUrl: graph.url,
        authorityUrl: graph.url,
      },
      http: { host: "127.0.0.1", port: 0, adminToken: randomBytes(16).toString("hex") },
      poll: { intervalSeconds: INTERVAL },
      log: { level: "silent" },
    },
    { env: {}, cwd: process.cwd() },
  );
  const engine = new Engine({ config, clock: systemClock, logger: createLogger("silent"), cwd: process.cwd(), ticks: true });
  const samples: number[] = [];
  try {
    await engine.start(true);
    await engine.store.providers.add({ name: "webex", partner: "cisco", tenantKey: "contoso@m.webex.com" }, new Date());
    const { room } = await engine.store.rooms.add(
      {
        mailbox: "room101@contoso.example",
        displayName: "Room 101",
        provider: "webex",
        deviceFamily: "xapi",
        deviceAddress: device.url,
        deviceUsername: "admin",
        devicePassword: "secret",
      },
      new Date(),
    );
    const start = new Date(Date.now() + 3_600_000).toISOString();
    const end = new Date(Date.now() + 5_400_000).toISOString();
    const ev = graph.addEvent("room101@contoso.example", {
      subject: "Change 0",
      start,
      end,
      organizer: { name: "Ana Ruiz", address: "ana@contoso.example" },
      body: { contentType: "html", content: teamsHtmlV4({ threadKey: "c2d", cvi: { tenantKey: "contoso@m.webex.com", videoId: "1198563286" } }, 200) },
    })!;
    const waitFor = async (title: string, since: number) => {
      while (!device.bookings.some((b) => b.Title === title)) {
        if (Date.now() - since > 60_000) throw new Error(`no booking "${title}" after 60 s`);
        await new Promise((r) => setTimeout(r, 20));
      }
      return (Date.now() - since) / 1000;
    };
    await waitFor("Change 0", Date.now());
    for (let i = 1; i <= CHANGES; i++) {
      // Changes land at arbitrary moments relative to the poll ticks.
      await new Promise((r) => setTimeout(r, 300 + Math.floor(Math.random() * INTERVAL * 1000)));
      const t0 = Date.now();
      graph.updateEvent("room101@contoso.example", ev.id, { subject: `Change ${i}` });
      if (notify) {
        await engine.store.syncCursors.markDue(room.id, new Date());
        engine.poller?.poke();
      }
      samples.push(await waitFor(`Change ${i}`, t0));
    }
  } finally {
    await engine.stop();
    await device.stop();
    await graph.stop();
    await pg.drop();
  }
  return samples;
}

export async function benchChangeToDevice(): Promise<void> {
  const withNotifications = await measure(true);
  const polling = await measure(false);
  report({ bench: "change-to-device", metric: "p95-notifications", value: p95(withNotifications), unit: "s", baseline: 5, ratio: p95(withNotifications) / 5 });
  report({ bench: "change-to-device", metric: "p95-polling", value: p95(polling), unit: "s", baseline: INTERVAL + 2, ratio: p95(polling) / (INTERVAL + 2) });
}
