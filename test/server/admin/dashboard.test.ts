// The admin dashboard: login and session cookie, CSRF on every POST, headers, escaping of stored
// values, paging, delete, connect, webhook retry, dev-mode access.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Browser, connectSeller, PUBLIC_URL } from '../../helpers/service.js';
import {
  cookiePair,
  csrfOf,
  makeOpsService,
  type OpsService,
  testOpsService,
} from '../../helpers/ops-service.js';
import { webhookEvent } from '../../../src/server/domain/events.js';
import { markReauthorizationRequired } from '../../helpers/sellers.js';

const PASSWORD = 'correct horse battery staple';
const XSS = '<script>alert(1)</script>';

function get(
  svc: OpsService,
  path: string,
  cookie?: string,
  headers: Record<string, string> = {},
): Promise<Response> {
  return svc.app.fetch(
    new Request(`${PUBLIC_URL}${path}`, {
      headers: { ...(cookie ? { cookie } : {}), ...headers },
      redirect: 'manual',
    }),
  );
}

function post(
  svc: OpsService,
  path: string,
  form: Record<string, string>,
  cookie?: string,
  headers: Record<string, string> = {},
): Promise<Response> {
  return svc.app.fetch(
    new Request(`${PUBLIC_URL}${path}`, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        ...(cookie ? { cookie } : {}),
        ...headers,
      },
      body: new URLSearchParams(form).toString(),
      redirect: 'manual',
    }),
  );
}

/** Logs in; returns the session cookie and a CSRF token. */
async function login(svc: OpsService): Promise<{ cookie: string; csrf: string }> {
  const form = await get(svc, '/admin/login');
  const anon = cookiePair(form.headers.get('set-cookie'));
  const res = await post(svc, '/admin/login', { csrf: csrfOf(await form.text()), password: PASSWORD }, anon);
  assert.equal(res.status, 303);
  assert.equal(res.headers.get('location'), '/admin');
  const cookie = cookiePair(res.headers.get('set-cookie'));
  const page = await get(svc, '/admin', cookie);
  assert.equal(page.status, 200);
  return { cookie, csrf: csrfOf(await page.text()) };
}

async function withAdmin(
  fn: (svc: OpsService) => Promise<void>,
  env: Record<string, string> = {},
): Promise<void> {
  const svc = await makeOpsService({ env: { SPAPI_AUTH_ADMIN_PASSWORD: PASSWORD, ...env } });
  try {
    await fn(svc);
  } finally {
    await svc.close();
  }
}

test('a password is required: pages redirect to the login form; the session cookie is HttpOnly, SameSite=Strict, Path=/admin', () =>
  withAdmin(async (svc) => {
    for (const path of [
      '/admin',
      '/admin/sellers',
      '/admin/webhooks',
      '/admin/connect',
      '/admin/sellers/A1EMUSELLERNA01',
    ]) {
      const res = await get(svc, path);
      assert.equal(res.status, 303, path);
      assert.equal(res.headers.get('location'), '/admin/login');
    }
    const form = await get(svc, '/admin/login');
    const anon = cookiePair(form.headers.get('set-cookie'));
    const csrf = csrfOf(await form.text());
    // An anonymous session is not a login.
    assert.equal((await get(svc, '/admin', anon)).status, 303);
    // Wrong password.
    const wrong = await post(svc, '/admin/login', { csrf, password: 'not the password' }, anon);
    assert.equal(wrong.status, 303);
    assert.equal(wrong.headers.get('location'), '/admin/login?failed=1');
    assert.equal(wrong.headers.get('set-cookie'), null);
    // Right password, new session.
    const ok = await post(svc, '/admin/login', { csrf, password: PASSWORD }, anon);
    const setCookie = ok.headers.get('set-cookie')!;
    assert.match(setCookie, /^spapi_admin=v1\./);
    assert.match(setCookie, /; HttpOnly/);
    assert.match(setCookie, /; SameSite=Strict/);
    assert.match(setCookie, /; Path=\/admin/);
    assert.doesNotMatch(setCookie, /Secure/, 'plain-http localhost has no Secure cookie');
    assert.notEqual(cookiePair(setCookie), anon, 'the session id was not renewed at login');
    assert.equal((await get(svc, '/admin', cookiePair(setCookie))).status, 200);
    // A forged cookie is ignored.
    const forged = cookiePair(setCookie).replace(/\.1\.([^.]+)$/, '.1.AAAA');
    assert.equal((await get(svc, '/admin', forged)).status, 303);
    assert.ok(!svc.logs.join('').includes(PASSWORD));
  }));

test('every POST without the right CSRF token is refused with 403 and changes nothing', () =>
  withAdmin(async (svc) => {
    await connectSeller(svc);
    const { cookie, csrf } = await login(svc);
    const e = webhookEvent('seller.deleted', { selling_partner_id: 'A1' }, Date.now());
    await svc.store.enqueueWebhookEvents([e]);
    const forms: [string, Record<string, string>][] = [
      ['/admin/sellers/A1EMUSELLERNA01/delete', { region: 'na' }],
      ['/admin/connect', { marketplace: 'US', kind: 'seller' }],
      ['/admin/webhooks/retry', { id: e.id }],
      ['/admin/webhooks/redeliver', { id: e.id }],
      ['/admin/webhooks/test', {}],
      ['/admin/logout', {}],
    ];
    for (const [path, form] of forms) {
      for (const token of [undefined, 'x', csrf.slice(0, -2) + 'AA']) {
        const res = await post(svc, path, token === undefined ? form : { ...form, csrf: token }, cookie);
        assert.equal(res.status, 403, `${path} with ${String(token)}`);
      }
      // The right token but no session (a cross-site POST: SameSite=Strict keeps the cookie home).
      assert.equal((await post(svc, path, { ...form, csrf })).status, 403);
      // The right token and session, but posted from another origin.
      assert.equal(
        (await post(svc, path, { ...form, csrf }, cookie, { origin: 'https://evil.example' })).status,
        403,
      );
    }
    assert.equal((await svc.store.findSellers('A1EMUSELLERNA01')).length, 1, 'the seller was deleted');
    // Browsers post with `Origin: null` under Referrer-Policy: no-referrer; the token still decides.
    assert.equal(
      (await post(svc, '/admin/webhooks/retry', { id: e.id }, cookie, { origin: 'null' })).status,
      403,
    );
    const viaNull = await post(svc, '/admin/webhooks/retry', { id: e.id, csrf }, cookie, { origin: 'null' });
    assert.equal(viaNull.status, 303);
    // With the token: the delete works and reports seller.deleted.
    const del = await post(svc, '/admin/sellers/A1EMUSELLERNA01/delete', { region: 'na', csrf }, cookie, {
      origin: PUBLIC_URL,
    });
    assert.equal(del.status, 303);
    assert.equal((await svc.store.findSellers('A1EMUSELLERNA01')).length, 0);
    const events = await svc.store.listWebhookEvents({});
    assert.ok(
      events.some((x) => x.type === 'seller.deleted' && x.data.selling_partner_id === 'A1EMUSELLERNA01'),
    );
  }));

test('security headers: strict CSP with a nonce, no framing, no caching, no referrer', () =>
  withAdmin(async (svc) => {
    const { cookie } = await login(svc);
    for (const path of ['/admin/login', '/admin', '/admin/sellers', '/admin/webhooks', '/admin/connect']) {
      const res = await get(svc, path, path === '/admin/login' ? undefined : cookie);
      const csp = res.headers.get('content-security-policy') ?? '';
      const nonce = /'nonce-([^']+)'/.exec(csp)?.[1];
      assert.ok(nonce, `${path}: no nonce`);
      for (const d of [
        "default-src 'none'",
        "object-src 'none'",
        "base-uri 'none'",
        "frame-ancestors 'none'",
        "form-action 'self'",
      ]) {
        assert.ok(csp.includes(d), `${path}: CSP lacks ${d}`);
      }
      assert.equal(res.headers.get('x-frame-options'), 'DENY');
      assert.equal(res.headers.get('cache-control'), 'no-store');
      assert.equal(res.headers.get('referrer-policy'), 'no-referrer');
      assert.equal(res.headers.get('x-content-type-options'), 'nosniff');
      const body = await res.text();
      assert.ok(body.includes(`<style nonce="${nonce}">`));
      assert.ok(!/\sstyle="/.test(body), `${path}: an inline style attribute the CSP would block`);
      assert.ok(!/<script/i.test(body), `${path}: a script`);
    }
  }));

test(`stored values render inert: a seller with user_ref ${XSS} and a hostile search`, () =>
  withAdmin(async (svc) => {
    await connectSeller(svc, { userRef: XSS });
    await svc.store.enqueueWebhookEvents([
      webhookEvent('seller.deleted', { selling_partner_id: XSS, user_ref: XSS }, Date.now()),
    ]);
    const { cookie } = await login(svc);
    const pages = [
      '/admin',
      '/admin/sellers',
      `/admin/sellers?q=${encodeURIComponent(XSS)}`,
      `/admin/sellers?q=${encodeURIComponent('"><img src=x onerror=alert(1)>')}`,
      '/admin/sellers/A1EMUSELLERNA01',
      '/admin/webhooks',
    ];
    for (const path of pages) {
      const res = await get(svc, path, cookie);
      assert.equal(res.status, 200, path);
      const body = await res.text();
      assert.ok(!body.includes(XSS), `${path}: raw script tag`);
      assert.ok(!/<img/i.test(body), `${path}: injected element`);
      assert.ok(!body.includes('<script'), `${path}: a script element`);
    }
    const detail = await (await get(svc, '/admin/sellers/A1EMUSELLERNA01', cookie)).text();
    assert.ok(
      detail.includes('&#60;script&#62;alert(1)&#60;/script&#62;'),
      'the user_ref is not shown escaped',
    );
  }));

test('sellers: status filter, search and cursor pages cover every seller once', () =>
  withAdmin(async (svc) => {
    for (let i = 0; i < 120; i++) {
      await svc.store.saveAuthorization({
        sellingPartnerId: `ASELLER${String(i).padStart(5, '0')}`,
        region: i % 3 === 0 ? 'eu' : 'na',
        kind: 'seller',
        userRef: `user-${i}`,
        marketplace: 'US',
        refreshToken: `Atzr|refresh-${i}`,
      });
    }
    const { cookie } = await login(svc);
    const seen = new Set<string>();
    let path: string | null = '/admin/sellers';
    let pages = 0;
    while (path !== null) {
      const body: string = await (await get(svc, path, cookie)).text();
      for (const m of body.matchAll(/href="\/admin\/sellers\/(ASELLER\d+)#region-(\w+)"/g))
        seen.add(`${m[1]}/${m[2]}`);
      const next: string | undefined = /href="(\/admin\/sellers\?cursor=[^"]+)">Next page/.exec(body)?.[1];
      path = next ? next.replace(/&amp;/g, '&') : null;
      pages++;
    }
    assert.equal(pages, 3);
    assert.equal(seen.size, 120);
    const search = await (await get(svc, '/admin/sellers?q=ASELLER0011', cookie)).text();
    assert.equal([...search.matchAll(/#region-/g)].length, 10); // ASELLER00110 … 00119
    const byUser = await (await get(svc, '/admin/sellers?q=user-7', cookie)).text();
    assert.ok(byUser.includes('ASELLER00007'));
    await markReauthorizationRequired(svc.store, { sellingPartnerId: 'ASELLER00003', region: 'eu' });
    const filtered = await (await get(svc, '/admin/sellers?status=reauthorization_required', cookie)).text();
    assert.equal([...filtered.matchAll(/#region-/g)].length, 1);
    assert.equal((await get(svc, '/admin/sellers?status=bogus', cookie)).status, 400);
    assert.equal((await get(svc, '/admin/sellers?cursor=%%%', cookie)).status, 400);
    const overview = await (await get(svc, '/admin', cookie)).text();
    assert.ok(overview.includes('ASELLER00003'), 'the overview lists sellers needing re-authorization');
    assert.ok(overview.includes('<svg'), 'no chart');
  }));

test('"Connect a seller" starts the website flow and the seller shows up', () =>
  withAdmin(async (svc) => {
    const { cookie, csrf } = await login(svc);
    await svc.emulator.control.consentMode('auto', 'A1EMUSELLERNA01');
    const res = await post(
      svc,
      '/admin/connect',
      { csrf, marketplace: 'US', kind: 'seller', user_ref: 'ops-1' },
      cookie,
    );
    // A page with the link, not a cross-origin redirect (the CSP's form-action would block that).
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('location'), null);
    const page = await res.text();
    const location = /id="continue" href="([^"]+)"/.exec(page)?.[1] ?? '';
    assert.match(location, new RegExp(`^${PUBLIC_URL}/connect/[A-Za-z0-9_-]{43}$`));
    assert.ok(page.includes('ops-1'));
    const { res: last } = await new Browser(svc).follow(location);
    assert.equal(last.status, 200);
    const seller = await svc.store.getSeller({ sellingPartnerId: 'A1EMUSELLERNA01', region: 'na' });
    assert.equal(seller?.userRef, 'ops-1');
    const list = await (await get(svc, '/admin/sellers', cookie)).text();
    assert.ok(list.includes('A1EMUSELLERNA01'));
    assert.equal((await post(svc, '/admin/connect', { csrf, marketplace: 'XX' }, cookie)).status, 400);
  }));

test('webhooks page: pending and failed events, retry makes a failed one due again', () =>
  withAdmin(async (svc) => {
    const e = webhookEvent('seller.reauthorization_required', { selling_partner_id: 'A9' }, Date.now());
    await svc.store.enqueueWebhookEvents([e]);
    const [claimed] = await svc.store.claimWebhookEvents('w', { limit: 1, leaseMs: 1000 });
    await svc.store.markWebhookFailed(claimed!.id, 'w', { error: 'http_500', nextAttemptAt: null });
    const { cookie, csrf } = await login(svc);
    const failed = await (await get(svc, '/admin/webhooks?state=dead', cookie)).text();
    assert.ok(failed.includes(e.id) && failed.includes('http_500'));
    assert.ok(failed.includes('No target configured'));
    const res = await post(svc, '/admin/webhooks/retry', { csrf, id: e.id, state: 'dead' }, cookie);
    assert.equal(res.status, 303);
    assert.match(res.headers.get('location')!, /notice=retried/);
    assert.deepEqual(await svc.store.webhookOutboxDepth(), { pending: 1, dead: 0 });
    assert.equal((await get(svc, '/admin/webhooks?state=nope', cookie)).status, 400);
  }));

test('dev mode without a password: open on localhost only; serve mode without one: disabled', async (t) => {
  const dev = await makeOpsService({ mode: 'dev', env: { SPAPI_AUTH_PUBLIC_URL: 'http://localhost:3000' } });
  try {
    const res = await get(dev, '/admin', undefined, { host: 'localhost:3000' });
    assert.equal(res.status, 200);
    const cookie = cookiePair(res.headers.get('set-cookie'));
    const csrf = csrfOf(await (await get(dev, '/admin/connect', cookie, { host: 'localhost:3000' })).text());
    assert.equal((await get(dev, '/admin', undefined, { host: 'evil.example' })).status, 403);
    // CSRF still applies in dev.
    await connectSeller(dev);
    const local = { host: 'localhost:3000' };
    const refused = await post(dev, '/admin/sellers/A1EMUSELLERNA01/delete', { region: 'na' }, cookie, local);
    assert.equal(refused.status, 403);
    const ok = await post(
      dev,
      '/admin/sellers/A1EMUSELLERNA01/delete',
      { region: 'na', csrf },
      cookie,
      local,
    );
    assert.equal(ok.status, 303);
  } finally {
    await dev.close();
  }
  const prod = await testOpsService(t);
  assert.equal((await get(prod, '/admin')).status, 404);
  assert.equal((await get(prod, '/admin/login')).status, 404);
  assert.equal((await post(prod, '/admin/login', { password: 'x' })).status, 404);
});

test('login attempts are throttled', () =>
  withAdmin(async (svc) => {
    const form = await get(svc, '/admin/login');
    const anon = cookiePair(form.headers.get('set-cookie'));
    const csrf = csrfOf(await form.text());
    const statuses: number[] = [];
    for (let i = 0; i < 7; i++) {
      statuses.push((await post(svc, '/admin/login', { csrf, password: `guess-${i}` }, anon)).status);
    }
    // Five failures from this address, then it is locked out (test/server/flows/abuse-limits.test.ts has the rest).
    assert.deepEqual(statuses, [303, 303, 303, 303, 303, 429, 429]);
  }));
