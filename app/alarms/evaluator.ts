/**
 * The alarm evaluator: on the engine's tick, works out which alarms hold now (app/alarms/
 * engine-alarms.ts), records the raise and clear transitions in the alarm history, and sends a
 * notice of each one that is not muted. Runs under the `alarms` job lease, so of several
 * instances one evaluates at a time.
 */
import type { Clock } from "../../core/clock.ts";
import type { Logger } from "../../core/logger.ts";
import type { AlarmTransitions } from "../../core/ports/alarm-store.ts";
import type { FailingNotifications } from "../../core/ports/notification-failures.ts";
import type { Store } from "../../core/ports/store.ts";
import { type StatusSettings, buildStatus } from "../status.ts";
import { currentAlarms } from "./engine-alarms.ts";
import type { AlarmNotifier } from "./notifier.ts";

/** How long one evaluation may hold the `alarms` lease before another instance may take over. */
const LEASE_MS = 5 * 60_000;

export interface AlarmEvaluatorDeps {
  store: Store;
  clock: Clock;
  logger: Logger;
  notifier: AlarmNotifier | null;
  settings: StatusSettings;
  bridgeConfigured: boolean;
  secretsKeySet: boolean;
  /** The application roles of the Graph app's token, null when unknown; absent without Graph. */
  graphRoles?: () => Promise<readonly string[] | null>;
  graphBridge: boolean;
  /** When the engine started (a pulling device that never fetched counts from here). */
  startedAt: Date;
  /**
   * Change notifications, for OTJ_NOTIFICATIONS_FAILING: the store of each kind that is enabled
   * (null when off), and `poll.intervalSeconds` for the message. Absent: no such alarm.
   */
  notifications?: { pollIntervalSeconds: number; graph: FailingNotifications | null; google: FailingNotifications | null };
}

export class AlarmEvaluator {
  readonly #d: AlarmEvaluatorDeps;

  constructor(d: AlarmEvaluatorDeps) {
    this.#d = d;
  }

  /** One evaluation; null when another instance holds the lease. */
  async evaluate(): Promise<AlarmTransitions | null> {
    const { store, clock } = this.#d;
    const now = clock.now();
    if (!(await store.retention.claimJob("alarms", now, LEASE_MS))) return null;
    try {
      const [rooms, providers, status] = await Promise.all([
        store.rooms.list(),
        store.providers.list(),
        buildStatus(store, now, { ...this.#d.settings, startedAt: this.#d.startedAt }),
      ]);
      const graphRoles = this.#d.graphRoles ? await this.#d.graphRoles().catch(() => null) : null;
      const notifications = await this.#notificationFailures();
      const active = currentAlarms({
        now,
        rooms,
        providers,
        status,
        bridgeConfigured: this.#d.bridgeConfigured,
        secretsKeySet: this.#d.secretsKeySet,
        graphRoles,
        graphFeatures: { calendar: this.#d.graphRoles !== undefined && rooms.some((r) => r.enabled && r.source === "graph"), graphBridge: this.#d.graphBridge },
        deliveryProblems: this.#d.notifier?.problems() ?? [],
        ...(notifications ? { notifications } : {}),
      });
      const transitions = await store.alarms.reconcile(active, now);
      for (const alarm of transitions.raised) this.#d.logger.warn({ code: alarm.code, subject: alarm.subject, alarmId: alarm.id }, "alarm raised");
      for (const alarm of transitions.cleared) this.#d.logger.info({ code: alarm.code, subject: alarm.subject, alarmId: alarm.id }, "alarm cleared");
      if (this.#d.notifier) {
        const muted = (a: { mutedUntil: Date | null }) => a.mutedUntil !== null && a.mutedUntil > now;
        for (const alarm of transitions.raised) if (!muted(alarm)) this.#d.notifier.notify({ event: "raised", alarm });
        for (const alarm of transitions.cleared) if (!muted(alarm)) this.#d.notifier.notify({ event: "cleared", alarm });
      }
      return transitions;
    } finally {
      await store.retention.releaseJob("alarms", clock.now()).catch(() => undefined);
    }
  }

  /** The rooms whose change notifications failed `pollFailuresBeforeAlarm` times or more in a row, per enabled kind. */
  async #notificationFailures() {
    const n = this.#d.notifications;
    if (!n) return undefined;
    const min = this.#d.settings.pollFailuresBeforeAlarm;
    const [graph, google] = await Promise.all([n.graph?.failing(min) ?? null, n.google?.failing(min) ?? null]);
    return { pollIntervalSeconds: n.pollIntervalSeconds, graph, google };
  }
}
