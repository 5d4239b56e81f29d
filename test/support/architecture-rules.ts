/**
 * The import rules of docs/architecture.md, checked over the source tree by
 * test/unit/architecture.test.ts (part of `npm test`).
 *
 * - parser/ imports only core/;
 * - calendar/, join/, bridge/, store/ import core/ (and parser/ where they parse), never each other;
 * - core/ imports only core/;
 * - migrations/ import only kysely (and node built-ins);
 * - only app/ composes: it may import every production folder;
 * - production code never imports emulators/, test/ or bench/ (app/demo.ts, the demo, is the one
 *   composition that starts the emulators).
 */
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, normalize, relative } from "node:path";

/** Which top-level folders each folder may import from (its own is always allowed). */
export const ALLOWED: Readonly<Record<string, readonly string[]>> = {
  core: [],
  parser: ["core"],
  calendar: ["core", "parser"],
  join: ["core", "parser"],
  bridge: ["core", "parser"],
  store: ["core"],
  migrations: [],
  app: ["core", "parser", "calendar", "join", "bridge", "store", "migrations"],
  emulators: ["core", "parser", "calendar", "join", "bridge", "store", "app", "test"],
  test: ["*"],
  bench: ["*"],
};

/** Files allowed one import a rule would refuse, each with the reason. */
export const EXCEPTIONS: ReadonlyArray<{ file: string; folder: string; why: string }> = [
  { file: "app/demo.ts", folder: "emulators", why: "the demo starts the emulators it shows the engine against" },
];

/** Bare packages migrations may import. */
const MIGRATION_PACKAGES = new Set(["kysely"]);

export interface Violation {
  file: string;
  specifier: string;
  rule: string;
}

const IMPORT = /(?:^|\n)\s*(?:import|export)\s[^"'`;]*?from\s*["']([^"']+)["']|(?:^|\n)\s*import\s*["']([^"']+)["']|\bimport\(\s*["']([^"']+)["']\s*\)/g;

/** Every module specifier a source file names (static imports and exports, side-effect imports, dynamic imports). */
export function specifiers(source: string): string[] {
  const out: string[] = [];
  for (const match of source.matchAll(IMPORT)) out.push((match[1] ?? match[2] ?? match[3])!);
  return out;
}

function topFolder(path: string): string {
  return path.split("/")[0] ?? "";
}

/** Checks one file (path relative to the root, `/` separators) against the rules. */
export function checkFile(file: string, source: string): Violation[] {
  const from = topFolder(file);
  const allowed = ALLOWED[from];
  if (allowed === undefined) return [];
  const violations: Violation[] = [];
  for (const specifier of specifiers(source)) {
    if (!specifier.startsWith(".")) {
      if (from === "migrations" && !specifier.startsWith("node:") && !MIGRATION_PACKAGES.has(specifier)) {
        violations.push({ file, specifier, rule: "migrations/ import only kysely" });
      }
      continue;
    }
    const target = normalize(join(dirname(file), specifier))
      .split("\\")
      .join("/");
    const to = topFolder(target);
    if (to === from || allowed.includes("*") || allowed.includes(to)) continue;
    if (EXCEPTIONS.some((e) => e.file === file && e.folder === to)) continue;
    const rule =
      to === "emulators" || to === "test" || to === "bench"
        ? `production code never imports ${to}/`
        : from === "migrations"
          ? "migrations/ import only kysely"
          : `${from}/ may import ${allowed.length > 0 ? allowed.map((f) => `${f}/`).join(", ") : "nothing outside itself"}, not ${to}/`;
    violations.push({ file, specifier, rule });
  }
  return violations;
}

/** Every TypeScript source below the given top-level folders of `root`. */
export function sourceFiles(root: string, folders: readonly string[]): string[] {
  const files: string[] = [];
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) {
        if (entry.name !== "node_modules" && entry.name !== "fixtures") walk(path);
      } else if (entry.name.endsWith(".ts") && !entry.name.endsWith(".d.ts")) {
        files.push(relative(root, path).split("\\").join("/"));
      }
    }
  };
  for (const folder of folders) {
    try {
      walk(join(root, folder));
    } catch {
      // A folder that does not exist has nothing to check.
    }
  }
  return files.sort();
}

/** All violations in the tree below `root`. */
export function checkTree(root: string): Violation[] {
  return sourceFiles(root, Object.keys(ALLOWED)).flatMap((file) => checkFile(file, readFileSync(join(root, file), "utf8")));
}

/**
 * Private state is an ECMAScript `#` private name, never TypeScript's `private` or `protected`
 * (docs/architecture.md). A constructor has no `#` form, so `private constructor` (a class made
 * only by its static factory) is the one use left.
 */
export const PRIVATE_STYLE_FOLDERS: readonly string[] = [
  "core",
  "parser",
  "calendar",
  "join",
  "bridge",
  "store",
  "migrations",
  "app",
  "emulators",
  "bench",
  "test/support",
];

export interface PrivateMember {
  file: string;
  line: number;
  text: string;
}

/** Comments and string literals, blanked before the scan so the word in them never counts (quotes written \x22, \x27, \x60 so this file scans too). */
const COMMENTS_AND_STRINGS = /\/\*[\s\S]*?\*\/|\/\/[^\n]*|\x22(?:[^\x22\\\n]|\\.)*\x22|\x27(?:[^\x27\\\n]|\\.)*\x27|\x60(?:[^\x60\\]|\\.)*\x60/g;
/** A member on its own line, or a parameter property of a constructor written over several lines. */
const MEMBER = /^[ \t]*(?:(?:public|static|readonly|override|abstract|async|declare|accessor)[ \t]+)*(?:private|protected)[ \t]+(?!constructor\b)[A-Za-z_$#]/;
/** A parameter property written inline: `constructor(private readonly x: T)`, `(a: A, protected b: B)`. */
const PARAMETER = /[(,][ \t]*(?:private|protected)[ \t]+(?:readonly[ \t]+)?[A-Za-z_$][\w$]*[ \t]*[?:=,)]/;

/** The lines of a source file that declare a `private` or `protected` class member or parameter property. */
export function privateMembers(file: string, source: string): PrivateMember[] {
  const code = source.replace(COMMENTS_AND_STRINGS, (token) => token.replace(/[^\n]/g, " "));
  const found: PrivateMember[] = [];
  code.split("\n").forEach((text, i) => {
    if (MEMBER.test(text) || PARAMETER.test(text)) found.push({ file, line: i + 1, text: text.trim() });
  });
  return found;
}

/** Every `private` or `protected` member in the folders that keep private state in `#` names. */
export function privateMembersInTree(root: string): PrivateMember[] {
  return sourceFiles(root, PRIVATE_STYLE_FOLDERS).flatMap((file) => privateMembers(file, readFileSync(join(root, file), "utf8")));
}
