/**
 * NTLM (NTLMv2 only) messages and responses for HTTP authentication to Exchange Server, as the
 * NTLM authentication protocol specification (MS-NLMP) defines them:
 *
 * - NEGOTIATE (type 1): what the client offers; CHALLENGE (type 2): the server's 8-byte challenge
 *   and its target information (AV pairs); AUTHENTICATE (type 3): user, domain and responses.
 * - NTOWFv2 = HMAC-MD5(MD4(UTF-16LE(password)), UTF-16LE(uppercase(user) + domain));
 *   NTProofStr = HMAC-MD5(NTOWFv2, serverChallenge + blob), where the blob holds the version
 *   bytes, the time, an 8-byte client challenge and the server's target information; the NT
 *   response is NTProofStr + blob.
 *
 * No signing or sealing (HTTP over TLS needs neither), no key exchange, no MIC. NTLMv1 and LM are
 * never sent. The emulator uses the same functions to check what the client sends.
 */
import { createHmac } from "node:crypto";
import { OtjError } from "../../core/errors.ts";
import { md4 } from "./md4.ts";

const SIGNATURE = Buffer.from("NTLMSSP\0", "latin1");

/** Negotiate flags: Unicode, request target, NTLM, always sign, extended session security, target info, 128-bit, 56-bit. */
export const NTLM_FLAGS = 0x00000001 | 0x00000004 | 0x00000200 | 0x00008000 | 0x00080000 | 0x00800000 | 0x20000000 | 0x80000000;

/** AV pair ids used here. */
const AV_EOL = 0;
const AV_TIMESTAMP = 7;

export interface ChallengeMessage {
  readonly flags: number;
  /** 8 bytes. */
  readonly serverChallenge: Buffer;
  /** The AV pairs, as sent (echoed in the NT response). */
  readonly targetInfo: Buffer;
}

export interface AuthenticateMessage {
  readonly flags: number;
  readonly user: string;
  readonly domain: string;
  readonly workstation: string;
  readonly lmResponse: Buffer;
  readonly ntResponse: Buffer;
}

export interface Ntlmv2Responses {
  readonly ntProofStr: Buffer;
  /** NTProofStr + blob. */
  readonly ntResponse: Buffer;
  readonly lmResponse: Buffer;
  readonly sessionBaseKey: Buffer;
}

const utf16 = (text: string) => Buffer.from(text, "utf16le");
const hmacMd5 = (key: Uint8Array, ...parts: Uint8Array[]) => {
  const mac = createHmac("md5", key);
  for (const part of parts) mac.update(part);
  return mac.digest();
};

/** A time as a FILETIME (100 ns steps since 1601-01-01), 8 bytes little-endian, as NTLM carries it. */
export function fileTime(date: Date): Buffer {
  const out = Buffer.alloc(8);
  out.writeBigUInt64LE((BigInt(date.getTime()) + 11_644_473_600_000n) * 10_000n);
  return out;
}

/** `DOMAIN\user` → user and domain; a UPN (`user@domain`) is the user with an empty domain, as Windows sends it. */
export function splitAccount(account: string): { user: string; domain: string } {
  const slash = account.indexOf("\\");
  return slash < 0 ? { user: account, domain: "" } : { user: account.slice(slash + 1), domain: account.slice(0, slash) };
}

/** The NT hash: MD4 of the UTF-16LE password. */
export function ntHash(password: string): Buffer {
  return md4(utf16(password));
}

/** NTOWFv2: the NTLMv2 response key of a user (the user is upper-cased, the domain is not). */
export function ntowfV2(password: string, user: string, domain: string): Buffer {
  return hmacMd5(ntHash(password), utf16(user.toUpperCase() + domain));
}

/**
 * The NTLMv2 responses for one challenge. `time` is the 8-byte FILETIME of the blob;
 * `zeroLm` sends an all-zero LM response (when the server sent a timestamp, as the protocol asks).
 */
export function ntlmv2Responses(
  key: Buffer,
  serverChallenge: Buffer,
  clientChallenge: Buffer,
  time: Buffer,
  targetInfo: Buffer,
  zeroLm = false,
): Ntlmv2Responses {
  const blob = Buffer.concat([Buffer.from([1, 1, 0, 0, 0, 0, 0, 0]), time, clientChallenge, Buffer.alloc(4), targetInfo, Buffer.alloc(4)]);
  const ntProofStr = hmacMd5(key, serverChallenge, blob);
  return {
    ntProofStr,
    ntResponse: Buffer.concat([ntProofStr, blob]),
    lmResponse: zeroLm ? Buffer.alloc(24) : Buffer.concat([hmacMd5(key, serverChallenge, clientChallenge), clientChallenge]),
    sessionBaseKey: hmacMd5(key, ntProofStr),
  };
}

/** NEGOTIATE (type 1): our flags, no domain or workstation. */
export function negotiateMessage(): Buffer {
  const out = Buffer.alloc(32);
  SIGNATURE.copy(out, 0);
  out.writeUInt32LE(1, 8);
  out.writeUInt32LE(NTLM_FLAGS >>> 0, 12);
  return out;
}

/** CHALLENGE (type 2), as a server builds it (the emulator). */
export function challengeMessage(serverChallenge: Buffer, targetInfo: Buffer, flags = NTLM_FLAGS): Buffer {
  const header = Buffer.alloc(48);
  SIGNATURE.copy(header, 0);
  header.writeUInt32LE(2, 8);
  writeField(header, 12, 0, 48); // no target name
  header.writeUInt32LE(flags >>> 0, 20);
  serverChallenge.copy(header, 24);
  writeField(header, 40, targetInfo.length, 48);
  return Buffer.concat([header, targetInfo]);
}

/** Reads a CHALLENGE message. @throws OtjError OTJ_EWS_BAD_RESPONSE when it is not one. */
export function parseChallengeMessage(message: Buffer): ChallengeMessage {
  if (message.length < 32 || !message.subarray(0, 8).equals(SIGNATURE) || message.readUInt32LE(8) !== 2) {
    throw new OtjError("OTJ_EWS_BAD_RESPONSE", "the server's NTLM challenge is not an NTLM CHALLENGE message");
  }
  const targetInfo = message.length >= 48 ? readField(message, 40) : Buffer.alloc(0);
  return { flags: message.readUInt32LE(20), serverChallenge: Buffer.from(message.subarray(24, 32)), targetInfo };
}

/** The server's timestamp from its target information, or null. */
export function targetTimestamp(targetInfo: Buffer): Buffer | null {
  for (let at = 0; at + 4 <= targetInfo.length; ) {
    const id = targetInfo.readUInt16LE(at);
    const length = targetInfo.readUInt16LE(at + 2);
    if (id === AV_EOL) return null;
    if (id === AV_TIMESTAMP && length === 8 && at + 12 <= targetInfo.length) return Buffer.from(targetInfo.subarray(at + 4, at + 12));
    at += 4 + length;
  }
  return null;
}

/** AUTHENTICATE (type 3) with Unicode strings and no session key. */
export function authenticateMessage(message: AuthenticateMessage): Buffer {
  const payload = [message.lmResponse, message.ntResponse, utf16(message.domain), utf16(message.user), utf16(message.workstation), Buffer.alloc(0)];
  const header = Buffer.alloc(64);
  SIGNATURE.copy(header, 0);
  header.writeUInt32LE(3, 8);
  let offset = header.length;
  payload.forEach((part, i) => {
    writeField(header, 12 + i * 8, part.length, offset);
    offset += part.length;
  });
  header.writeUInt32LE(message.flags >>> 0, 60);
  return Buffer.concat([header, ...payload]);
}

/** Reads an AUTHENTICATE message (the emulator), or null when it is not one. */
export function parseAuthenticateMessage(message: Buffer): AuthenticateMessage | null {
  if (message.length < 64 || !message.subarray(0, 8).equals(SIGNATURE) || message.readUInt32LE(8) !== 3) return null;
  try {
    const text = (at: number) => readField(message, at).toString("utf16le");
    return {
      lmResponse: readField(message, 12),
      ntResponse: readField(message, 20),
      domain: text(28),
      user: text(36),
      workstation: text(44),
      flags: message.readUInt32LE(60),
    };
  } catch {
    return null;
  }
}

/** The message type of a base64 NTLM token (1, 2 or 3), or null. */
export function messageType(message: Buffer): number | null {
  return message.length >= 12 && message.subarray(0, 8).equals(SIGNATURE) ? message.readUInt32LE(8) : null;
}

function writeField(buffer: Buffer, at: number, length: number, offset: number): void {
  buffer.writeUInt16LE(length, at);
  buffer.writeUInt16LE(length, at + 2);
  buffer.writeUInt32LE(offset, at + 4);
}

function readField(buffer: Buffer, at: number): Buffer {
  const length = buffer.readUInt16LE(at);
  const offset = buffer.readUInt32LE(at + 4);
  if (offset + length > buffer.length) throw new OtjError("OTJ_EWS_BAD_RESPONSE", "an NTLM message field points past its end");
  return Buffer.from(buffer.subarray(offset, offset + length));
}
