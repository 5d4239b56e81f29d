/**
 * Alarm notifications (docs/operations.md, "Alarms and notifications"): each raise and clear goes
 * to every configured channel (signed webhook, Microsoft Teams Workflows, e-mail over SMTP), with
 * retries and a doubling backoff on the injected clock. A channel whose delivery fails after the
 * last attempt is reported by `problems()` (the evaluator turns it into an alarm) and counted in
 * the metrics, until it delivers again.
 */
import { backoffMs } from "../../core/backoff.ts";
import { createHmac } from "node:crypto";
import nodemailer, { type Transporter } from "nodemailer";
import type { Clock } from "../../core/clock.ts";
import type { Config } from "../../core/config.ts";
import type { Logger } from "../../core/logger.ts";
import type { AlarmRecord } from "../../core/ports/alarm-store.ts";

export interface AlarmNotice {
  event: "raised" | "cleared";
  alarm: AlarmRecord;
}

export interface NotificationChannel {
  /** `webhook`, `teams` or `email`. */
  readonly name: string;
  /** Delivers one notice; throws a NotificationError (never with a secret in its message). */
  send(notice: AlarmNotice): Promise<void>;
  close?(): void;
}

/** A delivery failure whose message is safe to show (no URL, no credential). */
export class NotificationError extends Error {}

const TIMEOUT_MS = 10_000;

/** The JSON every channel is built from: the alarm as people and scripts need it. */
export function noticeJson(n: AlarmNotice) {
  const a = n.alarm;
  return {
    event: n.event,
    alarm: {
      id: a.id,
      code: a.code,
      subject: a.subject,
      roomId: a.roomId,
      message: a.message,
      raisedAt: a.raisedAt.toISOString(),
      clearedAt: a.clearedAt?.toISOString() ?? null,
      acknowledgedBy: a.ackedBy,
    },
  };
}

function title(n: AlarmNotice): string {
  return `${n.event === "raised" ? "Alarm raised" : "Alarm cleared"}: ${n.alarm.code} (${n.alarm.subject})`;
}

async function post(url: string, body: string, headers: Record<string, string>): Promise<void> {
  let res: Response;
  try {
    res = await fetch(url, {
      method: "POST",
      body,
      headers: { "content-type": "application/json", ...headers },
      redirect: "error",
      signal: AbortSignal.timeout(TIMEOUT_MS),
    });
  } catch (error) {
    const cause = (error as { cause?: { code?: string } }).cause;
    throw new NotificationError(`no answer (${cause?.code ?? (error as Error).name})`);
  }
  await res.body?.cancel().catch(() => undefined);
  if (res.status < 200 || res.status > 299) throw new NotificationError(`answered HTTP ${res.status}`);
}

/** The signature header value: `sha256=` + hex HMAC-SHA256 of the body bytes (as the bridge protocol signs). */
export function signature(secret: string, body: string): string {
  return `sha256=${createHmac("sha256", secret).update(body, "utf8").digest("hex")}`;
}

/** A JSON POST per notice, signed in `X-Otj-Signature`. */
export class WebhookChannel implements NotificationChannel {
  readonly name = "webhook";
  readonly #url: string;
  readonly #secret: string;
  constructor(url: string, secret: string) {
    this.#url = url;
    this.#secret = secret;
  }

  send(notice: AlarmNotice): Promise<void> {
    const body = JSON.stringify(noticeJson(notice));
    return post(this.#url, body, { "x-otj-signature": signature(this.#secret, body) });
  }
}

/** The Adaptive Card a Teams Workflows webhook posts into a channel or chat. */
export function adaptiveCard(n: AlarmNotice) {
  const a = n.alarm;
  const facts = [
    { title: "Code", value: a.code },
    { title: "About", value: a.subject },
    { title: "Raised", value: a.raisedAt.toISOString() },
    ...(a.clearedAt ? [{ title: "Cleared", value: a.clearedAt.toISOString() }] : []),
  ];
  return {
    type: "message",
    attachments: [
      {
        contentType: "application/vnd.microsoft.card.adaptive",
        contentUrl: null,
        content: {
          $schema: "http://adaptivecards.io/schemas/adaptive-card.json",
          type: "AdaptiveCard",
          version: "1.4",
          body: [
            { type: "TextBlock", text: title(n), weight: "Bolder", size: "Medium", wrap: true, color: n.event === "raised" ? "Attention" : "Good" },
            { type: "TextBlock", text: a.message, wrap: true },
            { type: "FactSet", facts },
          ],
        },
      },
    ],
  };
}

/** Microsoft Teams through a Workflows "When a Teams webhook request is received" URL. */
export class TeamsChannel implements NotificationChannel {
  readonly name = "teams";
  readonly #url: string;
  constructor(url: string) {
    this.#url = url;
  }

  send(notice: AlarmNotice): Promise<void> {
    return post(this.#url, JSON.stringify(adaptiveCard(notice)), {});
  }
}

export interface SmtpSettings {
  host: string;
  port: number;
  secure: boolean;
  user: string | null;
  password: string | null;
  from: string;
  to: string;
}

/** E-mail over SMTP (nodemailer), plain text. */
export class SmtpChannel implements NotificationChannel {
  readonly name = "email";
  readonly #transport: Transporter;
  readonly #s: SmtpSettings;
  constructor(s: SmtpSettings) {
    this.#s = s;
    this.#transport = nodemailer.createTransport({
      host: s.host,
      port: s.port,
      secure: s.secure,
      ...(s.user !== null ? { auth: { user: s.user, pass: s.password ?? "" } } : {}),
      connectionTimeout: TIMEOUT_MS,
      greetingTimeout: TIMEOUT_MS,
      socketTimeout: TIMEOUT_MS,
    });
  }

  async send(notice: AlarmNotice): Promise<void> {
    const a = notice.alarm;
    const lines = [
      title(notice),
      "",
      a.message,
      "",
      `Code: ${a.code}`,
      `About: ${a.subject}`,
      `Raised: ${a.raisedAt.toISOString()}`,
      ...(a.clearedAt ? [`Cleared: ${a.clearedAt.toISOString()}`] : []),
    ];
    try {
      await this.#transport.sendMail({ from: this.#s.from, to: this.#s.to, subject: `[otj] ${title(notice)}`, text: `${lines.join("\n")}\n` });
    } catch (error) {
      const e = error as { code?: string; responseCode?: number };
      throw new NotificationError(`SMTP failed (${e.responseCode ?? e.code ?? "error"})`);
    }
  }

  close(): void {
    this.#transport.close();
  }
}

/** The channels the configuration turns on. */
export function channelsFromConfig(alerts: Config["alerts"]): NotificationChannel[] {
  const out: NotificationChannel[] = [];
  if (alerts.webhook.url !== null && alerts.webhook.secret !== null) out.push(new WebhookChannel(alerts.webhook.url, alerts.webhook.secret));
  if (alerts.teams.url !== null) out.push(new TeamsChannel(alerts.teams.url));
  const smtp = alerts.smtp;
  if (smtp.host !== null && smtp.from !== null && smtp.to !== null) {
    out.push(
      new SmtpChannel({ host: smtp.host, port: smtp.port, secure: smtp.secure, user: smtp.user, password: smtp.password, from: smtp.from, to: smtp.to }),
    );
  }
  return out;
}

export interface NotifierOptions {
  channels: readonly NotificationChannel[];
  clock: Clock;
  logger: Logger;
  /** Attempts per notice and channel. */
  maxAttempts: number;
  /** Wait before the first retry; doubles each time (with jitter: core/backoff.ts). */
  retryBaseMs: number;
  /** The jitter's random source (default Math.random; tests pass \`() => 1\` for exact waits). */
  random?: () => number;
  /** Counts each final outcome (`delivered` / `failed`) per channel. */
  onOutcome?: (channel: string, outcome: "delivered" | "failed") => void;
}

export interface DeliveryProblem {
  channel: string;
  since: Date;
  message: string;
}

export class AlarmNotifier {
  readonly #failing = new Map<string, DeliveryProblem>();
  readonly #timers = new Set<() => void>();
  readonly #inFlight = new Set<Promise<void>>();
  #stopped = false;
  readonly #o: NotifierOptions;

  constructor(o: NotifierOptions) {
    this.#o = o;
  }

  get channelNames(): string[] {
    return this.#o.channels.map((c) => c.name);
  }

  /** Sends a notice to every channel (in the background); retries on the clock. */
  notify(notice: AlarmNotice): void {
    for (const channel of this.#o.channels) this.#attempt(channel, notice, 1);
  }

  /** Channels whose last notice could not be delivered after every attempt. */
  problems(): DeliveryProblem[] {
    return [...this.#failing.values()];
  }

  /** Resolves when no attempt is running (retries waiting on the clock do not count). */
  async settled(): Promise<void> {
    while (this.#inFlight.size > 0) await Promise.allSettled([...this.#inFlight]);
  }

  stop(): void {
    this.#stopped = true;
    for (const cancel of this.#timers) cancel();
    this.#timers.clear();
    for (const c of this.#o.channels) c.close?.();
  }

  #attempt(channel: NotificationChannel, notice: AlarmNotice, n: number): void {
    if (this.#stopped) return;
    const run = channel.send(notice).then(
      () => {
        this.#failing.delete(channel.name);
        this.#o.onOutcome?.(channel.name, "delivered");
      },
      (error: unknown) => {
        const message = error instanceof NotificationError ? error.message : "failed";
        if (n < this.#o.maxAttempts && !this.#stopped) {
          this.#o.logger.warn({ channel: channel.name, attempt: n, err: message, code: notice.alarm.code }, "alarm notification failed; retrying");
          const wait = backoffMs(n - 1, { baseMs: this.#o.retryBaseMs }, this.#o.random);
          const at = new Date(this.#o.clock.now().getTime() + wait);
          const cancel = this.#o.clock.setTimer(at, () => {
            this.#timers.delete(cancel);
            this.#attempt(channel, notice, n + 1);
          });
          this.#timers.add(cancel);
          return;
        }
        this.#o.logger.error({ channel: channel.name, attempts: n, err: message, code: notice.alarm.code }, "alarm notification not delivered");
        const previous = this.#failing.get(channel.name);
        this.#failing.set(channel.name, {
          channel: channel.name,
          since: previous?.since ?? this.#o.clock.now(),
          message: `the ${notice.event} notice of ${notice.alarm.code} (${notice.alarm.subject}) was not delivered after ${n} attempt(s): ${message}`,
        });
        this.#o.onOutcome?.(channel.name, "failed");
      },
    );
    this.#inFlight.add(run);
    void run.finally(() => this.#inFlight.delete(run));
  }
}
