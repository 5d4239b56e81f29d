/**
 * Audit lines of the console's changes, as event log entries (`admin.*` kinds): who made the
 * change and how they signed in, what changed, and the record before and after. Secrets never
 * reach the log: a string under a key that names a password, token or secret is masked.
 */
import type { NewLoggedEvent } from "../../../core/ports/store.ts";
import type { ConsoleIdentity } from "./session.ts";

export interface AuditEntry {
  /** `admin.room-added`, `admin.room-changed`, `admin.room-removed`, `admin.device-token-rotated`, `admin.poll-now`, `admin.provider-*`, `admin.import`, `admin.sign-in`. */
  kind: string;
  roomId?: string | null;
  message: string;
  before?: unknown;
  after?: unknown;
  data?: Record<string, unknown>;
}

const SECRET_KEY = /password|token|secret/i;
export const MASK = "***";

/** A JSON copy of `value` with secret strings masked (dates as ISO text). */
export function maskSecrets(value: unknown): unknown {
  if (value instanceof Date) return value.toISOString();
  if (Array.isArray(value)) return value.map(maskSecrets);
  if (value !== null && typeof value === "object") {
    const out: Record<string, unknown> = {};
    for (const [key, child] of Object.entries(value)) {
      out[key] = SECRET_KEY.test(key) && typeof child === "string" && child !== "" ? MASK : maskSecrets(child);
    }
    return out;
  }
  return value;
}

export function adminAudit(at: Date, by: ConsoleIdentity, entry: AuditEntry): NewLoggedEvent {
  return {
    at,
    kind: entry.kind,
    roomId: entry.roomId ?? null,
    message: `${by.who}: ${entry.message}`,
    data: maskSecrets({
      who: by.who,
      via: by.via,
      role: by.role,
      ...(by.via === "token" ? { breakGlass: true } : {}),
      ...(entry.before !== undefined ? { before: entry.before } : {}),
      ...(entry.after !== undefined ? { after: entry.after } : {}),
      ...entry.data,
    }) as Record<string, unknown>,
  };
}
