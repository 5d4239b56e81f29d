/** `otj doctor [--room MAILBOX] [--json]`: checks the deployment from the inside; exit 1 when a check fails. */
import type { Command } from "commander";
import { systemClock } from "../../core/clock.ts";
import type { CliIo } from "../cli-context.ts";
import { CliExit } from "../cli-context.ts";
import type { StoreFlags } from "./migrate.ts";
import { addStoreOptions } from "./migrate.ts";

const MARKS = { pass: "PASS", fail: "FAIL", warn: "WARN", skip: "SKIP" } as const;

export function registerDoctorCommand(program: Command, io: CliIo): void {
  addStoreOptions(program.command("doctor").description("check configuration, database, Graph consent, a room's calendar, devices and the bridge"))
    .option("--room <mailbox>", "also check this room's calendar, its meetings' bodies and its device")
    .option("--json", "print {ok, checks:[{id, outcome, detail, fix?}]}")
    .action(async (flags: StoreFlags & { room?: string; json?: boolean }) => {
      const [{ loadConfig }, { createDatabase }, { PostgresStore }, { graphFromConfig }, { XapiDevicePusher }, { runDoctor, deviceCa }] = await Promise.all([
        import("../../core/config.ts"),
        import("../../store/create-database.ts"),
        import("../../store/postgres-store.ts"),
        import("../../calendar/graph/graph-from-config.ts"),
        import("../../join/pushers/xapi-device-pusher.ts"),
        import("../doctor.ts"),
      ]);
      let config: Awaited<ReturnType<typeof loadConfig>>;
      try {
        config = await loadConfig({ file: flags.config, env: io.env, cwd: io.cwd, overrides: { databaseUrl: flags.databaseUrl } });
      } catch (error) {
        const detail = error instanceof Error ? error.message : String(error);
        const fix = "docs/configuration.md lists every key; otj reads --config FILE, OTJ_CONFIG and OTJ_* variables";
        io.stdout(
          flags.json
            ? `${JSON.stringify({ ok: false, checks: [{ id: "config", outcome: "fail", detail, fix }] }, null, 2)}\n`
            : `FAIL  config: ${detail}\n      fix: ${fix}\n`,
        );
        throw new CliExit(1);
      }
      const report = await runDoctor(
        {
          config,
          cwd: io.cwd,
          clock: systemClock,
          openDatabase: async () => {
            const handle = await createDatabase(config.database.url, { cwd: io.cwd, poolSize: 2 });
            return { handle, store: new PostgresStore(handle.db, { secretKey: config.secrets.key }) };
          },
          graph: () => graphFromConfig(config, systemClock).client,
          pusher: new XapiDevicePusher({
            ca: deviceCa(config, io.cwd),
            webex: { token: config.devices.webex.token, baseUrl: "https://webexapis.com" },
            timeoutMs: 15_000,
          }),
        },
        flags.room !== undefined ? { room: flags.room } : {},
      );
      if (flags.json) {
        io.stdout(`${JSON.stringify(report, null, 2)}\n`);
      } else {
        for (const check of report.checks) {
          io.stdout(`${MARKS[check.outcome]}  ${check.id}: ${check.detail}\n`);
          if (check.fix && check.outcome !== "pass") io.stdout(`      fix: ${check.fix}\n`);
        }
        io.stdout(report.ok ? "All checks passed.\n" : "Some checks failed.\n");
      }
      if (!report.ok) throw new CliExit(1);
    });
}
