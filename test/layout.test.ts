// The README's "Layout" table is the rule for imports: every import of every file in src/ (static,
// `export … from`, dynamic `import()`, `import('…')` types) is checked against the row its file
// belongs to, and no run-time import closes a cycle between areas or between files. The rules are
// read from README.md, so changing a rule means changing the documentation.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  allImports,
  cycles,
  importsOf,
  misplacedTests,
  missingPaths,
  ownerOf,
  readLayout,
  ruleBreaks,
  runtimeGraph,
  sourceFiles,
  testFiles,
  type ImportEdge,
} from './helpers/layout.js';

const root = fileURLToPath(new URL('../', import.meta.url));
const rows = readLayout(readFileSync(join(root, 'README.md'), 'utf8'));
const edges = allImports(root);

test('the Layout table names only what exists, and every file of src/ is in a row', () => {
  assert.ok(rows.length >= 10, 'the table has its rows');
  assert.deepEqual(missingPaths(root, rows), []);
  const files = rows.flatMap((r) => [...r.values, ...r.types]).filter((t) => t.endsWith('.ts'));
  assert.deepEqual(
    files.filter((f) => !existsSync(join(root, f))),
    [],
  );
  assert.deepEqual(
    sourceFiles(root).filter((f) => ownerOf(rows, f) === undefined),
    [],
  );
});

test('every import in src/ keeps to the Layout table', () => {
  assert.ok(edges.length > 500, `read ${edges.length} imports`);
  assert.ok(edges.some((e) => e.kind === 'dynamic'));
  assert.deepEqual(ruleBreaks(rows, edges), []);
});

test('no run-time import closes a cycle between areas', () => {
  assert.deepEqual(cycles(runtimeGraph(rows, edges, true)), []);
});

test('no run-time import closes a cycle between files', () => {
  assert.deepEqual(cycles(runtimeGraph(rows, edges, false)), []);
});

// Two rules the table's columns cannot state: the CLI reaches the service through its use-cases,
// never a route module, and the seller use-cases never see the HTTP request type or the router
// (not even as a type). Only src/server/http/ and the route files handle the HTTP request type.

/** A route module registers routes or handles the HTTP request type. */
function isRouteModule(file: string): boolean {
  const text = readFileSync(join(root, file), 'utf8');
  return (
    /\brouter\.add\(|\bServerRequest\b/.test(text) || /^src\/server\/http\/(router|request)\.ts$/.test(file)
  );
}

/** The imports from files under `dir` of a route module that `target` accepts, as `file:line → target`. */
function routeImports(dir: string, target: (to: string) => boolean): string[] {
  return edges
    .filter((e) => e.from.startsWith(dir) && e.to !== undefined && target(e.to))
    .filter((e) => existsSync(join(root, e.to!)) && isRouteModule(e.to!))
    .map((e) => `${e.from}:${e.line} → ${e.to}`);
}

test('the CLI imports no route module of the service', () => {
  assert.deepEqual(
    routeImports('src/cli/', (to) => to.startsWith('src/server/')),
    [],
  );
});

test('the seller use-cases import no route module, nor the HTTP request type or the router', () => {
  assert.deepEqual(
    routeImports('src/server/sellers/', () => true),
    [],
  );
});

test('the route-module test recognises a route module (it can fail)', () => {
  assert.ok(isRouteModule('src/server/tokens/routes.ts'));
  assert.ok(!isRouteModule('src/server/sellers/json.ts'));
});

// The checks above can fail: the same functions on a small table and made-up imports.
const sample = readLayout(`## Layout

| path | what lives there | may import |
|---|---|---|
| \`src/core/\` | the library | nothing outside itself; no \`node:\` module, no package |
| \`src/lib/\` | helpers | \`core\`; types: \`app\` |
| \`src/app/\` | the app | \`lib\`, \`core/facts\` |
| \`src/cli/\` | the command | everything |

## Next
`);

const edge = (from: string, to: string, typeOnly = false): ImportEdge => ({
  from,
  specifier: to,
  to: to.startsWith('src/') ? to : undefined,
  typeOnly,
  kind: 'static',
  line: 1,
});

test('the table reader reads areas, single files, types-only areas and the Node/package flags', () => {
  const [core, lib, app, cli] = sample;
  assert.deepEqual(core, {
    path: 'src/core/',
    name: 'core',
    values: [],
    types: [],
    everything: false,
    node: false,
    packages: false,
  });
  assert.deepEqual([lib!.values, lib!.types], [['src/core/'], ['src/app/']]);
  assert.deepEqual(app!.values, ['src/lib/', 'src/core/facts.ts']);
  assert.equal(cli!.everything, true);
  assert.equal(app!.node, true);
  assert.throws(() => readLayout('## Layout\n\n| `src/a/` | x | `nowhere` |\n\n## End\n'), /nowhere/);
});

test('a rule break is reported: an unlisted area, a value where types are allowed, Node in the core', () => {
  const breaks = ruleBreaks(sample, [
    edge('src/app/a.ts', 'src/lib/x.ts'), // allowed
    edge('src/app/a.ts', 'src/core/facts.ts'), // allowed: the one file
    edge('src/app/a.ts', 'src/core/client.ts'), // not that file
    edge('src/lib/x.ts', 'src/app/a.ts', true), // types: allowed
    edge('src/lib/x.ts', 'src/app/a.ts'), // a value: not allowed
    edge('src/core/c.ts', 'node:fs'),
    edge('src/core/c.ts', 'some-package'),
    edge('src/app/a.ts', 'node:fs'), // allowed
    edge('src/cli/main.ts', 'src/app/a.ts'), // everything
    edge('src/other/z.ts', 'src/core/c.ts'), // in no row
  ]);
  assert.deepEqual(
    breaks.map((b) => b.replace(/ \(.*/, '')),
    [
      'src/app/a.ts:1 → src/core/client.ts',
      'src/lib/x.ts:1 → src/app/a.ts',
      'src/core/c.ts:1 → node:fs',
      'src/core/c.ts:1 → some-package',
      'src/other/z.ts:1 → src/core/c.ts',
    ],
  );
});

test('a cycle is found between areas at run time, and type-only imports close none', () => {
  const imports = [
    edge('src/app/a.ts', 'src/lib/x.ts'),
    edge('src/lib/x.ts', 'src/app/b.ts', true),
    edge('src/app/b.ts', 'src/core/c.ts'),
  ];
  assert.deepEqual(cycles(runtimeGraph(sample, imports, true)), []);
  const closed = [...imports, edge('src/lib/y.ts', 'src/app/b.ts')];
  assert.deepEqual(cycles(runtimeGraph(sample, closed, true)), [['src/app/', 'src/lib/']]);
  assert.deepEqual(cycles(runtimeGraph(sample, closed, false)), []);
  const files = [edge('src/app/a.ts', 'src/app/b.ts'), edge('src/app/b.ts', 'src/app/a.ts')];
  assert.deepEqual(cycles(runtimeGraph(sample, files, false)), [['src/app/a.ts', 'src/app/b.ts']]);
});

test('the import reader sees every form: static, export-from, dynamic, type-only, typeof import', () => {
  const text = [
    "import { a } from './a.js';",
    "import type { B } from './b.js';",
    "import { type C, type D } from './c.js';",
    "import { type E, f } from './e.js';",
    "export { g } from './g.js';",
    "export type { H } from './h.js';",
    "import './side-effect.js';",
    "const m = await import('./m.js');",
    "let t: typeof import('./t.js');",
    "import { readFileSync } from 'node:fs';",
  ].join('\n');
  const got = importsOf(root, 'src/app/x.ts', text).map((e) => [e.specifier, e.typeOnly, e.kind, e.to]);
  assert.deepEqual(got, [
    ['./a.js', false, 'static', 'src/app/a.ts'],
    ['./b.js', true, 'static', 'src/app/b.ts'],
    ['./c.js', true, 'static', 'src/app/c.ts'],
    ['./e.js', false, 'static', 'src/app/e.ts'],
    ['./g.js', false, 'static', 'src/app/g.ts'],
    ['./h.js', true, 'static', 'src/app/h.ts'],
    ['./side-effect.js', false, 'static', 'src/app/side-effect.ts'],
    ['./m.js', false, 'dynamic', 'src/app/m.ts'],
    ['./t.js', true, 'type-query', 'src/app/t.ts'],
    ['node:fs', false, 'static', undefined],
  ]);
});

test('test/ mirrors src/: every test is in the folder of what it tests, or in a cross-area folder', () => {
  const tests = testFiles(root);
  assert.ok(tests.length > 100, `the test files are found (${tests.length})`);
  assert.deepEqual(misplacedTests(root, tests), []);
});

test('the mirror rule finds a misplaced test (it can fail)', () => {
  assert.deepEqual(
    misplacedTests(root, [
      'test/server/tokens/api.test.ts',
      'test/config.test.ts',
      'test/layout.test.ts',
      'test/e2e/anything.test.ts',
      'test/server/cache/x.test.ts',
      'test/tokens/api.test.ts',
      'test/settings.test.ts',
    ]),
    ['test/server/cache/x.test.ts', 'test/tokens/api.test.ts', 'test/settings.test.ts'],
  );
});
