// The dashboard, the dev start page and the flows' pages under a public path prefix
// (SPAPI_AUTH_PUBLIC_URL=https://auth.example.com/auth; the proxy strips /auth, so requests reach
// the routes at the root): every link, form action and redirect the service sends carries the
// prefix, and the session cookie's Path is /auth/admin. Any root-relative URL fails the sweep, so a
// page added later without the prefix is noticed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { webhookEvent } from '../../../src/server/domain/events.js';
import {
  browserCall,
  cookiePair,
  csrfOf,
  makeOpsService,
  type OpsService,
} from '../../helpers/ops-service.js';

const PASSWORD = 'correct horse battery staple';
const ORIGIN = 'https://auth.example.com';
const PREFIX = '/auth';
const SELLER = 'A1PREFIXSELLER01';

/** Every URL-valued attribute of a page. */
function urlsOf(page: string): string[] {
  return [...page.matchAll(/\s(?:href|action|src|formaction)="([^"]*)"/g)].map((m) => m[1]!);
}

/** The URLs of a page (or a Location) that would leave the prefix: root-relative without it. */
function outsidePrefix(urls: readonly string[]): string[] {
  return urls.filter(
    (u) =>
      !(
        u.startsWith('#') ||
        u === `${PREFIX}` ||
        u.startsWith(`${PREFIX}/`) ||
        u.startsWith(`${PREFIX}?`) ||
        /^https?:\/\//.test(u)
      ) ||
      (u.startsWith(ORIGIN) && !u.startsWith(`${ORIGIN}${PREFIX}/`)),
  );
}

function client(svc: OpsService, origin = ORIGIN) {
  const seen: { what: string; urls: string[] }[] = [];
  const send = browserCall(svc.app, origin);
  const call = async (path: string, cookie?: string, form?: Record<string, string>): Promise<Response> => {
    // What the proxy forwards: the path without the prefix.
    const res = await send(path, cookie, form);
    const location = res.headers.get('location');
    if (location !== null)
      seen.push({ what: `Location of ${form ? 'POST' : 'GET'} ${path}`, urls: [location] });
    if ((res.headers.get('content-type') ?? '').startsWith('text/html')) {
      const text = await res.clone().text();
      seen.push({ what: `${form ? 'POST' : 'GET'} ${path}`, urls: urlsOf(text) });
    }
    return res;
  };
  const leaks = (): string[] =>
    seen.flatMap(({ what, urls }) => outsidePrefix(urls).map((u) => `${what}: ${u}`));
  const count = (): number => seen.reduce((n, s) => n + s.urls.length, 0);
  return { call, leaks, count };
}

test('under /auth: every dashboard link, form action and redirect carries the prefix; the cookie has Path=/auth/admin', async () => {
  const svc = await makeOpsService({
    env: { SPAPI_AUTH_PUBLIC_URL: `${ORIGIN}${PREFIX}`, SPAPI_AUTH_ADMIN_PASSWORD: PASSWORD },
  });
  const { call, leaks, count } = client(svc);
  try {
    await svc.store.saveAuthorization({
      sellingPartnerId: SELLER,
      region: 'na',
      kind: 'seller',
      userRef: 'prefix-user',
      marketplace: 'US',
      refreshToken: 'Atzr|prefix-test-refresh-token-not-used',
      accessToken: { accessToken: 'Atza|prefix-test-access', expiresAt: Date.now() - 1000 },
    });
    const [pending, dead, delivered] = [0, 1, 2].map((i) =>
      webhookEvent('seller.deleted', { selling_partner_id: `A1PREFIXEVENT0${i}` }, Date.now()),
    );
    await svc.store.enqueueWebhookEvents([pending!, dead!, delivered!]);
    await svc.store.claimWebhookEvents('w', { limit: 3, leaseMs: 60_000 });
    await svc.store.markWebhookFailed(pending!.id, 'w', { error: 'http_500', nextAttemptAt: Date.now() });
    await svc.store.markWebhookFailed(dead!.id, 'w', { error: 'http_500', nextAttemptAt: null });
    await svc.store.markWebhookDelivered(delivered!.id, 'w');

    // Not signed in: to the login form under the prefix.
    const anonymous = await call('/admin/sellers');
    assert.equal(anonymous.status, 303);
    assert.equal(anonymous.headers.get('location'), `${PREFIX}/admin/login`);
    const loginForm = await call('/admin/login');
    const anonCookie = loginForm.headers.get('set-cookie') ?? '';
    assert.match(anonCookie, /; Path=\/auth\/admin;/);
    const loginPage = await loginForm.text();
    assert.match(loginPage, /action="\/auth\/admin\/login"/);
    const wrong = await call('/admin/login', cookiePair(anonCookie), {
      csrf: csrfOf(loginPage),
      password: 'nope nope nope',
    });
    assert.equal(wrong.headers.get('location'), `${PREFIX}/admin/login?failed=1`);
    const signedIn = await call('/admin/login', cookiePair(anonCookie), {
      csrf: csrfOf(loginPage),
      password: PASSWORD,
    });
    assert.equal(signedIn.status, 303);
    assert.equal(signedIn.headers.get('location'), `${PREFIX}/admin`);
    const sessionCookie = signedIn.headers.get('set-cookie') ?? '';
    assert.match(
      sessionCookie,
      /^spapi_admin=[^;]+; Path=\/auth\/admin; Max-Age=\d+; HttpOnly; SameSite=Strict; Secure$/,
    );
    const cookie = cookiePair(sessionCookie);

    // Every page, with its forms.
    const overview = await (await call('/admin', cookie)).text();
    assert.match(overview, /href="\/auth\/admin\/sellers"/);
    assert.match(overview, /action="\/auth\/admin\/logout"/);
    const csrf = csrfOf(overview);
    for (const path of [
      '/admin/sellers',
      '/admin/sellers?status=active&q=A1',
      `/admin/sellers/${SELLER}`,
      '/admin/webhooks?state=pending',
      '/admin/webhooks?state=dead',
      '/admin/webhooks?state=delivered',
      '/admin/connect',
      `/admin/connected?status=connected&selling_partner_id=${SELLER}&region=na`,
      '/admin/sellers/A1NOSUCHSELLER',
    ]) {
      const res = await call(path, cookie);
      assert.ok(res.status === 200 || res.status === 404, `${path}: ${res.status}`);
    }
    const detail = await (await call(`/admin/sellers/${SELLER}`, cookie)).text();
    assert.match(detail, new RegExp(`action="/auth/admin/sellers/${SELLER}/delete"`));
    const deadTab = await (await call('/admin/webhooks?state=dead', cookie)).text();
    assert.match(deadTab, /action="\/auth\/admin\/webhooks\/redeliver"/);
    const linkPage = await call('/admin/connect', cookie, { csrf, marketplace: 'US', kind: 'seller' });
    assert.equal(linkPage.status, 200);
    assert.match(await linkPage.text(), /https:\/\/auth\.example\.com\/auth\/connect\//);

    // The actions' redirects.
    const actions: [string, Record<string, string>, string][] = [
      ['/admin/webhooks/test', {}, `${PREFIX}/admin/webhooks?state=pending&notice=test_sent`],
      [
        '/admin/webhooks/retry',
        { id: pending!.id, state: 'pending' },
        `${PREFIX}/admin/webhooks?state=pending&notice=retried`,
      ],
      [
        '/admin/webhooks/redeliver',
        { id: dead!.id, state: 'dead' },
        `${PREFIX}/admin/webhooks?state=pending&notice=redelivered`,
      ],
      [`/admin/sellers/${SELLER}/delete`, { region: 'na' }, `${PREFIX}/admin/sellers?notice=deleted`],
    ];
    for (const [path, form, location] of actions) {
      const res = await call(path, cookie, { ...form, csrf });
      assert.equal(res.status, 303, path);
      assert.equal(res.headers.get('location'), location);
    }
    // A refusal page links back under the prefix too.
    const refused = await call('/admin/webhooks/redeliver', cookie, { id: dead!.id, csrf: 'wrong' });
    assert.equal(refused.status, 403);
    const out = await call('/admin/logout', cookie, { csrf });
    assert.equal(out.headers.get('location'), `${PREFIX}/admin/login`);
    assert.match(out.headers.get('set-cookie') ?? '', /; Path=\/auth\/admin; Max-Age=0;/);

    assert.ok(count() > 40, `the sweep saw the pages' URLs (${count()})`);
    assert.deepEqual(leaks(), [], 'root-relative URLs outside the prefix');
  } finally {
    await svc.close();
  }
});

test('without a prefix nothing changes: root links, Path=/admin (the sweep itself is not vacuous)', async () => {
  const svc = await makeOpsService({ env: { SPAPI_AUTH_ADMIN_PASSWORD: PASSWORD } });
  const { call, leaks } = client(svc, svc.config.publicUrl);
  try {
    const form = await call('/admin/login');
    assert.match(form.headers.get('set-cookie') ?? '', /; Path=\/admin;/);
    assert.match(await form.text(), /action="\/admin\/login"/);
    assert.deepEqual(
      leaks(),
      ['GET /admin/login: /admin', 'GET /admin/login: /admin/login'],
      'at the root the sweep flags what lacks /auth',
    );
  } finally {
    await svc.close();
  }
});

test('dev under /auth: the start page, its connect form and redirect, and the result page link under the prefix', async () => {
  const svc = await makeOpsService({
    mode: 'dev',
    env: { SPAPI_AUTH_PUBLIC_URL: 'http://localhost:3000/auth' },
  });
  const { call, leaks, count } = client(svc, 'http://localhost:3000');
  try {
    const start = await call('/');
    assert.equal(start.status, 200);
    const page = await start.text();
    assert.match(page, /action="\/auth\/dev\/connect"/);
    assert.match(page, /href="\/auth\/admin"/);
    assert.match(page, /href="\/auth\/appstore\/authorize\?/);
    const connect = await call('/dev/connect', undefined, { marketplace: 'US', kind: 'seller' });
    assert.equal(connect.status, 303, await connect.clone().text());
    assert.match(connect.headers.get('location') ?? '', /^\/auth\/connect\/[A-Za-z0-9_-]+$/);
    const result = await call('/oauth/result?status=connected&selling_partner_id=A1EMUSELLERNA01&region=na');
    assert.match(await result.text(), /href="\/auth\/"/);
    // The dashboard in dev (open on localhost): links under the prefix as well.
    const admin = await call('/admin');
    assert.equal(admin.status, 200);
    assert.ok(count() > 5);
    assert.deepEqual(leaks(), []);
  } finally {
    await svc.close();
  }
});
