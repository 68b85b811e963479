// No function in src/ is longer than MAX_LINES (from its first line to its closing brace, nested
// functions included): a function that long mixes concerns, and the rule keeps the split of
// loadConfig, the refresher, the token routes and the seller queries from growing back. Measured
// with the TypeScript compiler's parser, so strings, comments and template literals cannot fool it.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { test } from 'node:test';
import ts from 'typescript';
import { repoRoot } from './helpers/cli.js';

const MAX_LINES = 200;

/** Every function-like node of one file with its name (or `<anonymous>`) and length in lines. */
export function functionLengths(
  fileName: string,
  text: string,
): { name: string; line: number; lines: number }[] {
  const source = ts.createSourceFile(fileName, text, ts.ScriptTarget.Latest, true, ts.ScriptKind.TS);
  const out: { name: string; line: number; lines: number }[] = [];
  const visit = (node: ts.Node): void => {
    if (ts.isFunctionLike(node) && 'body' in node && node.body !== undefined) {
      const start = source.getLineAndCharacterOfPosition(node.getStart(source)).line;
      const end = source.getLineAndCharacterOfPosition(node.getEnd()).line;
      out.push({ name: nameOf(node), line: start + 1, lines: end - start + 1 });
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return out;
}

/** The declared name, or the variable / property the function is assigned to. */
function nameOf(node: ts.Node): string {
  const named = node as { name?: ts.Node };
  if (named.name !== undefined && ts.isIdentifier(named.name)) return named.name.text;
  const parent = node.parent;
  if (parent !== undefined && (ts.isVariableDeclaration(parent) || ts.isPropertyAssignment(parent))) {
    if (ts.isIdentifier(parent.name)) return parent.name.text;
  }
  return '<anonymous>';
}

test(`no function in src/ is longer than ${MAX_LINES} lines`, () => {
  const src = join(repoRoot, 'src');
  const files = readdirSync(src, { recursive: true })
    .map(String)
    .filter((f) => f.endsWith('.ts'));
  assert.ok(files.length > 50, 'the walk found the sources');
  const tooLong: string[] = [];
  for (const f of files) {
    const path = join(src, f);
    for (const fn of functionLengths(path, readFileSync(path, 'utf8'))) {
      if (fn.lines > MAX_LINES)
        tooLong.push(`${relative(repoRoot, path)}:${fn.line} ${fn.name} (${fn.lines} lines)`);
    }
  }
  assert.deepEqual(tooLong, [], `split these by concern:\n${tooLong.join('\n')}`);
});

test('the measure counts a function from its first line to its closing brace, nested ones too', () => {
  const body = Array.from({ length: 5 }, (_, i) => `  const v${i} = ${i};`).join('\n');
  const text = `export function outer() {\n${body}\n  const inner = () => {\n    return 1;\n  };\n}\nclass C { m() { return 2; } }\n`;
  const found = functionLengths('x.ts', text);
  assert.deepEqual(
    found.map((f) => [f.name, f.line, f.lines]),
    [
      ['outer', 1, 10],
      ['inner', 7, 3],
      ['m', 11, 1],
    ],
  );
});
