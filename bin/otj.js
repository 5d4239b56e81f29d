#!/usr/bin/env node
// The otj CLI. Runs the TypeScript sources through tsx (a runtime dependency), so a checkout
// needs no build step after `npm ci`.
import { register } from "tsx/esm/api";

register();
const { main } = await import("../app/cli.ts");
process.exitCode = await main(process.argv.slice(2));
