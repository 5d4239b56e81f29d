/**
 * The SGJ side of the composition: the configured bridge adapter (the HTTP partner protocol for
 * `http`/`emulator`, Graph calls for `graph`, or none: due sessions end failed, not configured),
 * the BridgeScheduler on it, and the callback handlers the HTTP server routes to it.
 */
import { GraphMediaBridge } from "../bridge/adapters/graph-media-bridge.ts";
import { HttpMediaBridge } from "../bridge/adapters/http-media-bridge.ts";
import { BridgeScheduler } from "../bridge/bridge-scheduler.ts";
import { BridgeCallbacks } from "../bridge/callbacks.ts";
import { DeviceNotifier } from "../bridge/device-notice.ts";
import { DEFAULT_GRAPH_CALL_ISSUER, DEFAULT_GRAPH_CALL_OPENID_URL, GraphCallJwtVerifier } from "../bridge/graph-call-jwt.ts";
import type { GraphClient } from "../calendar/graph/graph-client.ts";
import type { Clock } from "../core/clock.ts";
import type { Config } from "../core/config.ts";
import type { Logger } from "../core/logger.ts";
import type { DevicePusher } from "../core/ports/device-pusher.ts";
import type { MediaBridge } from "../core/ports/media-bridge.ts";
import type { Store } from "../core/ports/store.ts";
import type { CallbackHandlers } from "./http/api/callbacks.ts";
import type { EngineMetrics } from "./metrics.ts";

/** Callback handlers; each gets the raw body bytes and checks its sender before parsing them. */
/** The callback routes' handlers the engine wires (app/http/api/callbacks.ts). */
export type EngineCallbacks = CallbackHandlers;

export interface BridgeWiringParts {
  config: Config;
  clock: Clock;
  logger: Logger;
  store: Store;
  pusher: DevicePusher;
  /** The bridge given in the engine's options (tests, the demo); undefined: the configured one. */
  bridge: MediaBridge | null | undefined;
  metrics: EngineMetrics;
  publicUrl: () => string;
  /** The Graph client when Graph is configured (the graph bridge adapter uses it). */
  graphClient: GraphClient | null;
  /** For the start retries' jitter; default Math.random. */
  random?: () => number;
}

export interface BridgeWiring {
  scheduler: BridgeScheduler;
  callbacks: EngineCallbacks;
  /** Closes what the wiring opened itself (the HTTP bridge's connection pool). */
  close(): void;
}

/** The HTTP partner bridge of `bridge.http.*`, or null when `bridge.adapter` is not `http`/`emulator` or it lacks its settings. */
function httpBridge(config: Config): HttpMediaBridge | null {
  const b = config.bridge;
  if ((b.adapter !== "http" && b.adapter !== "emulator") || !b.http.baseUrl || !b.http.hmacSecret) return null;
  return new HttpMediaBridge({
    baseUrl: b.http.baseUrl,
    token: b.http.token ?? "",
    hmacSecret: b.http.hmacSecret,
    timeoutMs: 10_000,
    maxConnections: b.maxStartsInFlight,
  });
}

export function wireBridge(parts: BridgeWiringParts): BridgeWiring {
  const { config, clock, store, logger } = parts;
  const b = config.bridge;
  const own = parts.bridge === undefined ? httpBridge(config) : null;
  let bridge = parts.bridge === undefined ? own : parts.bridge;
  if (b.adapter === "graph" && !bridge && parts.graphClient && config.graph.tenantId) {
    bridge = new GraphMediaBridge(parts.graphClient, { tenantId: config.graph.tenantId, callbackUri: `${parts.publicUrl()}/v1/callbacks/graph-calls` });
  }
  const scheduler = new BridgeScheduler({
    store,
    clock,
    bridge,
    adapter: bridge ? b.adapter : null,
    settings: {
      leadSeconds: b.leadSeconds,
      lobbyTimeoutSeconds: b.lobbyTimeoutSeconds,
      lateStartSeconds: b.lateStartSeconds,
      endGraceSeconds: b.endGraceSeconds,
      endBufferMinutes: config.join.endBufferMinutes,
      get callbackUrl() {
        return `${parts.publicUrl()}/v1/callbacks/bridge`;
      },
    },
    notifier: new DeviceNotifier({ store, pusher: parts.pusher, clock, logger: logger.child({ component: "device-notice" }) }),
    logger: logger.child({ component: "bridge" }),
    assumeLobbyAfterMs: b.adapter === "graph" ? 15_000 : null,
    maxStartsInFlight: b.maxStartsInFlight,
    sendAheadMs: b.sendAheadSeconds * 1000,
    onStartLateness: (ms) => parts.metrics.lateness.observe(ms / 1000),
    ...(parts.random ? { random: parts.random } : {}),
  });
  const graphJwt =
    b.adapter === "graph" && config.graph.clientId
      ? new GraphCallJwtVerifier(
          {
            issuer: b.graph.jwtIssuer ?? DEFAULT_GRAPH_CALL_ISSUER,
            audience: config.graph.clientId,
            openIdConfigUrl: b.graph.openIdConfigUrl ?? DEFAULT_GRAPH_CALL_OPENID_URL,
          },
          { clock },
        )
      : null;
  const handlers = new BridgeCallbacks({ actions: scheduler.actions, hmacSecret: b.http.hmacSecret, graphJwt });
  return {
    scheduler,
    callbacks: {
      bridge: (raw, signature) => handlers.handleBridgeCallback(raw, signature),
      // The JWT is checked first; the handler parses the body once, after it.
      graphCalls: (headers, raw) => handlers.handleGraphCallsCallback(headers, raw),
    },
    close: () => own?.close(),
  };
}
