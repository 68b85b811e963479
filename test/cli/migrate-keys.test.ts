// `spapi-auth migrate` and `keys create|list|revoke` as a user runs them (child processes, SQLite).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { repoRoot, runCli } from '../helpers/cli.js';

test('migrate with progress, then keys create / list / revoke; usage errors exit 2', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'spapi-keys-'));
  const env = { DATABASE_URL: `sqlite:${join(dir, 'db.sqlite')}` };
  const cli = (args: string[]) => runCli(args, { env, cwd: repoRoot });
  try {
    const migrated = await cli(['migrate']);
    assert.equal(migrated.code, 0, migrated.stderr);
    assert.match(migrated.stdout, /^applied 1\/\d+ \S+/m);
    const again = await cli(['migrate', '--json']);
    assert.deepEqual(JSON.parse(again.stdout), { applied: [] });

    const created = await cli(['keys', 'create', '--scopes', 'tokens:read', '--name', 'billing']);
    assert.equal(created.code, 0, created.stderr);
    assert.match(created.stdout, /^spk_[0-9a-f]{16}_[A-Za-z0-9_-]{43}\n$/);
    assert.match(created.stderr, /shown only once/);
    const id = created.stdout.split('_')[1]!;

    const list = JSON.parse((await cli(['keys', 'list', '--json'])).stdout) as Record<string, unknown>[];
    assert.equal(list.length, 1);
    assert.equal(list[0]!.id, id);
    assert.equal(list[0]!.name, 'billing');
    assert.deepEqual(list[0]!.scopes, ['tokens:read']);
    assert.equal(list[0]!.revoked_at, null);
    assert.ok(!JSON.stringify(list).includes(created.stdout.trim()), 'the key itself is never listed');

    assert.equal((await cli(['keys', 'revoke', id])).code, 0);
    const revokedAgain = await cli(['keys', 'revoke', id]);
    assert.equal(revokedAgain.code, 1);
    assert.match(revokedAgain.stderr, /no active API key/);
    const after = JSON.parse((await cli(['keys', 'list', '--json'])).stdout) as {
      revoked_at: string | null;
    }[];
    assert.ok(after[0]!.revoked_at !== null);

    for (const args of [
      ['keys'],
      ['keys', 'create'],
      ['keys', 'create', '--scopes', 'admin'],
      ['keys', 'revoke'],
      ['keys', 'revoke', 'nothex'],
    ]) {
      const r = await cli(args);
      assert.equal(r.code, 2, args.join(' '));
      assert.equal(r.stderr.split('\n').filter(Boolean).length, 1, 'one line on stderr');
    }
    const bad = await runCli(['migrate'], {
      env: { DATABASE_URL: 'mysql://u:CANARYpw@h/db' },
      cwd: repoRoot,
    });
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /DATABASE_URL/);
    assert.ok(!bad.stderr.includes('CANARYpw'));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('serve refuses to start on a missing variable or NODE_TLS_REJECT_UNAUTHORIZED=0, naming the variable only', async () => {
  const missing = await runCli(['serve'], { env: { LWA_CLIENT_SECRET: 'CANARYsecretXYZ' }, cwd: repoRoot });
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /LWA_CLIENT_ID/);
  assert.ok(!missing.stderr.includes('CANARYsecretXYZ'));
  const tls = await runCli(['serve'], { env: { NODE_TLS_REJECT_UNAUTHORIZED: '0' }, cwd: repoRoot });
  assert.equal(tls.code, 1);
  assert.match(tls.stderr, /NODE_TLS_REJECT_UNAUTHORIZED/);
});
