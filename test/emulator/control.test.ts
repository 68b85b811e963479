// The control API and in-process faults.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { gzipSync } from 'node:zlib';
import { createEmulator, devApplication } from '../../src/emulator/index.js';
import { APP, SECRET, assertLwaError, authorize, consentCode, tokenRequest } from './helpers.js';

const CC = { grant_type: 'client_credentials', scope: 'sellingpartnerapi::notifications' };
const C = 'http://emulator.test/__emulator/';

test('faults: status/body/headers for a count, then normal service; stats count them', async () => {
  const emulator = createEmulator();
  await emulator.control.fault({
    target: 'token',
    status: 503,
    body: { error: 'temporarily_unavailable' },
    count: 2,
  });
  assert.equal((await tokenRequest(emulator.fetch, CC)).status, 503);
  const second = await tokenRequest(emulator.fetch, CC);
  assert.deepEqual(await second.json(), { error: 'temporarily_unavailable' });
  assert.equal((await tokenRequest(emulator.fetch, CC)).status, 200);
  const stats = await emulator.control.stats();
  assert.deepEqual(stats.token.client_credentials, { 'fault:503': 2, ok: 1 });
});

test('faults: 429 with Retry-After, garbage bodies, 307 to another host, grant_type and path filters', async () => {
  const emulator = createEmulator({ consentMode: 'auto' });
  const f = emulator.fetch;
  await emulator.control.fault({ target: 'token', status: 429, headers: { 'retry-after': '3' }, body: '' });
  const limited = await tokenRequest(f, CC);
  assert.equal(limited.status, 429);
  assert.equal(limited.headers.get('retry-after'), '3');
  await emulator.control.fault({
    target: 'token',
    status: 200,
    body: '<html>oops</html>',
    headers: { 'content-type': 'text/html' },
  });
  assert.equal(await (await tokenRequest(f, CC)).text(), '<html>oops</html>');
  await emulator.control.fault({ target: 'token', status: 200, body: 'x'.repeat(1_000_000) });
  assert.equal((await (await tokenRequest(f, CC)).text()).length, 1_000_000);
  await emulator.control.fault({
    target: 'token',
    status: 307,
    headers: { location: 'http://127.0.0.2:9/steal' },
  });
  const redirected = await f('https://api.amazon.com/auth/o2/token', {
    method: 'POST',
    body: new URLSearchParams(CC),
    redirect: 'manual',
  });
  assert.equal(redirected.status, 307);
  assert.equal(redirected.headers.get('location'), 'http://127.0.0.2:9/steal');
  await emulator.control.fault({
    target: 'token',
    status: 307,
    headers: { location: 'http://127.0.0.2:9/steal' },
  });
  await assert.rejects(
    f('https://api.amazon.com/auth/o2/token', {
      method: 'POST',
      body: new URLSearchParams(CC),
      redirect: 'error',
    }),
    TypeError,
  );

  await emulator.control.fault({ target: 'token', grant_type: 'refresh_token', status: 500 });
  assert.equal((await tokenRequest(f, CC)).status, 200, 'a refresh-only fault spares other grants');
  const a = await authorize(f);
  assert.equal(
    (await tokenRequest(f, { grant_type: 'refresh_token', refresh_token: a.refresh_token })).status,
    500,
  );
  await emulator.control.fault({ target: 'spapi', path: '/orders/', status: 503, body: { errors: [] } });
  assert.equal(
    (
      await f('https://x/sellers/v1/marketplaceParticipations', {
        headers: { 'x-amz-access-token': a.access_token },
      })
    ).status,
    200,
  );
  assert.equal(
    (
      await f('https://x/orders/v0/orders?MarketplaceIds=ATVPDKIKX0DER&CreatedAfter=2026-01-01', {
        headers: { 'x-amz-access-token': a.access_token },
      })
    ).status,
    503,
  );
  await emulator.control.fault({ target: 'consent', status: 500, body: 'down' });
  assert.equal(
    (await f(`https://x/apps/authorize/consent?application_id=${APP.id}`, { redirect: 'manual' })).status,
    500,
  );
});

test('faults in-process: reset rejects like undici, hang waits for the abort, delay is abortable', async () => {
  const emulator = createEmulator();
  await emulator.control.fault({ target: 'token', reset: true });
  await assert.rejects(
    tokenRequest(emulator.fetch, CC),
    (err: Error) => err instanceof TypeError && err.message === 'fetch failed',
  );
  await emulator.control.fault({ target: 'token', hang: true });
  const reason = new Error('gave up');
  const controller = new AbortController();
  const pending = emulator.fetch('https://api.amazon.com/auth/o2/token', {
    method: 'POST',
    body: new URLSearchParams(CC),
    signal: controller.signal,
  });
  setTimeout(() => controller.abort(reason), 20);
  await assert.rejects(pending, (err) => err === reason);
  await emulator.control.fault({ target: 'spapi', delay_ms: 60_000 });
  await assert.rejects(
    emulator.fetch('https://x/sellers/v1/marketplaceParticipations', { signal: AbortSignal.timeout(20) }),
    { name: 'TimeoutError' },
  );
  const stats = await emulator.control.stats();
  assert.equal(stats.token['<none>'], undefined);
  assert.deepEqual(stats.token.client_credentials, { 'fault:reset': 1, 'fault:hang': 1 });
});

test('faults in-process: trickle yields one byte at a time and stops on abort; gzip is decoded as read', async () => {
  const emulator = createEmulator();
  await emulator.control.fault({ target: 'token', trickle_ms: 1, body: 'abcdef', status: 200 });
  const res = await tokenRequest(emulator.fetch, CC);
  const reader = res.body!.getReader();
  const chunks: number[] = [];
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    chunks.push(value.byteLength);
  }
  assert.deepEqual(chunks, [1, 1, 1, 1, 1, 1]);

  await emulator.control.fault({ target: 'token', trickle_ms: 60_000 });
  const controller = new AbortController();
  const slow = await emulator.fetch('https://api.amazon.com/auth/o2/token', {
    method: 'POST',
    body: new URLSearchParams({ ...CC, client_id: APP.clientId, client_secret: SECRET }),
    signal: controller.signal,
  });
  assert.equal(slow.status, 200, 'headers arrive at once');
  const reading = slow.text();
  controller.abort(new Error('too slow'));
  await assert.rejects(reading, { message: 'too slow' });

  const bomb = gzipSync(Buffer.alloc(5_000_000));
  await emulator.control.fault({
    target: 'token',
    status: 200,
    body_base64: bomb.toString('base64'),
    headers: { 'content-encoding': 'gzip', 'content-type': 'application/json' },
  });
  const inflated = await tokenRequest(emulator.fetch, CC);
  const r2 = inflated.body!.getReader();
  const first = await r2.read();
  assert.ok(first.value && first.value.byteLength < 5_000_000, 'read incrementally');
  await r2.cancel();
});

test('control: reset, clock, revoke, applications, notifications, and its own error shape', async () => {
  const emulator = createEmulator({ consentMode: 'auto' });
  const f = emulator.fetch;
  const a = await authorize(f);
  assert.equal((await emulator.control.stats()).requests, 2);
  const c1 = await emulator.control.clock(100);
  assert.equal(c1.offset_s, 100);
  assert.equal((await emulator.control.advance(50)).offset_s, 150);
  await emulator.control.reset();
  const after = await emulator.control.stats();
  assert.deepEqual(after, {
    token: {},
    spapi: {},
    sqs: {},
    consent: {},
    refresh_by_seller: {},
    refresh_by_token: {},
    consent_by_seller: {},
    requests: 0,
  });
  assert.equal(((await (await f(C + 'clock')).json()) as { offset_s: number }).offset_s, 0);
  await assertLwaError(
    await tokenRequest(f, { grant_type: 'refresh_token', refresh_token: a.refresh_token }),
    400,
    'invalid_grant',
  );
  assert.equal(
    ((await (await f(C + 'consent')).json()) as { mode: string }).mode,
    'auto',
    'reset returns to the construction options',
  );

  await emulator.control.registerApplication(devApplication('http://localhost:4123'));
  const code = await consentCode(f, { redirect_uri: 'http://localhost:4123/oauth/callback' });
  assert.equal(code.location.origin, 'http://localhost:4123');

  for (const [method, path, body, status, codeName] of [
    ['POST', 'faults', { target: 'nowhere' }, 400, 'invalid_fault'],
    ['POST', 'faults', { target: 'token', status: 99 }, 400, 'invalid_fault'],
    ['POST', 'faults', { target: 'token', bogus: 1 }, 400, 'invalid_fault'],
    ['POST', 'faults', { target: 'token', headers: { 'bad header': 'x' } }, 400, 'invalid_fault'],
    ['POST', 'clock', { offset_s: 'soon' }, 400, 'invalid_clock'],
    ['POST', 'revoke', {}, 400, 'invalid_revoke'],
    ['POST', 'consent', { mode: 'sometimes' }, 400, 'invalid_consent'],
    ['POST', 'applications', { id: 'x' }, 400, 'invalid_application'],
    [
      'POST',
      'applications',
      { id: 'x', client_id: 'y', client_secret: 'z', redirect_uris: ['javascript:alert(1)'] },
      400,
      'invalid_application',
    ],
    ['GET', 'revoke', undefined, 405, 'method_not_allowed'],
    ['GET', 'nothing', undefined, 404, 'not_found'],
  ] as const) {
    const res = await f(C + path, { method, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
    assert.equal(res.status, status, `${method} ${path}`);
    assert.equal(((await res.json()) as { error: { code: string } }).error.code, codeName);
  }
  const badJson = await f(C + 'faults', { method: 'POST', body: '{oops' });
  assert.equal(badJson.status, 400);
  const index = (await (await f(C)).json()) as { routes: Record<string, string> };
  assert.ok('POST faults' in index.routes);
  assert.equal((await emulator.control.stats()).requests, 2, 'control calls are not counted');
  await emulator.control.secretExpiry();
  assert.equal((await emulator.control.notifications()).length, 1);
  await f(C + 'notifications', { method: 'DELETE' });
  assert.equal((await emulator.control.notifications()).length, 0);
});

test('in-process redirect: follow re-enters the emulator or calls the real target, like the global fetch', async () => {
  const { createServer } = await import('node:http');
  const hits: string[] = [];
  const target = createServer((req, res) => {
    hits.push(`${req.method} ${req.url}`);
    res.end('landed');
  });
  await new Promise<void>((resolve) => target.listen(0, '127.0.0.1', resolve));
  const port = (target.address() as { port: number }).port;
  try {
    const emulator = createEmulator();
    await emulator.control.fault({
      target: 'token',
      status: 307,
      headers: { location: `http://127.0.0.1:${port}/steal` },
    });
    const followed = await tokenRequest(emulator.fetch, CC);
    assert.equal(await followed.text(), 'landed');
    assert.deepEqual(hits, ['POST /steal'], 'a 307 keeps the method, as undici does');
    await emulator.control.fault({
      target: 'spapi',
      status: 302,
      headers: { location: '/__emulator/clock' },
    });
    const same = await emulator.fetch('https://x/sellers/v1/marketplaceParticipations');
    assert.equal(
      typeof ((await same.json()) as { offset_s: number }).offset_s,
      'number',
      'same origin: answered in-process',
    );
  } finally {
    target.closeAllConnections();
    await new Promise((resolve) => target.close(resolve));
  }
});

test('appstore: the Login URI gets amazon_callback_uri on the chosen Amazon host, a bare path, or the own origin', async () => {
  const emulator = createEmulator();
  const app = devApplication('http://localhost:3000');
  const hop = async (): Promise<string> => {
    const res = await emulator.fetch(`http://emulator.test/appstore/authorize?application_id=${app.id}`, {
      redirect: 'manual',
    });
    assert.equal(res.status, 302);
    return new URL(res.headers.get('location')!).searchParams.get('amazon_callback_uri')!;
  };
  const path = `/apps/authorize/confirm/${app.id}`;
  assert.equal(await hop(), `http://emulator.test${path}?region=na`);
  await emulator.control.appstoreCallbackHost('amazon.com');
  assert.equal(await hop(), `https://amazon.com${path}`);
  await emulator.control.appstoreCallbackHost('relative');
  assert.equal(await hop(), path);
  const refused = await emulator.fetch(`${C}appstore`, {
    method: 'POST',
    body: JSON.stringify({ callback_host: 'amazon.com.evil.example' }),
  });
  assert.equal(refused.status, 400);
  assert.equal(((await refused.json()) as { callback_host?: string }).callback_host, undefined);
  assert.deepEqual(await (await emulator.fetch(`${C}appstore`)).json(), { callback_host: 'relative' });
  await emulator.control.reset();
  assert.equal(await hop(), `http://emulator.test${path}?region=na`);
});
