// Every bad input at /connect, /oauth/login and /oauth/callback gets its clear
// error with no LWA call and no data changed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  AMAZON_URL,
  Browser,
  PUBLIC_URL,
  api,
  errorCode,
  rawRequest,
  type TestService,
  testService,
} from '../../helpers/service.js';

const CALLBACK = `${PUBLIC_URL}/oauth/callback`;
const JSON_ACCEPT = { accept: 'application/json' };

/** Starts a website flow and stops at the callback: the browser holds the cookie, the URL holds state + code. */
async function pendingCallback(
  svc: TestService,
  body: Record<string, unknown> = { user_ref: 'u1', marketplace: 'US' },
) {
  const created = await api(svc, 'POST', '/v1/connect-sessions', body);
  const { url } = (await created.json()) as { url: string };
  const browser = new Browser(svc);
  const { url: callback } = await browser.follow(url, (u) => u.startsWith(CALLBACK));
  return { browser, callback: new URL(callback) };
}

async function sellerCount(svc: TestService): Promise<number> {
  return (await svc.store.listSellers({ limit: 500 })).items.length;
}

async function expectError(res: Response, status: number, code: string): Promise<void> {
  assert.equal(res.status, status, `expected ${status} ${code}`);
  assert.equal(await errorCode(res), code);
  assert.equal(res.headers.get('location'), null);
}

test('state checks: missing, unknown, tampered, duplicated, unbound, swapped — no exchange, nothing stored', async (t) => {
  const svc = await testService(t);
  const { browser, callback } = await pendingCallback(svc);
  const q = callback.searchParams;
  const state = q.get('state')!;
  const withState = (s: string | null, extra = ''): string => {
    const u = new URL(callback);
    if (s === null) u.searchParams.delete('state');
    else u.searchParams.set('state', s);
    return u.href + extra;
  };
  await expectError(await browser.request(withState(null), JSON_ACCEPT), 400, 'state_missing');
  await expectError(await browser.request(withState('A'.repeat(43)), JSON_ACCEPT), 400, 'state_invalid');
  const flipped = (state[0] === 'A' ? 'B' : 'A') + state.slice(1);
  await expectError(await browser.request(withState(flipped), JSON_ACCEPT), 400, 'state_invalid');
  await expectError(
    await browser.request(withState(state, `&state=${state}`), JSON_ACCEPT),
    400,
    'state_invalid',
  );
  await expectError(
    await browser.request(withState(state, '&state=other'), JSON_ACCEPT),
    400,
    'state_invalid',
  );
  // Another browser (no binding cookie): login CSRF.
  await expectError(await new Browser(svc).request(callback.href, JSON_ACCEPT), 400, 'state_not_bound');
  assert.equal(await svc.lwaCalls(), 0);
  assert.equal(await sellerCount(svc), 0);
  // The real transaction was not burnt by any of those: it completes once.
  const ok = await browser.request(callback.href);
  assert.equal(ok.status, 303);
  assert.ok(!ok.headers.get('location')!.includes('spapi_oauth_code'));
  await expectError(await browser.request(callback.href, JSON_ACCEPT), 400, 'state_used');
  assert.equal(await svc.lwaCalls('authorization_code'), 1);
});

test('a cookie from another transaction does not bind (swap) and burns nothing it should not', async (t) => {
  const svc = await testService(t);
  const one = await pendingCallback(svc);
  const two = await pendingCallback(svc);
  const swapped = await one.browser.request(two.callback.href, JSON_ACCEPT);
  await expectError(swapped, 400, 'state_not_bound');
  assert.equal(await svc.lwaCalls(), 0);
  assert.equal(await sellerCount(svc), 0);
});

test('expired state (11 minutes later) → state_expired, no exchange', async (t) => {
  let offset = 0;
  const svc = await testService(t, {}, { now: () => Date.now() + offset });
  const { browser, callback } = await pendingCallback(svc);
  offset = 11 * 60 * 1000;
  await expectError(await browser.request(callback.href, JSON_ACCEPT), 400, 'state_expired');
  assert.equal(await svc.lwaCalls(), 0);
  assert.equal(await sellerCount(svc), 0);
});

test('20 concurrent duplicate callbacks: exactly one 303, the rest state_used, one exchange', async (t) => {
  const svc = await testService(t);
  const { browser, callback } = await pendingCallback(svc);
  const results = await Promise.all(
    Array.from({ length: 20 }, () => browser.request(callback.href, JSON_ACCEPT)),
  );
  const statuses = results.map((r) => r.status);
  assert.equal(statuses.filter((s) => s === 303).length, 1);
  assert.equal(statuses.filter((s) => s === 400).length, 19);
  for (const r of results.filter((x) => x.status === 400)) assert.equal(await errorCode(r), 'state_used');
  assert.equal(await svc.lwaCalls('authorization_code'), 1);
  assert.equal(await sellerCount(svc), 1);
});

test('missing code and provider error consume the state without an exchange', async (t) => {
  const svc = await testService(t);
  const a = await pendingCallback(svc);
  const noCode = new URL(a.callback);
  noCode.searchParams.delete('spapi_oauth_code');
  await expectError(await a.browser.request(noCode.href, JSON_ACCEPT), 400, 'code_missing');
  await expectError(await a.browser.request(a.callback.href, JSON_ACCEPT), 400, 'state_used');

  const b = await pendingCallback(svc);
  const denied = new URL(b.callback);
  denied.searchParams.delete('spapi_oauth_code');
  denied.searchParams.set('error', 'access_denied');
  await expectError(await b.browser.request(denied.href, JSON_ACCEPT), 400, 'authorization_denied');
  // Without Accept: JSON the browser gets a page with the code, never the state.
  const c = await pendingCallback(svc);
  const page = await c.browser.request(`${c.callback.href}&error=access_denied`);
  assert.equal(page.status, 400);
  assert.match(page.headers.get('content-type')!, /^text\/html/);
  assert.match(page.headers.get('content-security-policy')!, /default-src 'none'/);
  assert.equal(page.headers.get('referrer-policy'), 'no-referrer');
  const text = await page.text();
  assert.match(text, /authorization_denied/);
  assert.ok(!text.includes(c.callback.searchParams.get('state')!));
  assert.ok(!text.includes(c.callback.searchParams.get('spapi_oauth_code')!));
  assert.equal(await svc.lwaCalls(), 0);
  assert.equal(await sellerCount(svc), 0);
});

test('oversized, control-character, NUL and non-ASCII parameters: 400 before any state lookup', async (t) => {
  const svc = await testService(t);
  const { browser, callback } = await pendingCallback(svc);
  const variants: [string, string][] = [
    ['state', 'A'.repeat(3000)],
    ['spapi_oauth_code', 'A'.repeat(3000)],
    ['selling_partner_id', 'A'.repeat(3000)],
    ['state', `${callback.searchParams.get('state')}\r\nSet-Cookie: x=1`],
    ['selling_partner_id', 'A1\r\nSet-Cookie: x=1'],
    ['selling_partner_id', 'A1\u0000'],
    ['selling_partner_id', 'A1\u202eEMU'],
    ['spapi_oauth_code', '\u{1F600}'],
    ['selling_partner_id', '%C0%AE'],
  ];
  for (const [name, value] of variants) {
    const u = new URL(callback);
    u.searchParams.set(name, value);
    const res = await browser.request(u.href, JSON_ACCEPT);
    assert.equal(res.status, 400, `${name}=${JSON.stringify(value.slice(0, 20))}`);
    assert.equal(res.headers.get('set-cookie'), null);
    const code = await errorCode(res);
    assert.ok(['state_invalid', 'invalid_callback'].includes(code), code);
  }
  // 10 KB parameters and a 64 KB request target are refused outright.
  const u10 = new URL(callback);
  u10.searchParams.set('spapi_oauth_code', 'A'.repeat(10_000));
  assert.equal((await browser.request(u10.href, JSON_ACCEPT)).status, 414);
  const huge = await rawRequest(svc, 'GET', `/oauth/callback?state=${'A'.repeat(65_536)}`);
  assert.equal(huge.status, 414);
  assert.equal(await svc.lwaCalls(), 0);
  // None of that consumed the real transaction.
  assert.equal((await browser.request(callback.href)).status, 303);
});

test('unknown extra parameters (iss, code, token) are ignored and the exchange happens once', async (t) => {
  const svc = await testService(t);
  const { browser, callback } = await pendingCallback(svc);
  const res = await browser.request(`${callback.href}&iss=https%3A%2F%2Fevil.example&code=x&token=y`);
  assert.equal(res.status, 303);
  assert.equal(await svc.lwaCalls('authorization_code'), 1);
  assert.ok(svc.logs.some((l) => l.includes('unexpected iss parameter')));
});

test('POST /oauth/callback → 405', async (t) => {
  const svc = await testService(t);
  const res = await svc.app.fetch(new Request(`${CALLBACK}?state=x`, { method: 'POST' }));
  await expectError(res, 405, 'method_not_allowed');
  assert.equal(res.headers.get('allow'), 'GET');
});

test('Appstore: a callback for a different seller than Amazon announced → 409 seller_mismatch, no exchange', async (t) => {
  const svc = await testService(t);
  const browser = new Browser(svc);
  const { url } = await browser.follow(
    `${AMAZON_URL}/appstore/authorize?application_id=${svc.config.applicationId}`,
    (u) => u.startsWith(CALLBACK),
  );
  const edited = new URL(url);
  edited.searchParams.set('selling_partner_id', 'A1EMUSELLERGL01');
  await expectError(await browser.request(edited.href, JSON_ACCEPT), 409, 'seller_mismatch');
  assert.equal(await svc.lwaCalls(), 0);
  assert.equal(await sellerCount(svc), 0);
});

test('Login URI: open-redirect attempts in amazon_callback_uri → 400 invalid_callback_uri, no Location, nothing stored', async (t) => {
  const svc = await testService(t);
  const id = svc.config.applicationId;
  const bad = [
    `https://evil.example/apps/authorize/confirm/${id}`,
    `https://sellercentral.amazon.com.evil.example/apps/authorize/confirm/${id}`,
    `https://sellercentral.amazon.com@evil.example/apps/authorize/confirm/${id}`,
    `https://evil.example\\@sellercentral.amazon.com/apps/authorize/confirm/${id}`,
    `//evil.example/apps/authorize/confirm/${id}`,
    `https://sellercentral.amаzon.com/apps/authorize/confirm/${id}`, // Cyrillic а
    `https://xn--sellercentral-amzon-xyz.com/apps/authorize/confirm/${id}`,
    `https://sellercentral.amazon.com:8443/apps/authorize/confirm/${id}`,
    `http://sellercentral.amazon.com/apps/authorize/confirm/${id}`,
    `javascript:alert(1)//sellercentral.amazon.com/apps/authorize/confirm/${id}`,
    `https://sellercentral.amazon.com/apps/authorize/confirm/amzn1.sp.solution.other-app`,
    `https://sellercentral.amazon.com/apps/authorize/confirm/${id}/../x`,
    `https://sellercentral.amazon.com/apps/authorize/confirm/${id}#frag`,
    `https://user:pw@sellercentral.amazon.com/apps/authorize/confirm/${id}`,
    `${AMAZON_URL}.evil.example/apps/authorize/confirm/${id}`,
  ];
  for (const uri of bad) {
    const u = new URL(`${PUBLIC_URL}/oauth/login`);
    u.searchParams.set('amazon_callback_uri', uri);
    u.searchParams.set('amazon_state', 'amzstate');
    u.searchParams.set('selling_partner_id', 'A1EMUSELLERNA01');
    const res = await svc.app.fetch(new Request(u, { headers: JSON_ACCEPT }));
    assert.equal(res.status, 400, uri);
    assert.equal(res.headers.get('location'), null, uri);
    assert.equal(res.headers.get('set-cookie'), null, uri);
    assert.equal(await errorCode(res), 'invalid_callback_uri', uri);
  }
  // amazon_state abuse: 5 KB, CRLF; duplicated parameters.
  for (const [name, value] of [
    ['amazon_state', 'x'.repeat(5000)],
    ['amazon_state', 'a\r\nSet-Cookie: x=1'],
    ['selling_partner_id', "A1' OR '1'='1"],
  ]) {
    const u = new URL(`${PUBLIC_URL}/oauth/login`);
    u.searchParams.set(
      'amazon_callback_uri',
      `https://sellercentral.amazon.com/apps/authorize/confirm/${id}`,
    );
    u.searchParams.set('amazon_state', 'amzstate');
    u.searchParams.set('selling_partner_id', 'A1EMUSELLERNA01');
    u.searchParams.set(name!, value!);
    const res = await svc.app.fetch(new Request(u, { headers: JSON_ACCEPT }));
    assert.equal(res.status, 400, name);
    assert.equal(res.headers.get('location'), null);
  }
  const dup = await rawRequest(
    svc,
    'GET',
    `/oauth/login?amazon_callback_uri=x&amazon_state=a&amazon_state=b&selling_partner_id=A1`,
    JSON_ACCEPT,
  );
  assert.equal(dup.status, 400);
  assert.equal(dup.headers.location, undefined);
  assert.equal(await svc.lwaCalls(), 0);
});

test('Login URI happy path: 302 to the Amazon URL built from parts, relative callback resolved against the Amazon origin', async (t) => {
  const svc = await testService(t, { SPAPI_AUTH_DRAFT_APP: 'true' });
  const id = svc.config.applicationId;
  for (const [given, host] of [
    [`https://sellercentral.amazon.de/apps/authorize/confirm/${id}`, 'sellercentral.amazon.de'],
    // With an emulator configured, a relative value resolves against it (else against Seller Central).
    [`/apps/authorize/confirm/${id}`, new URL(AMAZON_URL).host],
  ] as const) {
    const u = new URL(`${PUBLIC_URL}/oauth/login`);
    u.searchParams.set('amazon_callback_uri', given);
    u.searchParams.set('amazon_state', 'amz-state-1');
    u.searchParams.set('selling_partner_id', 'A1EMUSELLEREU01');
    const res = await svc.app.fetch(new Request(u));
    assert.equal(res.status, 302);
    const loc = new URL(res.headers.get('location')!);
    assert.equal(loc.host, host);
    assert.equal(loc.pathname, `/apps/authorize/confirm/${id}`);
    assert.equal(loc.searchParams.get('redirect_uri'), `${PUBLIC_URL}/oauth/callback`);
    assert.equal(loc.searchParams.get('amazon_state'), 'amz-state-1');
    // The carried transaction: signed with the key ring's key, within the callback's 512 characters.
    assert.match(loc.searchParams.get('state')!, /^[A-Za-z0-9_-]{1,400}\.k1\.[A-Za-z0-9_-]{43}$/);
    assert.equal(loc.searchParams.get('version'), 'beta');
    assert.match(res.headers.getSetCookie()[0]!, /^spapi_tx=/);
  }
});

test('connect links: malformed, unknown, used and expired links get their codes', async (t) => {
  let offset = 0;
  const svc = await testService(t, {}, { now: () => Date.now() + offset });
  const bad = await svc.app.fetch(new Request(`${PUBLIC_URL}/connect/not-a-token`, { headers: JSON_ACCEPT }));
  await expectError(bad, 400, 'invalid_token');
  const unknown = await svc.app.fetch(
    new Request(`${PUBLIC_URL}/connect/${'A'.repeat(43)}`, { headers: JSON_ACCEPT }),
  );
  await expectError(unknown, 404, 'link_invalid');
  const { url } = (await (
    await api(svc, 'POST', '/v1/connect-sessions', { user_ref: 'u', marketplace: 'US' })
  ).json()) as {
    url: string;
  };
  assert.equal((await svc.app.fetch(new Request(url))).status, 302);
  await expectError(await svc.app.fetch(new Request(url, { headers: JSON_ACCEPT })), 410, 'link_used');
  const { url: url2 } = (await (
    await api(svc, 'POST', '/v1/connect-sessions', { user_ref: 'u', marketplace: 'US' })
  ).json()) as {
    url: string;
  };
  offset = 11 * 60 * 1000;
  await expectError(await svc.app.fetch(new Request(url2, { headers: JSON_ACCEPT })), 410, 'link_expired');
});

test('connect-session input: bad user_ref, marketplace, kind, return_to and unknown re-authorization seller', async (t) => {
  const svc = await testService(t);
  const cases: [Record<string, unknown>, number, string][] = [
    [{ marketplace: 'US' }, 400, 'invalid_user_ref'],
    [{ user_ref: '', marketplace: 'US' }, 400, 'invalid_user_ref'],
    [{ user_ref: 'a\nb', marketplace: 'US' }, 400, 'invalid_user_ref'],
    [{ user_ref: 'u', marketplace: 'XX' }, 400, 'invalid_marketplace'],
    [{ user_ref: 'u', marketplace: 'US', kind: 'admin' }, 400, 'invalid_kind'],
    [{ user_ref: 'u', marketplace: 'US', return_to: 'https://evil.example/done' }, 400, 'invalid_return_to'],
    [
      { user_ref: 'u', marketplace: 'US', return_to: 'https://app.example.com.evil.example/' },
      400,
      'invalid_return_to',
    ],
    [{ user_ref: 'u', marketplace: 'US', return_to: 'javascript:alert(1)' }, 400, 'invalid_return_to'],
    [{ user_ref: 'u', marketplace: 'US', selling_partner_id: "A1' OR 1=1" }, 400, 'invalid_seller_id'],
    [{ user_ref: 'u', marketplace: 'US', selling_partner_id: 'A1NOSUCHSELLER' }, 404, 'seller_not_found'],
  ];
  for (const [body, status, code] of cases) {
    const res = await api(svc, 'POST', '/v1/connect-sessions', body);
    assert.equal(res.status, status, JSON.stringify(body));
    assert.equal(await errorCode(res), code);
  }
  const notJson = await svc.app.fetch(
    new Request(`${PUBLIC_URL}/v1/connect-sessions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${svc.apiKey}`, 'content-type': 'application/json' },
      body: '{"user_ref":',
    }),
  );
  assert.equal(await errorCode(notJson), 'invalid_json');
  const big = await svc.app.fetch(
    new Request(`${PUBLIC_URL}/v1/connect-sessions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${svc.apiKey}`, 'content-type': 'application/json' },
      body: JSON.stringify({ user_ref: 'x'.repeat(20_000) }),
    }),
  );
  assert.equal(big.status, 413);
});
