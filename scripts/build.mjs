#!/usr/bin/env node
// Compiles the TypeScript sources to dist/ (with source maps) and copies the files the compiled
// code reads at run time (console assets, the emulated device's TLS key pair). Run by `npm run
// build`, and by npm itself on `npm ci` (prepare) and `npm pack` (prepack).
import { spawnSync } from "node:child_process";
import { cpSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const dist = join(root, "dist");
const tsc = createRequire(import.meta.url).resolve("typescript/bin/tsc");

rmSync(dist, { recursive: true, force: true });
const result = spawnSync(process.execPath, [tsc, "-p", join(root, "tsconfig.build.json")], { stdio: "inherit" });
if (result.status !== 0) process.exit(result.status ?? 1);
for (const folder of ["app/http/admin/assets", "test/fixtures/tls"]) {
  cpSync(join(root, folder), join(dist, folder), { recursive: true });
}
