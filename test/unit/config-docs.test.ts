/** docs/configuration.md lists every configuration key with its environment variable and default. */
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { configKeys } from "../../core/config.ts";

const doc = readFileSync(new URL("../../docs/configuration.md", import.meta.url), "utf8");
const rows = doc.split("\n").filter((line) => line.startsWith("| `"));

/** Keys whose default is computed rather than a constant; the doc states it in words. */
const COMPUTED: Record<string, string> = {
  "graph.baseUrl": "`https://graph.microsoft.com` for `global`",
  "graph.authorityUrl": "`https://login.microsoftonline.com` for `global`",
  "http.publicUrl": "`http://127.0.0.1:{port}`",
};

describe("docs/configuration.md", () => {
  for (const key of configKeys()) {
    it(`documents ${key.path}`, () => {
      const row = rows.find((line) => line.startsWith(`| \`${key.path}\` |`));
      expect(row, `no row for ${key.path}`).toBeDefined();
      const [, env, defaultCell] = (row ?? "").split(" | ");
      expect(env).toContain(`\`${key.env}\``);
      const expected =
        COMPUTED[key.path] ??
        (key.defaultValue === null ? "unset" : `\`${typeof key.defaultValue === "string" ? key.defaultValue : JSON.stringify(key.defaultValue)}\``);
      expect(defaultCell).toContain(expected);
    });
  }

  it("documents no key that does not exist", () => {
    const known = new Set(configKeys().map((k) => k.path));
    const documented = rows.map((line) => /^\| `([^`]+)` \|/.exec(line)?.[1] ?? "");
    expect(documented.filter((path) => !known.has(path))).toEqual([]);
  });
});
