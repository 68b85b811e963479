// The token API: the cached hot path, refresh and its failures, API keys, sellers.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Store } from '../../../src/storage/store.js';
import { silentLogger } from '../../../src/server/http/log.js';
import { startPurge } from '../../../src/server/service.js';
import {
  api,
  connectSeller,
  errorCode,
  makeService,
  rawRequest,
  type TestService,
  testService,
} from '../../helpers/service.js';

const SELLER = 'A1EMUSELLERNA01';
const TOKEN_PATH = `/v1/sellers/${SELLER}/access-token`;

/** Counts every store call from now on, except the audit buffer's batched writes (off the request path by design). */
function countStoreCalls(store: Store): { readonly count: number } {
  const counter = { count: 0 };
  for (const name of Object.keys(store) as (keyof Store)[]) {
    const fn = store[name];
    if (typeof fn !== 'function' || name === 'appendAudit') continue;
    (store as unknown as Record<string, unknown>)[name] = (...args: unknown[]) => {
      counter.count++;
      return (fn as (...a: unknown[]) => unknown).apply(store, args);
    };
  }
  return counter;
}

async function clockedService(
  env: Record<string, string> = {},
): Promise<{ svc: TestService; advance(ms: number): void }> {
  let offset = 0;
  const svc = await makeService(env, { now: () => Date.now() + offset });
  return { svc, advance: (ms) => (offset += ms) };
}

test('cached access token: no store call, no LWA call, no-store JSON without a refresh token', async (t) => {
  const svc = await testService(t);
  await connectSeller(svc);
  const first = await api(svc, 'GET', TOKEN_PATH);
  assert.equal(first.status, 200);
  const expected = await first.json();
  const calls = countStoreCalls(svc.store);
  for (let i = 0; i < 50; i++) {
    const res = await api(svc, 'GET', TOKEN_PATH);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('cache-control'), 'no-store');
    assert.match(res.headers.get('content-type')!, /^application\/json/);
    assert.equal(res.headers.get('x-content-type-options'), 'nosniff');
    const body = (await res.json()) as Record<string, unknown>;
    assert.deepEqual(body, expected);
    assert.deepEqual(Object.keys(body).sort(), ['access_token', 'endpoint', 'expires_at', 'region']);
  }
  assert.equal(calls.count, 0, 'the hot path touched the store');
  assert.equal(await svc.lwaCalls('refresh_token'), 0);
});

test('expired token: 50 concurrent requests make exactly one refresh; the new token is shared through the store', async () => {
  const { svc, advance } = await clockedService();
  try {
    await connectSeller(svc);
    const before = ((await (await api(svc, 'GET', TOKEN_PATH)).json()) as { access_token: string })
      .access_token;
    advance(2 * 60 * 60 * 1000);
    const all = await Promise.all(Array.from({ length: 50 }, () => api(svc, 'GET', TOKEN_PATH)));
    const tokens = new Set<string>();
    for (const r of all) {
      assert.equal(r.status, 200);
      tokens.add(((await r.json()) as { access_token: string }).access_token);
    }
    assert.equal(tokens.size, 1);
    assert.ok(!tokens.has(before));
    assert.equal(await svc.lwaCalls('refresh_token'), 1);
    const stored = await svc.store.loadTokens({ sellingPartnerId: SELLER, region: 'na' });
    assert.ok(tokens.has(stored!.accessToken!.accessToken));
  } finally {
    await svc.close();
  }
});

test('invalid_grant → 409 seller_reauthorization_required, seller marked, no further LWA calls', async () => {
  const { svc, advance } = await clockedService();
  try {
    await connectSeller(svc);
    await svc.emulator.control.revoke(SELLER);
    advance(2 * 60 * 60 * 1000);
    const res = await api(svc, 'GET', TOKEN_PATH);
    assert.equal(res.status, 409);
    assert.equal(await errorCode(res), 'seller_reauthorization_required');
    const calls = await svc.lwaCalls('refresh_token');
    for (let i = 0; i < 5; i++) assert.equal((await api(svc, 'GET', TOKEN_PATH)).status, 409);
    assert.equal(await svc.lwaCalls('refresh_token'), calls);
    const show = (await (await api(svc, 'GET', `/v1/sellers/${SELLER}`)).json()) as { status: string };
    assert.equal(show.status, 'reauthorization_required');
  } finally {
    await svc.close();
  }
});

test('LWA down with no valid token → 503 upstream_unavailable with Retry-After', async () => {
  const { svc, advance } = await clockedService();
  try {
    await connectSeller(svc);
    advance(2 * 60 * 60 * 1000);
    await svc.emulator.control.fault({ target: 'token', status: 503, count: 20 });
    const res = await api(svc, 'GET', TOKEN_PATH);
    assert.equal(res.status, 503);
    assert.equal(await errorCode(res), 'upstream_unavailable');
    assert.match(res.headers.get('retry-after')!, /^\d+$/);
    const seller = await svc.store.getSeller({ sellingPartnerId: SELLER, region: 'na' });
    assert.equal(seller?.status, 'active');
  } finally {
    await svc.close();
  }
});

test('invalid_client → 503 upstream_credentials_invalid and the seller is not marked', async () => {
  const { svc, advance } = await clockedService();
  try {
    await connectSeller(svc);
    advance(2 * 60 * 60 * 1000);
    await svc.emulator.control.fault({
      target: 'token',
      status: 401,
      body: { error: 'invalid_client', error_description: 'Client authentication failed' },
      count: 5,
    });
    const res = await api(svc, 'GET', TOKEN_PATH);
    assert.equal(res.status, 503);
    assert.equal(await errorCode(res), 'upstream_credentials_invalid');
    const seller = await svc.store.getSeller({ sellingPartnerId: SELLER, region: 'na' });
    assert.equal(seller?.status, 'active');
  } finally {
    await svc.close();
  }
});

test('API keys: missing, malformed, unknown, revoked → 401; wrong scope → 403; key in URL → 400; no LWA call', async (t) => {
  const svc = await testService(t);
  await connectSeller(svc);
  const calls = await svc.lwaCalls();
  const expect = async (res: Response, status: number, code: string): Promise<void> => {
    assert.equal(res.status, status);
    assert.equal(await errorCode(res), code);
  };
  const raw = (authorization?: string): Promise<Response> =>
    svc.app.fetch(
      new Request(
        `http://localhost:3000${TOKEN_PATH}`,
        authorization === undefined ? {} : { headers: { authorization } },
      ),
    );
  await expect(await raw(), 401, 'unauthorized');
  await expect(await raw('Bearer'), 401, 'unauthorized');
  await expect(await raw('Bearer x y'), 401, 'unauthorized');
  await expect(await raw(`Bearer ${'k'.repeat(10_000)}`), 401, 'unauthorized');
  await expect(await raw(`Basic ${Buffer.from('a:b').toString('base64')}`), 401, 'unauthorized');
  await expect(await raw(`Bearer spk_0123456789abcdef_${'A'.repeat(43)}`), 401, 'unauthorized');
  const revokedKey = await svc.key(['tokens:read']);
  const id = revokedKey.split('_')[1]!;
  await svc.store.revokeApiKey(id);
  await expect(await api(svc, 'GET', TOKEN_PATH, undefined, revokedKey), 401, 'unauthorized');
  const readOnly = await svc.key(['sellers:read']);
  await expect(await api(svc, 'GET', TOKEN_PATH, undefined, readOnly), 403, 'insufficient_scope');
  await expect(
    await api(svc, 'DELETE', `/v1/sellers/${SELLER}`, undefined, readOnly),
    403,
    'insufficient_scope',
  );
  await expect(
    await api(svc, 'POST', '/v1/connect-sessions', { user_ref: 'u', marketplace: 'US' }, readOnly),
    403,
    'insufficient_scope',
  );
  await expect(
    await api(svc, 'GET', `${TOKEN_PATH}?api_key=${svc.apiKey}`, undefined, null),
    400,
    'credentials_in_url',
  );
  const www = await raw();
  assert.equal(www.headers.get('www-authenticate'), 'Bearer');
  assert.equal(await svc.lwaCalls(), calls);
  assert.ok((await svc.store.getSeller({ sellingPartnerId: SELLER, region: 'na' }))?.status === 'active');
});

test('seller ids: injection and traversal end at the router with 400 or 404, never another handler', async (t) => {
  const svc = await testService(t);
  await connectSeller(svc);
  const auth = { authorization: `Bearer ${svc.apiKey}` };
  const before = (await svc.store.listSellers()).items.length;
  for (const id of [
    "A1'%20OR%20'1'='1",
    'A1;DROP%20TABLE%20sellers--',
    '%27',
    '1%20UNION%20SELECT%201',
    "A1'",
  ]) {
    const r = await rawRequest(svc, 'GET', `/v1/sellers/${id}/access-token`, auth);
    assert.equal(r.status, 400, id);
    assert.equal(JSON.parse(r.body).error.code, 'invalid_seller_id');
  }
  for (const path of [
    '/v1/sellers/..%2F..%2Fadmin/access-token',
    '/v1/sellers/%2e%2e/access-token',
    '/v1/sellers/%252e%252e/access-token',
    '/v1/sellers/..;/access-token',
    '/v1/sellers/%5c/access-token',
    '/v1/sellers/A1%00/access-token',
    '/v1/sellers/%C0%AE%C0%AE/access-token',
    '/v1/sellers/../../healthz',
    '/v1/sellers/A1/access-token/../../..',
  ]) {
    const r = await rawRequest(svc, 'GET', path, auth);
    assert.ok(r.status === 400 || r.status === 404, `${path} → ${r.status}`);
    assert.ok(!r.body.includes('access_token'), path);
  }
  assert.equal((await svc.store.listSellers()).items.length, before);
});

test('per-key rate limit: burst of twice the rate, then 429 with Retry-After', async (t) => {
  const svc = await testService(t, { SPAPI_AUTH_KEY_RATE_LIMIT: '2' });
  await connectSeller(svc);
  const statuses: number[] = [];
  let retryAfter: string | null = null;
  for (let i = 0; i < 6; i++) {
    const r = await api(svc, 'GET', TOKEN_PATH);
    statuses.push(r.status);
    if (r.status === 429) {
      retryAfter = r.headers.get('retry-after');
      assert.equal(await errorCode(r), 'rate_limited');
    }
  }
  // The connect session used one token of the bucket.
  assert.deepEqual(statuses.slice(0, 3), [200, 200, 200]);
  assert.ok(statuses.includes(429));
  assert.match(retryAfter!, /^[1-9]\d*$/);
  // Another key has its own bucket.
  const other = await svc.key(['tokens:read']);
  assert.equal((await api(svc, 'GET', TOKEN_PATH, undefined, other)).status, 200);
});

test('audit: each token release is recorded with the key id and never the token', async () => {
  const svc = await makeService();
  try {
    await connectSeller(svc);
    const tokens = new Set<string>();
    for (let i = 0; i < 10; i++) {
      tokens.add(
        ((await (await api(svc, 'GET', TOKEN_PATH)).json()) as { access_token: string }).access_token,
      );
    }
    await svc.app.context.audit.flush();
    const records = await svc.store.listAudit({ limit: 1000 });
    const releases = records.filter((r) => r.action === 'token.released');
    assert.equal(releases.length, 10);
    assert.ok(releases.every((r) => r.actor === svc.apiKey.split('_')[1] && r.sellingPartnerId === SELLER));
    assert.ok(records.some((r) => r.action === 'seller.authorized'));
    assert.ok(records.some((r) => r.action === 'api_key.used'));
    const text = JSON.stringify(records);
    for (const t of tokens) assert.ok(!text.includes(t));
  } finally {
    await svc.close();
  }
});

test('grantless tokens are cached per scope; restricted data tokens per request shape', async (t) => {
  const svc = await testService(t);
  await connectSeller(svc);
  const g1 = await api(svc, 'POST', '/v1/grantless-tokens', { scope: 'sellingpartnerapi::notifications' });
  assert.equal(g1.status, 200);
  const b1 = (await g1.json()) as { access_token: string; expires_at: string };
  assert.ok(b1.access_token.length > 0 && Date.parse(b1.expires_at) > Date.now());
  const g2 = (await (
    await api(svc, 'POST', '/v1/grantless-tokens', { scope: 'sellingpartnerapi::notifications' })
  ).json()) as {
    access_token: string;
  };
  assert.equal(g2.access_token, b1.access_token);
  assert.equal(await svc.lwaCalls('client_credentials'), 1);
  const bad = await api(svc, 'POST', '/v1/grantless-tokens', { scope: 'profile' });
  assert.equal(await errorCode(bad), 'invalid_scope');

  const rdtBody = {
    restrictedResources: [{ method: 'GET', path: '/orders/v0/orders', dataElements: ['buyerInfo'] }],
  };
  const r1 = await api(svc, 'POST', `/v1/sellers/${SELLER}/restricted-data-tokens`, rdtBody);
  assert.equal(r1.status, 200, await r1.clone().text());
  const rdt = (await r1.json()) as { restricted_data_token: string; expires_at: string };
  assert.ok(rdt.restricted_data_token.length > 0);
  const r2 = (await (
    await api(svc, 'POST', `/v1/sellers/${SELLER}/restricted-data-tokens`, rdtBody)
  ).json()) as {
    restricted_data_token: string;
  };
  assert.equal(r2.restricted_data_token, rdt.restricted_data_token);
  const stats = await svc.emulator.control.stats();
  assert.equal(stats.spapi['/tokens/2021-03-01/restrictedDataToken']?.['200'], 1);
  for (const body of [
    {},
    { restrictedResources: [] },
    { restrictedResources: [{ method: 'PATCH', path: '/orders/v0/orders' }] },
    { restrictedResources: [{ method: 'GET', path: '/../../etc' }] },
    { restrictedResources: [{ method: 'GET', path: '/orders/v0/orders', dataElements: ['everything'] }] },
  ]) {
    const r = await api(svc, 'POST', `/v1/sellers/${SELLER}/restricted-data-tokens`, body);
    assert.equal(r.status, 400);
    assert.equal(await errorCode(r), 'invalid_restricted_resources');
  }
});

test('sellers: list (paged), show, delete wipes tokens; unknown seller 404; a seller in two regions needs ?region', async (t) => {
  const svc = await testService(t);
  await connectSeller(svc);
  await connectSeller(svc, { sellerId: 'A1EMUSELLERGL01', marketplace: 'US' });
  await connectSeller(svc, { sellerId: 'A1EMUSELLERGL01', marketplace: 'DE' });
  const page1 = (await (await api(svc, 'GET', '/v1/sellers?limit=2')).json()) as {
    items: unknown[];
    next_cursor: string;
  };
  assert.equal(page1.items.length, 2);
  assert.ok(page1.next_cursor);
  const page2 = (await (
    await api(svc, 'GET', `/v1/sellers?limit=2&cursor=${encodeURIComponent(page1.next_cursor)}`)
  ).json()) as {
    items: unknown[];
    next_cursor: string | null;
  };
  assert.equal(page2.items.length, 1);
  assert.equal(page2.next_cursor, null);
  assert.equal(await errorCode(await api(svc, 'GET', '/v1/sellers?limit=0')), 'invalid_limit');

  const show = (await (await api(svc, 'GET', '/v1/sellers/A1EMUSELLERGL01')).json()) as Record<
    string,
    unknown
  >;
  assert.deepEqual(show.regions, ['eu', 'na']);
  const auth = (show.authorizations as Record<string, unknown>[])[0]!;
  for (const k of [
    'status',
    'region',
    'kind',
    'user_ref',
    'authorized_at',
    'reauthorize_by',
    'last_refresh_at',
    'last_error',
  ]) {
    assert.ok(k in auth, k);
  }
  assert.equal(
    Date.parse(auth.reauthorize_by as string) - Date.parse(auth.authorized_at as string),
    365 * 86_400_000,
  );

  const ambiguous = await api(svc, 'GET', '/v1/sellers/A1EMUSELLERGL01/access-token');
  assert.equal(await errorCode(ambiguous), 'region_required');
  const eu = (await (await api(svc, 'GET', '/v1/sellers/A1EMUSELLERGL01/access-token?region=eu')).json()) as {
    region: string;
  };
  assert.equal(eu.region, 'eu');

  const del = await api(svc, 'DELETE', '/v1/sellers/A1EMUSELLERGL01?region=eu');
  assert.deepEqual(await del.json(), { selling_partner_id: 'A1EMUSELLERGL01', deleted_regions: ['eu'] });
  assert.equal(await svc.store.loadTokens({ sellingPartnerId: 'A1EMUSELLERGL01', region: 'eu' }), null);
  assert.equal((await api(svc, 'GET', '/v1/sellers/A1EMUSELLERGL01/access-token?region=eu')).status, 404);
  assert.equal((await api(svc, 'GET', '/v1/sellers/A1EMUSELLERGL01/access-token')).status, 200);
  assert.equal((await api(svc, 'DELETE', `/v1/sellers/${SELLER}`)).status, 200);
  assert.equal(await errorCode(await api(svc, 'GET', `/v1/sellers/${SELLER}`)), 'seller_not_found');
  assert.equal(await errorCode(await api(svc, 'GET', TOKEN_PATH)), 'seller_not_found');
  assert.equal(await errorCode(await api(svc, 'DELETE', `/v1/sellers/${SELLER}`)), 'seller_not_found');
});

test('healthz, readyz, unknown routes and oversized bodies', async (t) => {
  const svc = await testService(t);
  assert.deepEqual(await (await svc.app.fetch(new Request('http://localhost:3000/healthz'))).json(), {
    status: 'ok',
  });
  assert.deepEqual(await (await svc.app.fetch(new Request('http://localhost:3000/readyz'))).json(), {
    status: 'ready',
  });
  const missing = await svc.app.fetch(new Request('http://localhost:3000/nope'));
  assert.equal(missing.status, 404);
  assert.equal(await errorCode(missing), 'not_found');
  assert.ok(missing.headers.get('x-request-id'));
  const big = await rawRequest(svc, 'GET', TOKEN_PATH, {
    authorization: `Bearer ${svc.apiKey}`,
    'content-length': '1048576',
  });
  assert.equal(big.status, 413);
  // Plain-http deployments (local testing) send no HSTS.
  assert.equal(missing.headers.get('strict-transport-security'), null);
});

test('expired transactions and sessions are purged periodically until stopped', async () => {
  let calls = 0;
  const stop = startPurge(
    {
      purgeExpired: async () => {
        calls++;
        return 3;
      },
    },
    silentLogger,
    10,
  );
  // Runs again and again (waited for, not timed: a loaded machine delays timers)…
  while (calls < 2) await new Promise((r) => setTimeout(r, 10));
  stop();
  const seen = calls;
  // …and never after stop(), well past several intervals.
  await new Promise((r) => setTimeout(r, 60));
  assert.equal(calls, seen);
});

test('refresh ahead of expiry: the hot path stops at the margin, the manager refreshes while the old token is still valid', async () => {
  const { svc, advance } = await clockedService();
  try {
    await connectSeller(svc);
    const first = (await (await api(svc, 'GET', TOKEN_PATH)).json()) as {
      access_token: string;
      expires_at: string;
    };
    const left = Date.parse(first.expires_at) - Date.now();
    advance(left - 10 * 60_000); // 10 minutes before expiry: still served as is
    const early = (await (await api(svc, 'GET', TOKEN_PATH)).json()) as { access_token: string };
    assert.equal(early.access_token, first.access_token);
    assert.equal(await svc.lwaCalls('refresh_token'), 0);
    // Just inside the largest margin (6 minutes): the hot path hands over to the manager, which
    // may not be due yet; the hot path must not then re-open a window for the same token.
    advance(4 * 60_000 + 1_000);
    assert.equal((await api(svc, 'GET', TOKEN_PATH)).status, 200);
    advance(2 * 60_000 - 1_000); // 4 minutes before expiry: inside every margin
    let latest = first.access_token;
    for (let i = 0; i < 20 && latest === first.access_token; i++) {
      latest = ((await (await api(svc, 'GET', TOKEN_PATH)).json()) as { access_token: string }).access_token;
      if (latest === first.access_token) await new Promise((r) => setTimeout(r, 20));
    }
    assert.notEqual(latest, first.access_token);
    assert.equal(await svc.lwaCalls('refresh_token'), 1);
  } finally {
    await svc.close();
  }
});
