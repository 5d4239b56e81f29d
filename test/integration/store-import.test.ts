/**
 * `otj rooms import FILE.csv` on real PostgreSQL: all or nothing, bad rows by line number,
 * progress on stderr, and the 10,000-row figure (printed, not asserted).
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { type DatabaseHandle, createDatabase } from "../../store/create-database.ts";
import { type CliRun, runCli } from "../support/cli.ts";
import { type TestPostgres, createTestPostgres } from "../support/test-database.ts";

const HEADER = "mailbox,displayName,provider,deviceFamily,deviceAddress,deviceUsername,devicePassword";

let database: TestPostgres;
let handle: DatabaseHandle;
let workDir: string;

function otj(args: string[], stdin?: string): Promise<CliRun> {
  return runCli([...args, "--database-url", database.url], { cwd: workDir, ...(stdin === undefined ? {} : { stdin }) });
}

function file(name: string, content: string): string {
  const path = join(workDir, name);
  writeFileSync(path, content);
  return path;
}

async function roomCount(): Promise<number> {
  const run = await otj(["rooms", "list", "--json"]);
  return (JSON.parse(run.stdout) as { rooms: unknown[] }).rooms.length;
}

beforeAll(async () => {
  database = await createTestPostgres("import");
  workDir = mkdtempSync(join(tmpdir(), "otj-import-"));
  expect((await otj(["providers", "add", "--name", "contoso", "--partner", "cisco"])).code).toBe(0);
  handle = await createDatabase(database.url, { cwd: workDir });
});
afterAll(async () => {
  await handle?.close();
  await database?.drop();
  if (workDir) rmSync(workDir, { recursive: true, force: true });
});

describe("otj rooms import", () => {
  beforeEach(async () => {
    await handle.db.deleteFrom("room").execute();
  });

  it("imports quoted fields, a BOM, CRLF line ends and extra columns", async () => {
    const csv =
      "\uFEFF" +
      `${HEADER},sipUri,insecureTls,privateMeetings,notes\r\n` +
      `room1@contoso.example,"Board room, 5th floor",contoso,xapi,10.0.0.1,admin,"pa,ss""word",board@video.contoso.example,true,skip,"multi\r\nline note"\r\n` +
      `PANEL1@contoso.example,Panel 1,CONTOSO,pull,,,,,,,\r\n`;
    const run = await otj(["rooms", "import", file("good.csv", csv), "--json"]);
    expect(run.code, run.stderr).toBe(0);
    const out = JSON.parse(run.stdout) as { imported: number; rooms: Array<{ mailbox: string; deviceToken?: string }> };
    expect(out.imported).toBe(2);
    expect(out.rooms[1]).toMatchObject({ mailbox: "panel1@contoso.example" });
    expect(out.rooms[1]?.deviceToken).toMatch(/^[A-Za-z0-9_-]{32}$/);
    expect(out.rooms[0]?.deviceToken).toBeUndefined();
    expect(run.stderr).toContain("ignored column(s): notes");
    expect(run.stdout + run.stderr).not.toContain("pa,ss");
    const list = JSON.parse((await otj(["rooms", "list", "--json"])).stdout) as { rooms: Array<Record<string, unknown>> };
    expect(list.rooms[1]).toMatchObject({
      mailbox: "room1@contoso.example",
      displayName: "Board room, 5th floor",
      deviceAddress: "https://10.0.0.1",
      sipUri: "board@video.contoso.example",
      insecureTls: true,
      privateMeetings: "skip",
      hasDevicePassword: true,
    });
  });

  it("reports every bad row by line number and imports nothing", async () => {
    await otj(["rooms", "import", "-"], `${HEADER}\nexisting@contoso.example,Existing,contoso,pull,,,\n`);
    const before = await roomCount();
    const csv = [
      `${HEADER},insecureTls`,
      "ok@contoso.example,OK,contoso,xapi,10.0.0.2,admin,pw,false", // line 2: fine
      "not-a-mailbox,Bad,contoso,xapi,10.0.0.3,admin,pw,", // line 3
      '"multi', // line 4-5: a quoted field spanning two lines
      'line@contoso.example",Multi,contoso,pull,,,,', // (invalid mailbox: contains a newline)
      "x@contoso.example,X,nope,pull,,,,", // line 6: unknown provider
      "ok@contoso.example,Again,contoso,pull,,,,", // line 7: repeats line 2
      "existing@contoso.example,Dup,contoso,pull,,,,", // line 8: already in the store
      "y@contoso.example,Y,contoso,xapi,,,,", // line 9: no address
      "z@contoso.example,Z,contoso,xapi,10.0.0.4,admin,pw,maybe", // line 10: bad boolean
      "short@contoso.example,Short,contoso", // line 11: too few fields
    ].join("\n");
    const run = await otj(["rooms", "import", file("bad.csv", `${csv}\n`)]);
    expect(run.code).toBe(1);
    const lines = run.stderr.split("\n");
    const problemLines = lines.filter((l) => l.startsWith("line ")).map((l) => Number(/^line (\d+):/.exec(l)?.[1]));
    expect([...new Set(problemLines)]).toEqual([3, 4, 6, 7, 8, 9, 10, 11]);
    expect(run.stderr).toContain('line 3: mailbox "not-a-mailbox" is not a valid mailbox address');
    expect(run.stderr).toContain('line 6: provider "nope" does not exist');
    expect(run.stderr).toContain("line 7: mailbox ok@contoso.example is repeated (first at line 2)");
    expect(run.stderr).toContain("line 8: a room with mailbox existing@contoso.example already exists");
    expect(run.stderr).toContain('line 10: insecureTls must be true or false (got "maybe")');
    expect(run.stderr).toContain("line 11: has 3 fields, the header has 8");
    expect(run.stderr).toContain('line 4: mailbox "multi\\nline@contoso.example" is not a valid mailbox address');
    expect(run.stderr).toContain("OTJ_IMPORT_INVALID: 8 of 9 rows are invalid; nothing was imported");
    expect(await roomCount()).toBe(before);
  });

  it("rejects malformed CSV and missing columns with the line, importing nothing", async () => {
    const unterminated = await otj(["rooms", "import", file("q.csv", `${HEADER}\r\na@contoso.example,"never closed,contoso,pull,,,\r\n`)]);
    expect(unterminated.code).toBe(1);
    expect(unterminated.stderr).toContain("OTJ_IMPORT_INVALID: malformed CSV at line 2: a quoted field is never closed");
    const strayQuote = await otj(["rooms", "import", file("s.csv", `${HEADER}\na@contoso.example,Room "A",contoso,pull,,,\n`)]);
    expect(strayQuote.stderr).toContain("line 2: a quote inside an unquoted field");
    const noColumns = await otj(["rooms", "import", file("c.csv", "mailbox,name\na@contoso.example,A\n")]);
    expect(noColumns.code).toBe(1);
    expect(noColumns.stderr).toContain("the header lacks column(s) displayName, provider, deviceFamily");
    const missing = await otj(["rooms", "import", join(workDir, "missing.csv")]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain("OTJ_INPUT_UNREADABLE");
    expect(await roomCount()).toBe(0);
  });

  it("checks without writing on --dry-run", async () => {
    const run = await otj(["rooms", "import", file("dry.csv", `${HEADER}\na@contoso.example,A,contoso,pull,,,\n`), "--dry-run"]);
    expect(run.code).toBe(0);
    expect(run.stderr).toContain("all 1 rows are valid; nothing was added (--dry-run)");
    expect(await roomCount()).toBe(0);
  });

  it("imports 10,000 rows in one go, with progress on stderr", async () => {
    const rows = [HEADER];
    for (let i = 0; i < 10_000; i++) {
      const n = String(i).padStart(5, "0");
      rows.push(
        i % 4 === 0
          ? `panel${n}@contoso.example,"Panel ${n}, lobby",contoso,pull,,,`
          : `room${n}@contoso.example,Room ${n},contoso,xapi,room${n}.contoso.example,admin,"pw""${n}"`,
      );
    }
    const path = file("big.csv", `\uFEFF${rows.join("\r\n")}\r\n`);
    const started = performance.now();
    const run = await otj(["rooms", "import", path]);
    const seconds = (performance.now() - started) / 1000;
    expect(run.code, run.stderr).toBe(0);
    expect(run.stderr).toContain("checked 10000/10000 rows");
    expect(run.stderr).toContain("added 10000/10000 rows");
    expect(run.stderr).toMatch(/imported 10000 rooms in [\d.]+ s/);
    console.log(`rooms import of 10,000 rows (PostgreSQL, in-process CLI): ${seconds.toFixed(2)} s`);
    expect(await roomCount()).toBe(10_000);
  });
});
