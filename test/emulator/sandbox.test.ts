// The sandbox hosts answer like Amazon's static sandbox: each operation's declared cases
// (x-amzn-api-sandbox in the API models), 400 "Could not match input arguments" otherwise,
// production's authentication and its own usage plan (5 rps, burst 15).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createEmulator } from '../../src/emulator/index.js';
import { authorize, grantless, tokenRequest } from './helpers.js';

const SANDBOX = 'https://sandbox.sellingpartnerapi-na.amazon.com';
const UNMATCHED = { code: 'InvalidInput', message: 'Could not match input arguments', details: '' };

function setup() {
  const t = Date.UTC(2026, 5, 1);
  const emulator = createEmulator({ consentMode: 'auto', now: () => t });
  return { emulator, fetch: emulator.fetch };
}

async function body(res: Response, status: number): Promise<Record<string, unknown>> {
  assert.equal(res.status, status);
  assert.ok(res.headers.get('x-amzn-requestid'));
  return (await res.json()) as Record<string, unknown>;
}

const orders = (fetch: typeof globalThis.fetch, token: string, query: string) =>
  fetch(`${SANDBOX}/orders/v0/orders?${query}`, { headers: { 'x-amz-access-token': token } });

const rdt = (fetch: typeof globalThis.fetch, token: string, payload: unknown) =>
  fetch(`${SANDBOX}/tokens/2021-03-01/restrictedDataToken`, {
    method: 'POST',
    headers: { 'x-amz-access-token': token, 'content-type': 'application/json' },
    body: JSON.stringify(payload),
  });

test('getOrders: TEST_CASE_200, the two NEXT_TOKEN pages, TEST_CASE_400, and a real query unmatched', async () => {
  const { fetch } = setup();
  const { access_token } = await authorize(fetch);
  const first = (await body(
    await orders(fetch, access_token, 'CreatedAfter=TEST_CASE_200&MarketplaceIds=ATVPDKIKX0DER'),
    200,
  )) as { payload: { CreatedBefore: string; Orders: { AmazonOrderId: string; OrderTotal?: unknown }[] } };
  assert.equal(first.payload.CreatedBefore, '1.569521782042E9');
  assert.deepEqual(
    first.payload.Orders.map((o) => o.AmazonOrderId),
    ['902-1845936-5435065', '902-8745147-1934268'],
  );
  assert.deepEqual(first.payload.Orders[0]!.OrderTotal, { CurrencyCode: 'USD', Amount: '11.01' });

  const page1 = (await body(
    await orders(fetch, access_token, 'CreatedAfter=TEST_CASE_200_NEXT_TOKEN&MarketplaceIds=ATVPDKIKX0DER'),
    200,
  )) as { payload: { NextToken?: string; Orders: { AmazonOrderId: string }[] } };
  assert.equal(page1.payload.NextToken, '2YgYW55IGNhcm5hbCBwbGVhc3VyZS4');
  assert.deepEqual(
    page1.payload.Orders.map((o) => o.AmazonOrderId),
    ['902-3159896-1390916'],
  );
  const page2 = (await body(
    await orders(
      fetch,
      access_token,
      `CreatedAfter=TEST_CASE_200_NEXT_TOKEN&MarketplaceIds=ATVPDKIKX0DER&NextToken=${page1.payload.NextToken}`,
    ),
    200,
  )) as { payload: { NextToken?: string; Orders: unknown[] } };
  assert.equal(page2.payload.NextToken, undefined, 'the last page has no NextToken');
  assert.equal(page2.payload.Orders.length, 1);

  const refused = await orders(
    fetch,
    access_token,
    'CreatedAfter=TEST_CASE_400&MarketplaceIds=ATVPDKIKX0DER',
  );
  assert.deepEqual(await body(refused, 400), {
    errors: [{ code: 'InvalidInput', message: 'Invalid Input' }],
  });

  // What production answers (a real date, the seller's marketplace) the sandbox cannot match.
  for (const query of [
    'CreatedAfter=2026-01-01T00:00:00Z&MarketplaceIds=ATVPDKIKX0DER',
    'CreatedAfter=TEST_CASE_200&MarketplaceIds=A2EUQ1WTGCTBG2',
    'CreatedAfter=TEST_CASE_200&MarketplaceIds=ATVPDKIKX0DER,A2EUQ1WTGCTBG2',
    'MarketplaceIds=ATVPDKIKX0DER',
  ]) {
    const res = await orders(fetch, access_token, query);
    assert.deepEqual(await body(res, 400), { errors: [UNMATCHED] }, query);
    assert.ok(res.headers.get('x-amzn-errortype'));
  }
});

test('getMarketplaceParticipations: the model’s one US participation, whatever the seller', async () => {
  const { fetch } = setup();
  const { access_token } = await authorize(fetch, {}, 'https://sellercentral-europe.amazon.com');
  const res = await fetch(
    `https://sandbox.sellingpartnerapi-eu.amazon.com/sellers/v1/marketplaceParticipations`,
    {
      headers: { 'x-amz-access-token': access_token },
    },
  );
  assert.equal(res.headers.get('x-amzn-ratelimit-limit'), '5');
  assert.deepEqual(await body(res, 200), {
    payload: [
      {
        marketplace: {
          id: 'ATVPDKIKX0DER',
          countryCode: 'US',
          name: 'Amazon.com',
          defaultCurrencyCode: 'USD',
          defaultLanguageCode: 'en_US',
          domainName: 'www.amazon.com',
        },
        participation: { isParticipating: true, hasSuspendedListings: false },
      },
    ],
  });
});

test('createRestrictedDataToken: the two canned tokens, the canned 400, and an unmatched body', async () => {
  const { fetch, emulator } = setup();
  const { access_token } = await authorize(fetch);
  const generic = await body(
    await rdt(fetch, access_token, {
      restrictedResources: [{ method: 'GET', path: '/orders/v0/orders/{orderId}/address' }],
    }),
    200,
  );
  assert.deepEqual(generic, {
    restrictedDataToken: 'Atz.sprdt|IQEBLjAsAhRmHjNgHpi0U-Dme37rR6CuUpSR',
    expiresIn: 3600,
  });
  // A field the case does not declare (dataElements) is not compared (amazon-php/sp-api-sdk's sandbox test).
  const specific = await body(
    await rdt(fetch, access_token, {
      restrictedResources: [
        { method: 'GET', path: '/orders/v0/orders/943-12-123434/address', dataElements: ['buyerInfo'] },
      ],
    }),
    200,
  );
  assert.equal(specific.restrictedDataToken, 'Atz.sprdt|AODFNESLjAsAhRmHjNgHpi0U-Dme37rR6CuUpSR');
  const canned400 = await body(
    await rdt(fetch, access_token, {
      restrictedResources: [{ method: '', path: '/orders/v1/orders/902-1845936-5435065/address' }],
    }),
    400,
  );
  assert.deepEqual(canned400, {
    errors: [
      {
        code: 'InvalidRequest',
        message: 'Request is missing or has invalid parameters',
        details: 'Resource not provided.',
      },
    ],
  });
  for (const payload of [
    { restrictedResources: [{ method: 'GET', path: '/orders/v0/orders', dataElements: ['buyerInfo'] }] },
    { restrictedResources: [] },
    'not an object',
  ]) {
    assert.deepEqual(await body(await rdt(fetch, access_token, payload), 400), { errors: [UNMATCHED] });
  }
  // A canned RDT is no token: SP-API does not know it.
  const used = await fetch(
    `https://sellingpartnerapi-na.amazon.com/orders/v0/orders?MarketplaceIds=ATVPDKIKX0DER`,
    {
      headers: { 'x-amz-access-token': String(generic.restrictedDataToken) },
    },
  );
  assert.equal(used.status, 403);
  const stats = await emulator.control.stats();
  assert.equal(stats.spapi['/tokens/2021-03-01/restrictedDataToken']?.['200'], 2);
});

test('rotateApplicationClientSecret: the model’s only case, 400 not enrolled; nothing rotates', async () => {
  const { fetch, emulator } = setup();
  const rotation = await grantless(
    fetch,
    'sellingpartnerapi::client_credential:rotation',
    'https://api.amazon.com',
  );
  const res = await fetch(`${SANDBOX}/applications/2023-11-30/clientSecret`, {
    method: 'POST',
    headers: { 'x-amz-access-token': rotation },
  });
  assert.deepEqual(await body(res, 400), {
    errors: [
      {
        code: 'InvalidInput',
        message:
          'Application is not enrolled for rotation notification. Please update application notification preference in Developer console.',
      },
    ],
  });
  assert.deepEqual(await emulator.control.notifications(), [], 'no new secret was sent');
  const still = await tokenRequest(fetch, {
    grant_type: 'client_credentials',
    scope: 'sellingpartnerapi::notifications',
  });
  assert.equal(still.status, 200, 'the configured secret still opens LWA');
});

test('the sandbox still needs a valid token, keeps the region check, and has its own 5/15 usage plan', async () => {
  const { fetch } = setup();
  const { access_token } = await authorize(fetch);
  const path = '/sellers/v1/marketplaceParticipations';
  const missing = await body(await fetch(SANDBOX + path), 403);
  assert.equal((missing.errors as { code: string }[])[0]!.code, 'Unauthorized');
  const otherRegion = await fetch(`https://sandbox.sellingpartnerapi-fe.amazon.com${path}`, {
    headers: { 'x-amz-access-token': access_token },
  });
  assert.equal(otherRegion.status, 403);
  // Production's plan for this operation is burst 15 at 0.016/s; the sandbox's burst is 15 at 5/s,
  // counted apart: 15 sandbox calls on a frozen clock, then 429, while production still answers.
  const statuses: number[] = [];
  for (let i = 0; i < 16; i++) {
    const res = await fetch(SANDBOX + path, { headers: { 'x-amz-access-token': access_token } });
    statuses.push(res.status);
    await res.body?.cancel();
  }
  assert.deepEqual(statuses, [...Array(15).fill(200), 429]);
  const production = await fetch(`https://sellingpartnerapi-na.amazon.com${path}`, {
    headers: { 'x-amz-access-token': access_token },
  });
  assert.equal(production.status, 200);
  // On the emulator's own origin the sandbox is named in x-amzn-emulator-host (what amazonUrl sends).
  const named = await fetch(
    `http://127.0.0.1:1/orders/v0/orders?CreatedAfter=TEST_CASE_400&MarketplaceIds=x`,
    {
      headers: {
        'x-amz-access-token': access_token,
        'x-amzn-emulator-host': 'sandbox.sellingpartnerapi-na.amazon.com',
      },
    },
  );
  assert.deepEqual(await body(named, 400), { errors: [{ code: 'InvalidInput', message: 'Invalid Input' }] });
});
