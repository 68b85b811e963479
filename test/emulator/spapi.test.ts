// The SP-API slice: endpoints, the Tokens API, client-secret rotation, errors.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createEmulator } from '../../src/emulator/index.js';
import {
  APP,
  SECRET,
  assertLwaError,
  assertSpapiError,
  authorize,
  grantless,
  tokenRequest,
} from './helpers.js';

const NA = 'https://sellingpartnerapi-na.amazon.com';

function setup(extra: Parameters<typeof createEmulator>[0] = {}) {
  let t = Date.UTC(2026, 5, 1);
  const emulator = createEmulator({ consentMode: 'auto', now: () => t, ...extra });
  return { emulator, fetch: emulator.fetch, advance: (s: number) => (t += s * 1000) };
}

const call = (
  fetch: typeof globalThis.fetch,
  path: string,
  token?: string,
  init: RequestInit = {},
  base = NA,
) =>
  fetch(base + path, {
    ...init,
    headers: {
      ...(token === undefined ? {} : { 'x-amz-access-token': token }),
      ...(init.headers as Record<string, string>),
    },
  });

test('marketplaceParticipations with a seller token; Amazon’s headers', async () => {
  const { fetch } = setup();
  const { access_token } = await authorize(fetch);
  const res = await call(fetch, '/sellers/v1/marketplaceParticipations', access_token);
  assert.equal(res.status, 200);
  assert.ok(res.headers.get('x-amzn-requestid'));
  assert.ok(res.headers.get('x-amzn-ratelimit-limit'));
  const body = (await res.json()) as { payload: { marketplace: { id: string } }[] };
  assert.deepEqual(body.payload.map((p) => p.marketplace.id).sort(), [
    'A1AM78C64UM0Y8',
    'A2EUQ1WTGCTBG2',
    'ATVPDKIKX0DER',
  ]);
  const us = (body.payload as unknown as { marketplace: Record<string, string> }[]).find(
    (p) => p.marketplace.id === 'ATVPDKIKX0DER',
  )!;
  assert.deepEqual(
    {
      countryCode: us.marketplace.countryCode,
      currency: us.marketplace.defaultCurrencyCode,
      domain: us.marketplace.domainName,
    },
    { countryCode: 'US', currency: 'USD', domain: 'www.amazon.com' },
  );
});

test('403 Unauthorized for a missing, unknown, expired or revoked token', async () => {
  const { emulator, fetch, advance } = setup();
  const missing = await assertSpapiError(
    await call(fetch, '/sellers/v1/marketplaceParticipations'),
    403,
    'Unauthorized',
  );
  assert.equal(missing.message, 'Access to requested resource is denied.');
  assert.equal(missing.details, 'Access token is missing in the request header.');
  await assertSpapiError(
    await call(fetch, '/sellers/v1/marketplaceParticipations', 'Atza|forged'),
    403,
    'Unauthorized',
  );
  const a = await authorize(fetch);
  advance(3600);
  const expired = await assertSpapiError(
    await call(fetch, '/sellers/v1/marketplaceParticipations', a.access_token),
    403,
    'Unauthorized',
  );
  assert.match(expired.details, /expired/);
  const b = await authorize(fetch);
  await emulator.control.revoke(b.sellingPartnerId);
  await assertSpapiError(
    await call(fetch, '/sellers/v1/marketplaceParticipations', b.access_token),
    403,
    'Unauthorized',
  );
  const stats = await emulator.control.stats();
  assert.equal(stats.spapi['/sellers/v1/marketplaceParticipations']?.['403'], 4);
});

test('a token is regional: the EU endpoint refuses an NA token with an empty details field', async () => {
  const { fetch } = setup();
  const { access_token } = await authorize(fetch);
  for (const base of [
    'https://sellingpartnerapi-eu.amazon.com',
    'https://sandbox.sellingpartnerapi-fe.amazon.com',
  ]) {
    const refused = await assertSpapiError(
      await call(fetch, '/sellers/v1/marketplaceParticipations', access_token, {}, base),
      403,
      'Unauthorized',
    );
    assert.deepEqual(refused, {
      code: 'Unauthorized',
      message: 'Access to requested resource is denied.',
      details: '',
    });
  }
  // On the emulator's own origin the region comes from x-amzn-emulator-host (what `amazonUrl` sends).
  const own = 'http://127.0.0.1:1';
  const named = (host: string) => ({ headers: { 'x-amzn-emulator-host': host } });
  await assertSpapiError(
    await call(
      fetch,
      '/sellers/v1/marketplaceParticipations',
      access_token,
      named('sellingpartnerapi-eu.amazon.com'),
      own,
    ),
    403,
    'Unauthorized',
  );
  const path = '/sellers/v1/marketplaceParticipations';
  assert.equal(
    (await call(fetch, path, access_token, named('sellingpartnerapi-na.amazon.com'), own)).status,
    200,
  );
  // Only Amazon's LWA and SP-API hosts can be named; a real Amazon host is never overridden.
  assert.equal((await call(fetch, path, access_token, named('evil.example'), own)).status, 200);
  assert.equal((await call(fetch, path, access_token, named('sellingpartnerapi-eu.amazon.com'))).status, 200);
  assert.equal((await call(fetch, path, access_token, {}, own)).status, 200);
  // The path stays the path: `//host/…` on the emulator's origin is an unknown path, not another host.
  const sneaky = `//sellingpartnerapi-na.amazon.com${path}`;
  assert.equal(
    (await call(fetch, sneaky, access_token, named('sellingpartnerapi-eu.amazon.com'), own)).status,
    404,
  );
});

test('429 QuotaExceeded past the token bucket; the bucket refills with the clock', async () => {
  const { emulator, fetch, advance } = setup({
    rates: { getMarketplaceParticipations: { rate: 1, burst: 2 } },
  });
  const { access_token } = await authorize(fetch);
  const path = '/sellers/v1/marketplaceParticipations';
  assert.equal((await call(fetch, path, access_token)).status, 200);
  assert.equal((await call(fetch, path, access_token)).status, 200);
  const throttled = await call(fetch, path, access_token);
  // The rate-limit header is "deprecated and no longer returned" on 429 (the Tokens API model).
  assert.equal(throttled.headers.get('x-amzn-ratelimit-limit'), null);
  assert.equal(throttled.headers.get('retry-after'), null);
  const err = await assertSpapiError(throttled, 429, 'QuotaExceeded');
  assert.equal(err.message, 'You exceeded your quota for the requested resource.');
  advance(1);
  assert.equal((await call(fetch, path, access_token)).status, 200);
  assert.deepEqual((await emulator.control.stats()).spapi[path], { '200': 3, '429': 1 });
});

test('orders: no buyer data with an access token, buyer data under an RDT that asks for it', async () => {
  const { fetch } = setup();
  const { access_token } = await authorize(fetch);
  const path = '/orders/v0/orders?MarketplaceIds=ATVPDKIKX0DER&CreatedAfter=2025-12-01T00:00:00Z';
  const plain = (await (await call(fetch, path, access_token)).json()) as {
    payload: { Orders: Record<string, unknown>[] };
  };
  assert.ok(plain.payload.Orders.length > 0);
  assert.ok(plain.payload.Orders.every((o) => o.BuyerInfo === undefined && o.ShippingAddress === undefined));

  const rdtRes = await call(fetch, '/tokens/2021-03-01/restrictedDataToken', access_token, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      restrictedResources: [
        { method: 'GET', path: '/orders/v0/orders', dataElements: ['buyerInfo', 'shippingAddress'] },
      ],
    }),
  });
  assert.equal(rdtRes.status, 200);
  const rdt = (await rdtRes.json()) as { restrictedDataToken: string; expiresIn: number };
  assert.match(rdt.restrictedDataToken, /^Atz\.sprdt\|/);
  assert.equal(rdt.expiresIn, 3600);
  const rich = (await (await call(fetch, path, rdt.restrictedDataToken)).json()) as {
    payload: { Orders: Record<string, unknown>[] };
  };
  assert.ok(
    rich.payload.Orders.every(
      (o) => typeof (o.BuyerInfo as { BuyerEmail: string }).BuyerEmail === 'string' && o.ShippingAddress,
    ),
  );

  // An RDT for another path does not open getOrders; an RDT cannot mint RDTs.
  const other = (await (
    await call(fetch, '/tokens/2021-03-01/restrictedDataToken', access_token, {
      method: 'POST',
      body: JSON.stringify({
        restrictedResources: [
          { method: 'GET', path: '/orders/v0/orders/{orderId}/orderItems', dataElements: ['buyerInfo'] },
        ],
      }),
    })
  ).json()) as { restrictedDataToken: string };
  await assertSpapiError(await call(fetch, path, other.restrictedDataToken), 403, 'Unauthorized');
  await assertSpapiError(
    await call(fetch, '/tokens/2021-03-01/restrictedDataToken', other.restrictedDataToken, {
      method: 'POST',
      body: '{}',
    }),
    403,
    'Unauthorized',
  );
  await assertSpapiError(await call(fetch, '/orders/v0/orders', access_token), 400, 'InvalidInput');
  await assertSpapiError(
    await call(
      fetch,
      '/orders/v0/orders?MarketplaceIds=A1PA6795UKMFR9&CreatedAfter=2026-01-01',
      access_token,
    ),
    400,
    'InvalidInput',
  );
});

test('getOrders requires CreatedAfter or LastUpdatedAfter, in ISO 8601', async () => {
  const { fetch } = setup();
  const { access_token } = await authorize(fetch);
  const orders = (q: string) =>
    call(fetch, `/orders/v0/orders?MarketplaceIds=ATVPDKIKX0DER${q}`, access_token);
  const missing = await orders('');
  assert.ok(missing.headers.get('x-amzn-ratelimit-limit'), 'a 400 of getOrders carries the rate limit');
  const none = await assertSpapiError(missing, 400, 'InvalidInput');
  assert.equal(
    none.message,
    'The input you have submitted is not valid. Please check your input and try again.',
  );
  await assertSpapiError(await orders('&CreatedBefore=2026-01-01T00:00:00Z'), 400, 'InvalidInput');
  await assertSpapiError(await orders('&CreatedAfter='), 400, 'InvalidInput');
  const bad = await assertSpapiError(await orders('&CreatedAfter=yesterday'), 400, 'InvalidInput');
  assert.equal(bad.details, 'Invalid date-time field(s) [createdAfter].');
  for (const q of [
    '&CreatedAfter=2026-01-01T00:00:00Z',
    '&LastUpdatedAfter=2026-01-01',
    '&CreatedAfter=2026-01-01T08:00',
  ]) {
    assert.equal((await orders(q)).status, 200, q);
  }
});

test('RDT request validation: Amazon’s 400 for a missing or bad resource, malformed JSON, an oversized body', async () => {
  const { fetch } = setup({ maxBodyBytes: 2048 });
  const { access_token } = await authorize(fetch);
  const post = (body: string) =>
    call(fetch, '/tokens/2021-03-01/restrictedDataToken', access_token, {
      method: 'POST',
      body,
      headers: { 'content-type': 'application/json' },
    });
  // The Tokens API model's 400 example: code InvalidRequest, this message and details.
  const empty = await post('{}');
  assert.ok(empty.headers.get('x-amzn-ratelimit-limit'));
  const none = await assertSpapiError(empty, 400, 'InvalidRequest');
  assert.equal(none.message, 'Request is missing or has invalid parameters');
  assert.equal(none.details, 'Resource not provided.');
  await assertSpapiError(
    await post('{"restrictedResources":[{"method":"PATCH","path":"/x"}]}'),
    400,
    'InvalidRequest',
  );
  await assertSpapiError(
    await post('{"restrictedResources":[{"method":"GET","path":"x"}]}'),
    400,
    'InvalidRequest',
  );
  await assertSpapiError(
    await post('{"restrictedResources":[{"method":"GET","path":"/x","dataElements":["ssn"]}]}'),
    400,
    'InvalidRequest',
  );
  await assertSpapiError(
    await post(JSON.stringify({ restrictedResources: Array(51).fill({ method: 'GET', path: '/x' }) })),
    400,
    'InvalidRequest',
  );
  await assertSpapiError(await post('{not json'), 400, 'InvalidRequest');
  // The Tokens API model lists no 413: an oversized body is its 400.
  await assertSpapiError(await post(JSON.stringify({ pad: 'x'.repeat(4096) })), 400, 'InvalidRequest');
  const grantlessToken = await grantless(fetch, 'sellingpartnerapi::notifications');
  await assertSpapiError(
    await call(fetch, '/tokens/2021-03-01/restrictedDataToken', grantlessToken, {
      method: 'POST',
      body: '{}',
    }),
    403,
    'Unauthorized',
  );
});

test('unknown paths are 404 and wrong methods 405, in Amazon’s error shape', async () => {
  const { emulator, fetch } = setup();
  await assertSpapiError(await call(fetch, '/catalog/2022-04-01/items'), 404, 'NotFound');
  const wrong = await call(fetch, '/sellers/v1/marketplaceParticipations', undefined, { method: 'DELETE' });
  assert.equal(wrong.headers.get('allow'), 'GET');
  await assertSpapiError(wrong, 405, 'MethodNotAllowed');
  const stats = await emulator.control.stats();
  assert.equal(stats.spapi['<unknown>']?.['404'], 1, 'unknown paths share one counter');
});

test('clientSecret rotation: grantless rotation scope only; 204; notification; old secret valid 7 days', async () => {
  const { emulator, fetch, advance } = setup();
  const path = '/applications/2023-11-30/clientSecret';
  const seller = await authorize(fetch);
  await assertSpapiError(
    await call(fetch, path, seller.access_token, { method: 'POST' }),
    403,
    'Unauthorized',
  );
  const notif = await grantless(fetch, 'sellingpartnerapi::notifications');
  await assertSpapiError(await call(fetch, path, notif, { method: 'POST' }), 403, 'Unauthorized');
  const rotation = await grantless(fetch, 'sellingpartnerapi::client_credential:rotation');
  const res = await call(fetch, path, rotation, { method: 'POST' });
  assert.equal(res.status, 204);
  assert.equal(await res.text(), '');

  const [n] = await emulator.control.notifications();
  assert.ok(n);
  assert.equal(n.notificationType, 'APPLICATION_OAUTH_CLIENT_NEW_SECRET');
  assert.equal(n.notificationVersion, '1.0');
  assert.deepEqual(Object.keys(n.notificationMetadata).sort(), [
    'applicationId',
    'notificationId',
    'publishTime',
    'subscriptionId',
  ]);
  assert.equal(n.notificationMetadata.applicationId, APP.id);
  const payload = n.payload.applicationOAuthClientNewSecret as Record<string, string>;
  assert.equal(payload.clientId, APP.clientId);
  assert.match(payload.newClientSecret!, /^amzn1\.oa2-cs\.v1\./);
  assert.equal(Date.parse(payload.oldClientSecretExpiryTime!) - Date.parse(n.eventTime), 7 * 86_400_000);

  const withNew = () =>
    tokenRequest(fetch, {
      grant_type: 'client_credentials',
      scope: 'sellingpartnerapi::notifications',
      client_secret: payload.newClientSecret!,
    });
  const withOld = () =>
    tokenRequest(fetch, {
      grant_type: 'client_credentials',
      scope: 'sellingpartnerapi::notifications',
      client_secret: SECRET,
    });
  assert.equal((await withNew()).status, 200);
  assert.equal((await withOld()).status, 200);
  // Refresh tokens survive a client-secret rotation (Amazon does not rotate them).
  assert.equal(
    (
      await tokenRequest(fetch, {
        grant_type: 'refresh_token',
        refresh_token: seller.refresh_token,
        client_secret: payload.newClientSecret!,
      })
    ).status,
    200,
  );
  advance(7 * 86_400);
  await assertLwaError(await withOld(), 401, 'invalid_client');
  assert.equal((await withNew()).status, 200);
  const againRes = await tokenRequest(fetch, {
    grant_type: 'client_credentials',
    scope: 'sellingpartnerapi::client_credential:rotation',
    client_secret: payload.newClientSecret!,
  });
  const again = ((await againRes.json()) as { access_token: string }).access_token;
  assert.equal(
    (await call(fetch, path, again, { method: 'POST' })).status,
    204,
    'the bucket refilled over 7 days',
  );
  // Usage plan burst 1: a second rotation right away is throttled.
  await assertSpapiError(await call(fetch, path, again, { method: 'POST' }), 429, 'QuotaExceeded');
});

test('secret-expiry notification from the control API', async () => {
  const { emulator } = setup();
  const n = await emulator.control.secretExpiry({ expiryTime: '2026-07-01T00:00:00.000Z' });
  assert.equal(n.notificationType, 'APPLICATION_OAUTH_CLIENT_SECRET_EXPIRY');
  assert.deepEqual(n.payload, {
    applicationOAuthClientSecretExpiry: {
      clientId: APP.clientId,
      clientSecretExpiryTime: '2026-07-01T00:00:00.000Z',
      clientSecretExpiryReason: 'PERIODIC_ROTATION',
    },
  });
  assert.equal((await emulator.control.notifications()).length, 1);
});

test('a User-Agent over 500 characters is refused with 400', async () => {
  const { fetch } = setup();
  const { access_token } = await authorize(fetch);
  const path = '/sellers/v1/marketplaceParticipations';
  await assertSpapiError(
    await call(fetch, path, access_token, { headers: { 'user-agent': 'a'.repeat(501) } }),
    400,
    'InvalidInput',
  );
  assert.equal(
    (await call(fetch, path, access_token, { headers: { 'user-agent': 'a'.repeat(500) } })).status,
    200,
  );
});
