#!/usr/bin/env node
// The otj CLI. Runs the compiled JavaScript in dist/ (built by `npm ci`, `npm run build` and
// `npm pack`); a checkout without dist/ (or OTJ_FROM_SOURCE=1) runs the TypeScript sources
// through tsx, a development dependency.
import { existsSync } from "node:fs";

const compiled = new URL("../dist/app/cli.js", import.meta.url);
let main;
if (process.env.OTJ_FROM_SOURCE !== "1" && existsSync(compiled)) {
  ({ main } = await import(compiled.href));
} else {
  const { register } = await import("tsx/esm/api");
  register();
  ({ main } = await import("../app/cli.ts"));
}
process.exitCode = await main(process.argv.slice(2));
