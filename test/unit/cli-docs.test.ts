/** docs/cli.md documents every command and every option the CLI has (read from the program itself). */
import { readFileSync } from "node:fs";
import type { Command } from "commander";
import { describe, expect, it } from "vitest";
import { buildCompleteProgram } from "../../app/cli.ts";

const doc = readFileSync(new URL("../../docs/cli.md", import.meta.url), "utf8");
const STORE_OPTIONS = new Set(["--config", "--database-url"]);

/** The text under `### <name>` up to the next heading of that level or above. */
function section(name: string): string | null {
  const at = doc.indexOf(`\n### ${name}\n`);
  if (at < 0) return null;
  const rest = doc.slice(at + 1);
  const next = rest.slice(4).search(/\n##+ /);
  return next < 0 ? rest : rest.slice(0, next + 4);
}

/** A section plus the sections it defers to ("Options as for `otj plan`", "add's flags"). */
function documented(name: string): string | null {
  const own = section(name);
  if (own === null) return null;
  let text = own;
  for (const m of own.matchAll(/as for\s+`(otj [a-z ]+)`/g)) text += section(m[1]!) ?? "";
  if (/\badd's flags\b/.test(own)) text += section(name.replace(/ \S+$/, " add")) ?? "";
  return text;
}

function commands(cmd: Command, prefix = "otj"): Array<{ name: string; flags: string[] }> {
  const out: Array<{ name: string; flags: string[] }> = [];
  for (const sub of cmd.commands) {
    const name = `${prefix} ${sub.name()}`;
    const flags = sub.options.map((o) => o.long).filter((f): f is string => f !== undefined);
    // A group (`otj rooms`) with subcommands and no action of its own is documented by its children.
    if (sub.commands.length === 0) out.push({ name, flags });
    out.push(...commands(sub, name));
  }
  return out;
}

const io = { stdout: () => {}, stderr: () => {}, readStdin: async () => Buffer.alloc(0), env: {}, cwd: process.cwd() };
const all = commands(await buildCompleteProgram(io));

describe("docs/cli.md", () => {
  it("reads the program's commands", () => {
    expect(all.map((c) => c.name)).toEqual(expect.arrayContaining(["otj parse", "otj rooms add", "otj bridge check"]));
  });

  it("has a section for every command", () => {
    expect(all.filter((c) => section(c.name) === null).map((c) => c.name)).toEqual([]);
  });

  it("names every option of every command in its section", () => {
    const missing: string[] = [];
    for (const c of all) {
      const text = documented(c.name) ?? "";
      for (const flag of c.flags) {
        if (STORE_OPTIONS.has(flag) && text.includes("store options")) continue;
        if (!new RegExp(`[\\s\`[]${flag}(?![a-z-])`).test(text)) missing.push(`${c.name} ${flag}`);
      }
    }
    expect(missing).toEqual([]);
  });

  it("would notice an undocumented option (the check can fail)", () => {
    expect(/[\s`[]--no-such-flag(?![a-z-])/.test(documented("otj parse") ?? "")).toBe(false);
    expect(section("otj no-such-command")).toBeNull();
  });
});
