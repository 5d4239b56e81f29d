/**
 * The Node.js range in package.json `engines` must be true: every installed package that
 * declares `engines.node` has to accept every Node version we claim to support. A dependency
 * that moves to a newer Node (cookie 2.x asked for Node >= 22 while we claimed >= 20.19) fails
 * here instead of on a user's machine.
 */
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import semver from "semver";
import { describe, expect, it } from "vitest";

const root = join(import.meta.dirname, "..", "..");

interface Manifest {
  name?: string;
  version?: string;
  engines?: { node?: unknown };
}

function readManifest(dir: string): Manifest | null {
  const file = join(dir, "package.json");
  if (!existsSync(file)) return null;
  return JSON.parse(readFileSync(file, "utf8")) as Manifest;
}

/** Every package directory under `nodeModules`, nested node_modules included. */
function installedPackages(nodeModules: string): string[] {
  if (!existsSync(nodeModules)) return [];
  const found: string[] = [];
  for (const entry of readdirSync(nodeModules, { withFileTypes: true })) {
    if (entry.name.startsWith(".") || !(entry.isDirectory() || entry.isSymbolicLink())) continue;
    const dir = join(nodeModules, entry.name);
    const packages = entry.name.startsWith("@") ? readdirSync(dir).map((name) => join(dir, name)) : [dir];
    for (const pkg of packages) {
      found.push(pkg);
      found.push(...installedPackages(join(pkg, "node_modules")));
    }
  }
  return found;
}

/** Packages whose declared `engines.node` does not contain `ours`. */
function enginesConflicts(ours: string, nodeModules: string): string[] {
  const conflicts: string[] = [];
  for (const dir of installedPackages(nodeModules)) {
    const manifest = readManifest(dir);
    const theirs = manifest?.engines?.node;
    if (typeof theirs !== "string" || theirs.trim() === "") continue;
    const range = semver.validRange(theirs);
    if (range === null || !semver.subset(ours, range)) conflicts.push(`${manifest?.name}@${manifest?.version} wants node ${theirs}`);
  }
  return conflicts;
}

describe("engines.node", () => {
  const ours = readManifest(root)?.engines?.node;

  it("is a valid range that the running Node satisfies", () => {
    expect(typeof ours).toBe("string");
    expect(semver.validRange(ours as string)).not.toBeNull();
    expect(semver.satisfies(process.version, ours as string)).toBe(true);
  });

  it("is accepted by every installed package that declares engines.node", () => {
    expect(enginesConflicts(ours as string, join(root, "node_modules"))).toEqual([]);
  });

  it("catches a dependency that asks for a newer Node (the cookie 2.x case)", () => {
    // The rule itself: cookie 2.0.2 declares ">=22", which the old ">=20.19" did not satisfy.
    expect(semver.subset(">=20.19", ">=22")).toBe(false);
    expect(semver.subset(ours as string, ">=18")).toBe(true);
  });
});
