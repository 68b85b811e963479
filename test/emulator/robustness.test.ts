// Property: whatever arrives, the emulator answers with a well-formed error or success and never throws.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { createEmulator } from '../../src/emulator/index.js';
import { APP } from './helpers.js';

const PATHS = [
  '/auth/o2/token',
  '/apps/authorize/consent',
  '/appstore/authorize',
  `/apps/authorize/confirm/${APP.id}`,
  '/apps/authorize/confirm/%E0%A4%A',
  '/sellers/v1/marketplaceParticipations',
  '/tokens/2021-03-01/restrictedDataToken',
  '/orders/v0/orders',
  '/applications/2023-11-30/clientSecret',
  '/__emulator/faults',
  '/__emulator/consent',
  '/__emulator/clock',
  '/__emulator/revoke',
  '/__emulator/applications',
  '/nowhere',
];

test('arbitrary requests get an answer in the endpoint’s dialect, never an exception', async () => {
  const emulator = createEmulator({ consentMode: 'auto' });
  await fc.assert(
    fc.asyncProperty(
      fc.constantFrom(...PATHS),
      fc.constantFrom('GET', 'POST', 'PUT', 'DELETE', 'PATCH'),
      fc.dictionary(
        fc.constantFrom(
          'application_id',
          'state',
          'redirect_uri',
          'version',
          'amazon_state',
          'code_challenge',
          'MarketplaceIds',
          'region',
        ),
        fc.string({ maxLength: 40 }),
      ),
      fc.constantFrom('application/json', 'application/x-www-form-urlencoded', 'text/plain', ''),
      fc.oneof(fc.string({ maxLength: 200 }), fc.json({ maxDepth: 3 })),
      fc.option(fc.string({ maxLength: 60 }), { nil: undefined }),
      async (path, method, query, type, body, token) => {
        // Faults and clock changes would leak into later runs; the control API gets only reads and bad writes.
        if (path.startsWith('/__emulator/') && method === 'POST' && !body.startsWith('{"bogus'))
          body = `{"bogus":${JSON.stringify(body)}}`;
        const url = `https://sellercentral.amazon.com${path}?${new URLSearchParams(query)}`;
        const headers: Record<string, string> = {};
        if (type !== '') headers['content-type'] = type;
        if (token !== undefined && /^[\x21-\x7e]*$/.test(token)) headers['x-amz-access-token'] = token;
        const hasBody = method !== 'GET';
        const res = await emulator.fetch(url, {
          method,
          headers,
          redirect: 'manual',
          ...(hasBody ? { body } : {}),
        });
        assert.ok(res.status >= 200 && res.status < 600);
        const text = await res.text();
        if (res.status >= 400 && (res.headers.get('content-type') ?? '').startsWith('application/json')) {
          const parsed = JSON.parse(text) as Record<string, unknown>;
          assert.ok('error' in parsed || 'errors' in parsed, `error shape for ${method} ${path}: ${text}`);
        }
        assert.notEqual(res.status, 500, `no internal error for ${method} ${path}`);
      },
    ),
    { numRuns: 400 },
  );
});
