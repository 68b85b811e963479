// The token API from another language: Debian's python3 with only its standard library reads
// /openapi.json from a running `spapi-auth serve` (SQLite, the emulator on a port), pages through
// the sellers and gets an access token — the operations found by their operationId.
import { before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { RunningEmulator } from '../../src/emulator/index.js';
import type { Store } from '../../src/storage/store.js';
import { testSellers, type ServeProcess } from '../helpers/e2e.js';
import { afterSuite, startFleet } from '../helpers/fleet.js';

const PYTHON = '/usr/bin/python3';
const SCRIPT = fileURLToPath(new URL('./python/list_and_token.py', import.meta.url));
const missing = existsSync(PYTHON) ? null : `${PYTHON} is missing (apt-get install -y python3)`;
if (missing !== null && process.env.CI === 'true') throw new Error(missing);

describe('the token API from Python (standard library only)', { skip: missing ?? false }, () => {
  const suite = afterSuite();
  const sellers = testSellers(3, 'PY').map((s) => s.sellingPartnerId);
  let amazon: RunningEmulator;
  let store: Store;
  let serve: ServeProcess;
  let apiKey: string;

  before(async () => {
    let instances: ServeProcess[];
    ({ amazon, store, apiKey, instances } = await startFleet(suite, 1, {
      label: 'python',
      database: 'sqlite',
      sellers: testSellers(3, 'PY'),
      scopes: ['sellers:read', 'tokens:read'],
    }));
    serve = instances[0]!;
  });

  it('lists every seller over two pages and gets a fresh access token for the first', async () => {
    // Asynchronously: the emulator answers the service from this process's event loop.
    const run = await promisify(execFile)(PYTHON, ['-I', SCRIPT], {
      env: { SPAPI_AUTH_URL: serve.url, SPAPI_AUTH_KEY: apiKey, PATH: '/usr/bin:/bin' },
      encoding: 'utf8',
      timeout: 30_000,
    }).catch((err: { stderr?: string }) => assert.fail(`python3 failed: ${err.stderr}`));
    const out = JSON.parse(run.stdout) as {
      sellers: string[];
      token: { access_token: string; expires_at: string; region: string; endpoint: string };
    };
    assert.deepEqual([...out.sellers].sort(), [...sellers].sort());
    // The seeded token had expired: the one Python got was refreshed at the emulator just now.
    const stored = await store.getSeller({ sellingPartnerId: out.sellers[0]!, region: 'na' });
    assert.ok(stored?.lastRefreshAt, 'the service refreshed the token for the Python client');
    assert.match(out.token.access_token, /^Atza\|/);
    assert.ok(Date.parse(out.token.expires_at) > Date.now());
    assert.equal(out.token.region, 'na');
    assert.equal(out.token.endpoint, `${amazon.url}/__amazon/sellingpartnerapi-na.amazon.com`);
  });
});
