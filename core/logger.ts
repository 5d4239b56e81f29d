/**
 * The root logger (pino): JSON lines by default, secrets and passcodes redacted at the root, so
 * no component can log them by accident. Components get `logger.child({ component, ... })`.
 */
import { Writable } from "node:stream";
import { pino, type Logger, type DestinationStream } from "pino";

export type { Logger } from "pino";

/**
 * What a component logs through: fields and a message, at info or warn. A pino Logger (or a
 * child) fits; tests pass a recorder of their own.
 */
export interface ComponentLogger {
  info(obj: Record<string, unknown>, msg: string): void;
  warn(obj: Record<string, unknown>, msg: string): void;
}

/** Logs nothing: the default when a component is given no logger. */
export const SILENT_LOGGER: ComponentLogger = { info() {}, warn() {} };

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

const LEVEL_NAMES: Record<number, string> = { 10: "TRACE", 20: "DEBUG", 30: "INFO", 40: "WARN", 50: "ERROR", 60: "FATAL" };

/** A readable one-line-per-entry stream for terminals (`otj run` on a TTY); redaction already applied. */
export function prettyStream(out: NodeJS.WritableStream): DestinationStream {
  return new Writable({
    write(chunk, _encoding, done) {
      for (const line of String(chunk).split("\n")) {
        if (line.trim() === "") continue;
        try {
          const { level, time, msg, service: _s, ...rest } = JSON.parse(line) as Record<string, unknown>;
          const fields = Object.entries(rest)
            .map(([k, v]) => `${k}=${typeof v === "string" ? v : JSON.stringify(v)}`)
            .join(" ");
          out.write(
            `${String(time ?? "").slice(11, 19)} ${(LEVEL_NAMES[level as number] ?? String(level)).padEnd(5)} ${msg ?? ""}${fields ? `  ${fields}` : ""}\n`,
          );
        } catch {
          out.write(`${line}\n`);
        }
      }
      done();
    },
  });
}
