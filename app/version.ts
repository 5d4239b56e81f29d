/**
 * otj's own version, read from its package.json: two folders up from the sources (app/), three
 * from the compiled code (dist/app/).
 */
import { readFileSync } from "node:fs";

let cached: string | undefined;

/** The version in otj's package.json ("0.0.0" if none is found). */
export function otjVersion(): string {
  if (cached !== undefined) return cached;
  cached = "0.0.0";
  for (const relative of ["../package.json", "../../package.json"]) {
    try {
      const manifest = JSON.parse(readFileSync(new URL(relative, import.meta.url), "utf8")) as { name?: unknown; version?: unknown };
      if (manifest.name === "otj" && typeof manifest.version === "string") {
        cached = manifest.version;
        break;
      }
    } catch {
      // Not this folder: try the next one.
    }
  }
  return cached;
}
