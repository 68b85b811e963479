// Smaller holes found by a red-team pass: each refused at the mechanism, each failing on the code
// before its fix.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  AMAZON_URL,
  Browser,
  PUBLIC_URL,
  api,
  connectSeller,
  errorCode,
  type TestService,
  testService,
} from '../helpers/service.js';
import { testOpsService } from '../helpers/ops-service.js';
import { requestClientSecretRotation } from '../../src/server/ops/rotation.js';
import { isLoopbackAddress, isLoopbackHost } from '../../src/core/loopback.js';

const CALLBACK = `${PUBLIC_URL}/oauth/callback`;

async function connectLink(svc: TestService): Promise<string> {
  const created = await api(svc, 'POST', '/v1/connect-sessions', { user_ref: 'u1', marketplace: 'US' });
  assert.equal(created.status, 201);
  return ((await created.json()) as { url: string }).url;
}

test('a wrong-shaped cursor on GET /v1/sellers is 400 invalid_cursor, not 500', async (t) => {
  const svc = await testService(t);
  const wrong = [
    'AAAA',
    Buffer.from('not json').toString('base64url'),
    Buffer.from(JSON.stringify(['A1', 'xx'])).toString('base64url'),
    Buffer.from(JSON.stringify({ a: 1 })).toString('base64url'),
  ];
  for (const cursor of wrong) {
    const res = await api(svc, 'GET', `/v1/sellers?cursor=${encodeURIComponent(cursor)}`);
    assert.equal(res.status, 400, cursor);
    assert.equal(await errorCode(res), 'invalid_cursor', cursor);
  }
  // A real cursor still pages.
  assert.equal((await api(svc, 'GET', '/v1/sellers?limit=1')).status, 200);
});

test('a user_ref that looks like a token or a secret is refused when the link is created', async (t) => {
  const svc = await testService(t);
  for (const userRef of ['Atzr|IwEBIexample', 'user Atza|x', 'amzn1.oa2-cs.v1.abc']) {
    const res = await api(svc, 'POST', '/v1/connect-sessions', { user_ref: userRef, marketplace: 'US' });
    assert.equal(res.status, 400, userRef);
    assert.equal(await errorCode(res), 'invalid_user_ref', userRef);
  }
  assert.equal(await svc.lwaCalls(), 0);
});

test('HEAD on /connect/:token, /oauth/callback and /oauth/login spends nothing: the GET afterwards still works', async (t) => {
  const svc = await testService(t);
  const link = await connectLink(svc);
  const head = await svc.app.fetch(new Request(link, { method: 'HEAD' }));
  assert.equal(head.status, 200);
  assert.equal(head.headers.get('set-cookie'), null);
  const browser = new Browser(svc);
  const { url: callback } = await browser.follow(link, (u) => u.startsWith(CALLBACK));
  assert.ok(callback.startsWith(CALLBACK), 'the link was not used up by the HEAD');
  const cookie = [...browser.cookies.get(new URL(PUBLIC_URL).host)!].map(([k, v]) => `${k}=${v}`).join('; ');
  const headCallback = await svc.app.fetch(new Request(callback, { method: 'HEAD', headers: { cookie } }));
  assert.equal(headCallback.status, 200);
  assert.equal(await svc.lwaCalls('authorization_code'), 0, 'no code exchanged on HEAD');
  const done = await browser.request(callback);
  assert.equal(done.status, 303, 'the transaction was not consumed by the HEAD');
  assert.equal(await svc.lwaCalls('authorization_code'), 1);

  const login = new URL(`${PUBLIC_URL}/oauth/login`);
  login.searchParams.set(
    'amazon_callback_uri',
    `https://sellercentral.amazon.com/apps/authorize/confirm/${svc.config.applicationId}`,
  );
  login.searchParams.set('amazon_state', 'amz-state');
  login.searchParams.set('selling_partner_id', 'A1EMUSELLERNA01');
  const headLogin = await svc.app.fetch(new Request(login, { method: 'HEAD' }));
  assert.equal(headLogin.status, 200);
  assert.equal(headLogin.headers.get('location'), null);
  assert.equal(headLogin.headers.get('set-cookie'), null, 'no transaction started');
});

test('the password-less dev dashboard trusts the peer address, not the Host header', async (t) => {
  const dev = await testOpsService(t, {
    mode: 'dev',
    env: { SPAPI_AUTH_PUBLIC_URL: 'http://localhost:3000' },
  });
  const ask = (remoteAddress: string) =>
    dev.app.handle({
      method: 'GET',
      path: '/admin',
      rawQuery: '',
      header: (name) => (name === 'host' ? 'localhost:3000' : undefined),
      body: async () => new Uint8Array(),
      remoteAddress,
    });
  assert.equal((await ask('203.0.113.7')).status, 403, 'a remote peer claiming Host: localhost');
  assert.equal((await ask('::ffff:198.51.100.2')).status, 403);
  assert.equal((await ask('127.0.0.1')).status, 200);
  assert.equal((await ask('::1')).status, 200);
  assert.equal((await ask('::ffff:127.0.0.1')).status, 200);
});

test('loopback rules for the peer address and for HOST (dev warns outside them)', () => {
  for (const a of ['127.0.0.1', '127.1.2.3', '::1', '::ffff:127.0.0.1']) assert.ok(isLoopbackAddress(a), a);
  for (const a of ['0.0.0.0', '10.0.0.1', '::', '::ffff:10.0.0.1', '', 'localhost', '127.0.0.1.evil'])
    assert.ok(!isLoopbackAddress(a), a);
  for (const h of ['127.0.0.1', '127.9.9.9', 'localhost', 'LocalHost', '::1', '[::1]'])
    assert.ok(isLoopbackHost(h), h);
  assert.ok(isLoopbackHost(new URL('http://[::1]:3000/').hostname));
  for (const h of [
    '0.0.0.0',
    '::',
    '[::]',
    '192.168.1.5',
    'example.com',
    'localhost.example.com',
    '[127.0.0.1',
  ])
    assert.ok(!isLoopbackHost(h), h);
});

test('a connect-only key cannot tell an unknown seller from another user’s seller', async (t) => {
  const svc = await testService(t, { SPAPI_AUTH_SIGNIN_URL: 'https://app.example.com/signin' });
  await connectSeller(svc, { sellerId: 'A1EMUSELLERNA01', userRef: 'alice' });
  const connectOnly = await svc.key(['connect']);
  const ask = async (sellingPartnerId: string): Promise<{ status: number; body: unknown }> => {
    const res = await api(
      svc,
      'POST',
      '/v1/connect-sessions',
      { user_ref: 'mallory', marketplace: 'US', selling_partner_id: sellingPartnerId },
      connectOnly,
    );
    return { status: res.status, body: await res.json() };
  };
  const owned = await ask('A1EMUSELLERNA01');
  const unknown = await ask('A1NOSUCHSELLER1');
  assert.equal(owned.status, 404);
  assert.deepEqual(owned, unknown);
  // With sellers:read the key may see owners anyway: the precise code stays.
  const full = await api(svc, 'POST', '/v1/connect-sessions', {
    user_ref: 'mallory',
    marketplace: 'US',
    selling_partner_id: 'A1EMUSELLERNA01',
  });
  assert.equal(await errorCode(full), 'seller_owned_by_other_user');

  // The Appstore confirm answers alike too; the callback then refuses before any exchange.
  const confirm = async (sellingPartnerId: string): Promise<{ res: Response; browser: Browser }> => {
    const browser = new Browser(svc);
    const { url } = await browser.follow(
      `${AMAZON_URL}/appstore/authorize?application_id=${svc.config.applicationId}&selling_partner_id=${sellingPartnerId}`,
      (u) => u.startsWith('https://app.example.com/signin'),
    );
    const pending = new URL(url).searchParams.get('spapi_pending')!;
    const res = await api(
      svc,
      'POST',
      `/v1/appstore-sessions/${pending}/confirm`,
      { user_ref: 'mallory' },
      connectOnly,
    );
    return { res, browser };
  };
  const ownedConfirm = await confirm('A1EMUSELLERNA01');
  const freshConfirm = await confirm('A1EMUSELLERFE01');
  assert.equal(ownedConfirm.res.status, 200);
  assert.equal(freshConfirm.res.status, 200);
  const codes = await svc.lwaCalls('authorization_code');
  const { url: next } = (await ownedConfirm.res.json()) as { url: string };
  const { res } = await ownedConfirm.browser.follow(next, () => false, { accept: 'application/json' });
  assert.equal(res.status, 409);
  assert.equal(await errorCode(res), 'seller_owned_by_other_user');
  assert.equal(await svc.lwaCalls('authorization_code'), codes);
  assert.equal(
    (await svc.store.getSeller({ sellingPartnerId: 'A1EMUSELLERNA01', region: 'na' }))?.userRef,
    'alice',
  );
});

test('a notifications:write key cannot install a client secret LWA does not accept; LWA down installs nothing either', async (t) => {
  const svc = await testOpsService(t);
  await requestClientSecretRotation({ amazon: svc.amazon, fetch: (r) => svc.emulator.fetch(r) });
  const real = (await svc.emulator.control.notifications()).find(
    (n) => n.notificationType === 'APPLICATION_OAUTH_CLIENT_NEW_SECRET',
  ) as unknown as { payload: { applicationOAuthClientNewSecret: Record<string, unknown> } };
  assert.ok(real);
  const forged = structuredClone(real);
  forged.payload.applicationOAuthClientNewSecret.newClientSecret =
    'amzn1.oa2-cs.v1.forged-by-a-key-holder-00000';
  const key = await svc.key(['notifications:write']);
  const before = svc.ops.ring.credentials().clientSecret;
  const refused = await api(svc, 'POST', '/v1/notifications', forged, key);
  assert.equal(refused.status, 409);
  assert.equal(await errorCode(refused), 'client_secret_refused');
  assert.equal(svc.ops.ring.credentials().clientSecret, before, 'the current secret stays in use');
  assert.deepEqual(await svc.store.listAppSecrets(svc.config.lwaClientId), [], 'nothing stored');

  // LWA unreachable: the real secret is not installed blind; a later delivery installs it.
  await svc.emulator.control.fault({ target: 'token', status: 503, count: 1 });
  const down = await api(svc, 'POST', '/v1/notifications', real, key);
  assert.equal(down.status, 503);
  assert.equal(await errorCode(down), 'client_secret_unverified');
  assert.deepEqual(await svc.store.listAppSecrets(svc.config.lwaClientId), []);
  const ok = await api(svc, 'POST', '/v1/notifications', real, key);
  assert.equal(ok.status, 200);
  assert.equal(
    svc.ops.ring.credentials().clientSecret,
    real.payload.applicationOAuthClientNewSecret.newClientSecret,
  );
});

test('HEAD on the access-token route releases nothing: 405 with Allow: GET, no LWA call, no audit record', async (t) => {
  const svc = await testService(t);
  await connectSeller(svc);
  const path = '/v1/sellers/A1EMUSELLERNA01/access-token';
  const before = await svc.lwaCalls();
  for (const query of ['', '?region=na']) {
    const res = await svc.app.fetch(
      new Request(`${PUBLIC_URL}${path}${query}`, {
        method: 'HEAD',
        headers: { authorization: `Bearer ${svc.apiKey}` },
      }),
    );
    assert.equal(res.status, 405, query);
    assert.equal(res.headers.get('allow'), 'GET', query);
  }
  assert.equal(await svc.lwaCalls(), before, 'no token minted by HEAD');
  await svc.app.context.audit.flush();
  const released = (await svc.store.listAudit({ sellingPartnerId: 'A1EMUSELLERNA01' })).filter(
    (r) => r.action === 'token.released',
  );
  assert.deepEqual(released, [], 'no release audited for HEAD');
  // The GET still releases (and audits) the token.
  assert.equal((await api(svc, 'GET', path)).status, 200);
  await svc.app.context.audit.flush();
  const after = (await svc.store.listAudit({ sellingPartnerId: 'A1EMUSELLERNA01' })).filter(
    (r) => r.action === 'token.released',
  );
  assert.equal(after.length, 1);
});
