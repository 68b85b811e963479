// The package as a user gets it: `npm pack` of the repo (after `npm test` built dist/). First
// unpacked and checked as files: what ships, what the exports and bin point at, and that the core
// runs from the unpacked folder with no dependency reachable. Then installed, offline, into a
// scratch project: no native driver comes along, the published types compile in a strict project
// without Node types, and the library, the storage entry (which names the missing driver) and the
// CLI run.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { startEmulator } from '../src/emulator/index.js';
import { startDev, type DevProcess } from './helpers/dev.js';
import { freePort } from './helpers/e2e.js';
import { distProblem, pack } from './helpers/pack.js';
import { runnableBlocks } from './helpers/readme.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

interface LockEntry {
  version: string;
  resolved?: string;
  integrity?: string;
  dependencies?: Record<string, string>;
  [field: string]: unknown;
}

/**
 * A scratch project's package.json and package-lock.json depending on the packed tarball only, its
 * runtime dependencies pinned as the repo's lockfile pins them, each with its registry URL and
 * integrity: `npm ci --offline` then installs from npm's cache (which the repo's own `npm ci` filled)
 * without asking the registry anything, as a user's CI would install it.
 */
function scratchProject(
  app: string,
  packed: { tarball: string; integrity: string },
  drivers: readonly string[] = [],
): void {
  const repoLock = JSON.parse(readFileSync(join(root, 'package-lock.json'), 'utf8')) as {
    packages: Record<string, LockEntry>;
  };
  const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as PackageJson & {
    version: string;
    license: string;
  };
  const spec = `file:../${packed.tarball.split(/[\\/]/).pop()}`;
  // Drivers at the versions the repo tests with (its devDependencies).
  const dependencies: Record<string, string> = { 'spapi-auth': spec };
  for (const driver of drivers) dependencies[driver] = pkg.devDependencies[driver]!;
  const packages: Record<string, LockEntry> = {
    '': { version: '1.0.0', name: 'scratch-app', dependencies },
    'node_modules/spapi-auth': {
      version: pkg.version,
      resolved: spec,
      integrity: packed.integrity,
      license: pkg.license,
      bin: pkg.bin,
      engines: pkg.engines,
      ...(pkg.dependencies ? { dependencies: pkg.dependencies } : {}),
      peerDependencies: pkg.peerDependencies,
      peerDependenciesMeta: pkg.peerDependenciesMeta,
    },
  };
  const add = (deps: Record<string, string> | undefined, at: string, optional = false): void => {
    for (const name of Object.keys(deps ?? {})) {
      const path = [`${at}node_modules/${name}`, `node_modules/${name}`].find((p) => repoLock.packages[p]);
      if (path === undefined && optional) continue;
      assert.ok(path, `${name} is in the repo's lockfile`);
      if (packages[path]) continue;
      // A dev-only package of the repo is a dependency of the scratch project.
      const { dev: _dev, devOptional: _devOptional, ...entry } = repoLock.packages[path]!;
      const base = name.split('/').pop()!;
      packages[path] = {
        ...entry,
        resolved: entry.resolved ?? `https://registry.npmjs.org/${name}/-/${base}-${entry.version}.tgz`,
      };
      add(entry.dependencies, `${path}/`);
      add(entry.optionalDependencies as Record<string, string> | undefined, `${path}/`, true);
    }
  };
  add(pkg.dependencies, '');
  add(Object.fromEntries(drivers.map((d) => [d, ''])), '');
  const manifest = { name: 'scratch-app', version: '1.0.0', private: true, type: 'module' };
  writeFileSync(join(app, 'package.json'), JSON.stringify({ ...manifest, dependencies }));
  writeFileSync(
    join(app, 'package-lock.json'),
    JSON.stringify({ name: 'scratch-app', version: '1.0.0', lockfileVersion: 3, requires: true, packages }),
  );
}

/** Installed packages (scoped ones included) that would run an install script or build an addon. */
function packagesThatBuild(modules: string): string[] {
  const dirs = readdirSync(modules)
    .filter((d) => !d.startsWith('.'))
    .flatMap((d) => (d.startsWith('@') ? readdirSync(join(modules, d)).map((s) => `${d}/${s}`) : [d]));
  return dirs.filter((d) => {
    const manifest = JSON.parse(readFileSync(join(modules, d, 'package.json'), 'utf8')) as {
      scripts?: Record<string, string>;
    };
    const scripts = Object.keys(manifest.scripts ?? {});
    return (
      ['preinstall', 'install', 'postinstall'].some((s) => scripts.includes(s)) ||
      existsSync(join(modules, d, 'binding.gyp'))
    );
  });
}

interface PackageJson {
  name: string;
  exports: Record<string, { types: string; default: string }>;
  bin: Record<string, string>;
  files: string[];
  engines: { node: string };
  dependencies?: Record<string, string>;
  devDependencies: Record<string, string>;
  peerDependencies: Record<string, string>;
  peerDependenciesMeta: Record<string, { optional?: boolean }>;
}

test('npm pack: the tarball a user installs ships what the exports, bin and docs need, and the core runs with no dependency', async (t) => {
  const problem = distProblem();
  if (problem !== undefined) {
    if (process.env.CI === 'true') assert.fail(`${problem}: run npm run build before this test`);
    t.skip(`${problem}: run npm run build (npm test does) to test the packed package`);
    return;
  }
  const { dir, tarball } = pack();
  try {
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
    assert.deepEqual(Object.keys(pkg.exports).sort(), [
      '.',
      './adapters/amazon-sp-api',
      './adapters/official-sdk',
      './adapters/sp-api-sdk',
      './client',
      './emulator',
      './server',
      './storage',
    ]);
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

/** The environment of a child npm or node: without the npm_* settings of an enclosing `npm test`. */
function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!/^npm_/i.test(k)) env[k] = v;
  return { ...env, ...extra };
}

/** Runs a command, resolving to its exit status and output (never throwing on a non-zero exit). */
function run(
  cmd: string,
  args: readonly string[],
  opts: { cwd: string; env?: NodeJS.ProcessEnv },
): { status: number; stdout: string; stderr: string } {
  try {
    const stdout = execFileSync(cmd, args, {
      cwd: opts.cwd,
      env: opts.env ?? cleanEnv(),
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    return { status: 0, stdout, stderr: '' };
  } catch (err) {
    const e = err as { status?: number; stdout?: string; stderr?: string };
    return { status: e.status ?? 1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

const STRICT = {
  strict: true,
  exactOptionalPropertyTypes: true,
  noUncheckedIndexedAccess: true,
  skipLibCheck: false,
  target: 'ES2022',
  module: 'NodeNext',
  moduleResolution: 'NodeNext',
  noEmit: true,
};

test('a scratch project installs the tarball offline without the optional drivers, type-checks strictly without Node types, and runs', async (t) => {
  const problem = distProblem();
  if (problem !== undefined) {
    if (process.env.CI === 'true') assert.fail(`${problem}: run npm run build before this test`);
    t.skip(`${problem}: run npm run build (npm test does) to test the packed package`);
    return;
  }
  const packed = pack();
  const { dir } = packed;
  try {
    const app = join(dir, 'app');
    mkdirSync(app);
    scratchProject(app, packed);
    // Offline, install scripts allowed: the assertions below show that none was there to run.
    const install = run('npm', ['ci', '--offline', '--omit=optional', '--no-audit', '--no-fund'], {
      cwd: app,
    });
    assert.equal(install.status, 0, `npm ci of the tarball failed: ${install.stderr.slice(0, 2000)}`);
    const modules = join(app, 'node_modules');
    const pkg = JSON.parse(readFileSync(join(modules, 'spapi-auth/package.json'), 'utf8')) as PackageJson;

    // The drivers are optional peers: declared with their major version, not installed.
    assert.deepEqual(Object.keys(pkg.peerDependencies).sort(), ['better-sqlite3', 'pg']);
    for (const driver of ['better-sqlite3', 'pg']) {
      assert.equal(pkg.peerDependenciesMeta[driver]?.optional, true, `${driver} is an optional peer`);
      assert.equal(pkg.dependencies?.[driver], undefined, `${driver} is not a dependency`);
      assert.ok(!existsSync(join(modules, driver)), `${driver} is not installed`);
    }
    assert.deepEqual(
      packagesThatBuild(modules),
      [],
      'no installed package has an install script (nothing compiles)',
    );

    // The core's types, in a strict project with no Node types at all (fetch's types from the DOM lib).
    writeFileSync(
      join(app, 'core.ts'),
      `import { buildConsentUrl, createState, createMemoryTokenVault, createTokenManager, CallbackError, SpapiAuthError } from 'spapi-auth';
import type { SellerTokenKey, TokenVault } from 'spapi-auth';
const state: string = createState();
export const url: string = buildConsentUrl({ marketplace: 'DE', applicationId: 'amzn1.sp.solution.1', state });
export const vault: TokenVault = createMemoryTokenVault();
export const key: SellerTokenKey = { sellingPartnerId: 'A3FHEXAMPLEYWS', region: 'eu' };
export const tokens = createTokenManager({ credentials: { clientId: 'id', clientSecret: 'secret' }, vault });
const failure = new CallbackError('invalid_callback', 'bad');
export const base: SpapiAuthError = failure;
export const code: 'invalid_callback' | 'code_missing' | 'authorization_denied' = failure.code;
// @ts-expect-error a region outside na / eu / fe is refused by the types
export const wrong: SellerTokenKey = { sellingPartnerId: 'A1', region: 'xx' };
`,
    );
    writeFileSync(
      join(app, 'tsconfig.core.json'),
      JSON.stringify({
        compilerOptions: { ...STRICT, types: [], lib: ['ES2023', 'DOM'] },
        files: ['core.ts'],
      }),
    );
    const tsc = join(root, 'node_modules/typescript/bin/tsc');
    const core = run(process.execPath, [tsc, '-p', 'tsconfig.core.json'], { cwd: app });
    assert.equal(
      core.status,
      0,
      `the core's declarations do not compile without Node types:\n${core.stdout}`,
    );

    // Every other entry with Node's types only: no @types/pg nor @types/better-sqlite3 is reachable
    // from the temp folder, so a declaration naming either would fail here.
    mkdirSync(join(app, 'types'));
    symlinkSync(join(root, 'node_modules/@types/node'), join(app, 'types/node'), 'dir');
    writeFileSync(
      join(app, 'node.ts'),
      `import { createPostgresStore, openStore, StorageDriverMissingError } from 'spapi-auth/storage';
import type { PgPoolLike, Store } from 'spapi-auth/storage';
import { startEmulator } from 'spapi-auth/emulator';
import * as server from 'spapi-auth/server';
export const open: (url: string) => Promise<Store> = (url) => openStore(url);
export const withPool = (pool: PgPoolLike): Promise<Store> => createPostgresStore({ pool });
export const missing = (err: unknown): string | undefined =>
  err instanceof StorageDriverMissingError ? err.installCommand : undefined;
export const emulator = startEmulator;
export const serverEntry = server;
`,
    );
    writeFileSync(
      join(app, 'tsconfig.node.json'),
      JSON.stringify({
        compilerOptions: { ...STRICT, types: ['node'], typeRoots: ['./types'], lib: ['ES2023'] },
        files: ['node.ts'],
      }),
    );
    const node = run(process.execPath, [tsc, '-p', 'tsconfig.node.json'], { cwd: app });
    assert.equal(
      node.status,
      0,
      `the storage, emulator or server declarations do not compile:\n${node.stdout}`,
    );

    // At run time: the core by import and by require() (engines names the Node lines the suite runs
    // on, each one that loads this ES module with require()), the other entries, and a store that
    // names its missing driver.
    assert.equal(pkg.engines.node, '^20.19.0 || ^22.12.0 || >=24.0.0');
    const script = `
      const { buildConsentUrl, createState } = await import('spapi-auth');
      const url = buildConsentUrl({ marketplace: 'JP', applicationId: 'amzn1.sp.solution.1', state: createState() });
      await import('spapi-auth/emulator');
      await import('spapi-auth/server');
      const { openStore } = await import('spapi-auth/storage');
      const stores = {};
      for (const databaseUrl of ['sqlite:./data/app.db', 'memory:', 'postgres://app@127.0.0.1:1/app']) {
        try {
          await openStore(databaseUrl);
          stores[databaseUrl] = 'opened';
        } catch (err) {
          stores[databaseUrl] = { name: err.name, code: err.code, driver: err.driver, message: err.message };
        }
      }
      process.stdout.write(JSON.stringify({ url, stores }));`;
    const imported = run(process.execPath, ['--input-type=module', '-e', script], { cwd: app });
    assert.equal(imported.status, 0, imported.stderr);
    const out = JSON.parse(imported.stdout) as {
      url: string;
      stores: Record<string, { name: string; code: string; driver: string; message: string }>;
    };
    assert.equal(new URL(out.url).origin, 'https://sellercentral.amazon.co.jp');
    for (const [databaseUrl, driver] of [
      ['sqlite:./data/app.db', 'better-sqlite3@12'],
      ['memory:', 'better-sqlite3@12'],
      ['postgres://app@127.0.0.1:1/app', 'pg@8'],
    ] as const) {
      const failure = out.stores[databaseUrl]!;
      assert.equal(failure.name, 'StorageDriverMissingError', databaseUrl);
      assert.equal(failure.code, 'storage_driver_missing', databaseUrl);
      assert.equal(failure.driver, driver.split('@')[0]);
      assert.ok(failure.message.includes(`npm install ${driver}`), failure.message);
    }
    assert.ok(!existsSync(join(app, 'data')), 'nothing was created for the store that could not open');
    const required = run(
      process.execPath,
      ['-e', "const m = require('spapi-auth'); process.stdout.write(typeof m.buildConsentUrl)"],
      { cwd: app },
    );
    assert.equal(
      required.status,
      0,
      `require('spapi-auth') failed on ${process.version}: ${required.stderr}`,
    );
    assert.equal(required.stdout, 'function');

    // The CLI: help without any driver; a store command names the missing one and exits 1.
    const cli = join(modules, 'spapi-auth', pkg.bin['spapi-auth']!);
    const help = run(process.execPath, [cli, '--help'], { cwd: app });
    assert.equal(help.status, 0, help.stderr);
    const migrate = run(process.execPath, [cli, 'migrate'], {
      cwd: app,
      env: cleanEnv({ DATABASE_URL: 'sqlite:./data/app.db' }),
    });
    assert.equal(migrate.status, 1);
    assert.match(migrate.stderr, /npm install better-sqlite3@12/);
    assert.match(migrate.stderr, /storage_driver_missing/);

    // The user installs the drivers (here without their install scripts, so better-sqlite3's addon
    // is not built): the store finds pg in the user's node_modules, and asks to rebuild the addon.
    const withDrivers = join(dir, 'app-with-drivers');
    mkdirSync(withDrivers);
    scratchProject(withDrivers, packed, ['better-sqlite3', 'pg']);
    const installDrivers = run('npm', ['ci', '--offline', '--ignore-scripts', '--no-audit', '--no-fund'], {
      cwd: withDrivers,
    });
    assert.equal(installDrivers.status, 0, installDrivers.stderr.slice(0, 2000));
    const opened = run(
      process.execPath,
      [
        '--input-type=module',
        '-e',
        `const { openStore } = await import('spapi-auth/storage');
        const out = {};
        for (const url of ['memory:', 'postgres://app@127.0.0.1:1/app']) {
          try { await openStore(url); out[url] = 'opened'; }
          catch (err) { out[url] = { code: err.code, name: err.name, installCommand: err.installCommand }; }
        }
        process.stdout.write(JSON.stringify(out));`,
      ],
      { cwd: withDrivers },
    );
    assert.equal(opened.status, 0, opened.stderr);
    assert.deepEqual(JSON.parse(opened.stdout), {
      'memory:': {
        code: 'storage_driver_missing',
        name: 'StorageDriverMissingError',
        installCommand: 'npm rebuild better-sqlite3',
      },
      'postgres://app@127.0.0.1:1/app': { code: 'store_unavailable', name: 'StorageUnavailableError' },
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a fresh clone packs with its build (prepack), and the tarball installed with better-sqlite3 next to it runs the README example and spapi-auth dev', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'spapi-auth-clone-'));
  const emulator = await startEmulator({ port: 0 });
  let dev: DevProcess | undefined;
  try {
    // The committed tree, as `git clone` gives it: no dist/. Its dependencies are the repo's own
    // (what `npm ci` would install), linked instead of installed again.
    const clone = join(dir, 'clone');
    const cloned = run('git', ['clone', '--quiet', '--no-hardlinks', root, clone], { cwd: dir });
    assert.equal(cloned.status, 0, cloned.stderr);
    assert.ok(!existsSync(join(clone, 'dist')), 'a clone has no dist/');
    symlinkSync(join(root, 'node_modules'), join(clone, 'node_modules'), 'dir');
    const packedJson = run('npm', ['pack', '--json', '--pack-destination', dir], { cwd: clone });
    assert.equal(packedJson.status, 0, `npm pack of the clone failed: ${packedJson.stderr.slice(0, 2000)}`);
    const [packed] = JSON.parse(packedJson.stdout) as {
      filename: string;
      integrity: string;
      files: { path: string }[];
    }[];
    assert.ok(packed);
    const shipped = packed.files.map((f) => f.path);
    for (const f of [
      'dist/core/index.js',
      'dist/cli/main.js',
      'dist/storage/migrations/sqlite/001_initial.sql',
    ])
      assert.ok(shipped.includes(f), `the clone's tarball ships ${f} (prepack built it)`);

    const app = join(dir, 'app');
    mkdirSync(app);
    scratchProject(app, { tarball: join(dir, packed.filename), integrity: packed.integrity });
    const install = run('npm', ['ci', '--offline', '--omit=optional', '--no-audit', '--no-fund'], {
      cwd: app,
    });
    assert.equal(install.status, 0, `npm ci of the tarball failed: ${install.stderr.slice(0, 2000)}`);
    // The SQLite driver next to the package, as `npm install spapi-auth better-sqlite3` puts it
    // (linked to the repo's build of it: compiling it again would only cost time).
    symlinkSync(join(root, 'node_modules/better-sqlite3'), join(app, 'node_modules/better-sqlite3'), 'dir');

    const example = runnableBlocks(readFileSync(join(root, 'README.md'), 'utf8')).find(
      (b) => b.file === 'example.mjs',
    );
    assert.ok(example, 'the README has its library example');
    writeFileSync(join(app, example.file), example.code);
    // Asynchronously: the emulator answering it runs in this process.
    const ran = await promisify(execFile)(process.execPath, [example.file], {
      cwd: app,
      env: cleanEnv({ ...example.env, SPAPI_AUTH_AMAZON_URL: emulator.url }),
      timeout: 60_000,
    });
    const promised = [...example.code.matchAll(/^\/\/ → (.*)$/gm)].map((m) => m[1]!.trim());
    assert.deepEqual(ran.stdout.trim().split('\n'), promised, 'it prints what the README says');

    const port = await freePort();
    dev = await startDev(app, port, undefined, [join(app, 'node_modules/.bin/spapi-auth')]);
    const health = await fetch(`http://127.0.0.1:${port}/healthz`);
    assert.equal(health.status, 200);
    const code = await dev.stop();
    dev = undefined;
    assert.equal(code, 0, 'dev stops cleanly on SIGINT');
  } finally {
    await dev?.stop();
    await emulator.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
