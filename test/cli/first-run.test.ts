// The CLI as a new user met it: mistyped flags, a busy port, a database file that did not exist,
// and one rule for store commands on a store that is missing or not migrated. In-process (main()).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { main } from '../../src/cli/cli.js';
import { devApplication } from '../../src/emulator/dev-app.js';

async function run(
  argv: string[],
  env: Record<string, string> = {},
  cwd = process.cwd(),
): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const code = await main(argv, {
    env: { ...env },
    cwd,
    stdout: (t) => void (stdout += t),
    stderr: (t) => void (stderr += t),
  });
  return { code, stdout, stderr };
}

test('an unknown flag says which one was meant instead of parseArgs text', async () => {
  const cases: [string[], RegExp][] = [
    [['sellers', 'list', '--jsno'], /^spapi-auth sellers: unknown option --jsno \(did you mean --json\?\)/],
    [['token', 'A1', '--regoin', 'na'], /unknown option --regoin \(did you mean --region\?\)/],
    [['url', '--market', 'DE'], /unknown option --market \(did you mean --marketplace\?\)/],
    [['keys', 'create', '--scope', 'connect'], /unknown option --scope \(did you mean --scopes\?\)/],
    [['doctor', '--frobnicate'], /unknown option --frobnicate \(see spapi-auth doctor --help\)/],
    [['doctor', '-x'], /unknown option -x /],
    [['migrate', 'extra'], /unexpected argument 'extra' \(this command takes none\)/],
    [['encryption-key', 'generate', '--kid'], /option --kid needs a value/],
  ];
  for (const [argv, re] of cases) {
    const r = await run(argv);
    assert.equal(r.code, 2, argv.join(' '));
    assert.match(r.stderr, re, argv.join(' '));
    assert.doesNotMatch(
      r.stderr,
      /To specify a positional argument|place it at the end/,
      'no parseArgs text',
    );
  }
  const cmd = await run(['selers', 'list']);
  assert.match(cmd.stderr, /unknown command 'selers' \(did you mean 'sellers'\?\)/);
});

test('store commands other than migrate refuse a missing or unmigrated database: keys create like sellers list', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'spapi-first-run-'));
  try {
    const env = { DATABASE_URL: `sqlite:${join(dir, 'typo.db')}` };
    for (const argv of [
      ['keys', 'create', '--scopes', 'connect'],
      ['keys', 'list'],
      ['sellers', 'list'],
    ]) {
      const r = await run(argv, env);
      assert.equal(r.code, 1, argv.join(' '));
      assert.match(r.stderr, /no database at .*typo\.db.*spapi-auth migrate/, argv.join(' '));
    }
    assert.equal(existsSync(join(dir, 'typo.db')), false, 'nothing was created');
    const migrated = await run(['migrate'], env);
    assert.equal(migrated.code, 0, migrated.stderr);
    assert.match(migrated.stderr, /created a new SQLite database at .*typo\.db/);
    assert.equal((await run(['migrate'], env)).stderr, '', 'an existing file is not announced');
    const key = await run(['keys', 'create', '--scopes', 'connect'], env);
    assert.equal(key.code, 0, key.stderr);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('serve: says when it creates a new database, and names the port that is busy', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'spapi-first-run-'));
  const blocker = createServer();
  await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
  const port = (blocker.address() as { port: number }).port;
  const app = devApplication('http://localhost:3000');
  try {
    const r = await run(['serve'], {
      LWA_CLIENT_ID: app.clientId,
      LWA_CLIENT_SECRET: 'CANARY-first-run-cli-secret',
      SPAPI_APPLICATION_ID: app.id,
      SPAPI_AUTH_PUBLIC_URL: 'http://localhost:3000',
      SPAPI_AUTH_ENCRYPTION_KEYS: `k1:${Buffer.alloc(32, 3).toString('base64')}`,
      SPAPI_AUTH_AMAZON_URL: 'http://127.0.0.1:9',
      SPAPI_AUTH_REFRESH_RATE_LIMIT: '0',
      DATABASE_URL: `sqlite:${join(dir, 'new.db')}`,
      PORT: String(port),
      HOST: '127.0.0.1',
    });
    assert.equal(r.code, 1);
    assert.match(r.stderr, /created a new, empty SQLite database at .*new\.db/);
    assert.match(r.stderr, new RegExp(`port ${port} on 127\\.0\\.0\\.1 is already in use`));
    assert.doesNotMatch(r.stderr + r.stdout, /CANARY-first-run-cli-secret/);
  } finally {
    blocker.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('serve with nothing set lists every missing variable in one line', async () => {
  const r = await run(['serve']);
  assert.equal(r.code, 1);
  assert.match(
    r.stderr,
    /LWA_CLIENT_ID, LWA_CLIENT_SECRET, SPAPI_APPLICATION_ID, SPAPI_AUTH_PUBLIC_URL, SPAPI_AUTH_ENCRYPTION_KEYS: are required/,
  );
  assert.equal(r.stderr.trimEnd().split('\n').length, 1);
});
