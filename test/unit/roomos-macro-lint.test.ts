/**
 * The RoomOS macro uses only what the device's macro runtime offers: one import ('xapi'), no
 * CommonJS, no Node globals, no top-level await, and no syntax newer than ES2019.
 */
import { readFileSync } from "node:fs";
import ts from "typescript";
import { describe, expect, it } from "vitest";
import { MACRO_PATH } from "../support/fake-xapi.ts";

const NODE_GLOBALS = new Set([
  "require",
  "module",
  "exports",
  "process",
  "Buffer",
  "fetch",
  "global",
  "globalThis",
  "__dirname",
  "__filename",
  "setImmediate",
  "XMLHttpRequest",
  "window",
  "document",
  "structuredClone",
]);

interface Finding {
  line: number;
  problem: string;
}

/** Every problem in a macro's source, by line. */
function lintMacro(source: string): Finding[] {
  const file = ts.createSourceFile("macro.js", source, ts.ScriptTarget.Latest, true, ts.ScriptKind.JS);
  const findings: Finding[] = [];
  const report = (node: ts.Node, problem: string) => findings.push({ line: file.getLineAndCharacterOfPosition(node.getStart(file)).line + 1, problem });
  const declared = new Set<string>();
  const collect = (node: ts.Node): void => {
    if ((ts.isVariableDeclaration(node) || ts.isFunctionDeclaration(node) || ts.isParameter(node)) && node.name && ts.isIdentifier(node.name))
      declared.add(node.name.text);
    ts.forEachChild(node, collect);
  };
  collect(file);

  const visit = (node: ts.Node, inFunction: boolean): void => {
    if (ts.isImportDeclaration(node)) {
      const from = (node.moduleSpecifier as ts.StringLiteral).text;
      const clause = node.importClause;
      if (from !== "xapi" || !clause?.name || clause.name.text !== "xapi" || clause.namedBindings)
        report(node, `import other than \`import xapi from 'xapi'\`: ${node.getText(file)}`);
    } else if (
      ts.isExportDeclaration(node) ||
      ts.isExportAssignment(node) ||
      (ts.canHaveModifiers(node) && ts.getModifiers(node)?.some((m) => m.kind === ts.SyntaxKind.ExportKeyword))
    ) {
      report(node, "export");
    } else if (ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword) {
      report(node, "dynamic import()");
    } else if (ts.isAwaitExpression(node) && !inFunction) {
      report(node, "top-level await");
    } else if (ts.isIdentifier(node) && NODE_GLOBALS.has(node.text) && !declared.has(node.text)) {
      const parent = node.parent;
      const isPropertyName = (ts.isPropertyAccessExpression(parent) && parent.name === node) || (ts.isPropertyAssignment(parent) && parent.name === node);
      if (!isPropertyName) report(node, `Node or browser global ${node.text}`);
    } else if (node.kind === ts.SyntaxKind.QuestionDotToken) {
      report(node, "optional chaining (ES2020)");
    } else if (
      ts.isBinaryExpression(node) &&
      [
        ts.SyntaxKind.QuestionQuestionToken,
        ts.SyntaxKind.QuestionQuestionEqualsToken,
        ts.SyntaxKind.BarBarEqualsToken,
        ts.SyntaxKind.AmpersandAmpersandEqualsToken,
      ].includes(node.operatorToken.kind)
    ) {
      report(node, "nullish coalescing or logical assignment (ES2020+)");
    } else if (ts.isBigIntLiteral(node)) {
      report(node, "BigInt literal (ES2020)");
    } else if (ts.isPrivateIdentifier(node)) {
      report(node, "private class member (ES2022)");
    } else if (ts.isPropertyDeclaration(node)) {
      report(node, "class field (ES2022)");
    } else if (ts.isNumericLiteral(node) && node.getText(file).includes("_")) {
      report(node, "numeric separator (ES2021)");
    }
    const nested = inFunction || ts.isFunctionLike(node);
    ts.forEachChild(node, (child) => visit(child, nested));
  };
  visit(file, false);
  const syntax = (file as unknown as { parseDiagnostics: ts.Diagnostic[] }).parseDiagnostics ?? [];
  for (const d of syntax)
    findings.push({ line: file.getLineAndCharacterOfPosition(d.start ?? 0).line + 1, problem: ts.flattenDiagnosticMessageText(d.messageText, " ") });
  return findings;
}

describe("devices/roomos/otj-join.js", () => {
  const source = readFileSync(MACRO_PATH, "utf8");

  it("uses only what the RoomOS macro runtime offers", () => {
    expect(lintMacro(source)).toEqual([]);
  });

  it("starts with its configuration constants and imports xapi once", () => {
    expect(source.match(/^import .*$/gm)).toEqual(["import xapi from 'xapi';"]);
    for (const name of ["OTJ_URL", "ROOM_ID", "DEVICE_TOKEN", "OPTIONS"]) expect(source).toMatch(new RegExp(`^const ${name} = `, "m"));
  });

  it("the lint catches what the runtime lacks", () => {
    const bad = [
      "import fs from 'fs';",
      "const x = require('http');",
      "await xapi.Command.Dial({ Number: 'a@b' });",
      "const t = process.env.TOKEN;",
      "fetch('https://otj.example.com');",
      "const b = Buffer.from('x');",
      "const v = a?.b;",
      "const w = a ?? 1;",
      "export const y = 1;",
    ].join("\n");
    const problems = lintMacro(bad).map((f) => f.line);
    expect(problems).toEqual(expect.arrayContaining([1, 2, 3, 4, 5, 6, 7, 8, 9]));
    expect(lintMacro("import xapi from 'xapi';\nasync function f() { await xapi.Command.Dial({ Number: 'a@b' }); }\nf();")).toEqual([]);
  });
});
