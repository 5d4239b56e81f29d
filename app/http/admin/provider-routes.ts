/** The console's Providers pages: list, add, edit and remove (admins), each change audited. */
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import type { NewProvider, ProviderChanges } from "../../../core/ports/store.ts";
import { type ConsoleContext, routeOf } from "./context.ts";
import { type Form, formOf, optional, params, problemsOf } from "./input.ts";
import { providerEditPage, providerFormValues, providersPage } from "./provider-views.ts";

const providerInput = (form: Form): NewProvider & ProviderChanges => ({
  name: (form.name ?? "").trim(),
  partner: form.partner ?? "",
  tenantKey: optional(form.tenantKey),
  sipDomain: optional(form.sipDomain),
  ivrAddress: optional(form.ivrAddress),
  sgjEnabled: form.sgjEnabled === "true",
  sgjTemplate: optional(form.sgjTemplate),
  instructionUrl: optional(form.instructionUrl),
});

export function providerRoutes(app: FastifyInstance, c: ConsoleContext): void {
  const { deps, store, now, send } = c;
  const providerUsage = () => store.rooms.countByProvider();
  const roomsUsing = async (providerId: string) => (await providerUsage()).get(providerId) ?? 0;
  const providerOr404 = async (req: FastifyRequest, reply: FastifyReply) => {
    const provider = await store.providers.get(params(req).id);
    if (provider === null) c.notFound(req, reply, "provider");
    return provider;
  };

  app.get("/providers", routeOf(), async (req, reply) =>
    send(reply, providersPage(c.ctx(req), await store.providers.list(), await providerUsage(), { sgjEnabled: "true" })),
  );

  app.post("/providers", routeOf("admin"), async (req, reply) => {
    const form = formOf(req);
    try {
      const added = await store.providers.add(providerInput(form), now());
      await c.audit(req, { kind: "admin.provider-added", message: `added provider ${added.name}`, after: added });
      return reply.redirect("/admin/providers?done=provider-added", 303);
    } catch (error) {
      return send(reply, providersPage(c.ctx(req, { errors: problemsOf(error) }), await store.providers.list(), await providerUsage(), form), 400);
    }
  });

  app.get("/providers/:id/edit", routeOf(), async (req, reply) => {
    const provider = await providerOr404(req, reply);
    if (!provider) return reply;
    return send(reply, providerEditPage(c.ctx(req), provider, providerFormValues(provider), await roomsUsing(provider.id)));
  });

  app.post("/providers/:id", routeOf("admin"), async (req, reply) => {
    const provider = await providerOr404(req, reply);
    if (!provider) return reply;
    const form = formOf(req);
    try {
      const saved = await store.providers.update(provider.id, providerInput(form), now());
      await c.audit(req, { kind: "admin.provider-changed", message: `changed provider ${provider.name}`, before: provider, after: saved });
      for (const room of await store.rooms.list({ providerId: provider.id })) deps.onRoomChanged?.(room);
      return reply.redirect("/admin/providers?done=provider-saved", 303);
    } catch (error) {
      return send(reply, providerEditPage(c.ctx(req, { errors: problemsOf(error) }), provider, form, await roomsUsing(provider.id)), 400);
    }
  });

  app.post("/providers/:id/remove", routeOf("admin"), async (req, reply) => {
    const provider = await providerOr404(req, reply);
    if (!provider) return reply;
    const form = formOf(req);
    try {
      const rooms = await store.rooms.list({ providerId: provider.id });
      await store.providers.remove(provider.id, form.force === "true", now());
      await c.audit(req, {
        kind: "admin.provider-removed",
        message: `removed provider ${provider.name}`,
        before: provider,
        data: { force: form.force === "true", rooms: rooms.length },
      });
      for (const room of rooms) deps.onRoomChanged?.(room);
      return reply.redirect("/admin/providers?done=provider-removed", 303);
    } catch (error) {
      const page = providerEditPage(c.ctx(req, { errors: problemsOf(error) }), provider, providerFormValues(provider), await roomsUsing(provider.id));
      return send(reply, page, 409);
    }
  });
}
