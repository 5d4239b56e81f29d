/**
 * `otj providers add|set|list|remove` (docs/cli.md): CVI provider records, modelled on the Teams
 * video interop service provider cmdlets (New/Set/Get/Remove-CsVideoInteropServiceProvider).
 */
import { type Command, Option } from "commander";
import type { ProviderChanges } from "../../core/ports/store.ts";
import { providerJson } from "../../store/records-json.ts";
import { PARTNERS } from "../../store/validation.ts";
import type { CliIo } from "../cli-context.ts";
import { type StoreFlags, addStoreOptions, withCliStore } from "./migrate.ts";
import { commandGroup, renderTable } from "./rooms.ts";

interface ProviderFlags extends StoreFlags {
  name?: string;
  partner?: string;
  tenantKey?: string;
  sipDomain?: string;
  ivrAddress?: string;
  sgj?: boolean;
  sgjTemplate?: string;
  instructionUrl?: string;
  json?: boolean;
}

/** The record flags `add` and `set` share; `set` treats every one as optional, "" clears. */
function addProviderOptions(cmd: Command, mandatory: boolean): Command {
  const partner = new Option("--partner <partner>", "CVI partner").choices([...PARTNERS]);
  if (mandatory) partner.makeOptionMandatory();
  return cmd
    .addOption(partner)
    .option("--tenant-key <key>", "the partner's SIP address for the tenant, e.g. contoso@m.webex.com")
    .option("--sip-domain <domain>", "SIP domain (SGJ {domain}, Pexip direct dial)")
    .option("--ivr-address <address>", "IVR address replacing the tenant key")
    .option("--sgj", "SIP Guest Join enabled (the default)")
    .option("--no-sgj", "SIP Guest Join disabled")
    .option("--sgj-template <template>", "SGJ dial string: {meetingId} {passcode} {sessionId} {domain}")
    .option("--instruction-url <url>", "instructions page (like the cmdlets' InstructionUri)");
}

function changesOf(flags: ProviderFlags): ProviderChanges {
  const changes: ProviderChanges = {};
  if (flags.name !== undefined) changes.name = flags.name;
  if (flags.partner !== undefined) changes.partner = flags.partner;
  if (flags.tenantKey !== undefined) changes.tenantKey = flags.tenantKey;
  if (flags.sipDomain !== undefined) changes.sipDomain = flags.sipDomain;
  if (flags.ivrAddress !== undefined) changes.ivrAddress = flags.ivrAddress;
  if (flags.sgj !== undefined) changes.sgjEnabled = flags.sgj;
  if (flags.sgjTemplate !== undefined) changes.sgjTemplate = flags.sgjTemplate;
  if (flags.instructionUrl !== undefined) changes.instructionUrl = flags.instructionUrl;
  return changes;
}

export function registerProvidersCommands(program: Command, io: CliIo): void {
  const providers = commandGroup(program, "providers", "CVI provider records (tenant key, domain, SGJ settings)");

  addStoreOptions(addProviderOptions(providers.command("add").description("add a provider").requiredOption("--name <name>", "unique name"), true))
    .option("--json", "print the created record")
    .action(async (flags: ProviderFlags) => {
      await withCliStore(flags, io, async ({ store }) => {
        const provider = await store.providers.add({ name: flags.name ?? "", partner: flags.partner ?? "", ...changesOf(flags) }, new Date());
        if (flags.json) io.stdout(`${JSON.stringify(providerJson(provider))}\n`);
        io.stderr(`added provider ${provider.name} (${provider.partner})\n`);
      });
    });

  addStoreOptions(
    addProviderOptions(
      providers
        .command("set")
        .description("change a provider; only the flags given change, an empty value clears")
        .argument("<name>", "provider name or id")
        .option("--name <newName>", "rename"),
      false,
    ),
  )
    .option("--json", "print the updated record")
    .action(async (name: string, flags: ProviderFlags) => {
      await withCliStore(flags, io, async ({ store }) => {
        const provider = await store.providers.update(name, changesOf(flags), new Date());
        if (flags.json) io.stdout(`${JSON.stringify(providerJson(provider))}\n`);
        io.stderr(`updated provider ${provider.name}\n`);
      });
    });

  addStoreOptions(providers.command("list").description("list providers"))
    .option("--json", 'print {"providers":[...]}')
    .action(async (flags: ProviderFlags) => {
      await withCliStore(flags, io, async ({ store }) => {
        const list = await store.providers.list();
        if (flags.json) {
          io.stdout(`${JSON.stringify({ providers: list.map(providerJson) })}\n`);
          return;
        }
        if (list.length === 0) {
          io.stderr("no providers\n");
          return;
        }
        io.stdout(
          renderTable(
            ["NAME", "PARTNER", "TENANT KEY", "SIP DOMAIN", "SGJ", "SGJ TEMPLATE"],
            list.map((p) => [p.name, p.partner, p.tenantKey ?? "-", p.sipDomain ?? "-", p.sgjEnabled ? "on" : "off", p.sgjTemplate ?? "(default)"]),
          ),
        );
      });
    });

  addStoreOptions(
    providers.command("remove").description("remove a provider (refused while rooms use it, unless --force)").argument("<name>", "provider name or id"),
  )
    .option("--force", "remove even while rooms use it; those rooms fall back to the built-in defaults")
    .option("--json", "print the removed record")
    .action(async (name: string, flags: ProviderFlags & { force?: boolean }) => {
      await withCliStore(flags, io, async ({ store }) => {
        const { provider, detachedRooms } = await store.providers.remove(name, flags.force === true, new Date());
        if (flags.json) io.stdout(`${JSON.stringify(providerJson(provider))}\n`);
        io.stderr(`removed provider ${provider.name}${detachedRooms > 0 ? `; ${detachedRooms} room(s) now use the built-in defaults` : ""}\n`);
      });
    });
}
