/** A CVI provider record and its inputs (`providers add`, `providers set`). */
import type { Partner } from "../domain.ts";

/** A CVI provider record, like the Teams video interop service provider cmdlets' objects. */
export interface Provider {
  /** Opaque, `pv_` + 10 characters. */
  id: string;
  /** Unique, case-insensitive. */
  name: string;
  partner: Partner;
  /** The partner's SIP address for the tenant (`contoso@m.webex.com`), as printed in invites. */
  tenantKey: string | null;
  /** Lowercase DNS name; the SGJ `{domain}` and Pexip direct-dial domain. */
  sipDomain: string | null;
  /** Replaces the tenant key as the IVR address (docs/formats.md). */
  ivrAddress: string | null;
  sgjEnabled: boolean;
  /** SGJ dial string template (docs/formats.md); null means the default template. */
  sgjTemplate: string | null;
  /** Like the cmdlets' InstructionUri. */
  instructionUrl: string | null;
  createdAt: Date;
  updatedAt: Date;
}

/** Input of `providers add`; absent optional fields are null, `sgjEnabled` defaults to true. */
export interface NewProvider {
  name: string;
  partner: string;
  tenantKey?: string | null;
  sipDomain?: string | null;
  ivrAddress?: string | null;
  sgjEnabled?: boolean;
  sgjTemplate?: string | null;
  instructionUrl?: string | null;
}

/** Input of `providers set`: only the fields present change; null clears an optional field. */
export type ProviderChanges = Partial<NewProvider>;
