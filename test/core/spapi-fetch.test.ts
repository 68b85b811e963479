import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { buildUserAgent, createSpApiFetch } from '../../src/core/spapi-fetch.js';
import {
  buildRestrictedDataTokenRequest,
  processRestrictedDataTokenResponse,
  spapiBaseUrl,
} from '../../src/core/rdt.js';
import { processRefreshTokenResponse } from '../../src/core/lwa.js';
import { SpApiError, SpapiAuthError } from '../../src/core/errors.js';
import type { AccessToken, SellerTokenKey } from '../../src/core/token-vault.js';

const json = (body: unknown, status = 200, headers: Record<string, string> = {}) =>
  new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json', ...headers } });

test('User-Agent in Amazon format, escaped, at most 500 characters', () => {
  assert.equal(
    buildUserAgent({ appName: 'My Tool', appVersion: '2.0', platform: 'Node/20' }),
    'My Tool/2.0 (Language=JavaScript; Platform=Node\\/20)',
  );
  assert.equal(
    buildUserAgent({ appName: 'a(b)', appVersion: '1;2', attributes: { 'x=y': 'é' } }),
    'a\\(b\\)/1\\;2 (Language=JavaScript; x\\=y=?)',
  );
  assert.throws(() => buildUserAgent({ appName: 'x'.repeat(600), appVersion: '1' }), TypeError);
  assert.throws(() => buildUserAgent({ appName: '', appVersion: '1' }), TypeError);
});

function fakeTokens() {
  let n = 0;
  const invalidated: string[] = [];
  let current: AccessToken = { accessToken: `Atza|t${++n}`, expiresAt: Date.now() + 3_600_000 };
  return {
    invalidated,
    tokens: {
      async getAccessToken(_k: SellerTokenKey) {
        return current;
      },
      async getRestrictedDataToken(_k: SellerTokenKey, req: { restrictedResources: readonly unknown[] }) {
        return {
          restrictedDataToken: `Atz.sprdt|${JSON.stringify(req.restrictedResources)}`,
          expiresAt: Date.now() + 3_600_000,
        };
      },
      async invalidate(_k: SellerTokenKey, t: string) {
        invalidated.push(t);
        current = { accessToken: `Atza|t${++n}`, expiresAt: Date.now() + 3_600_000 };
      },
    },
  };
}

test('SP-API fetch: endpoint, headers, query; 403 token-expired → one refresh and one retry', async () => {
  const { tokens, invalidated } = fakeTokens();
  const seen: Request[] = [];
  const replies = [
    json(
      {
        errors: [
          {
            code: 'Unauthorized',
            message: 'Access to requested resource is denied.',
            details: 'The access token you provided has expired.',
          },
        ],
      },
      403,
    ),
    json({ payload: [] }),
  ];
  const spapi = createSpApiFetch({
    tokens,
    userAgent: 'T/1 (Language=JavaScript)',
    fetch: async (r) => (seen.push(r), replies.shift()!),
  });
  const res = await spapi({
    sellingPartnerId: 'A1',
    region: 'eu',
    path: '/orders/v0/orders',
    query: { MarketplaceIds: ['A1PA6795UKMFR9', 'APJ6JRA9NG5V4'], MaxResultsPerPage: 10 },
  });
  assert.equal(res.status, 200);
  assert.equal(seen.length, 2);
  assert.equal(new URL(seen[0]!.url).origin, 'https://sellingpartnerapi-eu.amazon.com');
  assert.equal(new URL(seen[0]!.url).searchParams.get('MarketplaceIds'), 'A1PA6795UKMFR9,APJ6JRA9NG5V4');
  assert.equal(seen[0]!.headers.get('x-amz-access-token'), 'Atza|t1');
  assert.equal(seen[1]!.headers.get('x-amz-access-token'), 'Atza|t2');
  assert.equal(seen[0]!.headers.get('user-agent'), 'T/1 (Language=JavaScript)');
  assert.deepEqual(invalidated, ['Atza|t1']);
});

test('SP-API fetch: a 403 for a missing role is returned as is; a second token 403 is not retried again', async () => {
  const { tokens, invalidated } = fakeTokens();
  let calls = 0;
  const role = createSpApiFetch({
    tokens,
    fetch: async () => (
      calls++,
      json(
        {
          errors: [{ code: 'Unauthorized', message: 'Access to requested resource is denied.', details: '' }],
        },
        403,
      )
    ),
  });
  assert.equal((await role({ sellingPartnerId: 'A1', region: 'na', path: '/x' })).status, 403);
  assert.equal(calls, 1);
  assert.equal(invalidated.length, 0);
  calls = 0;
  const expired = createSpApiFetch({
    tokens,
    fetch: async () => (
      calls++,
      json(
        {
          errors: [
            {
              code: 'Unauthorized',
              message: 'm',
              details: 'The access token you provided is revoked, malformed or invalid.',
            },
          ],
        },
        403,
      )
    ),
  });
  const res = await expired({ sellingPartnerId: 'A1', region: 'na', path: '/x' });
  assert.equal(res.status, 403);
  assert.equal(calls, 2);
  assert.equal(
    ((await res.json()) as { errors: Array<{ code: string }> }).errors[0]!.code,
    'Unauthorized',
    'the body is still readable',
  );
});

test('SP-API fetch: 429 retried with backoff or Retry-After, bounded', async () => {
  const { tokens } = fakeTokens();
  let calls = 0;
  const waits: number[] = [];
  const spapi = createSpApiFetch({
    tokens,
    sleep: async (ms) => void waits.push(ms),
    random: () => 0.5,
    fetch: async () => (
      calls++,
      json(
        { errors: [{ code: 'QuotaExceeded', message: 'You exceeded your quota' }] },
        429,
        calls === 1 ? { 'retry-after': '2' } : {},
      )
    ),
  });
  const res = await spapi({ sellingPartnerId: 'A1', region: 'na', path: '/x' });
  assert.equal(res.status, 429);
  assert.equal(calls, 3);
  assert.deepEqual(waits, [2000, 200]);
  const sandbox = createSpApiFetch({ tokens, sandbox: true, fetch: async (r) => json({ url: r.url }) });
  assert.equal(
    ((await (await sandbox({ sellingPartnerId: 'A1', region: 'fe', path: '/y' })).json()) as { url: string })
      .url,
    'https://sandbox.sellingpartnerapi-fe.amazon.com/y',
  );
  await assert.rejects(sandbox({ sellingPartnerId: 'A1', region: 'fe', path: '//evil.example/' }), TypeError);
});

test('SP-API fetch: restricted calls use an RDT for the path and method', async () => {
  const { tokens } = fakeTokens();
  let header = '';
  const spapi = createSpApiFetch({
    tokens,
    fetch: async (r) => ((header = r.headers.get('x-amz-access-token')!), json({})),
  });
  await spapi({
    sellingPartnerId: 'A1',
    region: 'na',
    path: '/orders/v0/orders/123',
    restricted: { dataElements: ['buyerInfo'] },
  });
  assert.equal(
    header,
    'Atz.sprdt|[{"method":"GET","path":"/orders/v0/orders/123","dataElements":["buyerInfo"]}]',
  );
});

test('Tokens API pair: request shape, top-level or payload answers, typed errors', async () => {
  const req = buildRestrictedDataTokenRequest(
    'na',
    'Atza|x',
    {
      restrictedResources: [
        { method: 'GET', path: '/orders/v0/orders', dataElements: ['shippingAddress', 'buyerInfo'] },
      ],
      targetApplication: 'amzn1.sp.solution.t',
    },
    { amazonUrl: 'http://127.0.0.1:1/' },
  );
  assert.equal(req.url, 'http://127.0.0.1:1/tokens/2021-03-01/restrictedDataToken');
  assert.equal(req.headers.get('x-amz-access-token'), 'Atza|x');
  assert.deepEqual(await req.json(), {
    restrictedResources: [
      { method: 'GET', path: '/orders/v0/orders', dataElements: ['buyerInfo', 'shippingAddress'] },
    ],
    targetApplication: 'amzn1.sp.solution.t',
  });
  assert.equal(spapiBaseUrl('fe'), 'https://sellingpartnerapi-fe.amazon.com');
  assert.deepEqual(
    await processRestrictedDataTokenResponse(json({ restrictedDataToken: 'Atz.sprdt|a', expiresIn: 3600 })),
    { restrictedDataToken: 'Atz.sprdt|a', expiresIn: 3600 },
  );
  assert.equal(
    (
      await processRestrictedDataTokenResponse(
        json({ payload: { restrictedDataToken: 'Atz.sprdt|b', expiresIn: 60 } }),
      )
    ).restrictedDataToken,
    'Atz.sprdt|b',
  );
  const err = await processRestrictedDataTokenResponse(
    json({ errors: [{ code: 'InvalidInput', message: 'secret-ish Atz.sprdt|leak' }] }, 400, {
      'x-amzn-RequestId': 'r-9',
    }),
  ).catch((e) => e);
  assert.ok(err instanceof SpApiError);
  assert.equal(err.code, 'spapi_request_failed');
  assert.equal(err.upstreamError, 'InvalidInput');
  assert.equal(err.requestId, 'r-9');
  assert.doesNotMatch(JSON.stringify(err) + err.message, /leak/);
  for (const bad of [
    json({}),
    json({ restrictedDataToken: 'a b', expiresIn: 1 }),
    json({ restrictedDataToken: 'x', expiresIn: -1 }),
    new Response('nope'),
  ]) {
    await assert.rejects(processRestrictedDataTokenResponse(bad), { code: 'invalid_spapi_response' });
  }
  assert.throws(
    () =>
      buildRestrictedDataTokenRequest('na', 'x', {
        restrictedResources: [{ method: 'GET', path: 'no-slash' }],
      }),
    TypeError,
  );
});

test('property (T-B19): arbitrary bodies and statuses → a valid token or a typed error, never echoing the body', async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.oneof(
        fc.jsonValue(),
        fc.record(
          {
            access_token: fc.oneof(fc.string(), fc.constant('Atza|MARKER')),
            token_type: fc.constantFrom('bearer', 'Bearer', 'mac', 1),
            expires_in: fc.oneof(fc.integer(), fc.double(), fc.string()),
            error: fc.option(fc.string(), { nil: undefined }),
          },
          { requiredKeys: [] },
        ),
      ),
      fc.constantFrom(200, 200, 200, 400, 401, 429, 500, 302),
      async (body, status) => {
        const text = JSON.stringify(body) ?? 'null';
        try {
          const t = await processRefreshTokenResponse(
            new Response(status === 302 ? null : text, {
              status,
              headers: { 'content-type': 'application/json' },
            }),
          );
          assert.equal(status, 200);
          assert.ok(t.accessToken.length > 0 && t.expiresIn > 0);
        } catch (e) {
          assert.ok(e instanceof SpapiAuthError, `not a typed error: ${String(e)}`);
          assert.ok(!e.message.includes('MARKER') && !JSON.stringify(e).includes('MARKER'));
        }
      },
    ),
    { numRuns: 3000 },
  );
});

test('SP-API fetch: a 403 on a restricted call drops the RDT and its access token, refreshes once, retries once', async () => {
  const { createTokenManager } = await import('../../src/core/token-manager.js');
  const { createMemoryTokenVault } = await import('../../src/core/memory-vault.js');
  const key: SellerTokenKey = { sellingPartnerId: 'A1RDT', region: 'na' };
  const vault = createMemoryTokenVault();
  vault.put(key, 'Atzr|refresh');
  const counts = { lwa: 0, rdt: 0 };
  // Which access token each RDT was made from, and which RDT each SP-API call carried.
  const rdtFrom = new Map<string, string>();
  const spapiTokens: string[] = [];
  const expired = () =>
    json(
      {
        errors: [
          {
            code: 'Unauthorized',
            message: 'Access to requested resource is denied.',
            details: 'The access token you provided has expired.',
          },
        ],
      },
      403,
    );
  let rejectEvery = false;
  const fetch = async (r: Request): Promise<Response> => {
    const url = new URL(r.url);
    if (url.pathname === '/auth/o2/token') {
      counts.lwa++;
      return json({ access_token: `Atza|access-${counts.lwa}`, token_type: 'bearer', expires_in: 3600 });
    }
    if (url.pathname === '/tokens/2021-03-01/restrictedDataToken') {
      counts.rdt++;
      const rdt = `Atz.sprdt|rdt-${counts.rdt}`;
      rdtFrom.set(rdt, r.headers.get('x-amz-access-token')!);
      return json({ restrictedDataToken: rdt, expiresIn: 3600 });
    }
    spapiTokens.push(r.headers.get('x-amz-access-token')!);
    return rejectEvery || spapiTokens.length === 1 ? expired() : json({ payload: { orders: [] } });
  };
  const tokens = createTokenManager({
    credentials: { clientId: 'cid', clientSecret: 'secret' },
    vault,
    fetch,
    amazonUrl: 'http://127.0.0.1:1',
  });
  const spapi = createSpApiFetch({ tokens, fetch, amazonUrl: 'http://127.0.0.1:1' });
  const res = await spapi({ ...key, path: '/orders/v0/orders/1-2-3/address', restricted: true });
  assert.equal(res.status, 200);
  assert.deepEqual(spapiTokens, ['Atz.sprdt|rdt-1', 'Atz.sprdt|rdt-2'], 'retried once with a new RDT');
  assert.equal(counts.lwa, 2, 'the access token behind the refused RDT was refreshed once');
  assert.equal(
    rdtFrom.get('Atz.sprdt|rdt-2'),
    'Atza|access-2',
    'the new RDT is made from the new access token',
  );

  // The new RDT is cached: a later restricted call makes no Tokens API or LWA call.
  await spapi({ ...key, path: '/orders/v0/orders/1-2-3/address', restricted: true });
  assert.deepEqual([counts.lwa, counts.rdt], [2, 2]);

  // Refused again after the retry: the 403 is returned, not retried a second time.
  rejectEvery = true;
  spapiTokens.length = 0;
  const again = await spapi({ ...key, path: '/orders/v0/orders/1-2-3/address', restricted: true });
  assert.equal(again.status, 403);
  assert.equal(spapiTokens.length, 2);
  assert.deepEqual([counts.lwa, counts.rdt], [3, 3]);
});
