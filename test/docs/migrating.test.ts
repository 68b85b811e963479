// docs/migrating.md followed as written: three amazon-sp-api sellers' environment (the app's
// SELLING_PARTNER_APP_* credentials and SELLER_<ID>_REFRESH_TOKEN variables) → the guide's
// credentials.sh and import-sellers.sh → `spapi-auth sellers import` into a SQLite store whose LWA
// is the emulator → `spapi-auth serve` → the guide's sellers.mjs and report.mjs: a real SellingPartner
// of amazon-sp-api (the devDependency, unchanged) serving all three sellers through the adapter, and
// the other SDKs' examples. The emulator counts every LWA call; marker secrets never show in output.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { devApplication } from '../../src/emulator/dev-app.js';
import { startEmulator, type RunningEmulator } from '../../src/emulator/index.js';
import { repoRoot, runCli } from '../helpers/cli.js';
import { freePort, markerSecrets, startServe, type ServeProcess } from '../helpers/e2e.js';
import { grantAtEmulator } from '../helpers/grants.js';
import { runnableBlocks, type RunnableBlock } from '../helpers/readme.js';

const guide = readFileSync(join(repoRoot, 'docs/migrating.md'), 'utf8');
const preload = fileURLToPath(new URL('./fixtures/emulator-https.mjs', import.meta.url));
const SELLERS = [
  { id: 'A1EMUSELLERNA01', region: 'na' },
  { id: 'A1EMUSELLEREU01', region: 'eu' },
  { id: 'A1EMUSELLERFE01', region: 'fe' },
] as const;
const PARTICIPATIONS = '/sellers/v1/marketplaceParticipations';

interface Ran {
  code: number;
  stdout: string;
  stderr: string;
}

function run(file: string, args: string[], cwd: string, env: Record<string, string>): Promise<Ran> {
  return new Promise((resolve) => {
    execFile(file, args, { cwd, env, timeout: 60_000 }, (err, stdout, stderr) => {
      const code = err === null ? 0 : typeof err.code === 'number' ? err.code : 1;
      resolve({ code, stdout, stderr });
    });
  });
}

/** The guide's block saved as its file in `dir`. */
function save(blocks: RunnableBlock[], file: string, dir: string): RunnableBlock {
  const block = blocks.find((b) => b.file === file);
  assert.ok(block, `docs/migrating.md has ${file}`);
  writeFileSync(join(dir, file), block.code);
  return block;
}

/** The `// → ` lines a block promises. */
const promised = (block: RunnableBlock): string[] =>
  [...block.code.matchAll(/^\/\/ → (.*)$/gm)].map((m) => m[1]!.trim());

const sum = (r: Record<string, number> | undefined): number =>
  Object.values(r ?? {}).reduce((a, b) => a + b, 0);

test('docs/migrating.md: marks its runnable blocks', () => {
  const files = runnableBlocks(guide).map((b) => b.file);
  for (const f of [
    'credentials.sh',
    'import-sellers.sh',
    'sellers.mjs',
    'report.mjs',
    'sp-api-sdk.mjs',
    'official-sdk.mjs',
  ])
    assert.ok(files.includes(f), `${f} is marked runnable`);
});

test('docs/migrating.md: three amazon-sp-api sellers move to spapi-auth and keep their SellingPartner calls', async (t) => {
  if (!existsSync(join(repoRoot, 'dist/cli/main.js'))) {
    if (process.env.CI === 'true') assert.fail('dist/ is missing: run npm run build before this test');
    t.skip('dist/ is missing: run npm run build');
    return;
  }
  const dir = mkdtempSync(join(tmpdir(), 'spapi-auth-migrating-'));
  const secrets = markerSecrets('MIGRATE');
  const port = await freePort();
  const publicUrl = `http://127.0.0.1:${port}`;
  const app = { ...devApplication(publicUrl), clientSecret: secrets.clientSecret };
  let emulator: RunningEmulator | undefined;
  let serve: ServeProcess | undefined;
  const outputs: string[] = [];
  try {
    emulator = await startEmulator({
      port: 0,
      applications: [app],
      rates: { getMarketplaceParticipations: { rate: 1e6, burst: 1e6 } },
    });
    const em = emulator;
    const stats = () => em.emulator.control.stats();
    const refreshTokens: Record<string, string> = {};
    for (const s of SELLERS)
      refreshTokens[s.id] = (
        await grantAtEmulator(em.emulator, app, secrets.clientSecret, s.id)
      ).refreshToken;

    // The folder the guide's files are saved in, where `spapi-auth` and the SDKs resolve as installed.
    const bin = join(dir, 'bin');
    mkdirSync(bin);
    writeFileSync(
      join(bin, 'spapi-auth'),
      `#!/bin/sh\nexec "${process.execPath}" "${join(repoRoot, 'dist/cli/main.js')}" "$@"\n`,
    );
    chmodSync(join(bin, 'spapi-auth'), 0o755);
    mkdirSync(join(dir, 'node_modules/@sp-api-sdk'), { recursive: true });
    mkdirSync(join(dir, 'node_modules/@amazon-sp-api-release'), { recursive: true });
    symlinkSync(repoRoot, join(dir, 'node_modules/spapi-auth'), 'dir');
    for (const pkg of [
      'amazon-sp-api',
      '@sp-api-sdk/auth',
      '@sp-api-sdk/orders-api-v0',
      '@amazon-sp-api-release/amazon-sp-api-sdk-js',
    ])
      symlinkSync(join(repoRoot, 'node_modules', pkg), join(dir, 'node_modules', pkg), 'dir');
    const home = join(dir, 'home');
    mkdirSync(home);
    const PATH = `${bin}:${process.env.PATH ?? ''}`;

    // Before: what an amazon-sp-api deployment of three sellers had in its environment.
    const before: Record<string, string> = {
      SELLING_PARTNER_APP_CLIENT_ID: app.clientId,
      SELLING_PARTNER_APP_CLIENT_SECRET: secrets.clientSecret,
    };
    for (const s of SELLERS) {
      before[`SELLER_${s.id}_REFRESH_TOKEN`] = refreshTokens[s.id]!;
      if (s.region !== 'na') before[`SELLER_${s.id}_REGION`] = s.region; // na: the recipe's default
    }
    // spapi-auth's own configuration (deployment.md), with the emulator as Amazon.
    const databaseUrl = `sqlite:${join(dir, 'spapi-auth.db')}`;
    const service = {
      SPAPI_APPLICATION_ID: app.id,
      SPAPI_AUTH_PUBLIC_URL: publicUrl,
      SPAPI_AUTH_AMAZON_URL: em.url,
      DATABASE_URL: databaseUrl,
      SPAPI_AUTH_ENCRYPTION_KEYS: secrets.encryptionKeys,
    };
    const blocks = runnableBlocks(guide);
    save(blocks, 'credentials.sh', dir);
    save(blocks, 'import-sellers.sh', dir);

    const migrated = await runCli(['migrate'], {
      env: { ...service, LWA_CLIENT_ID: app.clientId, LWA_CLIENT_SECRET: secrets.clientSecret },
    });
    assert.equal(migrated.code, 0, migrated.stderr);

    // The credentials file wins over the environment, as in amazon-sp-api.
    mkdirSync(join(home, '.amzspapi'));
    writeFileSync(
      join(home, '.amzspapi/credentials'),
      `SELLING_PARTNER_APP_CLIENT_ID=${app.clientId}\nSELLING_PARTNER_APP_CLIENT_SECRET = ${secrets.clientSecret}\n`,
    );
    const fromFile = await run(
      'sh',
      [
        '-c',
        '. ./credentials.sh && [ "$LWA_CLIENT_ID" = "$WANT_ID" ] && [ "$LWA_CLIENT_SECRET" = "$WANT_SECRET" ]',
      ],
      dir,
      {
        PATH,
        HOME: home,
        SELLING_PARTNER_APP_CLIENT_ID: 'not-this-one',
        WANT_ID: app.clientId,
        WANT_SECRET: secrets.clientSecret,
      },
    );
    assert.equal(fromFile.code, 0, 'credentials.sh reads ~/.amzspapi/credentials first');
    rmSync(join(home, '.amzspapi'), { recursive: true });

    // Sections 1 and 3: the credentials from the environment, the refresh tokens into the import.
    const refreshesAtStart = sum((await stats()).token.refresh_token);
    const imported = await run('sh', ['-c', '. ./credentials.sh && . ./import-sellers.sh'], dir, {
      PATH,
      HOME: home,
      ...before,
      ...service,
    });
    outputs.push(imported.stdout, imported.stderr);
    assert.equal(imported.code, 0, imported.stdout + imported.stderr);
    assert.match(imported.stdout, /^3 lines: 3 imported, 0 unchanged, 0 failed; 3 LWA refreshes$/m);
    assert.match(imported.stdout, /^note: 3 seller ids taken from the file/m);
    const afterImport = (await stats()).token.refresh_token ?? {};
    assert.equal(sum(afterImport) - refreshesAtStart, 3, 'one LWA refresh per seller, by the import');

    // Section 2: the service and the workers' key.
    serve = await startServe({
      ...service,
      LWA_CLIENT_ID: app.clientId,
      LWA_CLIENT_SECRET: secrets.clientSecret,
      PORT: String(port),
      HOST: '127.0.0.1',
      SPAPI_AUTH_REFRESH_RATE_LIMIT: '0', // no proactive refresh: the refreshes counted are the callers'
    });
    const created = await runCli(
      ['keys', 'create', '--scopes', 'tokens:read,sellers:read', '--name', 'workers', '--json'],
      {
        env: { ...service, LWA_CLIENT_ID: app.clientId, LWA_CLIENT_SECRET: secrets.clientSecret },
      },
    );
    assert.equal(created.code, 0, created.stderr);
    outputs.push(created.stderr);
    const apiKey = (JSON.parse(created.stdout) as { key: string }).key;

    // Section 5: the workers, with no LWA credentials, no refresh token and no credentials file.
    save(blocks, 'sellers.mjs', dir);
    const report = save(blocks, 'report.mjs', dir);
    const workerEnv = {
      PATH,
      HOME: home,
      SPAPI_AUTH_URL: serve.url,
      SPAPI_AUTH_API_KEY: apiKey,
      SPAPI_AUTH_TEST_EMULATOR_PORT: String(em.port),
    };
    const node = (file: string, ...args: string[]) =>
      run(process.execPath, ['--import', preload, file, ...args], dir, workerEnv);
    const spapiBefore = sum((await stats()).spapi[PARTICIPATIONS]);
    const first = await node('report.mjs');
    outputs.push(first.stdout, first.stderr);
    assert.equal(first.code, 0, first.stderr);
    assert.deepEqual(
      first.stdout.trim().split('\n'),
      promised(report),
      'report.mjs prints what the guide says',
    );
    assert.equal(sum((await stats()).spapi[PARTICIPATIONS]) - spapiBefore, 3, 'one SP-API call per seller');
    assert.deepEqual(
      (await stats()).token.refresh_token,
      afterImport,
      'the import’s tokens served: no LWA call',
    );

    // Amazon's clock passes the tokens' expiry while spapi-auth still holds them as fresh: SP-API
    // answers 403 "expired", and the refreshes are spapi-auth's, one per seller (amazon-sp-api holds
    // placeholder credentials: a refresh of its own would be an invalid_client at the emulator).
    await em.emulator.control.advance(3_600);
    const second = await node('report.mjs');
    outputs.push(second.stdout, second.stderr);
    assert.equal(second.code, 0, second.stderr);
    assert.deepEqual(second.stdout.trim().split('\n'), promised(report));
    const refreshes = (await stats()).token.refresh_token ?? {};
    assert.equal(sum(refreshes) - sum(afterImport), 3, 'one refresh per seller');
    assert.equal(
      (refreshes['ok'] ?? 0) - (afterImport['ok'] ?? 0),
      3,
      'each one accepted: the app’s real credentials',
    );
    assert.equal((await stats()).spapi[PARTICIPATIONS]?.['403'], 3, 'each seller’s old token refused once');

    // Section 6: the other SDKs' examples, against the same service.
    const sdk = await node(save(blocks, 'sp-api-sdk.mjs', dir).file, 'A1EMUSELLERNA01', 'na');
    outputs.push(sdk.stdout, sdk.stderr);
    assert.equal(sdk.code, 0, sdk.stderr);
    assert.deepEqual(
      sdk.stdout.trim().split('\n'),
      promised(blocks.find((b) => b.file === 'sp-api-sdk.mjs')!),
    );
    const official = await node(save(blocks, 'official-sdk.mjs', dir).file, 'A1EMUSELLEREU01', 'eu');
    outputs.push(official.stdout, official.stderr);
    assert.equal(official.code, 0, official.stderr);
    assert.deepEqual(
      official.stdout.trim().split('\n'),
      promised(blocks.find((b) => b.file === 'official-sdk.mjs')!),
    );
    assert.equal(sum((await stats()).token.refresh_token) - sum(refreshes), 0, 'no LWA call from the SDKs');

    outputs.push(serve.output().stdout, serve.output().stderr);
    const all = outputs.join('\n');
    for (const secret of [secrets.clientSecret, secrets.keyBytes, ...Object.values(refreshTokens)])
      assert.ok(!all.includes(secret), 'no secret in any output');
  } finally {
    await serve?.stop();
    await emulator?.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
