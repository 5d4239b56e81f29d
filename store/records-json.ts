/**
 * The JSON shapes of rooms and providers that `otj rooms|providers ... --json` print and the HTTP
 * API returns (docs/cli.md). Never a password or token: those have their own commands.
 */
import type { Provider, Room } from "../core/ports/store.ts";

export interface RoomJson {
  id: string;
  mailbox: string;
  displayName: string;
  provider: string | null;
  deviceFamily: string;
  deviceAddress: string | null;
  deviceUsername: string | null;
  hasDevicePassword: boolean;
  hasDeviceToken: boolean;
  insecureTls: boolean;
  allowInsecureHttp: boolean;
  sipUri: string | null;
  privateMeetings: string;
  subjectReplace: string;
  subjectTemplate: string;
  privateJoin: string;
  /** WebRTC platforms (`teams`, `meet`). */
  webrtc: string[];
  /** `xapi` | `macro` | `both`. */
  delivery: string;
  /** Calendar source: `graph`, `google` or `ews`. */
  source: string;
  enabled: boolean;
  createdAt: string;
  updatedAt: string;
}

export function roomJson(room: Room): RoomJson {
  return {
    id: room.id,
    mailbox: room.mailbox,
    displayName: room.displayName,
    provider: room.providerName,
    deviceFamily: room.device.family,
    deviceAddress: room.device.address,
    deviceUsername: room.device.username,
    hasDevicePassword: room.device.hasPassword,
    hasDeviceToken: room.device.hasToken,
    insecureTls: room.device.insecureTls,
    allowInsecureHttp: room.device.allowInsecureHttp,
    sipUri: room.sipUri,
    privateMeetings: room.privacy.privateMeetings,
    subjectReplace: room.privacy.subjectReplace,
    subjectTemplate: room.privacy.subjectTemplate,
    privateJoin: room.privacy.privateJoin,
    webrtc: [...room.webrtc],
    delivery: room.delivery,
    source: room.source,
    enabled: room.enabled,
    createdAt: room.createdAt.toISOString(),
    updatedAt: room.updatedAt.toISOString(),
  };
}

/** A provider record with ISO timestamps. */
export type ProviderJson = Omit<Provider, "createdAt" | "updatedAt"> & { createdAt: string; updatedAt: string };

export function providerJson(provider: Provider): ProviderJson {
  return { ...provider, createdAt: provider.createdAt.toISOString(), updatedAt: provider.updatedAt.toISOString() };
}
