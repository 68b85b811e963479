import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

test('a database driver that cannot load ends the run at once with the driver message', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'spapi-auth-binding-'));
  const bogus = join(dir, 'better_sqlite3.node');
  writeFileSync(bogus, 'not an addon');
  const child = spawn(process.execPath, ['scripts/run-tests.mjs', 'test/core'], {
    cwd: root,
    env: { ...process.env, SPAPI_AUTH_TEST_SQLITE_BINDING: bogus },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (out += d));
  // Generous bound: the point is that it exits with the message instead of hanging.
  const timer = setTimeout(() => child.kill('SIGKILL'), 120_000);
  const code = await new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c)));
  clearTimeout(timer);
  assert.equal(code, 1, out);
  assert.match(out, /better-sqlite3 cannot load on Node v\d+/);
  assert.ok(out.includes(bogus), out);
  assert.match(out, /npm rebuild better-sqlite3/);
  assert.doesNotMatch(out, /# (pass|fail) /, 'no test ran');
});
