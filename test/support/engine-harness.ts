/**
 * The real engine (app/main.ts) on real PostgreSQL with the Graph, Cisco device and bridge
 * emulators over HTTP, on a manual clock: one room (room101@contoso.example, an xapi device), its
 * CVI provider, and a bridge that admits after a minute; optionally the Google and Exchange Server
 * (EWS) emulators as further calendar sources. Used by the end-to-end and browser tests.
 */
import { Engine } from "../../app/main.ts";
import { resolveConfig } from "../../core/config.ts";
import { createLogger } from "../../core/logger.ts";
import { ManualClock } from "../../core/manual-clock.ts";
import { BridgeEmulator } from "../../emulators/bridge/bridge-emulator.ts";
import { CiscoDeviceEmulator } from "../../emulators/cisco-device/cisco-device-emulator.ts";
import { EwsEmulator } from "../../emulators/ews/ews-emulator.ts";
import { GoogleEmulator } from "../../emulators/google/google-emulator.ts";
import { GraphEmulator } from "../../emulators/graph/graph-emulator.ts";
import { createTestPostgres, type TestPostgres } from "./test-database.ts";

export const HARNESS_ROOM = "room101@contoso.example";
export const HARNESS_DEVICE_PASSWORD = "device-secret-pw";

/** The engine's `graph` settings for a Graph emulator. */
export function graphSettings(graph: GraphEmulator) {
  return {
    tenantId: "c0ffee00-1111-2222-3333-444455556666",
    clientId: graph.clientId,
    clientSecret: graph.clientSecret,
    baseUrl: graph.url,
    authorityUrl: graph.url,
  };
}

/** The engine's `google` settings for a Google emulator (its first subject signs in). */
export function googleSettings(google: GoogleEmulator) {
  return { serviceAccountKey: JSON.stringify(google.serviceAccountKey()), subject: google.subjects[0]!, apiRoot: google.url, tokenUrl: google.tokenUrl };
}

/** The engine's `ews` settings for an EWS emulator (Basic authentication). */
export function ewsSettings(ews: EwsEmulator) {
  return { url: ews.url, username: ews.username, password: ews.password, auth: "basic" as const };
}

export interface EngineHarness {
  pg: TestPostgres;
  clock: ManualClock;
  graph: GraphEmulator;
  /** With `calendars.google`: the Google Workspace emulator the engine also reads. */
  google: GoogleEmulator | null;
  /** With `calendars.ews`: the Exchange Server emulator the engine also reads. */
  ews: EwsEmulator | null;
  device: CiscoDeviceEmulator;
  bridge: BridgeEmulator;
  engine: Engine;
  /** The bridge's HMAC secret (log scans look for it). */
  hmacSecret: string;
  /** The room's id. */
  roomId: string;
  /** `minutes` engine steps, each followed by the bridge's callbacks and a minute on the clock. */
  step(minutes?: number): Promise<void>;
  close(): Promise<void>;
}

export async function startEngineHarness(options: {
  label: string;
  adminToken: string;
  startAt: string;
  logger?: ReturnType<typeof createLogger>;
  provider: { name: string; tenantKey: string; sipDomain?: string };
  /** Further calendar sources besides Graph. */
  calendars?: { google?: boolean; ews?: boolean };
  /** `join.rules` (docs/rules.md). */
  joinRules?: unknown[];
}): Promise<EngineHarness> {
  const hmac = `${options.label}-hmac-secret`;
  const pg = await createTestPostgres(options.label);
  // What started so far stops again when a later step fails (a bad config, a port in use).
  const started: Array<() => Promise<unknown>> = [() => pg.drop()];
  try {
    return await startOn(pg, started, hmac, options);
  } catch (error) {
    for (const stop of started.reverse()) await stop().catch(() => undefined);
    throw error;
  }
}

async function startOn(
  pg: TestPostgres,
  started: Array<() => Promise<unknown>>,
  hmac: string,
  options: Parameters<typeof startEngineHarness>[0],
): Promise<EngineHarness> {
  const clock = new ManualClock(options.startAt);
  const graph = new GraphEmulator({ clock, seed: options.label });
  await graph.listen();
  started.push(() => graph.stop());
  graph.addRoom({ address: HARNESS_ROOM, displayName: "Room 101" });
  const device = new CiscoDeviceEmulator({ users: { admin: { password: HARNESS_DEVICE_PASSWORD, role: "Admin" } } });
  await device.start();
  started.push(() => device.stop());
  const bridge = new BridgeEmulator({ clock, token: "t", hmacSecret: hmac, plan: () => ({ kind: "admit", afterMs: 60_000 }) });
  await bridge.start();
  started.push(() => bridge.stop());
  const google = options.calendars?.google ? await GoogleEmulator.start({ clock }) : null;
  const ews = options.calendars?.ews ? await EwsEmulator.start({ clock }) : null;
  started.push(async () => {
    await google?.stop();
    await ews?.stop();
  });
  const logger = options.logger ?? createLogger("silent");
  const config = resolveConfig(
    {
      database: { url: pg.url },
      graph: graphSettings(graph),
      ...(google ? { google: googleSettings(google) } : {}),
      ...(ews ? { ews: ewsSettings(ews) } : {}),
      ...(options.joinRules ? { join: { rules: options.joinRules } } : {}),
      http: { host: "127.0.0.1", port: 0, adminToken: options.adminToken },
      poll: { intervalSeconds: 60, windowPastHours: 2, windowFutureDays: 2 },
      bridge: { adapter: "emulator", http: { baseUrl: bridge.url, token: "t", hmacSecret: hmac } },
      log: { level: options.logger ? "debug" : "silent" },
    },
    { env: {}, cwd: process.cwd() },
  );
  const engine = new Engine({ config, clock, logger, cwd: process.cwd(), ticks: false });
  started.push(() => engine.stop());
  await engine.start(true);
  await engine.store.providers.add({ partner: "cisco", ...options.provider }, clock.now());
  const added = await engine.store.rooms.add(
    {
      mailbox: HARNESS_ROOM,
      displayName: "Room 101",
      provider: options.provider.name,
      deviceFamily: "xapi",
      deviceAddress: device.url,
      deviceUsername: "admin",
      devicePassword: HARNESS_DEVICE_PASSWORD,
    },
    clock.now(),
  );
  return {
    pg,
    clock,
    graph,
    google,
    ews,
    device,
    bridge,
    engine,
    hmacSecret: hmac,
    roomId: added.room.id,
    async step(minutes = 1) {
      for (let i = 0; i < minutes; i++) {
        await engine.workflows.step();
        await bridge.idle();
        clock.advance(60_000);
      }
    },
    async close() {
      await engine.stop().catch(() => undefined);
      await bridge.stop();
      await device.stop();
      await graph.stop();
      await google?.stop();
      await ews?.stop();
      await pg.drop();
    },
  };
}
