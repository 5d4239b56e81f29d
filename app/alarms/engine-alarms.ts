/**
 * What is wrong right now, as alarms (docs/operations.md, "Alarms and notifications"): the rooms'
 * alarms of the status (poll, push, provider, failed guest joins, devices that stopped fetching:
 * app/alarms/device-fetch.ts) plus the engine-wide ones (change notifications that keep failing
 * among them). Pure:
 * the evaluator gathers the inputs and records the raise/clear transitions.
 */
import type { ActiveAlarm } from "../../core/ports/alarm-store.ts";
import type { NotificationFailures } from "../../core/ports/notification-failures.ts";
import type { Provider, Room } from "../../core/ports/store.ts";
import { sgjDomainProblem } from "../../join/join-planner.ts";
import { FEATURE_ROLES, missingRoles } from "../doctor.ts";
import type { StatusOutput } from "../status.ts";

export interface EngineAlarmInputs {
  now: Date;
  rooms: readonly Room[];
  providers: readonly Provider[];
  status: StatusOutput;
  /** `bridge.adapter` is set. */
  bridgeConfigured: boolean;
  /** `secrets.key` is set. */
  secretsKeySet: boolean;
  /**
   * Application roles in the Graph app's token (`roles` claim), or null when unknown (no Graph,
   * no token yet): then no consent alarm.
   */
  graphRoles: readonly string[] | null;
  /** Features configured that use Graph permissions. */
  graphFeatures: { calendar: boolean; graphBridge: boolean };
  /** Notification channels whose last delivery failed after its retries. */
  deliveryProblems: ReadonlyArray<{ channel: string; message: string }>;
  /**
   * Change notifications: per kind, the rooms whose subscription (Graph) or channel (Google) failed
   * `alarms.pollFailuresBeforeAlarm` times or more in a row, or null when that kind is off
   * (`graph.notifications.enabled`, `google.notifications.enabled`). Absent: both off.
   */
  notifications?: { pollIntervalSeconds: number; graph: NotificationFailures | null; google: NotificationFailures | null };
}

/** Longest error message an OTJ_NOTIFICATIONS_FAILING alarm quotes. */
const MAX_QUOTED = 200;

/** The alarm message of one kind of change notifications, or null when none of its rooms keeps failing. */
function notificationsAlarm(what: string, failures: NotificationFailures | null, pollIntervalSeconds: number): string | null {
  if (failures === null || failures.rooms === 0) return null;
  const message = failures.lastMessage ?? "";
  const quoted = message.length > MAX_QUOTED ? `${message.slice(0, MAX_QUOTED)}...` : message;
  const last = failures.lastCode === null ? quoted : `${failures.lastCode}: ${quoted}`;
  return `${failures.rooms} room(s): ${what} failing (last: ${last.trim()}); the rooms are still polled every ${pollIntervalSeconds} s (poll.intervalSeconds)`;
}

export function currentAlarms(input: EngineAlarmInputs): ActiveAlarm[] {
  const out: ActiveAlarm[] = [];
  const byMailbox = new Map(input.rooms.map((r) => [r.mailbox, r]));
  // The rooms' alarms as the status shows them; one per room and code.
  for (const entry of input.status.rooms) {
    const room = byMailbox.get(entry.mailbox);
    if (!room) continue;
    for (const a of entry.alarms) {
      const key = `room:${room.id}:${a.code}`;
      if (!out.some((o) => o.key === key)) out.push({ key, code: a.code, roomId: room.id, subject: room.mailbox, message: a.message });
    }
  }

  const engine = (key: string, code: string, subject: string, message: string) => out.push({ key: `engine:${key}`, code, roomId: null, subject, message });

  if (!input.bridgeConfigured) {
    const sgj = input.status.rooms.filter((r) => r.meetings.some((m) => m.route === "sgj"));
    if (sgj.length > 0) {
      const meetings = sgj.reduce((n, r) => n + r.meetings.filter((m) => m.route === "sgj").length, 0);
      engine(
        "bridge",
        "OTJ_BRIDGE_NOT_CONFIGURED",
        "engine",
        `${meetings} meeting(s) in ${sgj.length} room(s) are planned for SIP Guest Join but bridge.adapter is not set: those joins will fail`,
      );
    }
  }

  for (const p of input.providers) {
    const problem = sgjDomainProblem(p);
    if (problem !== null) engine(`provider:${p.id}`, "OTJ_PROVIDER_INVALID", `provider ${p.name}`, problem);
  }

  if (!input.secretsKeySet) {
    const stored = input.rooms.filter((r) => r.device.hasPassword).length;
    if (stored > 0)
      engine(
        "secrets",
        "OTJ_CONFIG_SECRETS_KEY_UNSET",
        "engine",
        `${stored} room(s) store a device password but secrets.key is not set: the passwords are stored unencrypted`,
      );
  }

  if (input.graphRoles !== null) {
    const granted = input.graphRoles;
    const missing = (roles: readonly string[]) => missingRoles(granted, roles);
    const needs: Array<[string, readonly string[]]> = [];
    if (input.graphFeatures.calendar) needs.push(["calendar polling", FEATURE_ROLES.calendar]);
    if (input.graphFeatures.graphBridge) needs.push(["the Graph bridge", FEATURE_ROLES.graphBridge]);
    for (const [feature, roles] of needs) {
      const lacking = missing(roles);
      if (lacking.length > 0) {
        engine(
          `consent:${feature}`,
          "OTJ_GRAPH_CONSENT_MISSING",
          "graph",
          `${feature} needs ${lacking.join(", ")}, which the app's token does not carry: add the application permission and grant admin consent`,
        );
      }
    }
  }

  const n = input.notifications;
  if (n) {
    const graph = notificationsAlarm("Graph change subscriptions", n.graph, n.pollIntervalSeconds);
    if (graph !== null) engine("notifications:graph", "OTJ_NOTIFICATIONS_FAILING", "graph-subscriptions", graph);
    const google = notificationsAlarm("Google events.watch channels", n.google, n.pollIntervalSeconds);
    if (google !== null) engine("notifications:google", "OTJ_NOTIFICATIONS_FAILING", "google-channels", google);
  }

  for (const d of input.deliveryProblems) engine(`delivery:${d.channel}`, "OTJ_ALERT_DELIVERY_FAILED", `alerts ${d.channel}`, d.message);
  return out;
}
