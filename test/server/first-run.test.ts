// What a new user ran into, each pinned: DATABASE_URL and missing-variable reports, the dev
// server's 404 and request lines, the dev start page's vendor offer, the result page's wording
// for a vendor, the Appstore re-authorization keeping the marketplace, and the admin's connect
// flow ending back in the dashboard.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError, loadConfig, loadStoreConfig } from '../../src/config.js';
import { createEmulator } from '../../src/emulator/index.js';
import { devFallback, devLogSink } from '../../src/server/dev/emulator-mount.js';
import { createLogger } from '../../src/server/http/log.js';
import { AMAZON_URL, Browser, PUBLIC_URL, api, connectSeller, testService } from '../helpers/service.js';
import { cookiePair, csrfOf, makeOpsService } from '../helpers/ops-service.js';

const KEY = `k1:${Buffer.alloc(32, 7).toString('base64')}`;
const SERVE_ENV = {
  LWA_CLIENT_ID: 'amzn1.application-oa2-client.abc',
  LWA_CLIENT_SECRET: 'CANARY-first-run-secret',
  SPAPI_APPLICATION_ID: 'amzn1.sp.solution.1234-abcd',
  SPAPI_AUTH_PUBLIC_URL: 'https://auth.example.com',
  SPAPI_AUTH_ENCRYPTION_KEYS: KEY,
};

function text(body: unknown): string {
  return typeof body === 'string' ? body : new TextDecoder().decode(body as Uint8Array);
}

function configError(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (err) {
    if (err instanceof ConfigError) return err;
    throw err;
  }
  assert.fail('expected a ConfigError');
}

test('DATABASE_URL=sqlite://./data/x.db is refused (it meant /data/x.db at the root), sqlite:<path> is the form', () => {
  for (const url of ['sqlite://./data/x.db', 'sqlite:///var/lib/x.db', 'sqlite://data/x.db']) {
    const err = configError(() => loadConfig({ ...SERVE_ENV, DATABASE_URL: url }, { mode: 'serve' }));
    assert.equal(err.variable, 'DATABASE_URL');
    assert.match(err.message, /sqlite:\/\/ is not accepted.*sqlite:<path>/);
    const cli = configError(() => loadStoreConfig({ DATABASE_URL: url }));
    assert.equal(cli.variable, 'DATABASE_URL', 'the store-only commands refuse it too');
  }
  assert.equal(
    loadConfig({ ...SERVE_ENV, DATABASE_URL: 'sqlite:/var/lib/x.db' }, { mode: 'serve' }).databaseUrl,
    'sqlite:/var/lib/x.db',
  );
  assert.equal(loadStoreConfig({ DATABASE_URL: 'sqlite:./data/x.db' }).databaseUrl, 'sqlite:./data/x.db');
});

test('serve with nothing set names every missing variable in one error', () => {
  const err = configError(() => loadConfig({}, { mode: 'serve' }));
  assert.deepEqual(err.variables, [
    'LWA_CLIENT_ID',
    'LWA_CLIENT_SECRET',
    'SPAPI_APPLICATION_ID',
    'SPAPI_AUTH_PUBLIC_URL',
    'SPAPI_AUTH_ENCRYPTION_KEYS',
  ]);
  assert.match(
    err.message,
    /^LWA_CLIENT_ID, LWA_CLIENT_SECRET, SPAPI_APPLICATION_ID, SPAPI_AUTH_PUBLIC_URL, SPAPI_AUTH_ENCRYPTION_KEYS: are required/,
  );
  const two = configError(() =>
    loadConfig({ ...SERVE_ENV, LWA_CLIENT_ID: undefined, SPAPI_AUTH_PUBLIC_URL: ' ' }, { mode: 'serve' }),
  );
  assert.deepEqual(two.variables, ['LWA_CLIENT_ID', 'SPAPI_AUTH_PUBLIC_URL']);
  // One missing keeps the message it always had.
  const one = configError(() => loadConfig({ ...SERVE_ENV, LWA_CLIENT_ID: undefined }, { mode: 'serve' }));
  assert.equal(one.variable, 'LWA_CLIENT_ID');
  assert.deepEqual(one.variables, ['LWA_CLIENT_ID']);
});

test('dev server: a path neither the service nor the emulator knows gets the service 404, not an SP-API error', async () => {
  const emulator = createEmulator({});
  const fallback = devFallback((r) => emulator.fetch(r), PUBLIC_URL);
  const req = (path: string) => ({
    method: 'GET',
    path,
    rawQuery: '',
    header: () => undefined,
    body: async () => new Uint8Array(),
    remoteAddress: '127.0.0.1',
  });
  const unknown = await fallback(req('/no/such/page'));
  assert.equal(unknown.status, 404);
  const body = JSON.parse(text(unknown.body)) as Record<string, unknown>;
  assert.deepEqual(body, { error: { code: 'not_found', message: 'No such route.' } });
  // The emulator's own pages and control API still answer through the dev origin.
  const control = await fallback(req('/__emulator/nope'));
  assert.equal(control.status, 404);
  assert.match(text(control.body), /GET \/__emulator\/ lists them/);
  const spapi = await fallback(req('/sellers/v1/marketplaceParticipations'));
  assert.equal(spapi.status, 403, 'an SP-API path is the emulator’s (no token: 403)');
});

test('dev mode logs one line per request (method, route pattern, status, time) and passes other lines on', () => {
  const out: string[] = [];
  const log = createLogger({ sink: devLogSink((t) => out.push(t)), level: 'info', now: () => 0 });
  log.info('request', { method: 'GET', route: '/oauth/callback', status: 303, duration_ms: 4.2 });
  log.warn('code exchange failed', { code: 'upstream_unavailable' });
  assert.equal(out[0], 'GET /oauth/callback → 303 (4.2 ms)\n');
  assert.match(out[1]!, /^\{"time":.*"msg":"code exchange failed"/);
});

test('dev start page: a vendor form only for marketplaces whose region has a test vendor', async () => {
  const svc = await makeOpsService({
    mode: 'dev',
    env: { SPAPI_AUTH_PUBLIC_URL: PUBLIC_URL },
    devPartners: [
      { kind: 'seller', region: 'na' },
      { kind: 'seller', region: 'eu' },
      { kind: 'vendor', region: 'na' },
    ],
  });
  try {
    const page = await (await svc.app.fetch(new Request(`${PUBLIC_URL}/`))).text();
    const forms = page.split('<form').slice(1);
    const vendor = forms.find((f) => f.includes('name="kind" value="vendor"'));
    const seller = forms.find((f) => f.includes('name="kind" value="seller"'));
    assert.ok(vendor && seller, 'a seller form and a vendor form');
    const options = (f: string) => [...f.matchAll(/<option value="([A-Z]{2})"/g)].map((m) => m[1]);
    assert.deepEqual(options(vendor).sort(), ['BR', 'CA', 'MX', 'US'], 'vendor: North America only');
    assert.ok(options(seller).includes('DE') && !options(seller).includes('JP'), 'seller: NA and EU');
    // A crafted post for a vendor in Europe is refused (nobody could confirm it).
    const res = await svc.app.fetch(
      new Request(`${PUBLIC_URL}/dev/connect`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', origin: PUBLIC_URL },
        body: 'kind=vendor&marketplace=DE',
      }),
    );
    assert.equal(res.status, 400);
  } finally {
    await svc.close();
  }
});

test('result page: a vendor is "Vendor connected", a seller "Seller connected"', async (t) => {
  const svc = await testService(t);
  await svc.emulator.control.consentMode('auto', 'A1EMUVENDORNA01');
  const created = await svc.app.fetch(
    new Request(`${PUBLIC_URL}/v1/connect-sessions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${svc.apiKey}`, 'content-type': 'application/json' },
      body: JSON.stringify({ user_ref: 'v1', marketplace: 'US', kind: 'vendor' }),
    }),
  );
  const { url } = (await created.json()) as { url: string };
  const { res, url: last } = await new Browser(svc).follow(url);
  assert.equal(res.status, 200);
  assert.match(last, /\/oauth\/result\?.*kind=vendor/);
  const text = await res.text();
  assert.match(text, /Vendor connected/);
  assert.doesNotMatch(text, /Seller connected/);
  const seller = await new Browser(svc).follow(`${PUBLIC_URL}/oauth/result?status=connected&kind=seller`);
  assert.match(await seller.res.text(), /Seller connected/);
});

test('Appstore re-authorization keeps the marketplace the seller connected with (US stays US)', async (t) => {
  // Re-authorizing a stored seller through the Appstore takes the sign-in hop (its owner).
  const svc = await testService(t, { SPAPI_AUTH_SIGNIN_URL: 'https://app.example.com/signin' });
  await connectSeller(svc, { marketplace: 'US', userRef: 'u1' });
  const before = await svc.store.getSeller({ sellingPartnerId: 'A1EMUSELLERNA01', region: 'na' });
  assert.equal(before?.marketplace, 'US');
  await svc.emulator.control.consentMode('auto', 'A1EMUSELLERNA01');
  const start = `${AMAZON_URL}/appstore/authorize?application_id=${svc.config.applicationId}&selling_partner_id=A1EMUSELLERNA01`;
  const browser = new Browser(svc);
  const { url: signin } = await browser.follow(start, (u) => u.startsWith('https://app.example.com/signin'));
  const pending = new URL(signin).searchParams.get('spapi_pending');
  const confirmed = await api(svc, 'POST', `/v1/appstore-sessions/${pending}/confirm`, { user_ref: 'u1' });
  const { url: next } = (await confirmed.json()) as { url: string };
  const { res } = await browser.follow(next);
  assert.equal(res.status, 200, await res.clone().text());
  assert.equal(await svc.lwaCalls('authorization_code'), 2, 're-authorized');
  const after = await svc.store.getSeller({ sellingPartnerId: 'A1EMUSELLERNA01', region: 'na' });
  assert.equal(after?.marketplace, 'US');
});

test('admin "Connect a seller" ends back in the dashboard, with a link to the seller page', async () => {
  const password = 'first-run-admin-password';
  const svc = await makeOpsService({ env: { SPAPI_AUTH_ADMIN_PASSWORD: password } });
  const get = (path: string, cookie?: string) =>
    svc.app.fetch(
      new Request(`${PUBLIC_URL}${path}`, { headers: cookie ? { cookie } : {}, redirect: 'manual' }),
    );
  const post = (path: string, form: Record<string, string>, cookie: string) =>
    svc.app.fetch(
      new Request(`${PUBLIC_URL}${path}`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', cookie },
        body: new URLSearchParams(form).toString(),
        redirect: 'manual',
      }),
    );
  try {
    const form = await get('/admin/login');
    const anon = cookiePair(form.headers.get('set-cookie'));
    const logged = await post('/admin/login', { csrf: csrfOf(await form.text()), password }, anon);
    const cookie = cookiePair(logged.headers.get('set-cookie'));
    const csrf = csrfOf(await (await get('/admin', cookie)).text());
    await svc.emulator.control.consentMode('auto', 'A1EMUSELLERNA01');
    const ready = await (
      await post('/admin/connect', { csrf, marketplace: 'US', kind: 'seller' }, cookie)
    ).text();
    const link = /id="continue" href="([^"]+)"/.exec(ready)?.[1] ?? '';
    const { res, url } = await new Browser(svc).follow(link);
    assert.equal(res.status, 200);
    assert.ok(url.startsWith(`${PUBLIC_URL}/admin/connected?`), `ended on ${url}`);
    const page = await res.text();
    assert.match(page, /href="\/admin\/sellers\/A1EMUSELLERNA01"/);
    assert.equal((await get('/admin/sellers/A1EMUSELLERNA01', cookie)).status, 200);
    assert.equal(
      (await get('/admin/connected?status=connected&selling_partner_id=<x>&region=na')).status,
      400,
    );
  } finally {
    await svc.close();
  }
});
