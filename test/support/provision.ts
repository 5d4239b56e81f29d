/**
 * What `npm test` needs on a fresh machine, provisioned before the run (package.json `pretest`):
 * Debian's Chromium for the admin console's browser tests, and PostgreSQL at 127.0.0.1:5432 with
 * a `test` database for the integration tests (unless DATABASE_URL names another server). When
 * one is missing and we are root on a Debian-like system, it is installed with apt-get (the
 * package index refreshed when needed) and started; otherwise the run stops at once with a
 * message that says what to do.
 */
import { spawnSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { connect } from "node:net";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import pg from "pg";

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

export interface PostgresHost {
  /** DATABASE_URL when set: then the tests use that server and nothing is provisioned. */
  databaseUrl: string | undefined;
  isRoot: boolean;
  hasAptGet: boolean;
  /** Whether 127.0.0.1:5432 accepts connections. */
  reachable: () => Promise<boolean>;
  /** Installed clusters' versions (/etc/postgresql/<version>/main). */
  clusters: () => string[];
  run: (command: string, args: string[]) => number;
  /** Switches a fresh cluster's local and host lines to trust (a test machine). */
  trustLocal: (version: string) => void;
  /** Waits until `reachable`, at most `seconds`. */
  waitReachable: (seconds: number) => Promise<boolean>;
  /** Creates the `test` database when it does not exist. */
  ensureTestDatabase: () => Promise<void>;
  log: (line: string) => void;
}

/** Returns 0 when the tests' PostgreSQL answers (found, or installed and started), 1 otherwise. */
export async function provisionPostgres(host: PostgresHost): Promise<number> {
  if (host.databaseUrl) return 0;
  const how =
    "start PostgreSQL on 127.0.0.1:5432 with trust authentication for local connections, or set DATABASE_URL to a server the tests may create databases on";
  if (!(await host.reachable())) {
    if (!host.isRoot || !host.hasAptGet) {
      host.log(`pretest: the integration tests need PostgreSQL at 127.0.0.1:5432 and this user cannot install it: ${how}`);
      return 1;
    }
    if (host.clusters().length === 0) {
      host.log("pretest: installing PostgreSQL from Debian's packages for the integration tests");
      const install = () => host.run("apt-get", ["install", "-y", "-q", "postgresql"]);
      if (install() !== 0 && (host.run("apt-get", ["update", "-q"]) !== 0 || install() !== 0)) {
        host.log(`pretest: apt-get could not install postgresql: ${how}`);
        return 1;
      }
      const [version] = host.clusters();
      if (version === undefined) {
        host.log(`pretest: postgresql was installed but has no cluster: ${how}`);
        return 1;
      }
      host.trustLocal(version);
    }
    const [version] = host.clusters();
    host.log(`pretest: starting PostgreSQL ${version}`);
    host.run("pg_ctlcluster", ["--skip-systemctl-redirect", version!, "main", "start"]);
    if (!(await host.waitReachable(60))) {
      host.log(`pretest: PostgreSQL ${version} did not start: ${how}`);
      return 1;
    }
  }
  try {
    await host.ensureTestDatabase();
  } catch (error) {
    host.log(`pretest: cannot create the test database on 127.0.0.1:5432 (${(error as Error).message}): ${how}`);
    return 1;
  }
  return 0;
}

function portOpen(): Promise<boolean> {
  return new Promise((done) => {
    const socket = connect({ host: "127.0.0.1", port: 5432 });
    const finish = (ok: boolean) => {
      socket.destroy();
      done(ok);
    };
    socket.once("connect", () => finish(true));
    socket.once("error", () => finish(false));
    socket.setTimeout(2_000, () => finish(false));
  });
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const isRoot = process.getuid?.() === 0;
  const run = (command: string, args: string[]) =>
    spawnSync(command, args, { stdio: ["ignore", "inherit", "inherit"], env: { ...process.env, DEBIAN_FRONTEND: "noninteractive" } }).status ?? 1;
  const log = (line: string) => console.error(line);
  const chromium = provisionChromium({ chromium: process.env.OTJ_CHROMIUM ?? "/usr/bin/chromium", exists: existsSync, isRoot, run, log });
  const postgres = await provisionPostgres({
    databaseUrl: process.env.DATABASE_URL || undefined,
    isRoot,
    hasAptGet: existsSync("/usr/bin/apt-get"),
    reachable: portOpen,
    clusters: () =>
      existsSync("/etc/postgresql")
        ? readdirSync("/etc/postgresql")
            .filter((v) => existsSync(join("/etc/postgresql", v, "main")))
            .sort()
        : [],
    run,
    trustLocal: (version) => {
      const file = join("/etc/postgresql", version, "main", "pg_hba.conf");
      writeFileSync(file, readFileSync(file, "utf8").replace(/^((?:local|host)\s.*?)(peer|scram-sha-256|md5)[ \t]*$/gm, "$1trust"));
    },
    waitReachable: async (seconds) => {
      for (let i = 0; i < seconds; i++) {
        if (await portOpen()) return true;
        await new Promise((r) => setTimeout(r, 1_000));
      }
      return portOpen();
    },
    ensureTestDatabase: async () => {
      const client = new pg.Client({ host: "127.0.0.1", port: 5432, user: "postgres", database: "postgres", connectionTimeoutMillis: 5_000 });
      await client.connect();
      try {
        const found = await client.query("SELECT 1 FROM pg_database WHERE datname = 'test'");
        if (found.rowCount === 0) await client.query("CREATE DATABASE test");
      } finally {
        await client.end();
      }
    },
    log,
  });
  process.exitCode = chromium === 0 && postgres === 0 ? 0 : 1;
}
