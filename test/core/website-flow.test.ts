import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { startEmulator } from '../../src/emulator/index.js';
import { closeAfter } from '../helpers/after.js';

const script = fileURLToPath(new URL('./fixtures/website-flow.ts', import.meta.url));

test('done when: a script importing only the core runs the website flow against an emulator on a port', async (t) => {
  const imports = [...readFileSync(script, 'utf8').matchAll(/from '([^']+)'/g)].map((m) => m[1]);
  assert.deepEqual(imports, ['../../../src/core/index.js'], 'the script imports the core and nothing else');
  const emulator = closeAfter(t, await startEmulator({ port: 0, consentMode: 'auto' }));
  const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', script, emulator.url], {
    timeout: 20_000,
  });
  const result = JSON.parse(stdout.trim()) as {
    sellingPartnerId: string;
    status: number;
    marketplaces: string[];
  };
  assert.equal(result.status, 200);
  assert.equal(result.sellingPartnerId, 'A1EMUSELLERNA01');
  assert.ok(result.marketplaces.includes('ATVPDKIKX0DER'));
  const stats = await emulator.emulator.control.stats();
  assert.equal(stats.token['authorization_code']?.['ok'], 1);
  assert.equal(stats.token['refresh_token']?.['ok'], 1);
});
