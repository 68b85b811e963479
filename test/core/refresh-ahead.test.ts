// TokenManager.refreshAccessToken: the proactive refresh the service's refresher uses.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createMemoryTokenVault } from '../../src/core/memory-vault.js';
import { createTokenManager } from '../../src/core/token-manager.js';
import type { SellerTokenKey } from '../../src/core/token-vault.js';

const KEY: SellerTokenKey = { sellingPartnerId: 'A1AHEAD', region: 'eu' };

function setup() {
  const clock = { t: 1_000_000_000 };
  let calls = 0;
  const fetch = async (): Promise<Response> => {
    calls++;
    return new Response(
      JSON.stringify({ access_token: `Atza|ahead-${calls}`, token_type: 'bearer', expires_in: 3600 }),
      { status: 200, headers: { 'content-type': 'application/json' } },
    );
  };
  const vault = createMemoryTokenVault({ now: () => clock.t });
  vault.put(KEY, 'Atzr|ahead');
  const tokens = createTokenManager({
    credentials: { clientId: 'cid', clientSecret: 'secret' },
    vault,
    fetch,
    now: () => clock.t,
    sleep: async () => {},
    random: () => 0,
  });
  return { clock, tokens, calls: () => calls };
}

test('refreshes a token long before its refresh point while requests keep the cached one, and keeps a token that lasts', async () => {
  const w = setup();
  const t1 = await w.tokens.getAccessToken(KEY);
  assert.equal(w.calls(), 1);
  // Half an hour left: getAccessToken serves the cache, refreshAccessToken refreshes anyway.
  w.clock.t += 30 * 60_000;
  assert.equal((await w.tokens.getAccessToken(KEY)).accessToken, t1.accessToken);
  assert.equal(w.calls(), 1);
  const [a, b] = await Promise.all([
    w.tokens.refreshAccessToken(KEY, { minExpiresAt: t1.expiresAt + 1 }),
    w.tokens.getAccessToken(KEY),
  ]);
  assert.equal(w.calls(), 2, 'one LWA call for the proactive refresh');
  assert.notEqual(a.accessToken, t1.accessToken);
  assert.equal(b.accessToken, t1.accessToken, 'requests meanwhile are served the cached token');
  assert.equal((await w.tokens.getAccessToken(KEY)).accessToken, a.accessToken, 'the new token is cached');
  // Asked again with the old expiry: the new token already lasts long enough, no call.
  const again = await w.tokens.refreshAccessToken(KEY, { minExpiresAt: t1.expiresAt + 1 });
  assert.equal(again.accessToken, a.accessToken);
  assert.equal(w.calls(), 2);
  await assert.rejects(w.tokens.refreshAccessToken(KEY, { minExpiresAt: Number.NaN }), TypeError);
});
