// createPersistentEmulator (state-file.ts): the state written atomically with mode 0600 and read
// back; a file that can be neither read nor moved aside is an error naming it; a failed write is
// reported, not thrown into the request that caused it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createPersistentEmulator, EmulatorStateFileError } from '../../src/emulator/state-file.js';
import { authorize, tokenRequest } from './helpers.js';

test('flush writes the whole state (0600, no temp file left); the next emulator continues it', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'spapi-state-file-'));
  try {
    const file = join(dir, 'nested', 'state.json');
    const first = await createPersistentEmulator(file, { consentMode: 'auto' });
    assert.deepEqual(first.stateFile, { path: file, restored: false });
    const seller = await authorize(first.emulator.fetch);
    await first.close();
    assert.equal(statSync(file).mode & 0o777, 0o600);
    assert.deepEqual(readdirSync(join(dir, 'nested')), ['state.json']);
    const second = await createPersistentEmulator(file);
    assert.equal(second.stateFile.restored, true);
    const res = await tokenRequest(second.emulator.fetch, {
      grant_type: 'refresh_token',
      refresh_token: seller.refresh_token,
    });
    assert.equal(res.status, 200);
    await second.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a state file that cannot be read is an error naming it; a failed write is reported to onWriteError', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'spapi-state-file-'));
  try {
    const folder = join(dir, 'a-folder');
    mkdirSync(folder);
    await assert.rejects(
      createPersistentEmulator(folder),
      (err: unknown) =>
        err instanceof EmulatorStateFileError && err.message.includes(folder) && /EISDIR/.test(err.message),
    );
    const errors: Error[] = [];
    const broken = await createPersistentEmulator(join(dir, 'sub', 'state.json'), {
      onWriteError: (err) => errors.push(err),
    });
    writeFileSync(join(dir, 'sub'), ''); // its folder cannot be made now
    await broken.emulator.control.clock(60);
    await broken.close();
    assert.equal(errors.length, 1);
    assert.match(String((errors[0] as NodeJS.ErrnoException).code), /ENOTDIR|EEXIST/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
