/** The import rules and the private-state rule of docs/architecture.md hold for the whole tree, and the checks bite. */
import { describe, expect, it } from "vitest";
import { checkFile, checkTree, privateMembers, privateMembersInTree, specifiers } from "../support/architecture-rules.ts";

const ROOT = new URL("../..", import.meta.url).pathname;

describe("architecture: import rules", () => {
  it("no file imports across the rules", () => {
    const violations = checkTree(ROOT).map((v) => `${v.file} imports ${v.specifier}: ${v.rule}`);
    expect(violations).toEqual([]);
  });

  it("finds static, side-effect, re-export and dynamic imports", () => {
    const source = [
      'import { a } from "../join/a.ts";',
      'import type { B } from "../bridge/b.ts";',
      'import "../store/c.ts";',
      'export { d } from "../calendar/d.ts";',
      'const e = await import("../emulators/e.ts");',
      "import {\n  f,\n  g,\n} from '../core/f.ts';",
    ].join("\n");
    expect(specifiers(source).sort()).toEqual(["../bridge/b.ts", "../calendar/d.ts", "../core/f.ts", "../emulators/e.ts", "../join/a.ts", "../store/c.ts"]);
  });

  it("bites: a feature importing another feature, the parser importing the store, production importing an emulator or a test", () => {
    expect(checkFile("calendar/poller.ts", 'import { planForRoom } from "../join/room-planning.ts";')).toEqual([
      { file: "calendar/poller.ts", specifier: "../join/room-planning.ts", rule: "calendar/ may import core/, parser/, not join/" },
    ]);
    expect(checkFile("bridge/x.ts", 'import { y } from "../join/pushers/http-request.ts";')).toHaveLength(1);
    expect(checkFile("parser/x.ts", 'import { y } from "../store/y.ts";')[0]?.rule).toBe("parser/ may import core/, not store/");
    expect(checkFile("join/x.ts", 'import { y } from "../emulators/graph/graph-emulator.ts";')[0]?.rule).toBe("production code never imports emulators/");
    expect(checkFile("store/x.ts", 'import { y } from "../test/support/cli.ts";')[0]?.rule).toBe("production code never imports test/");
    expect(checkFile("core/x.ts", 'import { y } from "../parser/index.ts";')[0]?.rule).toBe("core/ may import nothing outside itself, not parser/");
    expect(checkFile("migrations/202701010000_x.ts", 'import { sql } from "kysely";\nimport { z } from "zod";')[0]?.rule).toBe(
      "migrations/ import only kysely",
    );
    expect(checkFile("migrations/202701010000_x.ts", 'import { y } from "../core/errors.ts";')[0]?.rule).toBe("migrations/ import only kysely");
  });

  it("allows what the rules allow", () => {
    expect(checkFile("calendar/x.ts", 'import { a } from "../core/a.ts";\nimport { b } from "../parser/index.ts";\nimport { c } from "./graph/c.ts";')).toEqual(
      [],
    );
    expect(checkFile("app/main.ts", 'import { a } from "../join/a.ts";\nimport { b } from "../bridge/b.ts";')).toEqual([]);
    expect(checkFile("app/demo.ts", 'import { a } from "../emulators/graph/graph-emulator.ts";')).toEqual([]);
    expect(checkFile("app/main.ts", 'import { a } from "../emulators/graph/graph-emulator.ts";')).toHaveLength(1);
    expect(checkFile("test/unit/x.test.ts", 'import { a } from "../../emulators/x.ts";')).toEqual([]);
  });
});

describe("architecture: private state is a # name", () => {
  it("no production class declares a private or protected member or parameter property", () => {
    expect(privateMembersInTree(ROOT).map((m) => `${m.file}:${m.line}: ${m.text}`)).toEqual([]);
  });

  it("bites: fields, methods, accessors, static members and parameter properties, inline or over several lines", () => {
    const source = [
      "export class A extends B {",
      "  private count = 0;",
      "  private readonly names: string[] = [];",
      "  protected static limit = 3;",
      "  private async load(): Promise<void> {}",
      "  private get size(): number {",
      "  static private other = 1;",
      "  constructor(private readonly store: Store, protected log?: Logger) {",
      "  constructor(",
      "    private readonly clock: Clock,",
      "    protected readonly x = 1,",
      "  ) {}",
      "  private handler = () => this.count;",
      "}",
    ].join("\n");
    expect(privateMembers("join/a.ts", source).map((m) => m.line)).toEqual([2, 3, 4, 5, 6, 7, 8, 10, 11, 13]);
    expect(privateMembers("join/a.ts", "class A { constructor(a: string, private b: number) {} }")).toEqual([
      { file: "join/a.ts", line: 1, text: "class A { constructor(a: string, private b: number) {} }" },
    ]);
  });

  it("allows # names, a private constructor, and the word in comments, strings and other names", () => {
    const source = [
      "export class A {",
      "  #count = 0;",
      "  readonly #store: Store;",
      "  readonly privateKey: string;",
      "  static #make(): A {",
      "  private constructor(store: Store) {",
      "  // private meetings (private subjects) are never logged",
      "  /* (private x: T) was the old style",
      "     private y = 1; */",
      '  const mode = "private";',
      '  const where = "https://example.com/(private x)"; // (private y)',
      "  isPrivate(m: Meeting): boolean {",
      "    return m.sensitivity === 'private' || (m.private && other.private);",
      "}",
    ].join("\n");
    expect(privateMembers("calendar/a.ts", source)).toEqual([]);
  });
});
