// Behaviours the emulator takes from Amazon's published API models (amzn/selling-partner-api-models),
// one test per rule; the emulator README's source table cites the model of each.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createEmulator, DEV_APPLICATION } from '../../src/emulator/index.js';
import { APP, SECRET, assertSpapiError, authorize, grantless } from './helpers.js';

const NA = 'https://sellingpartnerapi-na.amazon.com';
const ROTATE = '/applications/2023-11-30/clientSecret';

function setup(extra: Parameters<typeof createEmulator>[0] = {}) {
  let t = Date.UTC(2026, 5, 1);
  const emulator = createEmulator({ consentMode: 'auto', now: () => t, ...extra });
  return { emulator, fetch: emulator.fetch, advance: (s: number) => (t += s * 1000) };
}

const post = (fetch: typeof globalThis.fetch, path: string, token: string, base = NA) =>
  fetch(base + path, { method: 'POST', headers: { 'x-amz-access-token': token } });

test('rotation of an application with no registered queue: the model’s 400 InvalidInput, and no new secret', async () => {
  const { emulator, fetch } = setup({
    applications: [{ ...DEV_APPLICATION, notificationQueue: null }],
  });
  const token = await grantless(fetch, 'sellingpartnerapi::client_credential:rotation');
  const res = await post(fetch, ROTATE, token);
  assert.equal(res.headers.get('x-amzn-ratelimit-limit'), '0.0167', 'the model lists the header on its 400');
  assert.equal(res.status, 400);
  assert.deepEqual(await res.json(), {
    errors: [
      {
        code: 'InvalidInput',
        message:
          'Application is not enrolled for rotation notification. Please update application notification preference in Developer console.',
      },
    ],
  });
  assert.deepEqual(await emulator.control.notifications(), []);
  assert.deepEqual(await emulator.control.queues(), {}, 'no queue, so nothing to receive from');
  // The old secret is untouched: it still has no deadline and still gets tokens.
  assert.ok(await grantless(fetch, 'sellingpartnerapi::notifications'));
});

test('enrolment is part of the application config: control API registration and a queue of its own', async () => {
  const { emulator, fetch } = setup();
  const base = 'http://emulator.invalid/__emulator/applications';
  const register = (extra: Record<string, unknown>) =>
    fetch(base, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        id: APP.id,
        client_id: APP.clientId,
        client_secret: SECRET,
        redirect_uris: APP.redirectUris,
        ...extra,
      }),
    });
  assert.equal((await register({ notification_queue: 'my app/queue' })).status, 400);
  assert.equal((await register({ notification_queue: null })).status, 201);
  const listed = (await (await fetch(base)).json()) as { applications: { notification_queue: unknown }[] };
  assert.equal(listed.applications[0]!.notification_queue, null);
  const token = await grantless(fetch, 'sellingpartnerapi::client_credential:rotation');
  await assertSpapiError(await post(fetch, ROTATE, token), 400, 'InvalidInput');

  assert.equal((await register({ notification_queue: 'app-rotation' })).status, 201);
  await emulator.control.advance(120); // the rotation bucket (burst 1) refills
  assert.equal((await post(fetch, ROTATE, token)).status, 204);
  const queues = await emulator.control.queues();
  assert.equal(queues['app-rotation']?.messages, 1);
  assert.deepEqual(queues['app-rotation']?.applications, [APP.id]);
});

test('the 90-day expiry notice arrives by itself when the clock reaches it, once per secret, on the queue', async () => {
  const start = Date.UTC(2026, 5, 1);
  const expiry = new Date(start + 100 * 86_400_000).toISOString();
  const { emulator, fetch } = setup({
    applications: [{ ...DEV_APPLICATION, clientSecretExpiresAt: expiry }],
  });
  await emulator.control.advance(9 * 86_400);
  assert.deepEqual(await emulator.control.notifications(), [], '91 days before: nothing yet');
  await emulator.control.advance(86_400);
  const [notice, ...more] = await emulator.control.notifications();
  assert.equal(more.length, 0);
  assert.equal(notice?.notificationType, 'APPLICATION_OAUTH_CLIENT_SECRET_EXPIRY');
  assert.deepEqual(notice?.payload, {
    applicationOAuthClientSecretExpiry: {
      clientId: APP.clientId,
      clientSecretExpiryTime: expiry,
      clientSecretExpiryReason: 'PERIODIC_ROTATION',
    },
  });
  assert.equal((await emulator.control.queues())['spapi-auth-notifications']?.messages, 1);
  await emulator.control.advance(30 * 86_400);
  assert.equal((await emulator.control.notifications()).length, 1, 'one notice per secret');

  // Rotation: the new secret lives 180 days; its own notice comes 90 days before that.
  const token = await grantless(fetch, 'sellingpartnerapi::client_credential:rotation');
  assert.equal((await post(fetch, ROTATE, token)).status, 204);
  await emulator.control.advance(89 * 86_400);
  assert.equal((await emulator.control.notifications()).length, 2, 'the new secret, no notice yet');
  await emulator.control.advance(86_400 + 1);
  const notes = await emulator.control.notifications();
  assert.equal(notes.length, 3);
  assert.equal(notes[2]!.notificationType, 'APPLICATION_OAUTH_CLIENT_SECRET_EXPIRY');
  const newSecret = (notes[1]!.payload.applicationOAuthClientNewSecret as Record<string, string>)
    .newClientSecretExpiryTime;
  assert.equal(
    (notes[2]!.payload.applicationOAuthClientSecretExpiry as Record<string, string>).clientSecretExpiryTime,
    newSecret,
  );
});

test('a configured secret past its expiry no longer opens the token endpoint', async () => {
  const { emulator, fetch } = setup({
    applications: [{ ...DEV_APPLICATION, clientSecretExpiresAt: '2026-06-02T00:00:00.000Z' }],
  });
  assert.ok(await grantless(fetch, 'sellingpartnerapi::notifications'));
  await emulator.control.advance(86_400);
  const res = await fetch('https://api.amazon.com/auth/o2/token', {
    method: 'POST',
    body: new URLSearchParams({
      grant_type: 'client_credentials',
      scope: 'sellingpartnerapi::notifications',
      client_id: APP.clientId,
      client_secret: SECRET,
    }),
  });
  assert.equal(res.status, 401);
  assert.equal(((await res.json()) as { error: string }).error, 'invalid_client');
});

async function sellerToken(fetch: typeof globalThis.fetch, consentBase?: string) {
  return (await authorize(fetch, {}, consentBase)).access_token;
}

test('getOrders refuses what ordersV0.json says, on the emulator clock, in Amazon’s error shape', async () => {
  const { fetch } = setup(); // clock: 2026-06-01T00:00:00Z
  const token = await sellerToken(fetch);
  const orders = (q: string) =>
    fetch(`${NA}/orders/v0/orders?MarketplaceIds=ATVPDKIKX0DER${q}`, {
      headers: { 'x-amz-access-token': token },
    });
  const generic = 'The input you have submitted is not valid. Please check your input and try again.';
  const refusals: [string, string][] = [
    ['&CreatedAfter=2026-05-01T00:00:00Z&CreatedBefore=2026-05-31T23:59:00Z', 'at least 2 minutes'],
    ['&CreatedAfter=2026-05-01T00:00:00Z&CreatedBefore=2026-06-02T00:00:00Z', 'at least 2 minutes'],
    ['&LastUpdatedAfter=2026-05-01T00:00:00Z&LastUpdatedBefore=2026-05-31T23:59:30Z', 'at least 2 minutes'],
    ['&CreatedAfter=2026-05-10T00:00:00Z&CreatedBefore=2026-05-09T00:00:00Z', generic],
    ['&LastUpdatedAfter=2026-05-10&LastUpdatedBefore=2026-05-09', generic],
    ['&CreatedAfter=2026-05-01T00:00:00Z&LastUpdatedAfter=2026-05-01T00:00:00Z', generic],
    ['&CreatedAfter=2026-05-01T00:00:00Z&LastUpdatedBefore=2026-05-20T00:00:00Z', generic],
    ['&CreatedAfter=2026-05-01&MaxResultsPerPage=0', generic],
    ['&CreatedAfter=2026-05-01&MaxResultsPerPage=101', generic],
    ['&CreatedAfter=2026-05-01&MaxResultsPerPage=ten', generic],
  ];
  for (const [q, message] of refusals) {
    const res = await orders(q);
    assert.equal(res.headers.get('content-type'), 'application/json', q);
    const error = await assertSpapiError(res, 400, 'InvalidInput');
    if (message === generic) assert.equal(error.message, generic, q);
    else assert.match(error.message, /at least 2 minutes before current time/, q);
  }
  for (const q of [
    '&CreatedAfter=2026-05-01T00:00:00Z&CreatedBefore=2026-05-31T23:58:00Z',
    '&CreatedAfter=2026-05-01T00:00:00Z&CreatedBefore=2026-05-01T00:00:00Z',
    '&LastUpdatedAfter=2026-05-01&LastUpdatedBefore=2026-05-31T23:57:59',
    '&CreatedAfter=2026-05-01&MaxResultsPerPage=1',
    '&CreatedAfter=2026-05-01&MaxResultsPerPage=100',
  ]) {
    assert.equal((await orders(q)).status, 200, q);
  }
});

test('the RDT endpoint answers only the statuses its model lists: 415 for a non-JSON payload, 400 for an oversized one, 404 for another method', async () => {
  const { emulator, fetch } = setup({ maxBodyBytes: 1024 });
  const token = await sellerToken(fetch);
  const rdt = (init: RequestInit) =>
    fetch(`${NA}/tokens/2021-03-01/restrictedDataToken`, {
      ...init,
      headers: { 'x-amz-access-token': token, ...(init.headers as Record<string, string>) },
    });
  const body = JSON.stringify({ restrictedResources: [{ method: 'GET', path: '/orders/v0/orders' }] });
  const form = await rdt({
    method: 'POST',
    body,
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
  });
  assert.equal(form.headers.get('x-amzn-ratelimit-limit'), null, 'the model: no rate-limit header on 415');
  await assertSpapiError(form, 415, 'UnsupportedMediaType');
  await assertSpapiError(
    await rdt({
      method: 'POST',
      body: JSON.stringify({ pad: 'x'.repeat(2048) }),
      headers: { 'content-type': 'application/json' },
    }),
    400,
    'InvalidRequest',
  );
  await assertSpapiError(await rdt({ method: 'GET' }), 404, 'NotFound');
  assert.equal(
    (await rdt({ method: 'POST', body, headers: { 'content-type': 'application/json' } })).status,
    200,
  );
  const listed = new Set(['200', '400', '401', '403', '404', '415', '429', '500', '503']);
  const seen = Object.keys(
    (await emulator.control.stats()).spapi['/tokens/2021-03-01/restrictedDataToken'] ?? {},
  );
  assert.ok(seen.length >= 4 && seen.every((s) => listed.has(s)), seen.join());
});

test('marketplaceParticipations: defaultLanguageCode per marketplace as Amazon returns it', async () => {
  const { fetch } = setup();
  const languages = async (consentBase: string, base: string) => {
    const token = await sellerToken(fetch, consentBase);
    const res = await fetch(`${base}/sellers/v1/marketplaceParticipations`, {
      headers: { 'x-amz-access-token': token },
    });
    const { payload } = (await res.json()) as {
      payload: { marketplace: { countryCode: string; defaultLanguageCode: string } }[];
    };
    return Object.fromEntries(
      payload.map((p) => [p.marketplace.countryCode, p.marketplace.defaultLanguageCode]),
    );
  };
  assert.deepEqual(await languages('https://sellercentral.amazon.com', NA), {
    US: 'en_US',
    CA: 'en_CA',
    MX: 'es_MX',
  });
  assert.deepEqual(
    await languages('https://sellercentral-europe.amazon.com', 'https://sellingpartnerapi-eu.amazon.com'),
    {
      DE: 'de_DE',
      GB: 'en_GB',
      FR: 'fr_FR',
      IT: 'it_IT',
      ES: 'es_ES',
    },
  );
});

test('a fault given only a status answers with Amazon’s error body, content type and x-amzn-RequestId', async () => {
  const { emulator, fetch } = setup();
  await emulator.control.fault({ target: 'token', status: 503 });
  const lwa = await fetch('https://api.amazon.com/auth/o2/token', {
    method: 'POST',
    body: new URLSearchParams({
      grant_type: 'client_credentials',
      scope: 'sellingpartnerapi::notifications',
    }),
  });
  assert.equal(lwa.status, 503);
  assert.equal(lwa.headers.get('content-type'), 'application/json;charset=UTF-8');
  assert.ok(lwa.headers.get('x-amzn-requestid'));
  const lwaBody = (await lwa.json()) as Record<string, string>;
  assert.deepEqual(Object.keys(lwaBody).sort(), ['error', 'error_description', 'error_index', 'request_id']);
  assert.equal(lwaBody.error, 'temporarily_unavailable');

  await emulator.control.fault({ target: 'spapi', status: 429, headers: { 'retry-after': '3' } });
  const throttled = await fetch(`${NA}/sellers/v1/marketplaceParticipations`);
  assert.equal(throttled.headers.get('retry-after'), '3', "the fault's headers are kept");
  assert.equal(throttled.headers.get('content-type'), 'application/json');
  assert.equal(throttled.headers.get('x-amzn-ratelimit-limit'), null);
  const quota = await assertSpapiError(throttled, 429, 'QuotaExceeded');
  assert.equal(quota.message, 'You exceeded your quota for the requested resource.');
  await emulator.control.fault({ target: 'spapi', status: 500 });
  await assertSpapiError(await fetch(`${NA}/orders/v0/orders`), 500, 'InternalFailure');

  // A body of its own wins: garbage stays garbage.
  await emulator.control.fault({
    target: 'spapi',
    status: 502,
    body: '<html>bad gateway</html>',
    headers: { 'content-type': 'text/html' },
  });
  const garbage = await fetch(`${NA}/orders/v0/orders`);
  assert.equal(await garbage.text(), '<html>bad gateway</html>');
  assert.equal(garbage.headers.get('x-amzn-requestid'), null);
});
