/**
 * HTTP to room devices: core's request with the device reply cap (4 MiB), and the table from
 * neutral transport and status kinds to our OTJ_DEVICE_* codes.
 */
import { type ErrorCode, OtjError } from "../../core/errors.ts";
import {
  classifyStatus as statusKind,
  classifyTransport,
  DEFAULT_MAX_REPLY_BYTES,
  type HttpReply,
  type HttpRequestOptions,
  httpRequest as request,
  ReplyTooLargeError,
  type StatusKind,
  type TransportKind,
} from "../../core/net/http-request.ts";

export type { HttpReply, HttpRequestOptions } from "../../core/net/http-request.ts";

/** The largest device reply read; a longer one fails with `OTJ_DEVICE_REPLY_TOO_LARGE` instead of being cut. */
export const MAX_REPLY_BYTES = DEFAULT_MAX_REPLY_BYTES;

const TRANSPORT_CODES: Readonly<Record<TransportKind, ErrorCode>> = {
  tls: "OTJ_DEVICE_TLS",
  timeout: "OTJ_DEVICE_UNREACHABLE",
  unreachable: "OTJ_DEVICE_UNREACHABLE",
  "too-large": "OTJ_DEVICE_REPLY_TOO_LARGE",
  other: "OTJ_DEVICE_UNREACHABLE",
};

const STATUS_CODES: Readonly<Record<StatusKind, ErrorCode | undefined>> = {
  ok: undefined,
  auth: "OTJ_DEVICE_AUTH",
  unavailable: "OTJ_DEVICE_UNREACHABLE",
  rejected: "OTJ_DEVICE_REJECTED",
};

/** A failed request to a device as an OtjError (an OtjError is kept as it is). */
export function classifyTransportError(error: unknown, what: string): OtjError {
  if (error instanceof OtjError) return error;
  if (error instanceof ReplyTooLargeError) {
    return new OtjError("OTJ_DEVICE_REPLY_TOO_LARGE", error.message, { details: { status: error.status, limitBytes: error.limitBytes }, cause: error });
  }
  const { kind, detail } = classifyTransport(error);
  return new OtjError(TRANSPORT_CODES[kind], `${what}: ${detail}`, { cause: error });
}

/** A device's HTTP status -> our code (undefined: success). */
export function classifyStatus(status: number): ErrorCode | undefined {
  return STATUS_CODES[statusKind(status)];
}

/** One request to a device: a reply over MAX_REPLY_BYTES fails with OTJ_DEVICE_REPLY_TOO_LARGE; other failures are Node's, for classifyTransportError. */
export async function httpRequest(url: string, options: HttpRequestOptions): Promise<HttpReply> {
  try {
    return await request(url, { maxReplyBytes: MAX_REPLY_BYTES, ...options });
  } catch (error) {
    throw error instanceof ReplyTooLargeError ? classifyTransportError(error, "") : error;
  }
}
