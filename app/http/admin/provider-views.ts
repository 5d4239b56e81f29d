/** The Providers pages: the list with the add form, and one provider's edit and remove forms. */
import type { Provider } from "../../../core/ports/store.ts";
import { PARTNERS } from "../../../store/validation.ts";
import { type Html, html } from "./html.ts";
import { can, checkbox, csrfField, type PageContext, page, text, select } from "./views.ts";

export type ProviderForm = Record<string, string | undefined>;

export function providerFormValues(p: Provider): ProviderForm {
  return {
    name: p.name,
    partner: p.partner,
    tenantKey: p.tenantKey ?? "",
    sipDomain: p.sipDomain ?? "",
    ivrAddress: p.ivrAddress ?? "",
    sgjEnabled: p.sgjEnabled ? "true" : undefined,
    sgjTemplate: p.sgjTemplate ?? "",
    instructionUrl: p.instructionUrl ?? "",
  };
}

function providerFields(values: ProviderForm): Html {
  const v = (k: string) => values[k] ?? "";
  return html`${text("name", "Name", v("name"), { required: true })}
${select("partner", "Partner", PARTNERS, v("partner") || "cisco")}
${text("tenantKey", "Tenant key", v("tenantKey"), { hint: "the partner's SIP address for the tenant, as printed in invites (contoso@m.webex.com)" })}
${text("sipDomain", "SIP domain", v("sipDomain"), { hint: "the guest join {domain}" })}
${text("ivrAddress", "IVR address", v("ivrAddress"))}
${checkbox("sgjEnabled", "SIP Guest Join for external meetings", values.sgjEnabled === "true")}
${text("sgjTemplate", "SGJ dial string template", v("sgjTemplate"), { hint: "empty for the default" })}
${text("instructionUrl", "Instruction URL", v("instructionUrl"), { type: "url" })}`;
}

export function providersPage(ctx: PageContext, providers: Provider[], usage: Map<string, number>, values: ProviderForm): string {
  // Providers are changed by admins only: others see the list.
  const admin = can(ctx, "admin");
  return page(
    "Providers",
    { ...ctx, section: "providers" },
    html`<div class="scroll"><table id="providers"><thead><tr><th scope="col">Name</th><th scope="col">Partner</th><th scope="col">Tenant key</th><th scope="col">SIP domain</th><th scope="col">SGJ</th><th scope="col">Rooms</th><th scope="col"><span class="sr-only">Actions</span></th></tr></thead><tbody>
${providers.map(
  (
    p,
  ) => html`<tr><td>${p.name}</td><td>${p.partner}</td><td>${p.tenantKey ?? "-"}</td><td>${p.sipDomain ?? "-"}</td><td>${p.sgjEnabled ? "on" : "off"}</td><td>${usage.get(p.id) ?? 0}</td>
<td>${admin ? html`<a href="/admin/providers/${p.id}/edit" aria-label="Edit ${p.name}">Edit</a>` : ""}</td></tr>`,
)}</tbody></table></div>
${
  admin
    ? html`<h2>Add provider</h2>
<form method="post" action="/admin/providers" class="card form">${csrfField(ctx.csrf)}${providerFields(values)}
<div class="actions"><button type="submit">Add provider</button></div></form>`
    : ""
}`,
  );
}

export function providerEditPage(ctx: PageContext, provider: Provider, values: ProviderForm, rooms: number): string {
  return page(
    `Provider ${provider.name}`,
    { ...ctx, section: "providers" },
    html`<form method="post" action="/admin/providers/${provider.id}" class="card form">${csrfField(ctx.csrf)}${providerFields(values)}
<div class="actions"><button type="submit">Save</button> <a href="/admin/providers">Cancel</a></div></form>
<form method="post" action="/admin/providers/${provider.id}/remove" class="card">${csrfField(ctx.csrf)}
<p>${rooms > 0 ? `${rooms} room(s) use this provider: removing it makes them fall back to the built-in defaults.` : "No room uses this provider."}</p>
${rooms > 0 ? checkbox("force", "Remove it anyway", false) : ""}
<button type="submit" class="danger">Remove provider</button></form>`,
  );
}
