/**
 * Direct SIP/H.323 addresses for non-Teams providers (docs/formats.md "direct dial derived by
 * otj"): the printed address first, else what the URL allows. Never a pwd token.
 */
import type { Join } from "../core/domain.ts";
import type { InviteContext } from "../parser/index.ts";

export type ProviderRuleId = "zoom-crc" | "webex-sip" | "chime-sip" | "goto-sip" | "bluejeans-sip";

const RULE_BY_PROVIDER: Partial<Record<Join["provider"], ProviderRuleId>> = {
  zoom: "zoom-crc",
  webex: "webex-sip",
  chime: "chime-sip",
  gotomeeting: "goto-sip",
  bluejeans: "bluejeans-sip",
};

export interface ProviderAddress {
  rule: ProviderRuleId;
  address: string;
  /** Where it came from, for `otj explain`. */
  source: "printed" | "derived";
}

function numericPasscode(p: string | null): string | null {
  return p !== null && /^\d{1,10}$/.test(p) ? p : null;
}

export function providerDirectAddress(join: Join, ctx: InviteContext): ProviderAddress | { rule: ProviderRuleId; address: null; reason: string } | null {
  const rule = RULE_BY_PROVIDER[join.provider];
  if (!rule) return null;
  const printed = ctx.printedVideoAddresses.filter((a) => a.provider === join.provider);
  const link = ctx.providerLink;
  switch (join.provider) {
    case "zoom": {
      const address = printed[0];
      const passcode = numericPasscode(ctx.providerPasscode);
      if (address) {
        const withPass = address.passcode === null && passcode ? address.address.replace("@", `.${passcode}@`) : address.address;
        return { rule, address: withPass, source: "printed" };
      }
      if (link?.gov) return { rule, address: null, reason: "Zoom Gov meeting without a printed SIP address" };
      const id = link?.meetingId ?? null;
      if (!id) return { rule, address: null, reason: "Zoom personal link without a printed meeting id" };
      return { rule, address: `${id}${passcode ? `.${passcode}` : ""}@zoomcrc.com`, source: "derived" };
    }
    case "webex": {
      if (printed[0]) return { rule, address: printed[0].address, source: "printed" };
      if (link?.name && link.site) return { rule, address: `${link.name}@${link.site}.webex.com`.replace(/@(.*)$/, (m) => m.toLowerCase()), source: "derived" };
      if (ctx.providerMeetingNumber && link?.site) return { rule, address: `${ctx.providerMeetingNumber}@${link.site}.webex.com`, source: "derived" };
      return { rule, address: null, reason: "Webex link without a meeting number or a printed video address" };
    }
    case "chime":
      return printed[0] ? { rule, address: printed[0].address, source: "printed" } : { rule, address: null, reason: "no printed meet.chime.in address" };
    case "gotomeeting": {
      const at = printed.find((p) => p.address.includes("@")) ?? printed[0];
      return at ? { rule, address: at.address, source: "printed" } : { rule, address: null, reason: "no printed GoTo video address" };
    }
    case "bluejeans": {
      const id = link?.meetingId ?? null;
      if (!id) return { rule, address: null, reason: "BlueJeans link without a meeting id" };
      const pass = numericPasscode(link?.token ?? null);
      return { rule, address: `${id}${pass ? `.${pass}` : ""}@bjn.vc`, source: "derived" };
    }
    default:
      return null;
  }
}
