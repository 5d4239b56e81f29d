/**
 * The published package: `npm pack` of this checkout (with the dist/ that `npm test` has just
 * built) installs globally into an empty prefix and runs from there: `otj --version`, `otj parse`
 * and the whole `otj demo`, with nothing of the checkout on its path.
 */
import { execFile } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, describe, expect, it } from "vitest";

const run = promisify(execFile);
const ROOT = new URL("../..", import.meta.url).pathname;
const work = mkdtempSync(join(tmpdir(), "otj-package-"));
const npm = process.platform === "win32" ? "npm.cmd" : "npm";

afterAll(() => rmSync(work, { recursive: true, force: true }));

describe("the npm package", () => {
  it("packs, installs into an empty prefix and runs --version, parse and the demo", { timeout: 900_000 }, async () => {
    expect(existsSync(join(ROOT, "dist/app/cli.js")), "dist/ is built by `npm test` (npm run build) before the tests").toBe(true);
    // prepack would build dist/ again: it is fresh already.
    await run(npm, ["pack", "--ignore-scripts", "--pack-destination", work], { cwd: ROOT, maxBuffer: 16 << 20 });
    const tarball = readdirSync(work).find((file) => file.endsWith(".tgz"));
    expect(tarball).toBeDefined();
    const prefix = join(work, "prefix");
    await run(npm, ["install", "--global", "--prefix", prefix, join(work, tarball!), "--prefer-offline", "--no-audit", "--no-fund"], {
      cwd: work,
      maxBuffer: 16 << 20,
    });
    const otj = join(prefix, "bin", "otj");
    const env = { ...process.env, OTJ_FROM_SOURCE: "" };
    const manifest = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { version: string };

    const version = await run(otj, ["--version"], { cwd: work, env });
    expect(version.stdout.trim()).toBe(manifest.version);

    const fixture = join(ROOT, "test/fixtures/invites/06-ics-exchange-v5-request.ics");
    const parsed = await run(otj, ["parse", fixture, "--json"], { cwd: work, env });
    expect(JSON.parse(parsed.stdout)).toMatchObject({ format: "ics", invites: [expect.objectContaining({ subject: "Supplier review" })] });

    // The installed copy runs its compiled code, never the checkout's sources.
    const installed = join(prefix, "lib", "node_modules", "otj");
    expect(existsSync(join(installed, "dist/app/cli.js"))).toBe(true);
    expect(existsSync(join(installed, "app"))).toBe(false);

    const demo = await run(otj, ["demo"], { cwd: work, env, maxBuffer: 16 << 20 });
    expect(demo.stdout).toMatch(/^Bridge sessions: .*=ended/m);
    expect(demo.stdout).toMatch(/cvi +1198563286\.contoso@m\.webex\.com +pushed/);
    // The Poly room reads the EWS feed with otj's own EWS client (no devDependency in the package).
    expect(demo.stdout).toMatch(/^ {2}10:00-10:45 {2}Product roadmap review +-> dials 1198563286\.contoso@m\.webex\.com$/m);
  });
});
