/**
 * Alarms that fire and reach someone (real PostgreSQL, real HTTP and SMTP): the evaluator raises
 * and clears engine-wide alarms and records them in the alarm history; acknowledge and mute; the
 * signed webhook, the Teams card and the e-mail arrive at local receivers; a failing channel is
 * retried with backoff on the injected clock and, after the last attempt, is itself an alarm.
 */
import { createHmac } from "node:crypto";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { SMTPServer } from "smtp-server";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { AlarmEvaluator, type AlarmEvaluatorDeps } from "../../app/alarms/evaluator.ts";
import { AlarmNotifier, SmtpChannel, TeamsChannel, WebhookChannel, type NotificationChannel } from "../../app/alarms/notifier.ts";
import { createLogger } from "../../core/logger.ts";
import type { MeetingUpsert, Store } from "../../core/ports/store.ts";
import { PostgresSubscriptionStore } from "../../store/postgres/graph-subscription-store.ts";
import { FakeClock } from "../support/fake-clock.ts";
import { openTestStore, type TestStore } from "../support/test-database.ts";

const START = new Date("2026-12-01T12:00:00Z");
const MIN = 60_000;
const settings = { endBufferMinutes: 0, windowFutureDays: 7, pollFailuresBeforeAlarm: 3, pushFailuresBeforeAlarm: 3, pullStaleMinutes: 30 };
const logger = createLogger("silent");

let db: TestStore;
beforeAll(async () => {
  db = await openTestStore("postgres");
});
afterAll(async () => db?.close());
beforeEach(async () => db.truncate());

function evaluator(store: Store, clock: FakeClock, extra: Partial<AlarmEvaluatorDeps> = {}): AlarmEvaluator {
  return new AlarmEvaluator({
    store,
    clock,
    logger,
    notifier: null,
    settings,
    bridgeConfigured: true,
    secretsKeySet: true,
    graphBridge: false,
    startedAt: START,
    ...extra,
  });
}

async function addPullRoom(store: Store, mailbox = "pull1@contoso.example") {
  await store.providers.add({ name: `p-${mailbox.split("@")[0]}`, partner: "pexip", sipDomain: "video.contoso.example" }, START);
  return (await store.rooms.add({ mailbox, displayName: mailbox, provider: `p-${mailbox.split("@")[0]}`, deviceFamily: "pull" }, START)).room;
}

describe("alarm history", () => {
  it("raises once per key, keeps it while it holds, clears it when it goes; acknowledge and mute are recorded", async () => {
    const s = db.store.alarms;
    const a = { key: "engine:x", code: "OTJ_BRIDGE_NOT_CONFIGURED", roomId: null, subject: "engine", message: "one" };
    const first = await s.reconcile([a], START);
    expect(first.raised.map((r) => r.code)).toEqual(["OTJ_BRIDGE_NOT_CONFIGURED"]);
    expect(first.cleared).toEqual([]);
    const again = await s.reconcile([{ ...a, message: "two" }], new Date(START.getTime() + MIN));
    expect(again).toEqual({ raised: [], cleared: [] });
    const [open] = await s.listOpen();
    expect(open).toMatchObject({ key: "engine:x", message: "two", raisedAt: START, clearedAt: null });

    const acked = await s.acknowledge(open!.id, "admin", new Date(START.getTime() + 2 * MIN));
    expect(acked).toMatchObject({ ackedBy: "admin", ackedAt: new Date(START.getTime() + 2 * MIN) });
    const until = new Date(START.getTime() + 60 * MIN);
    expect(await s.mute(open!.id, "admin", until)).toMatchObject({ mutedBy: "admin", mutedUntil: until });

    const cleared = await s.reconcile([], new Date(START.getTime() + 3 * MIN));
    expect(cleared.cleared.map((r) => [r.key, r.clearedAt?.toISOString()])).toEqual([["engine:x", new Date(START.getTime() + 3 * MIN).toISOString()]]);
    expect(await s.listOpen()).toEqual([]);
    // Raised again later: a new row; the history keeps both, newest first.
    await s.reconcile([a], new Date(START.getTime() + 4 * MIN));
    const history = await s.history({ limit: 10 });
    expect(history.map((r) => [r.key, r.clearedAt === null])).toEqual([
      ["engine:x", true],
      ["engine:x", false],
    ]);
    await expect(s.acknowledge("999999", "admin", START)).rejects.toMatchObject({ code: "OTJ_STORE_NOT_FOUND" });
    await expect(s.mute("not-an-id", "admin", null)).rejects.toMatchObject({ code: "OTJ_STORE_NOT_FOUND" });
  });

  it("two instances reconciling at once open an alarm only once", async () => {
    const other = await db.openAnother();
    try {
      const a = { key: "engine:race", code: "OTJ_PROVIDER_INVALID", roomId: null, subject: "p", message: "m" };
      const results = await Promise.all([db.store.alarms.reconcile([a], START), other.store.alarms.reconcile([a], START)]);
      expect(results.reduce((n, r) => n + r.raised.length, 0)).toBe(1);
      expect(await db.store.alarms.listOpen()).toHaveLength(1);
    } finally {
      await other.close();
    }
  });
});

describe("engine-wide alarms", () => {
  it("a pulling device that stops fetching raises OTJ_DEVICE_PULL_STALE after alarms.pullStaleMinutes; a fetch clears it", async () => {
    const clock = new FakeClock(START);
    const room = await addPullRoom(db.store);
    const ev = evaluator(db.store, clock);
    clock.advance(30 * MIN);
    expect((await ev.evaluate())?.raised).toEqual([]);
    clock.advance(MIN);
    const raised = (await ev.evaluate())?.raised ?? [];
    expect(raised.map((r) => [r.code, r.roomId, r.subject])).toEqual([["OTJ_DEVICE_PULL_STALE", room.id, "pull1@contoso.example"]]);
    await db.store.alarms.recordFetch(room.id, clock.now());
    expect((await ev.evaluate())?.cleared.map((r) => r.code)).toEqual(["OTJ_DEVICE_PULL_STALE"]);
    clock.advance(31 * MIN);
    expect((await ev.evaluate())?.raised[0]?.message).toContain(`last fetched its meetings at ${new Date(START.getTime() + 31 * MIN).toISOString()}`);
  });

  it("stored device passwords without secrets.key, an SGJ provider without SIP domain and a Graph token lacking Calendars.Read", async () => {
    const clock = new FakeClock(START);
    // Such a provider can no longer be added; one stored before the rule still can exist.
    await db.handle.db
      .insertInto("provider")
      .values({
        id: "prv_legacy0001",
        name: "nodomain",
        partner: "pexip",
        tenant_key: null,
        sip_domain: null,
        ivr_address: null,
        sgj_enabled: true,
        sgj_template: null,
        instruction_url: null,
        created_at: START,
        updated_at: START,
      })
      .execute();
    await db.store.providers.add({ name: "ok", partner: "pexip", sipDomain: "video.contoso.example" }, START);
    await db.store.rooms.add(
      {
        mailbox: "xapi1@contoso.example",
        displayName: "X",
        provider: "ok",
        deviceFamily: "xapi",
        deviceAddress: "https://10.0.0.5",
        deviceUsername: "admin",
        devicePassword: "pw",
      },
      START,
    );
    let roles: string[] = ["Place.Read.All"];
    const ev = evaluator(db.store, clock, { secretsKeySet: false, graphRoles: async () => roles });
    const first = await ev.evaluate();
    expect(first?.raised.map((r) => r.code).sort()).toEqual(["OTJ_CONFIG_SECRETS_KEY_UNSET", "OTJ_GRAPH_CONSENT_MISSING", "OTJ_PROVIDER_INVALID"]);
    expect(first?.raised.find((r) => r.code === "OTJ_GRAPH_CONSENT_MISSING")?.message).toContain("Calendars.Read");
    expect(first?.raised.find((r) => r.code === "OTJ_PROVIDER_INVALID")?.subject).toBe("provider nodomain");
    // Consent granted: that alarm clears, the others stay.
    roles = ["Calendars.Read"];
    const second = await ev.evaluate();
    expect(second?.cleared.map((r) => r.code)).toEqual(["OTJ_GRAPH_CONSENT_MISSING"]);
    expect((await db.store.alarms.listOpen()).map((a) => a.code).sort()).toEqual(["OTJ_CONFIG_SECRETS_KEY_UNSET", "OTJ_PROVIDER_INVALID"]);
    // With secrets.key set there is nothing to say about stored passwords.
    const third = await evaluator(db.store, clock, { secretsKeySet: true }).evaluate();
    expect(third?.cleared.map((r) => r.code)).toEqual(["OTJ_CONFIG_SECRETS_KEY_UNSET"]);
  });

  it("SGJ meetings planned with no bridge configured raise OTJ_BRIDGE_NOT_CONFIGURED engine-wide", async () => {
    const clock = new FakeClock(START);
    const room = await addPullRoom(db.store, "sgj1@contoso.example");
    await db.store.alarms.recordFetch(room.id, START);
    await db.store.meetings.upsert([sgjMeeting(room.id)], START);
    const without = await evaluator(db.store, clock, { bridgeConfigured: false }).evaluate();
    expect(without?.raised.map((r) => [r.key, r.code])).toEqual([["engine:bridge", "OTJ_BRIDGE_NOT_CONFIGURED"]]);
    const withBridge = await evaluator(db.store, clock, { bridgeConfigured: true }).evaluate();
    expect(withBridge?.cleared.map((r) => r.code)).toEqual(["OTJ_BRIDGE_NOT_CONFIGURED"]);
  });

  it("Graph subscriptions failing alarms.pollFailuresBeforeAlarm times in a row raise OTJ_NOTIFICATIONS_FAILING; a renewal clears it", async () => {
    const clock = new FakeClock(START);
    const room = await addPullRoom(db.store, "notif1@contoso.example");
    await db.store.alarms.recordFetch(room.id, START);
    const subscriptions = new PostgresSubscriptionStore(db.handle.db, db.store.owner);
    const fail = async () => {
      await subscriptions.ensureRooms(clock.now());
      const [record] = await subscriptions.claimDue(clock.now(), 10, 60_000);
      expect(record?.roomId).toBe(room.id);
      await subscriptions.failed(room.id, { code: "OTJ_GRAPH_ACCESS_DENIED", message: "denied", dueAt: clock.now(), forget: true }, clock.now());
    };
    const notifications = { pollIntervalSeconds: 60, graph: subscriptions, google: null };
    const ev = evaluator(db.store, clock, { notifications });
    await fail();
    await fail();
    expect((await ev.evaluate())?.raised).toEqual([]);
    await fail();
    // Graph notifications off: nothing to say about the rows left behind.
    expect((await evaluator(db.store, clock, { notifications: { ...notifications, graph: null } }).evaluate())?.raised).toEqual([]);
    const raised = (await ev.evaluate())?.raised ?? [];
    expect(raised.map((r) => [r.key, r.code, r.subject, r.roomId])).toEqual([
      ["engine:notifications:graph", "OTJ_NOTIFICATIONS_FAILING", "graph-subscriptions", null],
    ]);
    expect(raised[0]?.message).toBe(
      "1 room(s): Graph change subscriptions failing (last: OTJ_GRAPH_ACCESS_DENIED: denied); the rooms are still polled every 60 s (poll.intervalSeconds)",
    );
    clock.advance(MIN);
    await subscriptions.claimDue(clock.now(), 10, 60_000);
    await subscriptions.saved(
      room.id,
      {
        subscriptionId: "sub-1",
        clientStateHash: "ab".repeat(32),
        expiresAt: new Date(START.getTime() + 9_000 * MIN),
        dueAt: new Date(START.getTime() + 4_500 * MIN),
      },
      clock.now(),
    );
    expect((await ev.evaluate())?.cleared.map((r) => r.key)).toEqual(["engine:notifications:graph"]);
  });

  it("one instance evaluates at a time (the alarms lease)", async () => {
    const clock = new FakeClock(START);
    const other = await db.openAnother();
    try {
      expect(await other.store.retention.claimJob("alarms", START, 60_000)).toBe(true);
      expect(await evaluator(db.store, clock).evaluate()).toBeNull();
      await other.store.retention.releaseJob("alarms", START);
      expect(await evaluator(db.store, clock).evaluate()).not.toBeNull();
    } finally {
      await other.close();
    }
  });
});

function sgjMeeting(roomId: string): MeetingUpsert {
  return {
    occurrenceKey: `sgj1@contoso.example|uid-1|${START.toISOString()}`,
    roomId,
    source: "graph",
    sourceEventId: "e1",
    seriesMasterId: null,
    icalUid: "uid-1",
    changeKey: null,
    start: new Date(START.getTime() + 60 * MIN),
    end: new Date(START.getTime() + 120 * MIN),
    subject: "s",
    subjectShown: "s",
    organizerName: null,
    organizerEmail: null,
    sensitivity: "normal",
    cancelled: false,
    declined: false,
    join: null,
    contentHash: "h1",
    route: "sgj",
    dialString: "sgj@video.contoso.example",
    ivr: null,
    rule: "teams-sgj",
  };
}

/** A local HTTP receiver answering each request with the next status of `statuses` (then 200). */
class Receiver {
  readonly requests: Array<{ headers: http.IncomingHttpHeaders; body: string }> = [];
  statuses: number[] = [];
  url = "";
  #server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      this.requests.push({ headers: req.headers, body: Buffer.concat(chunks).toString("utf8") });
      res.statusCode = this.statuses.shift() ?? 200;
      res.end();
    });
  });
  async start(): Promise<this> {
    await new Promise<void>((r) => this.#server.listen(0, "127.0.0.1", r));
    this.url = `http://127.0.0.1:${(this.#server.address() as AddressInfo).port}/hook`;
    return this;
  }
  close(): Promise<void> {
    return new Promise((r) => this.#server.close(() => r()));
  }
}

describe("notifications", () => {
  const mails: Array<{ from: string; to: string[]; data: string; user: string | undefined }> = [];
  let smtp: SMTPServer;
  let smtpPort = 0;
  let hook: Receiver;
  let teams: Receiver;
  const open: NotificationChannel[] = [];

  beforeAll(async () => {
    smtp = new SMTPServer({
      disabledCommands: ["STARTTLS"],
      allowInsecureAuth: true,
      onAuth(auth, _session, cb) {
        if (auth.username === "otj" && auth.password === "mail-pw") cb(null, { user: auth.username });
        else cb(new Error("bad credentials"));
      },
      onData(stream, session, cb) {
        const chunks: Buffer[] = [];
        stream.on("data", (c: Buffer) => chunks.push(c));
        stream.on("end", () => {
          mails.push({
            from: session.envelope.mailFrom ? session.envelope.mailFrom.address : "",
            to: session.envelope.rcptTo.map((r) => r.address),
            data: Buffer.concat(chunks).toString("utf8"),
            user: session.user as string | undefined,
          });
          cb();
        });
      },
    });
    await new Promise<void>((r) => smtp.listen(0, "127.0.0.1", r));
    smtpPort = (smtp.server.address() as AddressInfo).port;
  });
  afterAll(async () => {
    await new Promise<void>((r) => smtp.close(() => r()));
  });
  beforeEach(async () => {
    mails.length = 0;
    hook = await new Receiver().start();
    teams = await new Receiver().start();
  });
  afterEach(async () => {
    for (const c of open.splice(0)) c.close?.();
    await hook.close();
    await teams.close();
  });

  function smtpChannel(password = "mail-pw"): SmtpChannel {
    const c = new SmtpChannel({
      host: "127.0.0.1",
      port: smtpPort,
      secure: false,
      user: "otj",
      password,
      from: "otj@contoso.example",
      to: "ops@contoso.example, noc@contoso.example",
    });
    open.push(c);
    return c;
  }

  it("a raise and a clear reach the signed webhook, Teams as an Adaptive Card, and e-mail", async () => {
    const clock = new FakeClock(START);
    const room = await addPullRoom(db.store);
    const notifier = new AlarmNotifier({
      channels: [new WebhookChannel(hook.url, "hook-secret"), new TeamsChannel(teams.url), smtpChannel()],
      clock,
      logger,
      maxAttempts: 3,
      retryBaseMs: 10_000,
    });
    const ev = evaluator(db.store, clock, { notifier });
    clock.advance(31 * MIN);
    await ev.evaluate();
    await notifier.settled();

    expect(hook.requests).toHaveLength(1);
    const req = hook.requests[0]!;
    expect(req.headers["x-otj-signature"]).toBe(`sha256=${createHmac("sha256", "hook-secret").update(req.body).digest("hex")}`);
    expect(JSON.parse(req.body)).toMatchObject({
      event: "raised",
      alarm: { code: "OTJ_DEVICE_PULL_STALE", subject: "pull1@contoso.example", roomId: room.id, clearedAt: null },
    });

    const card = JSON.parse(teams.requests[0]!.body);
    expect(card.type).toBe("message");
    expect(card.attachments[0].contentType).toBe("application/vnd.microsoft.card.adaptive");
    expect(card.attachments[0].content.type).toBe("AdaptiveCard");
    expect(JSON.stringify(card.attachments[0].content.body)).toContain("OTJ_DEVICE_PULL_STALE");

    expect(mails).toHaveLength(1);
    expect(mails[0]).toMatchObject({ from: "otj@contoso.example", to: ["ops@contoso.example", "noc@contoso.example"], user: "otj" });
    expect(mails[0]!.data).toMatch(/Subject: \[otj\] Alarm raised: OTJ_DEVICE_PULL_STALE \(pull1@contoso.example\)/);

    await db.store.alarms.recordFetch(room.id, clock.now());
    await ev.evaluate();
    await notifier.settled();
    expect(JSON.parse(hook.requests[1]!.body)).toMatchObject({
      event: "cleared",
      alarm: { code: "OTJ_DEVICE_PULL_STALE", clearedAt: clock.now().toISOString() },
    });
    expect(mails[1]!.data).toContain("Alarm cleared: OTJ_DEVICE_PULL_STALE");
    expect(notifier.problems()).toEqual([]);
    notifier.stop();
  });

  it("a muted alarm notifies nobody when it clears", async () => {
    const clock = new FakeClock(START);
    const room = await addPullRoom(db.store);
    const notifier = new AlarmNotifier({ channels: [new WebhookChannel(hook.url, "s")], clock, logger, maxAttempts: 1, retryBaseMs: 1000 });
    const ev = evaluator(db.store, clock, { notifier });
    clock.advance(31 * MIN);
    const [alarm] = (await ev.evaluate())?.raised ?? [];
    await notifier.settled();
    await db.store.alarms.mute(alarm!.id, "ops", new Date(clock.now().getTime() + 60 * MIN));
    await db.store.alarms.recordFetch(room.id, clock.now());
    expect((await ev.evaluate())?.cleared).toHaveLength(1);
    await notifier.settled();
    expect(hook.requests.map((r) => JSON.parse(r.body).event)).toEqual(["raised"]);
    notifier.stop();
  });

  it("retries with a doubling backoff on the clock; after the last attempt the failure is an alarm and counted, until the channel delivers again", async () => {
    const clock = new FakeClock(START);
    await addPullRoom(db.store);
    hook.statuses = [500, 503, 502];
    const outcomes: string[] = [];
    const notifier = new AlarmNotifier({
      channels: [new WebhookChannel(hook.url, "s")],
      clock,
      logger,
      maxAttempts: 3,
      retryBaseMs: 10_000,
      random: () => 1,
      onOutcome: (channel, outcome) => outcomes.push(`${channel}:${outcome}`),
    });
    const ev = evaluator(db.store, clock, { notifier });
    clock.advance(31 * MIN);
    await ev.evaluate();
    await notifier.settled();
    expect(hook.requests).toHaveLength(1);
    clock.advance(9_999);
    await notifier.settled();
    expect(hook.requests).toHaveLength(1);
    clock.advance(1);
    await expect.poll(() => hook.requests.length).toBe(2);
    await notifier.settled();
    clock.advance(19_999);
    await notifier.settled();
    expect(hook.requests).toHaveLength(2);
    clock.advance(1);
    await expect.poll(() => outcomes).toEqual(["webhook:failed"]);
    expect(hook.requests).toHaveLength(3);
    expect(notifier.problems()[0]?.message).toContain("answered HTTP 502");
    expect(notifier.problems()[0]?.message).not.toContain(hook.url);

    // The failed delivery is itself an alarm; when the channel works again, it clears.
    const next = await ev.evaluate();
    expect(next?.raised.map((r) => [r.code, r.subject])).toEqual([["OTJ_ALERT_DELIVERY_FAILED", "alerts webhook"]]);
    await notifier.settled();
    expect(outcomes).toEqual(["webhook:failed", "webhook:delivered"]);
    expect((await ev.evaluate())?.cleared.map((r) => r.code)).toEqual(["OTJ_ALERT_DELIVERY_FAILED"]);
    notifier.stop();
  });

  it("an SMTP server refusing the credentials is a failed delivery with the SMTP code, never the password", async () => {
    const clock = new FakeClock(START);
    const notifier = new AlarmNotifier({ channels: [smtpChannel("wrong-pw")], clock, logger, maxAttempts: 1, retryBaseMs: 1000 });
    await addPullRoom(db.store);
    clock.advance(31 * MIN);
    await evaluator(db.store, clock, { notifier }).evaluate();
    await notifier.settled();
    expect(mails).toEqual([]);
    const [problem] = notifier.problems();
    expect(problem?.channel).toBe("email");
    expect(problem?.message).toMatch(/SMTP failed \(535|SMTP failed \(EAUTH/);
    expect(problem?.message).not.toContain("wrong-pw");
    notifier.stop();
  });
});
