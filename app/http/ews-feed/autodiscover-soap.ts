/**
 * SOAP Autodiscover (`POST /autodiscover/autodiscover.svc`, Exchange 2010 and later): the
 * GetUserSettings operation, which EWS clients try before POX Autodiscover. otj answers for the
 * signed-in room only: its display name, its SMTP address and the EWS URL (internal and external
 * alike); a setting otj does not have is left out, as Exchange does; another mailbox gets the
 * per-user error InvalidUser.
 */
import { xml } from "./render.ts";
import { asArray, child, type SoapRequest, SoapFault, text } from "./soap.ts";

export const SOAP_AUTODISCOVER_PATH = "/autodiscover/autodiscover.svc";
const NS_AUTODISCOVER = "http://schemas.microsoft.com/exchange/2010/Autodiscover";
const NS_ADDRESSING = "http://www.w3.org/2005/08/addressing";
const NS_SOAP = "http://schemas.xmlsoap.org/soap/envelope/";
const NS_XSI = "http://www.w3.org/2001/XMLSchema-instance";
/** Users one request may name (Exchange allows 100). */
const MAX_USERS = 100;
/** EWS schema versions the feed answers (what `EwsSupportedSchemas` reports). */
const SUPPORTED_SCHEMAS = "Exchange2007, Exchange2007_SP1, Exchange2010, Exchange2010_SP1, Exchange2010_SP2, Exchange2013, Exchange2013_SP1";

export interface AutodiscoverRoom {
  mailbox: string;
  displayName: string;
}

/** The mailboxes and setting names a GetUserSettings request asks for. */
export function readGetUserSettings(parsed: SoapRequest): { mailboxes: string[]; settings: string[] } {
  if (parsed.operation !== "GetUserSettingsRequestMessage")
    throw new SoapFault("ErrorInvalidRequest", `operation ${parsed.operation.slice(0, 64)} is not supported by this server`);
  const request = child(parsed.request, "Request");
  const users = asArray(child(request, "Users")?.["User"]);
  if (users.length === 0 || users.length > MAX_USERS) throw new SoapFault("ErrorInvalidRequest", `GetUserSettings names 1 to ${MAX_USERS} users`);
  const mailboxes = users.map((u) => (text(u, "Mailbox") ?? "").trim().toLowerCase());
  const settings = asArray(child(request, "RequestedSettings")?.["Setting"])
    .slice(0, 100)
    .map((s) => (typeof s === "string" ? s : (((s as Record<string, unknown>)["#text"] as string | undefined) ?? "")));
  return { mailboxes, settings };
}

function settingsOf(room: AutodiscoverRoom, ewsUrl: string): Record<string, string> {
  return {
    UserDisplayName: room.displayName,
    AutoDiscoverSMTPAddress: room.mailbox,
    InternalEwsUrl: ewsUrl,
    ExternalEwsUrl: ewsUrl,
    EwsSupportedSchemas: SUPPORTED_SCHEMAS,
  };
}

/** The GetUserSettingsResponseMessage envelope for the signed-in room. */
export function getUserSettingsResponse(room: AutodiscoverRoom, asked: { mailboxes: string[]; settings: string[] }, ewsUrl: string): string {
  const known = settingsOf(room, ewsUrl);
  const users = asked.mailboxes.map((mailbox) => {
    if (mailbox !== room.mailbox)
      return `<UserResponse><ErrorCode>InvalidUser</ErrorCode><ErrorMessage>Invalid user: '${xml(mailbox)}'</ErrorMessage><RedirectTarget i:nil="true"/><UserSettingErrors/><UserSettings/></UserResponse>`;
    const settings = asked.settings
      .filter((name, i, all) => Object.hasOwn(known, name) && all.indexOf(name) === i)
      .map((name) => `<UserSetting i:type="StringSetting"><Name>${xml(name)}</Name><Value>${xml(known[name]!)}</Value></UserSetting>`)
      .join("");
    return `<UserResponse><ErrorCode>NoError</ErrorCode><ErrorMessage>No error.</ErrorMessage><RedirectTarget i:nil="true"/><UserSettingErrors/><UserSettings>${settings}</UserSettings></UserResponse>`;
  });
  return (
    `<?xml version="1.0" encoding="utf-8"?>` +
    `<s:Envelope xmlns:s="${NS_SOAP}" xmlns:a="${NS_ADDRESSING}">` +
    `<s:Header><a:Action s:mustUnderstand="1">${NS_AUTODISCOVER}/Autodiscover/GetUserSettingsResponse</a:Action>` +
    `<h:ServerVersionInfo xmlns:h="${NS_AUTODISCOVER}" xmlns:i="${NS_XSI}"><h:MajorVersion>15</h:MajorVersion><h:MinorVersion>1</h:MinorVersion><h:MajorBuildNumber>2507</h:MajorBuildNumber><h:MinorBuildNumber>6</h:MinorBuildNumber><h:Version>Exchange2015</h:Version></h:ServerVersionInfo></s:Header>` +
    `<s:Body><GetUserSettingsResponseMessage xmlns="${NS_AUTODISCOVER}"><Response xmlns:i="${NS_XSI}">` +
    `<ErrorCode>NoError</ErrorCode><ErrorMessage/><UserResponses>${users.join("")}</UserResponses>` +
    `</Response></GetUserSettingsResponseMessage></s:Body></s:Envelope>`
  );
}
