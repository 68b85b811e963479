// docs/security.md T-B17 and T-C8 end to end: the emulator in rotation mode (every refresh returns a new
// refresh token and rejects the old one — Amazon does not do this today, the design must survive it)
// and three `serve` processes sharing one SQLite file. A stampede over the three makes one refresh;
// the rotated token is persisted by the compare-and-set, so the next refresh succeeds: no seller is
// locked out, no old refresh token is ever presented again.
import { before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { RunningEmulator } from '../../src/emulator/index.js';
import type { Store } from '../../src/storage/store.js';
import { addRunSecrets, createCanary } from '../helpers/canary.js';
import { testSellers, type ServeProcess } from '../helpers/e2e.js';
import { afterSuite, startFleet } from '../helpers/fleet.js';

const TTL_S = 10;

describe('rotating refresh tokens, 3 processes (T-B17, T-C8)', () => {
  const suite = afterSuite();
  const canary = createCanary();
  const seller = testSellers(1, 'ROT')[0]!;
  let amazon: RunningEmulator;
  let store: Store;
  let apiKey: string;
  let instances: ServeProcess[] = [];

  const stampede = async (n: number): Promise<string[]> => {
    const results = await Promise.all(
      Array.from({ length: n }, async (_, i) => {
        const res = await fetch(
          `${instances[i % 3]!.url}/v1/sellers/${seller.sellingPartnerId}/access-token`,
          {
            headers: { authorization: `Bearer ${apiKey}` },
          },
        );
        const body = (await res.json()) as { access_token?: string };
        assert.equal(res.status, 200, JSON.stringify(body));
        return body.access_token!;
      }),
    );
    return results;
  };

  const tokenStats = async (): Promise<{ ok: number; invalidGrant: number }> => {
    const stats = await amazon.emulator.control.stats();
    const r = (stats.token.refresh_token ?? {}) as Record<string, number>;
    return { ok: r.ok ?? 0, invalidGrant: r.invalid_grant ?? 0 };
  };

  before(async () => {
    const run = await startFleet(suite, 3, {
      label: 'rotation',
      database: 'sqlite',
      sellers: [seller],
      emulator: { rotateRefreshTokens: true, tokenTtlS: TTL_S },
    });
    ({ amazon, store, apiKey, instances } = run);
    canary.add('first refresh_token', run.seeded.get(seller.sellingPartnerId)!.refreshToken);
    addRunSecrets(canary, { clientSecret: run.secrets.clientSecret, apiKey });
  });

  it('a 300-caller stampede over 3 processes makes one refresh; the rotated token is stored; the next generation refreshes too', async () => {
    const key = { sellingPartnerId: seller.sellingPartnerId, region: 'na' as const };
    const rt0 = (await store.loadTokens(key))!.refreshToken;
    const first = await stampede(300);
    assert.equal(new Set(first).size, 1);
    let stats = await tokenStats();
    assert.deepEqual(stats, { ok: 1, invalidGrant: 0 });
    const rt1 = (await store.loadTokens(key))!.refreshToken;
    // (ok/notEqual on tokens would print them: compare to booleans.)
    assert.ok(rt1 !== rt0, 'the rotated refresh token replaced the old one');
    canary.add('rotated refresh_token', rt1);
    canary.add('access_token 1', first[0]);
    // The 10 s token is refreshed once a fifth of its life is left; wait into that window.
    await new Promise((r) => setTimeout(r, (TTL_S - 1.5) * 1000));
    const second = await stampede(300);
    assert.equal(new Set(second).size, 1);
    assert.ok(second[0] !== first[0], 'a new access token');
    stats = await tokenStats();
    assert.deepEqual(stats, { ok: 2, invalidGrant: 0 }, 'no old refresh token was ever presented');
    const rt2 = (await store.loadTokens(key))!.refreshToken;
    assert.ok(rt2 !== rt1, 'rotated again');
    canary.add('rotated refresh_token 2', rt2);
    assert.equal((await store.getSeller(key))?.status, 'active', 'the seller is not locked out');
  });

  it('T-H1: no marker secret in any process output', () => {
    const sources: Record<string, string> = {};
    instances.forEach((i, n) => {
      sources[`instance ${n} stdout`] = i.output().stdout;
      sources[`instance ${n} stderr`] = i.output().stderr;
    });
    canary.assertClean(sources);
  });
});
