/**
 * Change-notification subscriptions in the Graph emulator: the validation
 * handshake on create, change notifications on `/users/{id}/events`, lifecycle notifications,
 * and a log of every delivery with the subscriber's latency.
 *
 * Deliveries are real HTTP POSTs made in the background; `flush()` waits for all of them, so
 * tests wait for a state instead of sleeping.
 */

import { randomUUID } from "node:crypto";

export type LifecycleEvent = "reauthorizationRequired" | "subscriptionRemoved" | "missed";

export interface Subscription {
  readonly id: string;
  readonly resource: string;
  readonly mailbox: string;
  readonly userId: string;
  readonly changeType: string;
  readonly notificationUrl: string;
  readonly lifecycleNotificationUrl: string | null;
  readonly clientState: string | null;
  expirationMs: number;
}

export interface Delivery {
  readonly kind: "validation" | "change" | "lifecycle";
  readonly subscriptionId: string | null;
  readonly url: string;
  /** HTTP status, or 0 when the subscriber did not answer. */
  readonly status: number;
  readonly latencyMs: number;
  readonly at: string;
  /** The JSON posted (null for a validation request). */
  readonly payload: unknown;
}

export interface SubscriptionHubOptions {
  readonly now: () => Date;
  readonly publicRoot: string;
  readonly tenantId: string;
  readonly applicationId: string;
  /** Graph gives the subscriber 10 s to echo the validation token. */
  readonly validationTimeoutMs?: number;
  /** Graph expects an answer to a notification within 3 s. */
  readonly deliveryTimeoutMs?: number;
}

/** At most 10,080 minutes without resource data. */
export const MAX_LIFETIME_MS = 10_080 * 60_000;

export class SubscriptionHub {
  readonly #options: SubscriptionHubOptions;
  readonly #subscriptions = new Map<string, Subscription>();
  readonly #pending = new Set<Promise<void>>();
  readonly deliveries: Delivery[] = [];

  constructor(options: SubscriptionHubOptions) {
    this.#options = options;
  }

  list(): Subscription[] {
    return [...this.#subscriptions.values()];
  }

  get(id: string): Subscription | undefined {
    return this.#subscriptions.get(id);
  }

  add(subscription: Omit<Subscription, "id">): Subscription {
    const created: Subscription = { ...subscription, id: randomUUID() };
    this.#subscriptions.set(created.id, created);
    return created;
  }

  remove(id: string): boolean {
    return this.#subscriptions.delete(id);
  }

  /**
   * The handshake: POST `{url}?validationToken=…` and expect 200 with the token as the body.
   * @returns null when the subscriber answered correctly, else why not.
   */
  async validate(url: string): Promise<string | null> {
    const token = `Validation: Testing client application reachability for subscription Request-Id: ${randomUUID()}`;
    const target = `${url}${url.includes("?") ? "&" : "?"}validationToken=${encodeURIComponent(token)}`;
    const started = performance.now();
    let status = 0;
    let answer = "";
    try {
      const response = await fetch(target, {
        method: "POST",
        headers: { "Content-Type": "text/plain; charset=utf-8" },
        signal: AbortSignal.timeout(this.#options.validationTimeoutMs ?? 10_000),
      });
      status = response.status;
      answer = await response.text();
    } catch {
      this.#log("validation", null, url, 0, started, null);
      return "Subscription validation request timed out.";
    }
    this.#log("validation", null, url, status, started, null);
    if (status !== 200 || answer !== token) {
      return "Subscription validation request failed. Response must exactly match validationToken query parameter.";
    }
    return null;
  }

  /** Notifies every live subscription on the mailbox whose changeType covers the change. */
  notifyChange(mailbox: string, change: { id: string; changeType: string; changeKey: string }): void {
    const now = this.#options.now().getTime();
    for (const s of this.#subscriptions.values()) {
      if (s.mailbox !== mailbox || s.expirationMs <= now || !s.changeType.split(",").includes(change.changeType)) continue;
      const resource = `Users/${s.userId}/Events/${change.id}`;
      const payload = {
        value: [
          {
            subscriptionId: s.id,
            subscriptionExpirationDateTime: new Date(s.expirationMs).toISOString(),
            changeType: change.changeType,
            resource,
            resourceData: { "@odata.type": "#Microsoft.Graph.Event", "@odata.id": resource, "@odata.etag": `W/"${change.changeKey}"`, id: change.id },
            clientState: s.clientState,
            tenantId: this.#options.tenantId,
          },
        ],
      };
      this.#deliver("change", s.id, s.notificationUrl, payload);
    }
  }

  /** Sends a lifecycle notification; `subscriptionRemoved` also removes the subscription. */
  lifecycle(id: string, event: LifecycleEvent): void {
    const s = this.#subscriptions.get(id);
    if (!s) throw new RangeError(`no subscription ${id}`);
    const payload = {
      value: [
        {
          subscriptionId: s.id,
          subscriptionExpirationDateTime: new Date(s.expirationMs).toISOString(),
          tenantId: this.#options.tenantId,
          clientState: s.clientState,
          lifecycleEvent: event,
        },
      ],
    };
    if (event === "subscriptionRemoved") this.#subscriptions.delete(id);
    this.#deliver("lifecycle", s.id, s.lifecycleNotificationUrl ?? s.notificationUrl, payload);
  }

  /** Resolves once every delivery started so far (and any started meanwhile) has finished. */
  async flush(): Promise<void> {
    while (this.#pending.size > 0) await Promise.all([...this.#pending]);
  }

  #deliver(kind: "change" | "lifecycle", subscriptionId: string, url: string, payload: unknown): void {
    const started = performance.now();
    const run = (async () => {
      let status = 0;
      try {
        const response = await fetch(url, {
          method: "POST",
          headers: { "Content-Type": "application/json" },
          body: JSON.stringify(payload),
          signal: AbortSignal.timeout(this.#options.deliveryTimeoutMs ?? 3_000),
        });
        status = response.status;
        await response.arrayBuffer();
      } catch {
        status = 0;
      }
      this.#log(kind, subscriptionId, url, status, started, payload);
    })();
    this.#pending.add(run);
    void run.finally(() => this.#pending.delete(run));
  }

  #log(kind: Delivery["kind"], subscriptionId: string | null, url: string, status: number, started: number, payload: unknown): void {
    this.deliveries.push({
      kind,
      subscriptionId,
      url,
      status,
      latencyMs: Math.round(performance.now() - started),
      at: this.#options.now().toISOString(),
      payload,
    });
  }

  /** The JSON Graph answers for a subscription. */
  render(s: Subscription): Record<string, unknown> {
    return {
      "@odata.context": `${this.#options.publicRoot}/v1.0/$metadata#subscriptions/$entity`,
      id: s.id,
      resource: s.resource,
      applicationId: this.#options.applicationId,
      changeType: s.changeType,
      clientState: s.clientState,
      notificationUrl: s.notificationUrl,
      notificationQueryOptions: null,
      lifecycleNotificationUrl: s.lifecycleNotificationUrl,
      expirationDateTime: new Date(s.expirationMs).toISOString().replace("Z", "0000Z"),
      creatorId: this.#options.applicationId,
      includeResourceData: null,
      latestSupportedTlsVersion: "v1_2",
      encryptionCertificate: null,
      encryptionCertificateId: null,
      notificationUrlAppId: null,
    };
  }
}
