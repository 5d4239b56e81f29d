/**
 * Shared set-up of the SGJ bridge tests: a real PostgreSQL store, a fake clock, the Cisco device
 * emulator, a callback receiver speaking real HTTP into BridgeCallbacks, and helpers that move
 * time step by step (ticking like the engine's cron) and wait for every party to settle.
 */
import { createHash } from "node:crypto";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { SIGNATURE_HEADER } from "../../bridge/bridge-signature.ts";
import type { BridgeCallbacks } from "../../bridge/callbacks.ts";
import type { BridgeScheduler, BridgeSchedulerSettings } from "../../bridge/bridge-scheduler.ts";
import type { Join } from "../../core/domain.ts";
import { occurrenceKey } from "../../core/identities.ts";
import type { MeetingUpsert, Room, Store } from "../../core/ports/store.ts";
import type { FakeClock } from "../support/fake-clock.ts";

export const TEAMS_URL =
  "https://teams.microsoft.com/l/meetup-join/19%3ameeting_Zm9vYmFy%40thread.v2/0?context=%7b%22Tid%22%3a%22c0ffee00-1111-2222-3333-444455556666%22%2c%22Oid%22%3a%22abcd0000-1111-2222-3333-444455556666%22%7d";

/** A Teams join as the parser produces it for an external meeting without CVI coordinates. */
export function teamsJoin(overrides: { meetingId?: string | null; passcode?: string | null; joinUrl?: string | null } = {}): Join {
  return {
    provider: "teams",
    url: overrides.joinUrl === undefined ? TEAMS_URL : overrides.joinUrl,
    sipUri: null,
    teams: {
      cloud: "commercial",
      joinUrl: overrides.joinUrl === undefined ? TEAMS_URL : overrides.joinUrl,
      shortUrl: null,
      threadId: "19:meeting_Zm9vYmFy@thread.v2",
      messageId: "0",
      tenantId: "c0ffee00-1111-2222-3333-444455556666",
      organizerId: "abcd0000-1111-2222-3333-444455556666",
      meetingId: overrides.meetingId === undefined ? "228859003479315" : overrides.meetingId,
      passcode: overrides.passcode === undefined ? "Xy7pQ2" : overrides.passcode,
      cvi: null,
    },
  };
}

/** The scheduler settings the bridge tests run with: dial two minutes ahead, a 15-minute lobby, callbacks to `callbackBase`. */
export function schedulerSettings(callbackBase: string): BridgeSchedulerSettings {
  return {
    leadSeconds: 120,
    lobbyTimeoutSeconds: 900,
    lateStartSeconds: 300,
    endGraceSeconds: 0,
    endBufferMinutes: 0,
    callbackUrl: `${callbackBase}/v1/callbacks/bridge`,
  };
}

export interface MeetingSpec {
  uid: string;
  start: string;
  end: string;
  /** Series occurrences keep their key (the original start) when they move. */
  recurrenceId?: string | null;
  subject?: string;
  route?: "sgj" | "cvi" | "direct" | "none";
  cancelled?: boolean;
  declined?: boolean;
  join?: Join;
}

/** A meeting row for `room`, routed sgj unless told otherwise. */
export function meetingRow(room: Room, spec: MeetingSpec): MeetingUpsert {
  const start = new Date(spec.start);
  const key = occurrenceKey(room.mailbox, spec.uid, spec.recurrenceId ?? null, start.toISOString());
  const route = spec.route ?? "sgj";
  const row: Omit<MeetingUpsert, "contentHash"> = {
    occurrenceKey: key,
    roomId: room.id,
    source: "graph",
    sourceEventId: `evt-${spec.uid}`,
    seriesMasterId: null,
    icalUid: spec.uid,
    changeKey: null,
    start,
    end: new Date(spec.end),
    subject: spec.subject ?? "Quarterly review",
    organizerName: "Fabrikam Organizer",
    organizerEmail: "organizer@fabrikam.example",
    sensitivity: "normal",
    cancelled: spec.cancelled ?? false,
    declined: spec.declined ?? false,
    join: spec.join ?? teamsJoin(),
    route,
    dialString:
      route === "sgj"
        ? `sgj_${createHash("sha256").update(key).digest("hex").slice(0, 12)}@sgj.otj.invalid`
        : route === "cvi"
          ? "1198563286.contoso@m.webex.com"
          : null,
    ivr: null,
    rule: route === "sgj" ? "teams-sgj" : "teams-cvi",
    subjectShown: spec.subject ?? "Quarterly review",
  };
  return { ...row, contentHash: createHash("sha256").update(JSON.stringify(row)).digest("hex") };
}

let providerSeq = 0;

/** A provider and one xapi room on `deviceUrl` (or a pull room). */
export async function seedRoom(
  store: Store,
  now: Date,
  options: { mailbox?: string; displayName?: string; deviceUrl?: string | null; sipUri?: string | null } = {},
): Promise<Room> {
  const provider = `pexip-${++providerSeq}`;
  await store.providers.add({ name: provider, partner: "pexip", sipDomain: "video.contoso.example" }, now);
  const pull = options.deviceUrl === undefined || options.deviceUrl === null;
  const { room } = await store.rooms.add(
    {
      mailbox: options.mailbox ?? "room101@contoso.example",
      displayName: options.displayName ?? "Room 101",
      provider,
      deviceFamily: pull ? "pull" : "xapi",
      deviceAddress: pull ? null : options.deviceUrl!,
      deviceUsername: pull ? null : "admin",
      devicePassword: pull ? null : "secret",
      sipUri: options.sipUri === undefined ? "room101@video.contoso.example" : options.sipUri,
    },
    now,
  );
  return room;
}

/** An HTTP server that hands the two callback routes to BridgeCallbacks, like app/http does. */
export class CallbackReceiver {
  url = "";
  readonly statuses: Array<{ path: string; status: number }> = [];
  #server: http.Server | null = null;
  callbacks: BridgeCallbacks | null = null;

  async start(): Promise<void> {
    this.#server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => {
        void this.#route(req, Buffer.concat(chunks)).then((reply) => {
          this.statuses.push({ path: req.url ?? "", status: reply.status });
          res.writeHead(reply.status, reply.body === undefined ? {} : { "content-type": "application/json" });
          res.end(reply.body === undefined ? undefined : JSON.stringify(reply.body));
        });
      });
    });
    await new Promise<void>((resolve) => this.#server!.listen(0, "127.0.0.1", resolve));
    this.url = `http://127.0.0.1:${(this.#server.address() as AddressInfo).port}`;
  }

  async #route(req: http.IncomingMessage, raw: Buffer): Promise<{ status: number; body?: unknown }> {
    if (this.callbacks === null) return { status: 503 };
    if (req.url === "/v1/callbacks/bridge") return this.callbacks.handleBridgeCallback(raw, req.headers[SIGNATURE_HEADER] as string | undefined);
    if (req.url === "/v1/callbacks/graph-calls") {
      let body: unknown;
      try {
        body = JSON.parse(raw.toString("utf8"));
      } catch {
        body = raw.toString("utf8");
      }
      return this.callbacks.handleGraphCallsCallback(req.headers, body);
    }
    return { status: 404 };
  }

  async stop(): Promise<void> {
    if (this.#server === null) return;
    this.#server.closeAllConnections();
    await new Promise<void>((resolve) => this.#server!.close(() => resolve()));
    this.#server = null;
  }
}

export interface Idler {
  idle(): Promise<void>;
}

/**
 * Lets every party finish what the current instant started: fires timers due now, waits for the
 * schedulers, emulators and callbacks, and repeats until a round changes nothing.
 */
export async function settle(clock: FakeClock, parties: readonly Idler[], activity: () => number): Promise<void> {
  let last = -1;
  for (let round = 0; round < 200; round++) {
    clock.advance(0);
    for (const p of parties) await p.idle();
    await new Promise((resolve) => setImmediate(resolve));
    const now = activity();
    if (now === last) return;
    last = now;
  }
  throw new Error("settle: still busy after 200 rounds");
}

/**
 * Moves the clock to `target` in steps of `stepMs`, settling after each step and ticking the
 * schedulers every `tickEveryMs` (as the engine's cron does).
 */
export async function runUntil(
  clock: FakeClock,
  target: Date | string,
  schedulers: readonly BridgeScheduler[],
  settleNow: () => Promise<void>,
  options: { stepMs?: number; tickEveryMs?: number } = {},
): Promise<void> {
  const end = new Date(target).getTime();
  const step = options.stepMs ?? 5_000;
  const tickEvery = options.tickEveryMs ?? 10_000;
  for (;;) {
    const now = clock.now().getTime();
    if (now % tickEvery === 0) {
      for (const s of schedulers) await s.tick();
      await settleNow();
    }
    if (now >= end) return;
    clock.advanceTo(new Date(Math.min(end, now + step - (now % step))));
    await settleNow();
  }
}
