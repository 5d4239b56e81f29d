/** The form that adds or edits a room. */
import { CALENDAR_SOURCES } from "../../../core/domain.ts";
import type { Provider, Room } from "../../../core/ports/store.ts";
import { DELIVERIES, DEVICE_FAMILIES, PRIVATE_JOIN, PRIVATE_MEETINGS, SUBJECT_REPLACE } from "../../../store/validation.ts";
import { html } from "./html.ts";
import { checkbox, csrfField, type PageContext, page, select, text } from "./views.ts";

/** Form values as entered (re-shown after an error); passwords are never echoed. */
export type RoomForm = Record<string, string | undefined>;

export function roomFormValues(room: Room): RoomForm {
  return {
    mailbox: room.mailbox,
    displayName: room.displayName,
    provider: room.providerName ?? "",
    deviceFamily: room.device.family,
    deviceAddress: room.device.address ?? "",
    deviceUsername: room.device.username ?? "",
    insecureTls: room.device.insecureTls ? "true" : undefined,
    allowInsecureHttp: room.device.allowInsecureHttp ? "true" : undefined,
    sipUri: room.sipUri ?? "",
    privateMeetings: room.privacy.privateMeetings,
    subjectReplace: room.privacy.subjectReplace,
    subjectTemplate: room.privacy.subjectTemplate,
    privateJoin: room.privacy.privateJoin,
    webrtc: room.webrtc.join(","),
    delivery: room.delivery,
    source: room.source,
  };
}

export function roomFormPage(ctx: PageContext, providers: Provider[], values: RoomForm, room: Room | null): string {
  const v = (k: string) => values[k] ?? "";
  const title = room ? `Edit ${room.displayName}` : "Add room";
  return page(
    title,
    { ...ctx, section: "rooms" },
    html`<form method="post" action="${room ? `/admin/rooms/${room.id}` : "/admin/rooms"}" class="card form">${csrfField(ctx.csrf)}
<fieldset><legend>Room</legend>
${room ? html`<p>Mailbox <code>${room.mailbox}</code> (fixed: it names the room's meetings)</p>` : text("mailbox", "Mailbox", v("mailbox"), { required: true, type: "email", hint: "the room's mailbox address" })}
${text("displayName", "Display name", v("displayName"), { required: true, hint: "also the guest name when the room joins as a guest" })}
${
  providers.length === 0
    ? html`<p class="errors">Add a provider first.</p>`
    : select(
        "provider",
        "Provider",
        providers.map((p) => p.name),
        v("provider") || (providers[0]?.name ?? ""),
      )
}
${text("sipUri", "Room SIP URI", v("sipUri"), { hint: "optional, user@host" })}
${select("source", "Calendar source", CALENDAR_SOURCES, v("source") || "graph")}</fieldset>
<fieldset><legend>Device</legend>
${select("deviceFamily", "Device family", DEVICE_FAMILIES, v("deviceFamily") || "xapi")}
${text("deviceAddress", "Device address", v("deviceAddress"), { hint: "https://host[:port] for xapi, webex://<deviceId> for webex-cloud, empty for pull" })}
${text("deviceUsername", "Device username", v("deviceUsername"))}
${text("devicePassword", "Device password", "", { type: "password", autocomplete: "new-password", hint: room ? (room.device.hasPassword ? "a password is set; leave empty to keep it (a new device address needs it again)" : "no password is set") : "write-only: it is never shown again" })}
${room?.device.hasPassword ? checkbox("clearPassword", "Clear the stored password", values.clearPassword === "true") : ""}
${checkbox("insecureTls", "Do not verify the device's TLS certificate (self-signed)", values.insecureTls === "true")}
${text("webrtc", "Joins over WebRTC", v("webrtc"), { hint: "teams, meet (comma-separated): the device joins these meetings natively; empty for none" })}
${select("delivery", "Delivery (empty: the family's default)", ["", ...DELIVERIES], v("delivery"))}
${checkbox("allowInsecureHttp", "Allow plain http:// to this device (the password crosses the network in clear)", values.allowInsecureHttp === "true")}</fieldset>
<fieldset><legend>Privacy</legend>
${select("privateMeetings", "Private meetings", PRIVATE_MEETINGS, v("privateMeetings") || "process")}
${select("subjectReplace", "Replace subject", SUBJECT_REPLACE, v("subjectReplace") || "private")}
${text("subjectTemplate", "Subject template", v("subjectTemplate") || "Private meeting", { hint: "placeholders {organizerName} and {subject}" })}
${select("privateJoin", "Join private meetings", PRIVATE_JOIN, v("privateJoin") || "enabled")}</fieldset>
<div class="actions"><button type="submit">${room ? "Save" : "Add room"}</button> <a href="${room ? `/admin/rooms/${room.id}` : "/admin/rooms"}">Cancel</a></div></form>`,
  );
}
