/** `npm test`'s pretest: Chromium is installed when missing (as root), else a clear message and exit 1. */
import { describe, expect, it } from "vitest";
import { type PostgresHost, type ProvisionHost, provisionChromium, provisionPostgres } from "../support/provision.ts";

function host(options: { present?: string[]; isRoot?: boolean; chromium?: string; results?: Record<string, number[]>; installs?: boolean }) {
  const present = new Set(options.present ?? ["/usr/bin/apt-get"]);
  const ran: string[] = [];
  const logs: string[] = [];
  const results = options.results ?? {};
  const h: ProvisionHost = {
    chromium: options.chromium ?? "/usr/bin/chromium",
    exists: (p) => present.has(p),
    isRoot: options.isRoot ?? true,
    run: (command, args) => {
      const line = `${command} ${args.join(" ")}`;
      ran.push(line);
      const status = results[args[0]!]?.shift() ?? 0;
      if (status === 0 && args[0] === "install" && options.installs !== false) present.add("/usr/bin/chromium");
      return status;
    },
    log: (l) => logs.push(l),
  };
  return { h, ran, logs };
}

describe("provisionChromium", () => {
  it("does nothing when Chromium is there", () => {
    const { h, ran } = host({ present: ["/usr/bin/chromium"] });
    expect(provisionChromium(h)).toBe(0);
    expect(ran).toEqual([]);
  });

  it("installs Debian's chromium as root when it is missing", () => {
    const { h, ran } = host({});
    expect(provisionChromium(h)).toBe(0);
    expect(ran).toEqual(["apt-get install -y -q chromium"]);
  });

  it("refreshes the package index and tries again when the first install fails", () => {
    const { h, ran } = host({ results: { install: [100, 0] } });
    expect(provisionChromium(h)).toBe(0);
    expect(ran).toEqual(["apt-get install -y -q chromium", "apt-get update -q", "apt-get install -y -q chromium"]);
  });

  it("stops with a message when apt-get cannot install it", () => {
    const { h, logs } = host({ results: { install: [100, 100] } });
    expect(provisionChromium(h)).toBe(1);
    expect(logs.at(-1)).toMatch(/apt-get could not install chromium: install Debian's chromium package .* or set OTJ_CHROMIUM/);
  });

  it("stops with a message, installing nothing, when not root", () => {
    const { h, ran, logs } = host({ isRoot: false });
    expect(provisionChromium(h)).toBe(1);
    expect(ran).toEqual([]);
    expect(logs.join("\n")).toMatch(/cannot install it: install Debian's chromium package/);
  });

  it("never installs over an OTJ_CHROMIUM path that does not exist", () => {
    const { h, ran, logs } = host({ chromium: "/opt/chrome/chrome" });
    expect(provisionChromium(h)).toBe(1);
    expect(ran).toEqual([]);
    expect(logs.join("\n")).toContain("/opt/chrome/chrome");
  });

  it("fails when the install succeeds but the binary is still missing", () => {
    const { h } = host({ installs: false });
    expect(provisionChromium(h)).toBe(1);
  });
});

function pgHost(options: {
  databaseUrl?: string;
  up?: boolean;
  isRoot?: boolean;
  clusters?: string[];
  installs?: boolean;
  starts?: boolean;
  createFails?: boolean;
}) {
  let up = options.up ?? false;
  let clusters = options.clusters ?? [];
  const steps: string[] = [];
  const logs: string[] = [];
  const h: PostgresHost = {
    databaseUrl: options.databaseUrl,
    isRoot: options.isRoot ?? true,
    hasAptGet: true,
    reachable: async () => up,
    clusters: () => clusters,
    run: (command, args) => {
      steps.push(`${command} ${args.join(" ")}`);
      if (args[0] === "install" && options.installs !== false) clusters = ["17"];
      if (command === "pg_ctlcluster" && options.starts !== false) up = true;
      return args[0] === "install" && options.installs === false ? 100 : 0;
    },
    trustLocal: (v) => {
      steps.push(`trust ${v}`);
    },
    waitReachable: async () => up,
    ensureTestDatabase: async () => {
      if (options.createFails) throw new Error("role does not exist");
      steps.push("ensure test");
    },
    log: (l) => logs.push(l),
  };
  return { h, steps, logs };
}

describe("provisionPostgres", () => {
  it("leaves a server named by DATABASE_URL alone", async () => {
    const { h, steps } = pgHost({ databaseUrl: "postgres://db.example/test" });
    expect(await provisionPostgres(h)).toBe(0);
    expect(steps).toEqual([]);
  });

  it("only makes sure the test database exists when PostgreSQL already answers", async () => {
    const { h, steps } = pgHost({ up: true });
    expect(await provisionPostgres(h)).toBe(0);
    expect(steps).toEqual(["ensure test"]);
  });

  it("installs, trusts local connections, starts and creates the test database on a fresh machine", async () => {
    const { h, steps } = pgHost({});
    expect(await provisionPostgres(h)).toBe(0);
    expect(steps).toEqual(["apt-get install -y -q postgresql", "trust 17", "pg_ctlcluster --skip-systemctl-redirect 17 main start", "ensure test"]);
  });

  it("starts an installed but stopped cluster without reinstalling or touching its authentication", async () => {
    const { h, steps } = pgHost({ clusters: ["15"] });
    expect(await provisionPostgres(h)).toBe(0);
    expect(steps).toEqual(["pg_ctlcluster --skip-systemctl-redirect 15 main start", "ensure test"]);
  });

  it("stops with a message when not root, when the install fails, when it does not start, or when the database cannot be made", async () => {
    for (const options of [{ isRoot: false }, { installs: false }, { starts: false }, { up: true, createFails: true }]) {
      const { h, logs } = pgHost(options);
      expect(await provisionPostgres(h), JSON.stringify(options)).toBe(1);
      expect(logs.at(-1)).toMatch(/or set DATABASE_URL/);
    }
  });
});
