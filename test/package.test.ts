// The package as a user gets it: `npm pack` of the repo (after `npm test` built dist/), unpacked, and
// checked without `npm install` (native builds are slow): what ships, what the exports and bin point
// at, and that the core runs from the unpacked folder with no dependency reachable.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

/** Why dist/ cannot be packed as it is, or undefined when every source file has its build. */
function distProblem(): string | undefined {
  if (!existsSync(join(root, 'dist'))) return 'dist/ is missing';
  // A dist/ left over from an older or interrupted build would fail for reasons that are not packaging.
  const missing = readdirSync(join(root, 'src'), { recursive: true })
    .map(String)
    .filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts'))
    .map((f) => `dist/${f.replace(/\\/g, '/').replace(/\.ts$/, '.js')}`)
    .filter((f) => !existsSync(join(root, f)));
  return missing.length === 0
    ? undefined
    : `dist/ is incomplete (${missing.length} missing, e.g. ${missing[0]})`;
}

interface PackageJson {
  name: string;
  exports: Record<string, { types: string; default: string }>;
  bin: Record<string, string>;
  files: string[];
}

test('npm pack: the tarball a user installs ships what the exports, bin and docs need, and the core runs with no dependency', async (t) => {
  const problem = distProblem();
  if (problem !== undefined) {
    if (process.env.CI === 'true') assert.fail(`${problem}: run npm run build before this test`);
    t.skip(`${problem}: run npm run build (npm test does) to test the packed package`);
    return;
  }
  const dir = mkdtempSync(join(tmpdir(), 'spapi-auth-pack-'));
  try {
    const packed = JSON.parse(
      execFileSync('npm', ['pack', '--json', '--ignore-scripts', '--pack-destination', dir], {
        cwd: root,
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'pipe'],
      }),
    ) as { filename: string; files: { path: string }[] }[];
    const tarball = join(dir, packed[0]!.filename);
    execFileSync('tar', ['-xzf', tarball, '-C', dir]);
    const pkgDir = join(dir, 'package');
    // The listing is read from the unpacked folder, not npm's report: it is what a user gets.
    const files = new Set(
      readdirSync(pkgDir, { recursive: true })
        .map((f) => String(f).replace(/\\/g, '/'))
        .filter((f) => statSync(join(pkgDir, f)).isFile()),
    );
    const has = (f: string): boolean => files.has(f.replace(/^\.\//, ''));

    // The files list: dist/ with the SQL migrations, the docs and the README.
    for (const dialect of ['sqlite', 'postgres']) {
      const sql = [...files].filter(
        (f) => f.startsWith(`dist/storage/migrations/${dialect}/`) && f.endsWith('.sql'),
      );
      const inRepo = readdirSync(join(root, 'src/storage/migrations', dialect)).filter((f) =>
        f.endsWith('.sql'),
      );
      assert.ok(inRepo.length > 0, `src/storage/migrations/${dialect} has migrations`);
      assert.deepEqual(
        sql.map((f) => f.split('/').pop()).sort(),
        inRepo.sort(),
        `every ${dialect} migration ships`,
      );
    }
    assert.ok(has('README.md'), 'README.md ships');
    assert.ok(has('package.json'));
    for (const doc of readdirSync(join(root, 'docs')).filter((f) => f.endsWith('.md')))
      assert.ok(has(`docs/${doc}`), `docs/${doc} ships`);
    // No tests, no TypeScript sources, no repo tooling (source maps are fine).
    // The README links to the emulator's guide and the benchmark report: those two documents ship.
    const linkedDocs = new Set(['src/emulator/README.md', 'bench/REPORT.md', 'bench/refresh-rate.svg']);
    const unwanted = [...files].filter(
      (f) =>
        (!linkedDocs.has(f) &&
          /(^|\/)(test|tests|bench|scripts|src|node_modules|data|test-artifacts)\//.test(f)) ||
        /\.test\.(ts|js)$/.test(f) ||
        (f.endsWith('.ts') && !f.endsWith('.d.ts')) ||
        /^tsconfig|^\.git/.test(f),
    );
    assert.deepEqual(unwanted, [], 'nothing but the package ships');

    // Every exports entry resolves to a file in the tarball, with its declarations.
    const pkg = JSON.parse(readFileSync(join(pkgDir, 'package.json'), 'utf8')) as PackageJson;
    assert.deepEqual(Object.keys(pkg.exports).sort(), ['.', './emulator', './server', './storage']);
    for (const [entry, target] of Object.entries(pkg.exports)) {
      assert.ok(has(target.default), `exports["${entry}"].default ${target.default} is in the tarball`);
      assert.ok(has(target.types), `exports["${entry}"].types ${target.types} is in the tarball`);
      assert.equal(
        target.types,
        target.default.replace(/\.js$/, '.d.ts'),
        `exports["${entry}"] types beside its code`,
      );
    }

    // The bin is there and runs as a command.
    const bins = Object.values(pkg.bin);
    assert.ok(bins.length > 0, 'a bin is declared');
    for (const bin of bins) {
      assert.ok(has(bin), `bin ${bin} is in the tarball`);
      assert.match(readFileSync(join(pkgDir, bin), 'utf8').split('\n')[0]!, /^#!\/usr\/bin\/env node$/);
    }

    // The core from the unpacked folder, in a child with no node_modules anywhere up its tree: it
    // first proves a runtime dependency cannot be found there, then builds a consent URL.
    const ancestors: string[] = [];
    for (let d = pkgDir; ; d = dirname(d)) {
      ancestors.push(join(d, 'node_modules'));
      if (dirname(d) === d) break;
    }
    const reachable = ancestors.filter((d) => existsSync(d));
    if (reachable.length > 0) {
      t.skip(
        `a node_modules above the temp dir (${reachable[0]}) would make the no-dependency check vacuous`,
      );
      return;
    }
    const core = pathToFileURL(join(pkgDir, pkg.exports['.']!.default)).href;
    const script = `
      const dep = await import('better-sqlite3').then(() => 'found', (e) => e.code);
      if (dep !== 'ERR_MODULE_NOT_FOUND') throw new Error('a dependency is reachable: ' + dep);
      const { buildConsentUrl, createState } = await import(${JSON.stringify(core)});
      const state = createState();
      const url = buildConsentUrl({ marketplace: 'DE', applicationId: 'amzn1.sp.solution.1', state });
      process.stdout.write(JSON.stringify({ url, state }));`;
    const out = JSON.parse(
      execFileSync(process.execPath, ['--input-type=module', '-e', script], {
        cwd: pkgDir,
        encoding: 'utf8',
        env: { PATH: process.env.PATH ?? '' },
      }),
    ) as { url: string; state: string };
    const url = new URL(out.url);
    assert.equal(url.origin, 'https://sellercentral-europe.amazon.com');
    assert.equal(url.pathname, '/apps/authorize/consent');
    assert.equal(url.searchParams.get('application_id'), 'amzn1.sp.solution.1');
    assert.equal(url.searchParams.get('state'), out.state);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
