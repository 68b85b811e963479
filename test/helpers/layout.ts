// The README's "Layout" table as rules, and every import of src/ checked against them: read by
// test/layout.test.ts. The table is the rule: a row's "may import" cell lists, in backticks, the
// areas (a row's name: `core`, `http`, …) or single files (`core/marketplaces`) its files may
// import at run time; after "types:", those it may import types from only (an `import type`, or
// named imports that are all `type`, vanish at run time). "everything" allows every area; "no
// `node:` module" and "no package" forbid those. Every area may import itself.
import ts from 'typescript';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';

/** One row of the table. */
export interface LayoutRow {
  /** As written: `src/core/`, `src/config.ts`. */
  readonly path: string;
  /** What other cells call it: the last segment without `/` or `.ts` (`core`, `http`, `config`). */
  readonly name: string;
  /** Areas or files (`src/core/marketplaces.ts`) imported at run time. */
  readonly values: readonly string[];
  /** Areas or files imported for types only. */
  readonly types: readonly string[];
  readonly everything: boolean;
  readonly node: boolean;
  readonly packages: boolean;
}

/** One import of one file, as the compiler parses it. */
export interface ImportEdge {
  /** Repository-relative, e.g. `src/server/ops/operations.ts`. */
  readonly from: string;
  readonly specifier: string;
  /** Repository-relative target for a relative import, else undefined (a `node:` module or package). */
  readonly to: string | undefined;
  /** Nothing of it is left at run time. */
  readonly typeOnly: boolean;
  readonly kind: 'static' | 'dynamic' | 'type-query';
  readonly line: number;
}

/** The rows of the README's `## Layout` table whose path is under `src/`. */
export function readLayout(readme: string): LayoutRow[] {
  const section = /^## Layout\n([\s\S]*?)(?=^## )/m.exec(readme)?.[1];
  if (section === undefined) throw new Error('README.md has no "## Layout" section');
  const cells = section
    .split('\n')
    .filter((l) => l.startsWith('| `src/'))
    .map((l) => l.split('|').map((c) => c.trim()));
  const named = cells.map((c) => {
    const path = /^`([^`]+)`$/.exec(c[1] ?? '')?.[1];
    if (path === undefined) throw new Error(`a Layout row's path is not one \`path\`: ${c[1]}`);
    return { path, cell: c[3] ?? '', name: path.replace(/\/$/, '').replace(/\.ts$/, '').split('/').pop()! };
  });
  const byName = new Map(named.map((r) => [r.name, r.path]));
  if (byName.size !== named.length) throw new Error('two Layout rows share a name');
  const target = (token: string): string => {
    const [area, ...rest] = token.split('/');
    const at = byName.get(area!);
    if (at === undefined) throw new Error(`the Layout table names \`${token}\`, which is no row`);
    return rest.length === 0 ? at : `${at}${rest.join('/')}.ts`;
  };
  return named.map(({ path, cell, name }) => {
    const [valuePart, typePart = ''] = cell.split(/\btypes:/);
    const tokens = (s: string): string[] =>
      [...s.matchAll(/`([^`]+)`/g)].map((m) => m[1]!).filter((t) => !t.endsWith(':'));
    return {
      path,
      name,
      values: tokens(valuePart!).map(target),
      types: tokens(typePart).map(target),
      everything: /\beverything\b/.test(cell),
      node: !/no `node:`/.test(cell),
      packages: !/no package/.test(cell),
    };
  });
}

/** The row a repository file belongs to: the longest path that holds it. */
export function ownerOf(rows: readonly LayoutRow[], file: string): LayoutRow | undefined {
  return rows
    .filter((r) => (r.path.endsWith('/') ? file.startsWith(r.path) : file === r.path))
    .sort((a, b) => b.path.length - a.path.length)[0];
}

/** Every `.ts` file below `dir` (repository-relative). */
export function sourceFiles(root: string, dir = 'src'): string[] {
  return readdirSync(join(root, dir), { recursive: true })
    .map((f) => join(dir, String(f)))
    .filter((f) => f.endsWith('.ts'))
    .sort();
}

function typeOnlyDeclaration(node: ts.ImportDeclaration | ts.ExportDeclaration): boolean {
  if (ts.isImportDeclaration(node)) {
    const clause = node.importClause;
    if (clause === undefined) return false; // `import './x.js'` runs x
    if (clause.isTypeOnly) return true;
    const named = clause.namedBindings;
    return (
      clause.name === undefined &&
      named !== undefined &&
      ts.isNamedImports(named) &&
      named.elements.length > 0 &&
      named.elements.every((e) => e.isTypeOnly)
    );
  }
  if (node.isTypeOnly) return true;
  const clause = node.exportClause;
  return (
    clause !== undefined &&
    ts.isNamedExports(clause) &&
    clause.elements.length > 0 &&
    clause.elements.every((e) => e.isTypeOnly)
  );
}

/** Every import of one file: `import … from`, `export … from`, `import()` and `import('…')` types. */
export function importsOf(root: string, file: string, text: string): ImportEdge[] {
  const sf = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true);
  const edges: ImportEdge[] = [];
  const add = (node: ts.Node, specifier: string, typeOnly: boolean, kind: ImportEdge['kind']): void => {
    const to = specifier.startsWith('.')
      ? relative(root, resolve(root, dirname(file), specifier.replace(/\.js$/, '.ts')))
      : undefined;
    const line = sf.getLineAndCharacterOfPosition(node.getStart(sf)).line + 1;
    edges.push({ from: file, specifier, to, typeOnly, kind, line });
  };
  const visit = (node: ts.Node): void => {
    if (
      (ts.isImportDeclaration(node) || ts.isExportDeclaration(node)) &&
      node.moduleSpecifier !== undefined &&
      ts.isStringLiteral(node.moduleSpecifier)
    ) {
      add(node, node.moduleSpecifier.text, typeOnlyDeclaration(node), 'static');
    } else if (ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword) {
      const arg = node.arguments[0];
      // A computed specifier cannot be checked: reported as an import of `<computed>`.
      add(node, arg !== undefined && ts.isStringLiteralLike(arg) ? arg.text : '<computed>', false, 'dynamic');
    } else if (
      ts.isImportTypeNode(node) &&
      ts.isLiteralTypeNode(node.argument) &&
      ts.isStringLiteral(node.argument.literal)
    ) {
      add(node, node.argument.literal.text, true, 'type-query');
    }
    ts.forEachChild(node, visit);
  };
  visit(sf);
  return edges;
}

/** Every import of every file below `src/`. */
export function allImports(root: string): ImportEdge[] {
  return sourceFiles(root).flatMap((f) => importsOf(root, f, readFileSync(join(root, f), 'utf8')));
}

const allows = (list: readonly string[], owner: LayoutRow, to: string): boolean =>
  list.some((t) => t === to || t === owner.path);

/** The imports that break a rule of the table, each as `file:line → specifier (why)`. */
export function ruleBreaks(rows: readonly LayoutRow[], edges: readonly ImportEdge[]): string[] {
  const breaks: string[] = [];
  for (const e of edges) {
    const at = `${e.from}:${e.line} → ${e.specifier}`;
    const from = ownerOf(rows, e.from);
    if (from === undefined) {
      breaks.push(`${at} (${e.from} is in no Layout row)`);
      continue;
    }
    if (e.to === undefined) {
      if (e.specifier === '<computed>') breaks.push(`${at} (a computed import() cannot be checked)`);
      else if (e.specifier.startsWith('node:') ? !from.node : !from.packages)
        breaks.push(
          `${at} (${from.path} may import no ${e.specifier.startsWith('node:') ? '`node:` module' : 'package'})`,
        );
      continue;
    }
    const to = ownerOf(rows, e.to);
    if (to === undefined) {
      breaks.push(`${at} (${e.to} is in no Layout row)`);
      continue;
    }
    if (to === from || from.everything) continue;
    if (allows(from.values, to, e.to)) continue;
    if (e.typeOnly && allows(from.types, to, e.to)) continue;
    breaks.push(`${at} (${from.path} may not import ${e.typeOnly ? 'types from ' : ''}${e.to})`);
  }
  return breaks;
}

/** The strongly connected components of more than one node (each a cycle or several), sorted. */
export function cycles(edges: ReadonlyMap<string, ReadonlySet<string>>): string[][] {
  let next = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const found: string[][] = [];
  // Iterative Tarjan: the file graph is deep enough that recursion is best avoided.
  for (const start of edges.keys()) {
    if (index.has(start)) continue;
    const work: [string, string[]][] = [];
    const enter = (v: string): void => {
      index.set(v, next);
      low.set(v, next++);
      stack.push(v);
      onStack.add(v);
      work.push([v, [...(edges.get(v) ?? [])]]);
    };
    enter(start);
    while (work.length > 0) {
      const [v, todo] = work[work.length - 1]!;
      const w = todo.shift();
      if (w !== undefined) {
        if (!index.has(w)) enter(w);
        else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
        continue;
      }
      work.pop();
      if (work.length > 0) {
        const parent = work[work.length - 1]![0];
        low.set(parent, Math.min(low.get(parent)!, low.get(v)!));
      }
      if (low.get(v) === index.get(v)) {
        const scc: string[] = [];
        let x: string;
        do {
          x = stack.pop()!;
          onStack.delete(x);
          scc.push(x);
        } while (x !== v);
        if (scc.length > 1) found.push(scc.sort());
      }
    }
  }
  return found.sort((a, b) => a[0]!.localeCompare(b[0]!));
}

/** The run-time graph (type-only imports left out) between files, or between areas with `byArea`. */
export function runtimeGraph(
  rows: readonly LayoutRow[],
  edges: readonly ImportEdge[],
  byArea: boolean,
): Map<string, Set<string>> {
  const graph = new Map<string, Set<string>>();
  for (const e of edges) {
    if (e.typeOnly || e.to === undefined) continue;
    const a = byArea ? ownerOf(rows, e.from)?.path : e.from;
    const b = byArea ? ownerOf(rows, e.to)?.path : e.to;
    if (a === undefined || b === undefined || a === b) continue;
    if (!graph.has(a)) graph.set(a, new Set());
    graph.get(a)!.add(b);
  }
  return graph;
}

/** Table paths that name nothing in the tree. */
export function missingPaths(root: string, rows: readonly LayoutRow[]): string[] {
  return rows.filter((r) => !existsSync(join(root, r.path))).map((r) => r.path);
}

/**
 * Folders of test/ that hold tests across areas rather than mirror one (the README's `test/` row):
 * processes and browsers, the threat catalogue's sweeps, the documentation's checks, the shared
 * set-up, the published types, and the repository's own scripts (`scripts/`).
 */
export const CROSS_AREA_TEST_FOLDERS: readonly string[] = [
  'e2e',
  'security',
  'docs',
  'helpers',
  'types',
  'scripts',
];

/** Tests at the root of test/ about the whole repository, not one file of src/. */
export const REPOSITORY_TESTS: readonly string[] = ['layout', 'function-length', 'package', 'public-api'];

/**
 * Test files (paths from the repository root) that are not where the tree says they go: a test in
 * `test/<folders>/` needs `src/<folders>/` to exist (unless its first folder is a cross-area one),
 * and a test at the root of test/ is of `src/<name>.ts` or about the whole repository. Fixture
 * folders hold data, not tests, and are not looked at.
 *
 * @example
 * misplacedTests(root, ['test/server/tokens/api.test.ts', 'test/server/cache/x.test.ts']);
 * // ['test/server/cache/x.test.ts']
 */
export function misplacedTests(root: string, tests: readonly string[]): string[] {
  return tests.filter((file) => {
    const parts = file.split('/').slice(1); // without "test"
    const name = parts.pop()!.replace(/\.test\.ts$/, '');
    if (parts.length === 0)
      return !(REPOSITORY_TESTS.includes(name) || existsSync(join(root, 'src', `${name}.ts`)));
    if (CROSS_AREA_TEST_FOLDERS.includes(parts[0]!)) return false;
    return !existsSync(join(root, 'src', ...parts));
  });
}

/** Every `*.test.ts` under test/, as paths from the repository root. */
export function testFiles(root: string): string[] {
  return readdirSync(join(root, 'test'), { recursive: true })
    .map((f) => join('test', String(f)).split(sep).join('/'))
    .filter((f) => f.endsWith('.test.ts') && !f.split('/').includes('fixtures'))
    .sort();
}
