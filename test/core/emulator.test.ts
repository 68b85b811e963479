// The core against the in-process emulator (src/emulator): every Amazon call goes through the
// emulator's fetch via `amazonUrl`, exactly as a library user would point the core at it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createEmulator, DEV_APPLICATION, DEV_CLIENT_SECRET } from '../../src/emulator/index.js';
import {
  buildAppstoreContinueUrl,
  buildConsentUrl,
  buildUserAgent,
  createMemoryTokenVault,
  createPkce,
  createSpApiFetch,
  createState,
  createTokenManager,
  exchangeAuthorizationCode,
  getGrantlessToken,
  parseCallback,
  parseLoginRequest,
  refreshAccessToken,
  type TokenEvent,
} from '../../src/core/index.js';

const AMAZON = 'http://127.0.0.1:4999';
const REDIRECT = 'http://localhost:3000/oauth/callback';
const CREDS = { clientId: DEV_APPLICATION.clientId, clientSecret: DEV_CLIENT_SECRET };

async function connect(emulator: ReturnType<typeof createEmulator>, extra: { codeChallenge?: string } = {}) {
  const state = createState();
  const consent = buildConsentUrl({
    marketplace: 'US',
    applicationId: DEV_APPLICATION.id,
    state,
    redirectUri: REDIRECT,
    amazonUrl: AMAZON,
    ...extra,
  });
  const res = await emulator.fetch(consent, { redirect: 'manual' });
  assert.equal(res.status, 302);
  const cb = parseCallback(res.headers.get('location')!);
  assert.ok(cb.ok, 'callback parses');
  assert.equal(cb.state, state);
  return cb;
}

/** Consent (auto mode), then the code exchange: the seller's callback and its first tokens. */
async function connectAndExchange(emulator: ReturnType<typeof createEmulator>) {
  const cb = await connect(emulator);
  const t = await exchangeAuthorizationCode(
    CREDS,
    { code: cb.spapiOauthCode, redirectUri: REDIRECT },
    { fetch: emulator.fetch, amazonUrl: AMAZON },
  );
  return { cb, t };
}

/** A memory vault holding one seller's refresh token (region na), and the seller's key. */
function vaultWith(sellingPartnerId: string, refreshToken: string) {
  const vault = createMemoryTokenVault();
  const key = { sellingPartnerId, region: 'na' } as const;
  vault.put(key, refreshToken);
  return { vault, key };
}

test('website flow: consent → callback → exchange → token manager → marketplaceParticipations', async () => {
  const emulator = createEmulator({ consentMode: 'auto' });
  const { cb, t } = await connectAndExchange(emulator);
  assert.match(t.refreshToken, /^Atzr\|/);
  const again = await exchangeAuthorizationCode(
    CREDS,
    { code: cb.spapiOauthCode, redirectUri: REDIRECT },
    { fetch: emulator.fetch, amazonUrl: AMAZON },
  ).catch((e) => e);
  assert.equal(again.code, 'authorization_code_invalid', 'a code is single use');

  const { vault, key } = vaultWith(cb.sellingPartnerId, t.refreshToken);
  const tokens = createTokenManager({ credentials: CREDS, vault, fetch: emulator.fetch, amazonUrl: AMAZON });
  const spapi = createSpApiFetch({
    tokens,
    fetch: emulator.fetch,
    amazonUrl: AMAZON,
    userAgent: buildUserAgent({ appName: 'core-test', appVersion: '1' }),
  });
  const res = await spapi({ ...key, path: '/sellers/v1/marketplaceParticipations' });
  assert.equal(res.status, 200);
  const body = (await res.json()) as { payload: Array<{ marketplace: { id: string } }> };
  assert.ok(body.payload.some((p) => p.marketplace.id === 'ATVPDKIKX0DER'));
  await Promise.all(Array.from({ length: 200 }, () => tokens.getAccessToken(key)));
  const stats = await emulator.control.stats();
  assert.equal(stats.token['refresh_token']?.['ok'], 1, 'one refresh for 201 token requests');
});

test('PKCE: the verifier is required when the consent URL carried a challenge', async () => {
  const emulator = createEmulator({ consentMode: 'auto' });
  const pkce = await createPkce();
  const cb = await connect(emulator, { codeChallenge: pkce.codeChallenge });
  const wrong = await exchangeAuthorizationCode(
    CREDS,
    { code: cb.spapiOauthCode, redirectUri: REDIRECT, codeVerifier: (await createPkce()).codeVerifier },
    { fetch: emulator.fetch, amazonUrl: AMAZON },
  ).catch((e) => e);
  assert.equal(wrong.code, 'authorization_code_invalid');
  const cb2 = await connect(emulator, { codeChallenge: pkce.codeChallenge });
  const ok = await exchangeAuthorizationCode(
    CREDS,
    { code: cb2.spapiOauthCode, redirectUri: REDIRECT, codeVerifier: pkce.codeVerifier },
    { fetch: emulator.fetch, amazonUrl: AMAZON },
  );
  assert.match(ok.accessToken, /^Atza\|/);
});

test('Appstore flow: Login URI parameters validated against the emulator origin, continue URL, callback', async () => {
  const emulator = createEmulator({ consentMode: 'auto' });
  const hop = await emulator.fetch(`${AMAZON}/appstore/authorize?application_id=${DEV_APPLICATION.id}`, {
    redirect: 'manual',
  });
  assert.equal(hop.status, 302);
  const login = parseLoginRequest(hop.headers.get('location')!, {
    applicationId: DEV_APPLICATION.id,
    amazonUrl: AMAZON,
  });
  const state = createState();
  const next = buildAppstoreContinueUrl({ ...login, state, redirectUri: REDIRECT });
  const confirm = await emulator.fetch(next, { redirect: 'manual' });
  assert.equal(confirm.status, 302);
  const cb = parseCallback(confirm.headers.get('location')!);
  assert.ok(cb.ok);
  assert.equal(cb.state, state);
  assert.equal(cb.sellingPartnerId, login.sellingPartnerId);
  // The same Login URI request is refused without the emulator configured (127.0.0.1 is not Amazon).
  assert.throws(
    () => parseLoginRequest(hop.headers.get('location')!, { applicationId: DEV_APPLICATION.id }),
    { code: 'invalid_callback_uri' },
  );
});

test('revocation → invalid_grant → reauthorization_required, and no further LWA calls', async () => {
  const emulator = createEmulator({ consentMode: 'auto' });
  const { cb, t } = await connectAndExchange(emulator);
  const { vault, key } = vaultWith(cb.sellingPartnerId, t.refreshToken);
  const events: TokenEvent[] = [];
  const tokens = createTokenManager({
    credentials: CREDS,
    vault,
    fetch: emulator.fetch,
    amazonUrl: AMAZON,
    onEvent: (e) => events.push(e),
  });
  await emulator.control.revoke(cb.sellingPartnerId);
  for (let i = 0; i < 20; i++)
    await assert.rejects(tokens.getAccessToken(key), { code: 'reauthorization_required' });
  const stats = await emulator.control.stats();
  assert.equal(stats.token['refresh_token']?.['invalid_grant'], 1);
  assert.equal(vault.inspect(key)?.status, 'reauthorization_required');
  assert.equal(events.filter((e) => e.type === 'invalid_grant').length, 1);
});

test('LWA faults: 503 twice then success (3 calls); invalid_client with the wrong secret; grantless', async () => {
  const emulator = createEmulator({ consentMode: 'auto' });
  const { cb, t } = await connectAndExchange(emulator);
  await emulator.control.fault({ target: 'token', status: 503, count: 2 });
  const r = await refreshAccessToken(CREDS, t.refreshToken, {
    fetch: emulator.fetch,
    amazonUrl: AMAZON,
    sleep: async () => {},
  });
  assert.match(r.accessToken, /^Atza\|/);
  const stats = await emulator.control.stats();
  const refreshCalls = Object.values(stats.token['refresh_token'] ?? {}).reduce((a, b) => a + b, 0);
  assert.equal(refreshCalls, 3);
  const bad = await refreshAccessToken({ ...CREDS, clientSecret: 'wrong' }, t.refreshToken, {
    fetch: emulator.fetch,
    amazonUrl: AMAZON,
  }).catch((e) => e);
  assert.equal(bad.code, 'invalid_client');
  const rotated = await refreshAccessToken(
    { ...CREDS, clientSecret: 'wrong', clientSecretNext: DEV_CLIENT_SECRET },
    t.refreshToken,
    { fetch: emulator.fetch, amazonUrl: AMAZON },
  );
  assert.equal(rotated.clientSecretUsed, 'next');
  const g = await getGrantlessToken(CREDS, 'sellingpartnerapi::notifications', {
    fetch: emulator.fetch,
    amazonUrl: AMAZON,
  });
  assert.ok(g.accessToken.length > 0);
  const scope = await getGrantlessToken(CREDS, 'sellingpartnerapi::nonsense', {
    fetch: emulator.fetch,
    amazonUrl: AMAZON,
  }).catch((e) => e);
  assert.equal(scope.code, 'invalid_scope');
});

test('SP-API helper: an early-expired token is dropped, refreshed once and the call retried; RDT for restricted data', async () => {
  const emulator = createEmulator({ consentMode: 'auto' });
  const { cb, t } = await connectAndExchange(emulator);
  const { vault, key } = vaultWith(cb.sellingPartnerId, t.refreshToken);
  const tokens = createTokenManager({ credentials: CREDS, vault, fetch: emulator.fetch, amazonUrl: AMAZON });
  const spapi = createSpApiFetch({ tokens, fetch: emulator.fetch, amazonUrl: AMAZON, sleep: async () => {} });
  const before = await tokens.getAccessToken(key);
  await emulator.control.advance(3_700); // Amazon's clock passes the token's expiry; ours does not
  const res = await spapi({ ...key, path: '/sellers/v1/marketplaceParticipations' });
  assert.equal(res.status, 200);
  assert.notEqual((await tokens.getAccessToken(key)).accessToken, before.accessToken);
  const orders = await spapi({
    ...key,
    path: '/orders/v0/orders',
    query: { MarketplaceIds: ['ATVPDKIKX0DER'], CreatedAfter: '2026-01-01T00:00:00Z' },
    restricted: { dataElements: ['buyerInfo'] },
  });
  assert.equal(orders.status, 200);
  const stats = await emulator.control.stats();
  assert.equal(stats.spapi['/tokens/2021-03-01/restrictedDataToken']?.['200'], 1);
});
