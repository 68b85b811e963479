// Both consent flows end to end, in-process: the service (Request → Response) and the emulator's fetch.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AMAZON_URL, Browser, PUBLIC_URL, api, makeService, testService } from '../../helpers/service.js';

test('website flow: connect session → consent → callback → 303 → seller listed with a working token', async () => {
  const svc = await makeService();
  try {
    const created = await api(svc, 'POST', '/v1/connect-sessions', {
      user_ref: 'user-42',
      marketplace: 'US',
      return_to: 'https://app.example.com/done',
    });
    assert.equal(created.status, 201);
    assert.equal(created.headers.get('cache-control'), 'no-store');
    const { url, expires_at } = (await created.json()) as { url: string; expires_at: string };
    assert.match(url, new RegExp(`^${PUBLIC_URL}/connect/[A-Za-z0-9_-]{43}$`));
    assert.ok(Date.parse(expires_at) > Date.now());

    const browser = new Browser(svc);
    const { url: landed } = await browser.follow(url, (u) => u.startsWith('https://app.example.com/'));
    const done = new URL(landed);
    assert.equal(done.searchParams.get('status'), 'connected');
    assert.equal(done.searchParams.get('selling_partner_id'), 'A1EMUSELLERNA01');
    assert.equal(done.searchParams.get('region'), 'na');
    assert.ok(!landed.includes('code'), 'the code never appears in the final URL');
    // The consent hop went to the emulator with our redirect URI and state; the callback answered 303.
    const consent = browser.visited.find((u) => u.startsWith(`${AMAZON_URL}/apps/authorize/consent`));
    assert.ok(consent);
    assert.equal(new URL(consent).searchParams.get('redirect_uri'), `${PUBLIC_URL}/oauth/callback`);
    assert.equal(await svc.lwaCalls('authorization_code'), 1);

    const list = await api(svc, 'GET', '/v1/sellers');
    assert.equal(list.status, 200);
    const { items } = (await list.json()) as { items: Record<string, unknown>[] };
    assert.equal(items.length, 1);
    assert.equal(items[0]!.selling_partner_id, 'A1EMUSELLERNA01');
    assert.equal(items[0]!.user_ref, 'user-42');
    assert.equal(items[0]!.status, 'active');

    const tok = await api(svc, 'GET', '/v1/sellers/A1EMUSELLERNA01/access-token');
    assert.equal(tok.status, 200);
    const t = (await tok.json()) as {
      access_token: string;
      expires_at: string;
      region: string;
      endpoint: string;
    };
    assert.match(t.access_token, /^Atza\|/);
    assert.equal(t.region, 'na');
    assert.equal(t.endpoint, `${AMAZON_URL}/__amazon/sellingpartnerapi-na.amazon.com`);
    // The exchange's access token was stored: no refresh needed.
    assert.equal(await svc.lwaCalls('refresh_token'), 0);
    const sp = await svc.emulator.fetch(`${AMAZON_URL}/sellers/v1/marketplaceParticipations`, {
      headers: { 'x-amz-access-token': t.access_token },
    });
    assert.equal(sp.status, 200);
  } finally {
    await svc.close();
  }
});

test('website flow without return_to lands on the result page; the binding cookie is spapi_tx on http', async (t) => {
  const svc = await testService(t);
  await svc.emulator.control.consentMode('auto', 'A1EMUSELLEREU01');
  const { url } = (await (
    await api(svc, 'POST', '/v1/connect-sessions', { user_ref: 'u1', marketplace: 'DE' })
  ).json()) as {
    url: string;
  };
  const browser = new Browser(svc);
  const first = await browser.request(url);
  assert.equal(first.status, 302);
  const cookie = first.headers.getSetCookie()[0]!;
  assert.match(cookie, /^spapi_tx=[A-Za-z0-9_-]{43}; Path=\/; Max-Age=600; SameSite=Lax; HttpOnly$/);
  assert.equal(first.headers.get('referrer-policy'), 'no-referrer');
  const { res, url: last } = await browser.follow(first.headers.get('location')!);
  assert.equal(res.status, 200);
  assert.ok(last.startsWith(`${PUBLIC_URL}/oauth/result?`));
  const body = await res.text();
  assert.match(body, /A1EMUSELLEREU01 is connected in region EU/);
});

test('https public URL: the binding cookie is __Host-spapi_tx with Secure', async (t) => {
  const svc = await testService(t, { SPAPI_AUTH_PUBLIC_URL: 'https://auth.example.com' });
  const created = await svc.app.fetch(
    new Request('https://auth.example.com/v1/connect-sessions', {
      method: 'POST',
      headers: { authorization: `Bearer ${svc.apiKey}`, 'content-type': 'application/json' },
      body: JSON.stringify({ user_ref: 'u1', marketplace: 'US' }),
    }),
  );
  const { url } = (await created.json()) as { url: string };
  assert.ok(url.startsWith('https://auth.example.com/connect/'));
  const res = await svc.app.fetch(new Request(url));
  assert.equal(res.headers.get('strict-transport-security'), 'max-age=63072000; includeSubDomains');
  assert.match(
    res.headers.getSetCookie()[0]!,
    /^__Host-spapi_tx=[^;]+; Path=\/; Max-Age=600; SameSite=Lax; HttpOnly; Secure$/,
  );
});

test('Appstore flow without a sign-in page: Amazon → Login URI → confirm → callback', async (t) => {
  const svc = await testService(t);
  const browser = new Browser(svc);
  const start = `${AMAZON_URL}/appstore/authorize?application_id=${svc.config.applicationId}`;
  const { res, url } = await browser.follow(start);
  assert.equal(res.status, 200, await res.clone().text());
  assert.ok(url.startsWith(`${PUBLIC_URL}/oauth/result?`));
  const login = browser.visited.find((u) => u.startsWith(`${PUBLIC_URL}/oauth/login?`));
  assert.ok(login, 'the Login URI was visited');
  const confirm = browser.visited.find((u) => u.startsWith(`${AMAZON_URL}/apps/authorize/confirm/`));
  assert.ok(confirm);
  const q = new URL(confirm).searchParams;
  assert.equal(q.get('redirect_uri'), `${PUBLIC_URL}/oauth/callback`);
  // The transaction travels in the state (nothing stored at the Login URI): signed, < 512 characters.
  assert.match(q.get('state')!, /^[A-Za-z0-9_-]{1,400}\.k1\.[A-Za-z0-9_-]{43}$/);
  assert.ok(q.get('amazon_state'));
  const seller = await svc.store.getSeller({ sellingPartnerId: 'A1EMUSELLERNA01', region: 'na' });
  assert.equal(seller?.userRef, null);
  assert.equal(await svc.lwaCalls('authorization_code'), 1);
});

test('Appstore flow with the sign-in hop: pending session, confirm with user_ref, then Amazon', async (t) => {
  const svc = await testService(t, { SPAPI_AUTH_SIGNIN_URL: 'https://app.example.com/signin' });
  const browser = new Browser(svc);
  const start = `${AMAZON_URL}/appstore/authorize?application_id=${svc.config.applicationId}`;
  const { url } = await browser.follow(start, (u) => u.startsWith('https://app.example.com/signin'));
  const pending = new URL(url).searchParams.get('spapi_pending');
  assert.match(pending!, /^[A-Za-z0-9_-]+\.k1\.[A-Za-z0-9_-]{43}$/);
  assert.equal(await svc.lwaCalls(), 0);

  const confirmed = await api(svc, 'POST', `/v1/appstore-sessions/${pending}/confirm`, {
    user_ref: 'user-7',
  });
  assert.equal(confirmed.status, 200);
  const { url: next } = (await confirmed.json()) as { url: string };
  assert.ok(next.startsWith(`${PUBLIC_URL}/connect/`));
  // The pending session is single use.
  const again = await api(svc, 'POST', `/v1/appstore-sessions/${pending}/confirm`, { user_ref: 'user-7' });
  assert.equal(again.status, 410);
  assert.equal(((await again.json()) as { error: { code: string } }).error.code, 'link_used');

  const { res, url: last } = await browser.follow(next);
  assert.equal(res.status, 200);
  assert.ok(last.startsWith(`${PUBLIC_URL}/oauth/result?`));
  const seller = await svc.store.getSeller({ sellingPartnerId: 'A1EMUSELLERNA01', region: 'na' });
  assert.equal(seller?.userRef, 'user-7');
});

test('re-authorization: a connect session for a known seller; another seller coming back → 409 seller_mismatch', async (t) => {
  const svc = await testService(t);
  const connect = async (body: Record<string, unknown>): Promise<{ res: Response; url: string }> => {
    const created = await api(svc, 'POST', '/v1/connect-sessions', body);
    assert.equal(created.status, 201, await created.clone().text());
    const { url } = (await created.json()) as { url: string };
    return new Browser(svc).follow(url, () => false, { accept: 'application/json' });
  };
  await connect({ user_ref: 'u1', marketplace: 'US' });
  const before = await svc.store.getSeller({ sellingPartnerId: 'A1EMUSELLERNA01', region: 'na' });
  // Re-authorize: the same seller comes back.
  const ok = await connect({ user_ref: 'u1', marketplace: 'US', selling_partner_id: 'A1EMUSELLERNA01' });
  assert.equal(ok.res.status, 200);
  const after = await svc.store.getSeller({ sellingPartnerId: 'A1EMUSELLERNA01', region: 'na' });
  assert.ok(after!.version > before!.version);
  // A different seller answers the consent: refused before any exchange.
  await connect({ user_ref: 'u1', marketplace: 'US' });
  await svc.emulator.control.consentMode('auto', 'A1EMUSELLERGL01');
  const codeCalls = await svc.lwaCalls('authorization_code');
  const bad = await connect({ user_ref: 'u1', marketplace: 'US', selling_partner_id: 'A1EMUSELLERNA01' });
  assert.equal(bad.res.status, 409);
  assert.equal(((await bad.res.json()) as { error: { code: string } }).error.code, 'seller_mismatch');
  assert.equal(await svc.lwaCalls('authorization_code'), codeCalls);
  assert.equal(await svc.store.getSeller({ sellingPartnerId: 'A1EMUSELLERGL01', region: 'na' }), null);
});

test('ownership: a seller linked to one user_ref is not re-linked to another (409, no exchange)', async (t) => {
  const svc = await testService(t);
  const run = async (userRef: string): Promise<Response> => {
    const { url } = (await (
      await api(svc, 'POST', '/v1/connect-sessions', { user_ref: userRef, marketplace: 'US' })
    ).json()) as {
      url: string;
    };
    return (await new Browser(svc).follow(url, () => false, { accept: 'application/json' })).res;
  };
  assert.equal((await run('alice')).status, 200);
  const before = await svc.store.loadTokens({ sellingPartnerId: 'A1EMUSELLERNA01', region: 'na' });
  const calls = await svc.lwaCalls('authorization_code');
  const res = await run('mallory');
  assert.equal(res.status, 409);
  assert.equal(((await res.json()) as { error: { code: string } }).error.code, 'seller_owned_by_other_user');
  assert.equal(await svc.lwaCalls('authorization_code'), calls);
  const after = await svc.store.loadTokens({ sellingPartnerId: 'A1EMUSELLERNA01', region: 'na' });
  assert.deepEqual(after, before);
  assert.equal(
    (await svc.store.getSeller({ sellingPartnerId: 'A1EMUSELLERNA01', region: 'na' }))?.userRef,
    'alice',
  );
});

test('PKCE on: the consent URL carries an S256 challenge and the exchange sends the verifier', async (t) => {
  const svc = await testService(t, { SPAPI_AUTH_PKCE: 'true' });
  const { url } = (await (
    await api(svc, 'POST', '/v1/connect-sessions', { user_ref: 'u1', marketplace: 'US' })
  ).json()) as {
    url: string;
  };
  const browser = new Browser(svc);
  const { res } = await browser.follow(url);
  assert.equal(res.status, 200);
  const consent = new URL(browser.visited.find((u) => u.startsWith(`${AMAZON_URL}/apps/authorize/consent`))!);
  assert.match(consent.searchParams.get('code_challenge')!, /^[A-Za-z0-9_-]{43}$/);
  assert.equal(consent.searchParams.get('code_challenge_method'), 'S256');
  const stats = await svc.emulator.control.stats();
  assert.equal(stats.token.authorization_code?.ok, 1);
});

test('vendor: the connect link goes to Vendor Central and the vendor is stored with kind vendor', async (t) => {
  const svc = await testService(t, { SPAPI_AUTH_AMAZON_URL: '' });
  const created = await api(svc, 'POST', '/v1/connect-sessions', {
    user_ref: 'v1',
    marketplace: 'US',
    kind: 'vendor',
  });
  const { url } = (await created.json()) as { url: string };
  const res = await svc.app.fetch(new Request(url));
  assert.equal(res.status, 302);
  const loc = new URL(res.headers.get('location')!);
  assert.equal(loc.origin, 'https://vendorcentral.amazon.com');
  assert.equal(loc.pathname, '/apps/authorize/consent');
  assert.equal(loc.searchParams.get('application_id'), svc.config.applicationId);
});

test('vendor through the emulator: stored with kind vendor', async (t) => {
  const svc = await testService(t);
  await svc.emulator.control.consentMode('auto', 'A1EMUVENDORNA01');
  const { url } = (await (
    await api(svc, 'POST', '/v1/connect-sessions', { user_ref: 'v1', marketplace: 'US', kind: 'vendor' })
  ).json()) as {
    url: string;
  };
  const { res } = await new Browser(svc).follow(url);
  assert.equal(res.status, 200);
  const show = (await (await api(svc, 'GET', '/v1/sellers/A1EMUVENDORNA01')).json()) as { kind: string };
  assert.equal(show.kind, 'vendor');
});

test('Appstore sign-in hop: confirming for a user_ref that does not own the seller → 409 before any exchange', async (t) => {
  const svc = await testService(t, { SPAPI_AUTH_SIGNIN_URL: 'https://app.example.com/signin' });
  const created = await api(svc, 'POST', '/v1/connect-sessions', { user_ref: 'alice', marketplace: 'US' });
  const { url: link } = (await created.json()) as { url: string };
  assert.equal((await new Browser(svc).follow(link)).res.status, 200);
  const codeCalls = await svc.lwaCalls('authorization_code');
  const browser = new Browser(svc);
  const { url } = await browser.follow(
    `${AMAZON_URL}/appstore/authorize?application_id=${svc.config.applicationId}`,
    (u) => u.startsWith('https://app.example.com/signin'),
  );
  const pending = new URL(url).searchParams.get('spapi_pending')!;
  const res = await api(svc, 'POST', `/v1/appstore-sessions/${pending}/confirm`, { user_ref: 'mallory' });
  assert.equal(res.status, 409);
  assert.equal(((await res.json()) as { error: { code: string } }).error.code, 'seller_owned_by_other_user');
  assert.equal(await svc.lwaCalls('authorization_code'), codeCalls);
  assert.equal(
    (await svc.store.getSeller({ sellingPartnerId: 'A1EMUSELLERNA01', region: 'na' }))?.userRef,
    'alice',
  );
});
