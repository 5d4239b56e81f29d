/**
 * The root logger (pino): JSON lines by default, secrets and passcodes redacted at the root, so
 * no component can log them by accident. Components get `logger.child({ component, ... })`.
 */
import { pino, type Logger, type DestinationStream } from "pino";

export type { Logger } from "pino";

/** Field names whose values never reach a log line, at any depth pino can address. */
export const REDACTED_KEYS = [
  "password",
  "devicePassword",
  "clientSecret",
  "secret",
  "hmacSecret",
  "token",
  "adminToken",
  "deviceToken",
  "accessToken",
  "access_token",
  "authorization",
  "passcode",
  "body",
];

export function createLogger(level: string, destination?: DestinationStream): Logger {
  const paths = REDACTED_KEYS.flatMap((k) => [k, `*.${k}`, `*.*.${k}`]);
  return pino(
    {
      level,
      base: { service: "otj" },
      redact: { paths: [...paths, "req.headers.authorization", 'req.headers["x-otj-signature"]'], censor: "[redacted]" },
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    destination,
  );
}
