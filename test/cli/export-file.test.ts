// `sellers export --out FILE` writes a file that holds refresh tokens (clear, or encrypted for the
// receiver): it is created anew with mode 0600 whatever was at that path, never written through a
// symlink, and a failed export leaves the path as it was.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { lstatSync, readFileSync, readdirSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { main } from '../../src/cli/cli.js';
import { cliWorld, seedSeller, type CliWorld } from './helpers.js';
import { closeAfter } from '../helpers/after.js';

async function exportTo(world: CliWorld, out: string, env: Record<string, string> = {}): Promise<number> {
  return main(['sellers', 'export', '--unencrypted-refresh-tokens', '--out', out], {
    env: { ...world.env, ...env },
    cwd: world.dir,
    stdout: () => {},
    stderr: () => {},
  });
}

test('export --out: an existing 0644 file is replaced by a new 0600 file; a symlink at the path is replaced, not followed', async (t) => {
  const world = closeAfter(t, await cliWorld());
  const store = await world.openStore();
  const token = await seedSeller(world, store, { id: 'A1EMUSELLERNA01', region: 'na' });
  await store.close();

  const existing = join(world.dir, 'existing.jsonl');
  writeFileSync(existing, 'old\n', { mode: 0o644 });
  assert.equal(await exportTo(world, existing), 0);
  assert.equal(statSync(existing).mode & 0o777, 0o600, 'the old mode is not kept');
  assert.ok(readFileSync(existing, 'utf8').includes(token));

  const victim = join(world.dir, 'victim.txt');
  writeFileSync(victim, 'not yours\n', { mode: 0o644 });
  const link = join(world.dir, 'link.jsonl');
  symlinkSync(victim, link);
  assert.equal(await exportTo(world, link), 0);
  assert.equal(readFileSync(victim, 'utf8'), 'not yours\n', 'the link target is untouched');
  assert.equal(statSync(victim).mode & 0o777, 0o644);
  assert.ok(lstatSync(link).isFile(), 'the link itself was replaced by the export');
  assert.equal(lstatSync(link).mode & 0o777, 0o600);
  assert.ok(!readdirSync(world.dir).some((f) => f.endsWith('.tmp')), 'no temporary file left');
});

test('export --out: a failed export (no store) leaves the existing file as it was and no temporary file', async (t) => {
  const world = closeAfter(t, await cliWorld());
  const existing = join(world.dir, 'keep.jsonl');
  writeFileSync(existing, 'previous export\n', { mode: 0o600 });
  const code = await exportTo(world, existing, { DATABASE_URL: 'sqlite:/nonexistent-dir-spapi/x.db' });
  assert.notEqual(code, 0);
  assert.equal(readFileSync(existing, 'utf8'), 'previous export\n');
  assert.ok(!readdirSync(world.dir).some((f) => f.endsWith('.tmp')), 'no temporary file left');
});
