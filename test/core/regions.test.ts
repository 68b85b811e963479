// Regions are real against the emulator: with `amazonUrl` the core still builds Amazon's regional
// URLs and names the real host to the emulator, so a seller's token at another region's endpoint is
// refused as Amazon refuses it — in-process, over a port, and with no `amazonUrl` at all.
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import {
  createEmulator,
  startEmulator,
  DEV_APPLICATION,
  DEV_CLIENT_SECRET,
  type RunningEmulator,
} from '../../src/emulator/index.js';
import {
  buildConsentUrl,
  buildRestrictedDataTokenRequest,
  createMemoryTokenVault,
  createSpApiFetch,
  createState,
  createTokenManager,
  exchangeAuthorizationCode,
  parseCallback,
  type FetchLike,
  type Region,
} from '../../src/core/index.js';
import { AMAZON_HOST_HEADER } from '../../src/core/marketplaces.js';

const REDIRECT = 'http://localhost:3000/oauth/callback';
const CREDS = { clientId: DEV_APPLICATION.clientId, clientSecret: DEV_CLIENT_SECRET };
const PARTICIPATIONS = '/sellers/v1/marketplaceParticipations';

/** A seller's refresh token from the consent page of `marketplace` (the emulator in auto mode). */
async function authorize(
  fetchFn: FetchLike,
  marketplace: string,
  amazonUrl: string | undefined,
  kind: 'seller' | 'vendor' = 'seller',
): Promise<{ sellingPartnerId: string; refreshToken: string }> {
  const consent = buildConsentUrl({
    marketplace,
    kind,
    applicationId: DEV_APPLICATION.id,
    state: createState(),
    redirectUri: REDIRECT,
    ...(amazonUrl === undefined ? {} : { amazonUrl }),
  });
  const res = await fetchFn(new Request(consent, { redirect: 'manual' }));
  assert.equal(res.status, 302);
  const cb = parseCallback(res.headers.get('location')!);
  assert.ok(cb.ok);
  const t = await exchangeAuthorizationCode(
    CREDS,
    { code: cb.spapiOauthCode, redirectUri: REDIRECT },
    { fetch: fetchFn, ...(amazonUrl === undefined ? {} : { amazonUrl }) },
  );
  return { sellingPartnerId: cb.sellingPartnerId, refreshToken: t.refreshToken };
}

/**
 * The library's SP-API fetch for a refresh token stored under `region` (a wrong region is the
 * mistake under test: the vault holds the NA token under EU).
 */
function spapiFor(
  fetchFn: FetchLike,
  amazonUrl: string | undefined,
  sellingPartnerId: string,
  region: Region,
  refreshToken: string,
) {
  const vault = createMemoryTokenVault();
  vault.put({ sellingPartnerId, region }, refreshToken);
  const transport = { fetch: fetchFn, ...(amazonUrl === undefined ? {} : { amazonUrl }) };
  const tokens = createTokenManager({ credentials: CREDS, vault, ...transport });
  const spapi = createSpApiFetch({ tokens, ...transport, sleep: async () => {} });
  return () => spapi({ sellingPartnerId, region, path: PARTICIPATIONS });
}

async function assertRegionRefused(res: Response): Promise<void> {
  assert.equal(res.status, 403);
  const body = (await res.json()) as { errors: { code: string; message: string; details: string }[] };
  assert.deepEqual(body.errors, [
    { code: 'Unauthorized', message: 'Access to requested resource is denied.', details: '' },
  ]);
}

let server: RunningEmulator;
before(async () => {
  server = await startEmulator({ port: 0, consentMode: 'auto' });
});
after(() => server.close());

test('over a port with amazonUrl: an NA-only seller’s token is refused at the EU endpoint, served at NA', async () => {
  const fetchFn: FetchLike = (r) => fetch(r);
  const na = await authorize(fetchFn, 'US', server.url);
  assert.equal(na.sellingPartnerId, 'A1EMUSELLERNA01');
  await assertRegionRefused(
    await spapiFor(fetchFn, server.url, na.sellingPartnerId, 'eu', na.refreshToken)(),
  );
  const ok = await spapiFor(fetchFn, server.url, na.sellingPartnerId, 'na', na.refreshToken)();
  assert.equal(ok.status, 200);
  const { payload } = (await ok.json()) as { payload: { marketplace: { id: string } }[] };
  assert.ok(payload.some((p) => p.marketplace.id === 'ATVPDKIKX0DER'));
  // The refusal is not mistaken for a bad token: no second refresh, no retry.
  const stats = await server.emulator.control.stats();
  assert.equal(stats.spapi[PARTICIPATIONS]?.['403'], 1);
  assert.equal(stats.token.refresh_token?.ok, 2, 'one refresh per token manager');
});

test('in-process with amazonUrl, and in-process on Amazon’s real URLs: the same region check', async () => {
  for (const amazonUrl of ['http://127.0.0.1:4999', undefined]) {
    const emulator = createEmulator({ consentMode: 'auto' });
    const na = await authorize(emulator.fetch, 'CA', amazonUrl);
    await assertRegionRefused(
      await spapiFor(emulator.fetch, amazonUrl, na.sellingPartnerId, 'fe', na.refreshToken)(),
    );
    assert.equal(
      (await spapiFor(emulator.fetch, amazonUrl, na.sellingPartnerId, 'na', na.refreshToken)()).status,
      200,
    );
  }
});

test('a base URL naming the real host in its path (/__amazon/<host>) gets that host’s region check; other hosts are not routed', async () => {
  const emulator = createEmulator({ consentMode: 'auto' });
  const origin = 'http://127.0.0.1:4999';
  const na = await authorize(emulator.fetch, 'US', origin);
  const vault = createMemoryTokenVault();
  vault.put({ sellingPartnerId: na.sellingPartnerId, region: 'na' }, na.refreshToken);
  const manager = createTokenManager({ credentials: CREDS, vault, fetch: emulator.fetch, amazonUrl: origin });
  const { accessToken } = await manager.getAccessToken({
    sellingPartnerId: na.sellingPartnerId,
    region: 'na',
  });
  const at = (host: string) =>
    emulator.fetch(`${origin}/__amazon/${host}${PARTICIPATIONS}`, {
      headers: { 'x-amz-access-token': accessToken },
    });
  assert.equal((await at('sellingpartnerapi-na.amazon.com')).status, 200);
  await assertRegionRefused(await at('sellingpartnerapi-eu.amazon.com'));
  assert.equal((await at('evil.example')).status, 404, 'only Amazon’s hosts are nameable');
});

test('every region has its sellers and vendors, each served only at its own endpoint', async () => {
  const emulator = createEmulator({ consentMode: 'auto' });
  const amazonUrl = 'http://127.0.0.1:4999';
  const cases: [string, 'seller' | 'vendor', Region, string][] = [
    ['DE', 'seller', 'eu', 'A1EMUSELLEREU01'],
    ['JP', 'seller', 'fe', 'A1EMUSELLERFE01'],
    ['US', 'vendor', 'na', 'A1EMUVENDORNA01'],
    ['DE', 'vendor', 'eu', 'A1EMUVENDOREU01'],
    ['JP', 'vendor', 'fe', 'A1EMUVENDORFE01'],
  ];
  for (const [marketplace, kind, region, id] of cases) {
    const p = await authorize(emulator.fetch, marketplace, amazonUrl, kind);
    assert.equal(p.sellingPartnerId, id, `${kind} of ${marketplace}`);
    const own = await spapiFor(emulator.fetch, amazonUrl, id, region, p.refreshToken)();
    assert.equal(own.status, 200, `${id} at its own region`);
    const other: Region = region === 'na' ? 'eu' : 'na';
    await assertRegionRefused(await spapiFor(emulator.fetch, amazonUrl, id, other, p.refreshToken)());
  }
});

test('requests name the real host: the RDT request, sandbox included, and no header without amazonUrl', async () => {
  const body = { restrictedResources: [{ method: 'GET' as const, path: '/orders/v0/orders' }] };
  const routed = buildRestrictedDataTokenRequest('eu', 'Atza|x', body, {
    amazonUrl: 'http://127.0.0.1:4010/prefix',
    sandbox: true,
  });
  assert.equal(routed.url, 'http://127.0.0.1:4010/prefix/tokens/2021-03-01/restrictedDataToken');
  assert.equal(routed.headers.get(AMAZON_HOST_HEADER), 'sandbox.sellingpartnerapi-eu.amazon.com');
  const direct = buildRestrictedDataTokenRequest('fe', 'Atza|x', body);
  assert.equal(direct.url, 'https://sellingpartnerapi-fe.amazon.com/tokens/2021-03-01/restrictedDataToken');
  assert.equal(direct.headers.get(AMAZON_HOST_HEADER), null);
});
