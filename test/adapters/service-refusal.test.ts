// amazon-sp-api (unchanged) through its adapter with the token client: SP-API refuses the token the
// service still holds as fresh (Amazon's clock ahead of the service's, as after an early revocation
// of access tokens). The adapter's 403 path reports the refusal to the service, which drops the
// token and refreshes once for every caller; without that report it would hand the same token back.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import https from 'node:https';
import { SellingPartner } from 'amazon-sp-api';
import { createSellingPartner } from '../../src/adapters/amazon-sp-api.js';
import { createTokenClient } from '../../src/client/index.js';
import { spacedEvents } from '../../src/server/tokens/routes.js';
import { devApplication } from '../../src/emulator/dev-app.js';
import { createKey } from '../helpers/e2e.js';
import { grantAtEmulator } from '../helpers/grants.js';
import { CANARY_SECRET, startLocalService, type LocalService } from '../helpers/service.js';
import { EmulatorAgent, KEY, PARTICIPATIONS } from './helpers.js';

let svc: LocalService;
const realAgent = https.globalAgent;
before(async () => {
  svc = await startLocalService(
    { SPAPI_AUTH_KEY_RATE_LIMIT: '0', SPAPI_AUTH_REFRESH_RATE_LIMIT: '0' },
    undefined,
    { rates: { getMarketplaceParticipations: { rate: 1e6, burst: 1e6 } } },
  );
  EmulatorAgent.port = svc.emulator.port;
  (https as { globalAgent: https.Agent }).globalAgent = new EmulatorAgent();
});
after(async () => {
  (https as { globalAgent: https.Agent }).globalAgent = realAgent;
  await svc.close();
});

const stats = () => svc.emulator.emulator.control.stats();
const sum = (r: Record<string, number> | undefined) => Object.values(r ?? {}).reduce((a, b) => a + b, 0);

test('token client: a token SP-API refused early is refreshed once by the service for 1,000 concurrent calls', async () => {
  const control = svc.emulator.emulator.control;
  const grant = await grantAtEmulator(
    svc.emulator.emulator,
    { ...devApplication(svc.publicUrl), clientSecret: CANARY_SECRET },
    CANARY_SECRET,
    KEY.sellingPartnerId,
  );
  await svc.store.saveAuthorization({
    ...KEY,
    kind: 'seller',
    userRef: 'u1',
    marketplace: 'US',
    refreshToken: grant.refreshToken,
    accessToken: { accessToken: grant.accessToken, expiresAt: Date.now() + grant.expiresIn * 1000 },
  });
  const apiKey = await createKey(svc.store, ['tokens:read']);
  const tokens = createTokenClient({ baseUrl: svc.publicUrl, apiKey });
  const sp = createSellingPartner(SellingPartner, {
    tokens,
    ...KEY,
    options: { auto_request_throttled: false },
  });
  const call = () => sp.callAPI({ operation: 'getMarketplaceParticipations', endpoint: 'sellers' });

  await call();
  // Amazon's clock moves past the token's expiry; the service's does not.
  await control.advance(3_600);
  const refreshesBefore = sum((await stats()).token.refresh_token);
  const results = await Promise.allSettled(Array.from({ length: 1000 }, call));
  const failed = results.filter((r) => r.status === 'rejected');
  assert.equal(
    failed.length,
    0,
    JSON.stringify((failed[0] as PromiseRejectedResult | undefined)?.reason?.code),
  );
  assert.equal(sum((await stats()).token.refresh_token) - refreshesBefore, 1, 'one refresh for every caller');
  const spapi = (await stats()).spapi[PARTICIPATIONS] ?? {};
  assert.ok((spapi['403'] ?? 0) >= 1, 'SP-API refused the old token');

  // Later calls use the new token: no refusal, no refresh.
  const refusedBefore = (await stats()).spapi[PARTICIPATIONS]?.['403'] ?? 0;
  await Promise.all(Array.from({ length: 100 }, call));
  assert.equal((await stats()).spapi[PARTICIPATIONS]?.['403'] ?? 0, refusedBefore);
  assert.equal(sum((await stats()).token.refresh_token) - refreshesBefore, 1);
});

test('token API: ?refused= must be a SHA-256 in hex (never a token)', async () => {
  const apiKey = await createKey(svc.store, ['tokens:read']);
  const res = await fetch(
    `${svc.publicUrl}/v1/sellers/${KEY.sellingPartnerId}/access-token?refused=Atza%7Cx`,
    {
      headers: { authorization: `Bearer ${apiKey}` },
    },
  );
  assert.equal(res.status, 400);
  assert.equal(((await res.json()) as { error: { code: string } }).error.code, 'invalid_parameter');
});

test('token API: a key reporting every token it gets as refused forces one refresh per seller per interval', async () => {
  const apiKey = await createKey(svc.store, ['tokens:read']);
  const get = async (refused?: string): Promise<string> => {
    const query = refused === undefined ? '' : `?refused=${refused}`;
    const res = await fetch(`${svc.publicUrl}/v1/sellers/${KEY.sellingPartnerId}/access-token${query}`, {
      headers: { authorization: `Bearer ${apiKey}` },
    });
    assert.equal(res.status, 200);
    return ((await res.json()) as { access_token: string }).access_token;
  };
  const sha = (token: string) => createHash('sha256').update(token).digest('hex');
  const refreshes = async () => sum((await stats()).token.refresh_token);
  // The first case above may have spent this seller's forced refresh of the interval already: at
  // most one more is allowed, however many reports come.
  const before = await refreshes();
  let token = await get();
  for (let i = 0; i < 20; i++) token = await get(sha(token));
  const forced = (await refreshes()) - before;
  assert.ok(forced <= 1, `${forced} refreshes forced by 20 reports`);
  // The token held is still served to everyone.
  assert.equal(await get(), token);
});

test('spacedEvents: one event per key per interval; memory bounded, refusing when full', () => {
  const spacing = spacedEvents(60_000, 2);
  assert.equal(spacing.take('a', 0), true);
  assert.equal(spacing.take('a', 59_999), false);
  assert.equal(spacing.take('a', 60_000), true);
  assert.equal(spacing.take('b', 60_000), true);
  // Full, and no interval has ended: a new key is refused (nothing refreshed), not let through.
  assert.equal(spacing.take('c', 60_001), false);
  // Once an interval ends, its key is forgotten to make room.
  assert.equal(spacing.take('c', 120_000), true);
  assert.equal(spacing.take('b', 120_000), true);
});
