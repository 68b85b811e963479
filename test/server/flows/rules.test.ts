// One rule in one place: the service's flows parse with the core (the code length, the state and
// the selling partner id rules are the core's), and the selling partner id rule is the same at the
// callback, the API's routes, the token manager and the CLI.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseCallback } from '../../../src/core/callback.js';
import { SELLING_PARTNER_ID_RE } from '../../../src/core/consent.js';
import { createMemoryTokenVault } from '../../../src/core/memory-vault.js';
import { createTokenManager } from '../../../src/core/token-manager.js';
import { Browser, PUBLIC_URL, api, errorCode, makeService, testService } from '../../helpers/service.js';

test('a code of 1,000 characters (under the core limit of 2,048) reaches the exchange', async (t) => {
  const svc = await testService(t);
  const { url } = (await (
    await api(svc, 'POST', '/v1/connect-sessions', { user_ref: 'u1', marketplace: 'US' })
  ).json()) as { url: string };
  const browser = new Browser(svc);
  const { url: callback } = await browser.follow(url, (u) => u.startsWith(`${PUBLIC_URL}/oauth/callback`));
  const long = new URL(callback);
  long.searchParams.set('spapi_oauth_code', `AN${'x'.repeat(998)}`);
  const res = await browser.request(long.href, { accept: 'application/json' });
  // The emulator does not know that code: LWA's invalid_grant, not the service's own refusal.
  assert.equal(res.status, 400);
  assert.equal(await errorCode(res), 'authorization_code_invalid');
  assert.equal(await svc.lwaCalls('authorization_code'), 1);
});

test('the selling partner id rule is the core one at the callback, the routes and the token manager', async () => {
  const svc = await makeService();
  const tokens = createTokenManager({
    credentials: { clientId: 'id', clientSecret: 'secret' },
    vault: createMemoryTokenVault(),
    fetch: () => Promise.reject(new Error('no network in this test')),
  });
  try {
    const state = 'S'.repeat(43);
    for (const id of ['A3FHEXAMPLEYWS', 'amzn1.vg.5412430', 'A1-B_2', 'x'.repeat(128)]) {
      assert.ok(SELLING_PARTNER_ID_RE.test(id), id);
      assert.equal(parseCallback(`state=${state}&selling_partner_id=${id}&spapi_oauth_code=c`).ok, true, id);
      // The route takes the id and looks it up: not a malformed-id 400.
      const res = await api(svc, 'GET', `/v1/sellers/${id}`);
      assert.equal(await errorCode(res), 'seller_not_found', id);
    }
    for (const id of ['-A1', 'A1.', '..', '.', 'A1 B', 'x'.repeat(129)]) {
      assert.ok(!SELLING_PARTNER_ID_RE.test(id), id);
      const cb = parseCallback(
        `state=${state}&selling_partner_id=${encodeURIComponent(id)}&spapi_oauth_code=c`,
      );
      assert.equal(cb.ok, false, id);
      await assert.rejects(tokens.getAccessToken({ sellingPartnerId: id, region: 'na' }), TypeError, id);
      // (`.` and `..` never reach a route: URL parsing removes them from the path.)
      if (id.startsWith('.')) continue;
      const res = await api(svc, 'GET', `/v1/sellers/${encodeURIComponent(id)}`);
      assert.equal(await errorCode(res), 'invalid_seller_id', id);
    }
  } finally {
    await svc.close();
  }
});
