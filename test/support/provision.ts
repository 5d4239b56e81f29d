/**
 * What `npm test` needs on a fresh machine, provisioned before the run (package.json `pretest`):
 * Debian's Chromium for the admin console's browser tests. When it is missing and we are root on
 * a Debian-like system, it is installed with apt-get (the package index refreshed when needed);
 * otherwise the run stops at once with a message that says what to do.
 */
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { resolve } from "node:path";
import { fileURLToPath } from "node:url";

export interface ProvisionHost {
  /** The browser binary the tests use (test/support/browser.ts). */
  chromium: string;
  exists: (path: string) => boolean;
  isRoot: boolean;
  /** Runs a command, inheriting output; resolves to its exit status. */
  run: (command: string, args: string[]) => number;
  log: (line: string) => void;
}

/** Returns 0 when Chromium is there (found or installed), 1 with a message otherwise. */
export function provisionChromium(host: ProvisionHost): number {
  if (host.exists(host.chromium)) return 0;
  const how = "install Debian's chromium package (apt-get install -y chromium) or set OTJ_CHROMIUM to a Chromium binary";
  if (host.chromium !== "/usr/bin/chromium") {
    host.log(`pretest: OTJ_CHROMIUM names ${host.chromium}, which does not exist: ${how}`);
    return 1;
  }
  if (!host.isRoot || !host.exists("/usr/bin/apt-get")) {
    host.log(`pretest: the browser tests need Chromium at /usr/bin/chromium and this user cannot install it: ${how}`);
    return 1;
  }
  host.log("pretest: installing chromium from Debian's packages for the browser tests");
  const install = () => host.run("apt-get", ["install", "-y", "-q", "chromium"]);
  if (install() !== 0) {
    // A fresh machine often has no package index yet.
    if (host.run("apt-get", ["update", "-q"]) !== 0 || install() !== 0) {
      host.log(`pretest: apt-get could not install chromium: ${how}`);
      return 1;
    }
  }
  if (!host.exists(host.chromium)) {
    host.log(`pretest: chromium was installed but ${host.chromium} is still missing: ${how}`);
    return 1;
  }
  return 0;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  process.exitCode = provisionChromium({
    chromium: process.env.OTJ_CHROMIUM ?? "/usr/bin/chromium",
    exists: existsSync,
    isRoot: process.getuid?.() === 0,
    run: (command, args) => spawnSync(command, args, { stdio: ["ignore", "inherit", "inherit"], env: { ...process.env, DEBIAN_FRONTEND: "noninteractive" } }).status ?? 1,
    log: (line) => console.error(line),
  });
}
