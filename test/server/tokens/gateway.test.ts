// The token API's hot path peeks into the token manager's own cache: it serves a token exactly
// while the manager would, with no second cache and no copied margin to drift from the manager's.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { api, connectSeller } from '../../helpers/service.js';
import { testOpsService } from '../../helpers/ops-service.js';

const SELLER = 'A1EMUSELLERNA01';

test("the hot path's peek serves the token until the manager's refresh point, not a copied margin before it", async (t) => {
  const svc = await testOpsService(t, { frozenClock: true });
  await connectSeller(svc);
  const first = await api(svc, 'GET', `/v1/sellers/${SELLER}/access-token`);
  assert.equal(first.status, 200);
  const body = (await first.json()) as { access_token: string; expires_at: string };
  const expiresAt = Date.parse(body.expires_at);
  const calls = await svc.lwaCalls('refresh_token');
  const at = (t: number): void => svc.advance(t - svc.app.context.now());

  // The manager refreshes 5 minutes plus up to 1 of jitter before expiry: 6 minutes before, it
  // still serves from memory, so the peek must too (a copied 6-minute margin stopped here).
  at(expiresAt - 360_000);
  assert.equal(svc.amazon.peekAccessToken(SELLER, 'na')?.accessToken, body.access_token);
  const served = (await (await api(svc, 'GET', `/v1/sellers/${SELLER}/access-token`)).json()) as {
    access_token: string;
  };
  assert.equal(served.access_token, body.access_token);
  assert.equal(await svc.lwaCalls('refresh_token'), calls, 'served from memory, no refresh');

  // 5 minutes before expiry the manager refreshes, so the peek has nothing to serve.
  at(expiresAt - 300_000);
  assert.equal(svc.amazon.peekAccessToken(SELLER, 'na'), undefined);
  const renewed = (await (await api(svc, 'GET', `/v1/sellers/${SELLER}/access-token`)).json()) as {
    access_token: string;
  };
  assert.notEqual(renewed.access_token, body.access_token);
  assert.equal(await svc.lwaCalls('refresh_token'), calls + 1);
  assert.equal(svc.amazon.peekAccessToken(SELLER, 'na')?.accessToken, renewed.access_token);
});
