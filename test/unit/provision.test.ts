/** `npm test`'s pretest: Chromium is installed when missing (as root), else a clear message and exit 1. */
import { describe, expect, it } from "vitest";
import { type ProvisionHost, provisionChromium } from "../support/provision.ts";

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
