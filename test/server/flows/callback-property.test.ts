// docs/security.md T-A26: for arbitrary callback query strings, with or without the binding cookie, the
// callback answers 303 or 4xx — never 5xx — and calls LWA only when state and cookie are valid.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { Browser, PUBLIC_URL, api, testService } from '../../helpers/service.js';

test('property: arbitrary callback parameters never give a 5xx and never reach LWA without a valid state and cookie', async (t) => {
  const svc = await testService(t);
  const { url } = (await (
    await api(svc, 'POST', '/v1/connect-sessions', { user_ref: 'u', marketplace: 'US' })
  ).json()) as {
    url: string;
  };
  const browser = new Browser(svc);
  const { url: cb } = await browser.follow(url, (u) => u.startsWith(`${PUBLIC_URL}/oauth/callback`));
  const real = new URL(cb).searchParams;
  const cookie = `spapi_tx=${browser.cookies.get('localhost:3000')!.get('spapi_tx')!}`;
  const names = ['state', 'selling_partner_id', 'spapi_oauth_code', 'mws_auth_token', 'error', 'iss', 'x'];
  const value = fc.oneof(
    fc.string({ maxLength: 60 }),
    fc.string({ unit: 'grapheme', maxLength: 20 }),
    fc.constantFrom(real.get('state')!, real.get('spapi_oauth_code')!, 'A1EMUSELLERNA01', '', '%00', '\r\n'),
  );
  await fc.assert(
    fc.asyncProperty(
      fc.array(fc.tuple(fc.constantFrom(...names), value), { maxLength: 6 }),
      fc.boolean(),
      async (pairs, withCookie) => {
        const q = pairs.map(([k, v]) => `${k}=${encodeURIComponent(v)}`).join('&');
        const res = await svc.app.fetch(
          new Request(`${PUBLIC_URL}/oauth/callback?${q}`, {
            headers: { accept: 'application/json', ...(withCookie ? { cookie } : {}) },
          }),
        );
        assert.ok(res.status === 303 || (res.status >= 400 && res.status < 500), `status ${res.status}`);
        await res.body?.cancel();
      },
    ),
    { numRuns: 300 },
  );
  // The state was either never presented correctly or consumed once: at most one exchange.
  assert.ok((await svc.lwaCalls('authorization_code')) <= 1);
  assert.equal(await svc.lwaCalls('refresh_token'), 0);
});
