// Two service instances on one SQLite file (as two processes on one database would be): tokens
// are shared through the store, and an expired token is refreshed once across both.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../../src/config.js';
import { createEmulator } from '../../src/emulator/index.js';
import { devApplication } from '../../src/emulator/dev-app.js';
import { createKeyRing } from '../../src/storage/crypto.js';
import { createSqliteStore } from '../../src/storage/sqlite.js';
import { generateApiKey } from '../../src/server/tokens/api-keys.js';
import { silentLogger } from '../../src/server/http/log.js';
import { createService, type ServiceParts } from '../../src/server/service.js';
import { AMAZON_URL, PUBLIC_URL } from '../helpers/service.js';

test('two instances, one database: the exchange token is shared, and an expired token is refreshed once', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'spapi-cluster-'));
  let offset = 0;
  const now = (): number => Date.now() + offset;
  const app0 = devApplication(PUBLIC_URL);
  const emulator = createEmulator({ applications: [app0], now });
  await emulator.control.consentMode('auto');
  const key = randomBytes(32);
  const config = loadConfig(
    {
      LWA_CLIENT_ID: app0.clientId,
      LWA_CLIENT_SECRET: app0.clientSecret!,
      SPAPI_APPLICATION_ID: app0.id,
      SPAPI_AUTH_PUBLIC_URL: PUBLIC_URL,
      SPAPI_AUTH_AMAZON_URL: AMAZON_URL,
      SPAPI_AUTH_ENCRYPTION_KEYS: `k1:${key.toString('base64')}`,
    },
    { mode: 'serve' },
  );
  const fetch = (req: Request): Promise<Response> => emulator.fetch(req);
  // Opened one after the other: both would migrate at once otherwise (two connections, one thread).
  const instances: {
    store: Awaited<ReturnType<typeof createSqliteStore>>;
    app: ServiceParts['app'];
    service: ServiceParts;
  }[] = [];
  for (const n of [1, 2]) {
    instances.push(
      await (async () => {
        const store = await createSqliteStore({
          path: join(dir, 'db.sqlite'),
          keyRing: createKeyRing([['k1', key]]),
          now,
        });
        const service = await createService(config, {
          store,
          log: silentLogger,
          fetch,
          now,
          owner: `instance-${n}`,
        });
        return { store, app: service.app, service };
      })(),
    );
  }
  try {
    const [a, b] = instances as [(typeof instances)[0], (typeof instances)[0]];
    const k = generateApiKey();
    await a.store.createApiKey({ id: k.id, name: null, hash: k.hash, scopes: ['tokens:read', 'connect'] });
    const call = (app: typeof a.app, path: string, init: RequestInit = {}): Promise<Response> =>
      app.fetch(
        new Request(`${PUBLIC_URL}${path}`, {
          ...init,
          headers: { authorization: `Bearer ${k.key}`, 'content-type': 'application/json' },
        }),
      );
    // Connect through instance A (the browser hops are followed by hand: service A, emulator, service A).
    const created = await call(a.app, '/v1/connect-sessions', {
      method: 'POST',
      body: JSON.stringify({ user_ref: 'u1', marketplace: 'US' }),
    });
    const { url } = (await created.json()) as { url: string };
    const start = await a.app.fetch(new Request(url));
    const cookie = start.headers.getSetCookie()[0]!.split(';')[0]!;
    const consent = await emulator.fetch(start.headers.get('location')!, { redirect: 'manual' });
    const callback = await a.app.fetch(
      new Request(consent.headers.get('location')!, { headers: { cookie } }),
    );
    assert.equal(callback.status, 303);

    // Instance B serves the exchange's token from the store: no refresh.
    const first = (await (await call(b.app, '/v1/sellers/A1EMUSELLERNA01/access-token')).json()) as {
      access_token: string;
    };
    const viaA = (await (await call(a.app, '/v1/sellers/A1EMUSELLERNA01/access-token')).json()) as {
      access_token: string;
    };
    assert.equal(first.access_token, viaA.access_token);
    assert.equal((await emulator.control.stats()).token.refresh_token, undefined);

    // Expired: 40 concurrent requests spread over both instances → one refresh in total.
    offset = 2 * 3600_000;
    const all = await Promise.all(
      Array.from({ length: 40 }, (_, i) =>
        call(i % 2 === 0 ? a.app : b.app, '/v1/sellers/A1EMUSELLERNA01/access-token'),
      ),
    );
    const tokens = new Set<string>();
    for (const r of all) {
      assert.equal(r.status, 200);
      tokens.add(((await r.json()) as { access_token: string }).access_token);
    }
    assert.equal(tokens.size, 1);
    assert.ok(!tokens.has(first.access_token));
    assert.equal((await emulator.control.stats()).token.refresh_token?.ok, 1);
  } finally {
    for (const i of instances) {
      await i.service.close();
    }
    rmSync(dir, { recursive: true, force: true });
  }
});
