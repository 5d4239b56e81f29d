/** Prometheus metrics of the engine (GET /metrics), one registry per engine instance. */
import { Counter, Gauge, Histogram, Registry } from "prom-client";
import type { Store } from "../core/ports/store.ts";

export class EngineMetrics {
  readonly registry = new Registry();
  readonly pollRounds = new Counter({
    name: "otj_poll_rounds_total",
    help: "Room poll rounds by outcome",
    labelNames: ["outcome"],
    registers: [this.registry],
  });
  readonly pollRoundSeconds = new Histogram({
    name: "otj_poll_round_seconds",
    help: "Duration of poll rounds that polled at least one room (compare with poll.intervalSeconds)",
    buckets: [1, 5, 10, 30, 60, 120, 300, 600],
    registers: [this.registry],
  });
  readonly graphRequests = new Counter({
    name: "otj_graph_requests_total",
    help: "Graph requests by HTTP status",
    labelNames: ["status"],
    registers: [this.registry],
  });
  readonly throttleWaits = new Counter({
    name: "otj_graph_throttle_wait_seconds_total",
    help: "Seconds spent waiting on Graph throttling",
    registers: [this.registry],
  });
  readonly pushes = new Counter({ name: "otj_device_pushes_total", help: "Device pushes by result", labelNames: ["result"], registers: [this.registry] });
  #countSessions: (() => Promise<Record<string, number>>) | null = null;
  readonly bridgeSessions = new Gauge({
    name: "otj_bridge_sessions",
    help: "Bridge sessions by state: every live one, and the finished ones changed in the last 24 hours",
    labelNames: ["state"],
    registers: [this.registry],
    collect: async () => {
      if (!this.#countSessions) return;
      const counts = await this.#countSessions().catch(() => ({}) as Record<string, number>);
      this.bridgeSessions.reset();
      for (const [state, n] of Object.entries(counts)) this.bridgeSessions.set({ state }, n);
    },
  });

  /** Where the bridge-session gauge reads its counts at scrape time. */
  watchBridgeSessions(count: () => Promise<Record<string, number>>): void {
    this.#countSessions = count;
  }

  /**
   * The bridge-session gauge counts in the store's database at scrape time: every live session,
   * and the finished ones changed in the last 24 hours (never the whole history).
   */
  watchStore(store: Pick<Store, "bridgeSessions">, now: () => Date): void {
    this.watchBridgeSessions(() => store.bridgeSessions.countByState({ finishedSince: new Date(now().getTime() - 86_400_000) }));
  }
  readonly lateness = new Histogram({
    name: "otj_bridge_start_lateness_seconds",
    help: "Lateness of bridge session starts",
    buckets: [0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30],
    registers: [this.registry],
  });
  readonly alertNotifications = new Counter({
    name: "otj_alert_notifications_total",
    help: "Alarm notifications by channel and final outcome (delivered, or failed after every attempt)",
    labelNames: ["channel", "outcome"],
    registers: [this.registry],
  });
  readonly httpRequests = new Counter({
    name: "otj_http_requests_total",
    help: "HTTP API requests by route and status",
    labelNames: ["route", "status"],
    registers: [this.registry],
  });
}
