// Attacks on the routes anyone can reach: one client creating rows without limit through the
// browser flows (the Login URI, connect links, the callback), X-Forwarded-For spoofing, and wrong
// admin passwords locking every operator out. Each fails on the code before its fix.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { AMAZON_URL, Browser, api } from '../../helpers/service.js';
import {
  cookiePair,
  csrfOf,
  makeOpsService,
  type OpsService,
  testOpsService,
} from '../../helpers/ops-service.js';
import type { ServerResponse } from '../../../src/server/http/request.js';

const PASSWORD = 'correct horse battery staple';

/** A request from `address` (the socket peer), straight into the app's handler. */
function from(
  svc: OpsService,
  address: string,
  method: string,
  target: string,
  headers: Record<string, string> = {},
  body = '',
): Promise<ServerResponse> {
  const q = target.indexOf('?');
  const lower = Object.fromEntries(Object.entries(headers).map(([k, v]) => [k.toLowerCase(), v]));
  return Promise.resolve(
    svc.app.handle({
      method,
      path: q < 0 ? target : target.slice(0, q),
      rawQuery: q < 0 ? '' : target.slice(q + 1),
      header: (name) => lower[name],
      body: async () => new TextEncoder().encode(body),
      remoteAddress: address,
    }),
  );
}

function loginUri(svc: OpsService, state = 's1'): string {
  const callback = `${AMAZON_URL}/apps/authorize/confirm/${svc.config.applicationId}`;
  return `/oauth/login?amazon_callback_uri=${encodeURIComponent(callback)}&amazon_state=${state}&selling_partner_id=A1EMUSELLERNA01`;
}

/** A service on a SQLite file (so the test can count rows), with the clock standing still. */
async function withFileService(
  env: Record<string, string>,
  fn: (svc: OpsService, rows: (table: string) => number) => Promise<void>,
): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'spapi-abuse-'));
  const path = join(dir, 'db.sqlite');
  const svc = await makeOpsService({ env, sqlitePath: path, frozenClock: true });
  const db = new Database(path, { readonly: true });
  try {
    const rows = (table: string): number =>
      (db.prepare(`SELECT COUNT(*) AS n FROM ${table}`).get() as { n: number }).n;
    await fn(svc, rows);
  } finally {
    db.close();
    await svc.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

test('one client hammering /oauth/login gets 429 flow_rate_limited after the limit, and no hit stores a row; another address still succeeds', () =>
  withFileService({ SPAPI_AUTH_OAUTH_RATE_LIMIT: '10' }, async (svc, rows) => {
    const statuses: number[] = [];
    for (let i = 0; i < 40; i++) statuses.push((await from(svc, '203.0.113.5', 'GET', loginUri(svc))).status);
    assert.deepEqual(statuses.slice(0, 10), Array(10).fill(302));
    assert.deepEqual(statuses.slice(10), Array(30).fill(429));
    assert.equal(rows('oauth_transactions'), 0, 'nothing stored, admitted or refused: the state carries it');

    // The refusal: a page for a browser, JSON when asked for, both with Retry-After.
    const page = await from(svc, '203.0.113.5', 'GET', loginUri(svc));
    assert.equal(page.status, 429);
    assert.match(String(page.headers['content-type']), /text\/html/);
    assert.match(String(page.body), /Too many requests came from your network/);
    assert.match(String(page.body), /flow_rate_limited/);
    assert.equal(page.headers['retry-after'], '6', '10 a minute: one more in 6 s');
    const asJson = await from(svc, '203.0.113.5', 'GET', loginUri(svc), { accept: 'application/json' });
    assert.equal(asJson.status, 429);
    assert.equal(
      (JSON.parse(String(asJson.body)) as { error: { code: string } }).error.code,
      'flow_rate_limited',
    );
    assert.ok(asJson.headers['retry-after']);

    // Another address is not affected; the limited one gets one more after the wait.
    assert.equal((await from(svc, '198.51.100.9', 'GET', loginUri(svc))).status, 302);
    svc.advance(6_000);
    assert.equal((await from(svc, '203.0.113.5', 'GET', loginUri(svc))).status, 302);
    assert.equal((await from(svc, '203.0.113.5', 'GET', loginUri(svc))).status, 429);
    assert.equal(rows('oauth_transactions'), 0);
    // A HEAD (a link prefetcher) spends none of the allowance.
    assert.equal((await from(svc, '192.0.2.77', 'HEAD', loginUri(svc))).status, 200);
  }));

test('with a sign-in URL the Login URI hands out carried pending sessions: limited the same way, nothing stored', () =>
  withFileService(
    { SPAPI_AUTH_OAUTH_RATE_LIMIT: '5', SPAPI_AUTH_SIGNIN_URL: 'https://app.example.com/signin' },
    async (svc, rows) => {
      const statuses: number[] = [];
      for (let i = 0; i < 20; i++)
        statuses.push((await from(svc, '203.0.113.5', 'GET', loginUri(svc))).status);
      assert.deepEqual(statuses, [...Array(5).fill(302), ...Array(15).fill(429)]);
      assert.equal(rows('connect_sessions'), 0);
    },
  ));

test('the limit is one allowance per address across /oauth/login, /connect/:token and /oauth/callback', () =>
  withFileService({ SPAPI_AUTH_OAUTH_RATE_LIMIT: '4' }, async (svc) => {
    const a = '203.0.113.5';
    assert.equal((await from(svc, a, 'GET', loginUri(svc))).status, 302);
    assert.equal((await from(svc, a, 'GET', `/connect/${'x'.repeat(43)}`)).status, 404);
    assert.equal(
      (await from(svc, a, 'GET', '/oauth/callback?state=abc&selling_partner_id=A1&spapi_oauth_code=c'))
        .status,
      400,
    );
    assert.equal((await from(svc, a, 'GET', loginUri(svc))).status, 302);
    // The fifth of any of them is refused.
    assert.equal((await from(svc, a, 'GET', `/connect/${'x'.repeat(43)}`)).status, 429);
    assert.equal((await from(svc, a, 'GET', '/oauth/callback?state=abc')).status, 429);
    assert.equal((await from(svc, a, 'GET', loginUri(svc))).status, 429);
  }));

test('X-Forwarded-For from an untrusted peer is ignored; from a trusted proxy the right-most untrusted entry is the client', async () => {
  // No trusted proxy: the header changes nothing, whatever it says.
  await withFileService({ SPAPI_AUTH_OAUTH_RATE_LIMIT: '3' }, async (svc) => {
    const statuses: number[] = [];
    for (let i = 0; i < 6; i++) {
      const spoof = { 'x-forwarded-for': `192.0.2.${i + 1}` };
      statuses.push((await from(svc, '203.0.113.5', 'GET', loginUri(svc), spoof)).status);
    }
    assert.deepEqual(statuses, [302, 302, 302, 429, 429, 429]);
    assert.ok(
      svc.logs.filter((l) => l.includes('SPAPI_AUTH_TRUSTED_PROXIES')).length === 1,
      'one warning per process about the ignored header',
    );
  });
  // nginx on 10.0.0.2 is trusted: the clients behind it are told apart, a spoofed entry is not believed.
  await withFileService(
    { SPAPI_AUTH_OAUTH_RATE_LIMIT: '3', SPAPI_AUTH_TRUSTED_PROXIES: '10.0.0.0/24' },
    async (svc) => {
      const via = (xff: string) => from(svc, '10.0.0.2', 'GET', loginUri(svc), { 'x-forwarded-for': xff });
      for (let i = 0; i < 3; i++) assert.equal((await via('198.51.100.1')).status, 302);
      assert.equal((await via('198.51.100.1')).status, 429);
      // Another client behind the same proxy still gets through.
      assert.equal((await via('198.51.100.2')).status, 302);
      // The limited client prepends a fake address: the proxy appended the real one, which counts.
      assert.equal((await via('192.0.2.200, 198.51.100.1')).status, 429);
      // Through two trusted hops the right-most untrusted entry is the client.
      assert.equal((await via('198.51.100.1, 10.0.0.7')).status, 429);
      assert.equal((await via('198.51.100.3, 10.0.0.7')).status, 302);
      // A peer outside the trusted network cannot use the header.
      for (let i = 0; i < 3; i++) {
        const res = await from(svc, '203.0.113.9', 'GET', loginUri(svc), {
          'x-forwarded-for': `192.0.2.${i}`,
        });
        assert.equal(res.status, 302);
      }
      const res = await from(svc, '203.0.113.9', 'GET', loginUri(svc), { 'x-forwarded-for': '192.0.2.99' });
      assert.equal(res.status, 429);
    },
  );
});

test('an IPv6 client is limited by its /64: changing the host bits does not reset the allowance', () =>
  withFileService({ SPAPI_AUTH_OAUTH_RATE_LIMIT: '3' }, async (svc) => {
    const statuses: number[] = [];
    for (let i = 1; i <= 5; i++)
      statuses.push((await from(svc, `2001:db8:5:6::${i.toString(16)}`, 'GET', loginUri(svc))).status);
    assert.deepEqual(statuses, [302, 302, 302, 429, 429]);
    assert.equal((await from(svc, '2001:db8:5:7::1', 'GET', loginUri(svc))).status, 302);
  }));

/** The Login URI as Amazon's Appstore hop sends a seller there (with an `amazon_state` it issued). */
async function sellerLoginUri(svc: OpsService): Promise<string> {
  const hop = await svc.emulator.fetch(
    new Request(
      `${AMAZON_URL}/appstore/authorize?application_id=${svc.config.applicationId}&selling_partner_id=A1EMUSELLERNA01`,
      { redirect: 'manual' },
    ),
  );
  const login = new URL(hop.headers.get('location') ?? '');
  return `${login.pathname}${login.search}`;
}

/** Completes an Appstore flow the Login URI started for `address`: Amazon's confirm, then our callback. */
async function finishAppstore(svc: OpsService, address: string, started: ServerResponse): Promise<number> {
  await svc.emulator.control.consentMode('auto', 'A1EMUSELLERNA01');
  const atAmazon = await svc.emulator.fetch(
    new Request(String(started.headers.location), { redirect: 'manual' }),
  );
  const back = new URL(atAmazon.headers.get('location') ?? '');
  const cb = await from(svc, address, 'GET', `${back.pathname}${back.search}`, {
    cookie: cookiePair(String(started.headers['set-cookie'])),
  });
  return cb.status;
}

test('a flood of the Login URI from many networks stores nothing and refuses no one within their limits; a flow midway (60 s on the consent page) and a connect link complete', () =>
  withFileService(
    { SPAPI_AUTH_MAX_PENDING_FLOWS: '100', SPAPI_AUTH_OAUTH_RATE_LIMIT: '30' },
    async (svc, rows) => {
      // A link the app handed out, opened by its seller, and an Appstore flow, both before the flood.
      const link = await api(svc, 'POST', '/v1/connect-sessions', { user_ref: 'u1', marketplace: 'US' });
      const { url } = (await link.json()) as { url: string };
      const early = await from(svc, '192.0.2.1', 'GET', await sellerLoginUri(svc));
      assert.equal(early.status, 302);
      const statuses: number[] = [];
      for (let i = 0; i < 300; i++) {
        statuses.push((await from(svc, `10.${i >> 8}.${i & 255}.9`, 'GET', loginUri(svc))).status);
        svc.advance(200); // 60 s of flood in all: the seller is on Amazon's consent page meanwhile
      }
      assert.deepEqual(
        new Set(statuses),
        new Set([302]),
        'three times the cap, all admitted: no budget to spend',
      );
      assert.equal(rows('oauth_transactions'), 0, 'the flood stored no row');
      assert.equal(rows('connect_sessions'), 1, 'only the connect link the app made');
      assert.ok((await finishAppstore(svc, '192.0.2.1', early)) < 400, 'the early Appstore flow completes');
      assert.equal(rows('oauth_transactions'), 1, 'its single use, recorded at the callback');
      await svc.emulator.control.consentMode('auto', 'A1EMUSELLERGL01');
      const { res } = await new Browser(svc).follow(url);
      assert.equal(res.status, 200, await res.text());
      assert.equal(await svc.lwaCalls('authorization_code'), 2);
    },
  ));

test('400 addresses in four /24s at their per-address limit: the per-network limit admits 4 × 300, none stores a row; a genuine seller from another network connects after 60 s', () =>
  withFileService({ SPAPI_AUTH_OAUTH_RATE_LIMIT: '30' }, async (svc, rows) => {
    let admitted = 0;
    for (let round = 0; round < 30; round++)
      for (let i = 0; i < 400; i++) {
        const res = await from(svc, `127.0.${i % 4}.${1 + Math.floor(i / 4)}`, 'GET', loginUri(svc));
        if (res.status === 302) admitted++;
      }
    assert.equal(admitted, 4 * 300, 'each network stops at its rate limit (ten addresses’ worth)');
    assert.equal(rows('oauth_transactions'), 0);
    const genuine = await from(svc, '198.51.100.20', 'GET', await sellerLoginUri(svc));
    assert.equal(genuine.status, 302);
    svc.advance(60_000);
    assert.ok((await finishAppstore(svc, '198.51.100.20', genuine)) < 400);
    assert.equal(await svc.lwaCalls('authorization_code'), 1);
  }));

test('with a sign-in URL a flood stores no pending session, and the seller on the sign-in page before it confirms once', () =>
  withFileService(
    {
      SPAPI_AUTH_MAX_PENDING_FLOWS: '100',
      SPAPI_AUTH_OAUTH_RATE_LIMIT: '30',
      SPAPI_AUTH_SIGNIN_URL: 'https://app.example.com/signin',
    },
    async (svc, rows) => {
      const early = await from(svc, '192.0.2.1', 'GET', loginUri(svc));
      const token = new URL(String(early.headers.location)).searchParams.get('spapi_pending')!;
      const statuses: number[] = [];
      for (let i = 0; i < 250; i++) {
        statuses.push((await from(svc, `10.1.${i}.9`, 'GET', loginUri(svc))).status);
        svc.advance(100);
      }
      assert.deepEqual(new Set(statuses), new Set([302]));
      assert.equal(rows('connect_sessions'), 0, 'no pending session stored');
      const confirmed = await api(svc, 'POST', `/v1/appstore-sessions/${token}/confirm`, { user_ref: 'u1' });
      assert.equal(confirmed.status, 200, 'the seller on the sign-in page keeps its session');
      const again = await api(svc, 'POST', `/v1/appstore-sessions/${token}/confirm`, { user_ref: 'u1' });
      assert.equal(again.status, 410);
      assert.equal(((await again.json()) as { error: { code: string } }).error.code, 'link_used');
      // The single use of the pending token, and the connect link the confirm made.
      assert.equal(rows('connect_sessions'), 2);
    },
  ));

/** Posts the admin login form from `address`; returns the status (303: right or wrong password, 429: locked). */
async function adminLogin(svc: OpsService, address: string, password: string): Promise<ServerResponse> {
  const form = await from(svc, address, 'GET', '/admin/login');
  const anon = cookiePair(String(form.headers['set-cookie']));
  const csrf = csrfOf(String(form.body));
  return from(
    svc,
    address,
    'POST',
    '/admin/login',
    { 'content-type': 'application/x-www-form-urlencoded', cookie: anon },
    new URLSearchParams({ csrf, password }).toString(),
  );
}

const loggedIn = (res: ServerResponse): boolean =>
  res.status === 303 &&
  res.headers.location === '/admin' &&
  /spapi_admin=/.test(String(res.headers['set-cookie']));

test('wrong admin passwords from address A do not lock out address B', async (t) => {
  const svc = await testOpsService(t, { env: { SPAPI_AUTH_ADMIN_PASSWORD: PASSWORD }, frozenClock: true });
  for (let i = 0; i < 30; i++) await adminLogin(svc, '203.0.113.5', `guess-${i}`);
  const a = await adminLogin(svc, '203.0.113.5', PASSWORD);
  assert.equal(a.status, 429, 'A is locked out, even with the right password');
  assert.match(String(a.body), /login_throttled/);
  assert.ok(Number(a.headers['retry-after']) > 0);
  assert.ok(loggedIn(await adminLogin(svc, '198.51.100.9', PASSWORD)), 'B logs in');
});

test('admin login backoff: five free failures, then a lock-out that doubles with each failure, capped; a success clears it', async (t) => {
  const svc = await testOpsService(t, { env: { SPAPI_AUTH_ADMIN_PASSWORD: PASSWORD }, frozenClock: true });
  const a = '203.0.113.5';
  for (let i = 0; i < 4; i++) assert.equal((await adminLogin(svc, a, 'wrong')).status, 303);
  assert.equal((await adminLogin(svc, a, 'wrong')).status, 303, 'the fifth failure locks');
  const waits: number[] = [];
  for (let i = 0; i < 7; i++) {
    const locked = await adminLogin(svc, a, 'wrong');
    assert.equal(locked.status, 429);
    const wait = Number(locked.headers['retry-after']);
    waits.push(wait);
    svc.advance(wait * 1000);
    assert.equal((await adminLogin(svc, a, 'wrong')).status, 303, 'one guess after each lock-out');
  }
  assert.deepEqual(waits, [30, 60, 120, 240, 480, 900, 900]);
  // One guess per lock-out: a brute force gets about 4 guesses an hour from one address.
  svc.advance(900_000);
  assert.ok(loggedIn(await adminLogin(svc, a, PASSWORD)));
  // The success cleared the address: five free failures again.
  for (let i = 0; i < 5; i++) assert.equal((await adminLogin(svc, a, 'wrong')).status, 303);
  assert.equal((await adminLogin(svc, a, 'wrong')).status, 429);
});

test('admin login throttle behind a trusted proxy: keyed by the forwarded client, not the proxy', async () => {
  const svc = await makeOpsService({
    env: { SPAPI_AUTH_ADMIN_PASSWORD: PASSWORD, SPAPI_AUTH_TRUSTED_PROXIES: '127.0.0.1' },
    frozenClock: true,
  });
  try {
    const via = async (client: string, password: string): Promise<ServerResponse> => {
      const form = await from(svc, '127.0.0.1', 'GET', '/admin/login');
      return from(
        svc,
        '127.0.0.1',
        'POST',
        '/admin/login',
        {
          'content-type': 'application/x-www-form-urlencoded',
          cookie: cookiePair(String(form.headers['set-cookie'])),
          'x-forwarded-for': client,
        },
        new URLSearchParams({ csrf: csrfOf(String(form.body)), password }).toString(),
      );
    };
    for (let i = 0; i < 10; i++) await via('203.0.113.5', 'wrong');
    assert.equal((await via('203.0.113.5', PASSWORD)).status, 429);
    assert.ok(loggedIn(await via('198.51.100.9', PASSWORD)));
  } finally {
    await svc.close();
  }
});
