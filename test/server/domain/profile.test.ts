// The seller's profile (marketplaceParticipations) read right after the code exchange: shown by the
// API, the dashboard, the CLI and the seller.authorized webhook; a grant for another region refused
// with region_mismatch and nothing stored; a failed read keeps the authorization and is retried.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { main } from '../../../src/cli/cli.js';
import { refreshSellerProfile, startProfileSweep } from '../../../src/server/domain/profile.js';
import { silentLogger } from '../../../src/server/http/log.js';
import { api, Browser, connectSeller, PUBLIC_URL, testService } from '../../helpers/service.js';
import { makeOpsService, testOpsService } from '../../helpers/ops-service.js';

const NA_MARKETPLACES = ['US', 'CA', 'MX'];

/** Runs the background sweep at once and waits (2 s at most) until no seller lacks a profile. */
async function sweepOnce(
  store: Parameters<typeof startProfileSweep>[0]['store'],
  amazon: Parameters<typeof startProfileSweep>[0]['amazon'],
): Promise<void> {
  const stop = startProfileSweep(
    { store, amazon, log: silentLogger, now: Date.now },
    { firstDelayMs: 0, intervalMs: 60_000 },
  );
  try {
    for (let i = 0; i < 100 && (await store.listSellersWithoutProfile(1)).length > 0; i++)
      await new Promise((r) => setTimeout(r, 20));
  } finally {
    stop();
  }
}

test('after consent the seller shows its store name and marketplaces in the API and the seller.authorized event', async (t) => {
  const svc = await testService(t);
  await connectSeller(svc, { marketplace: 'US' });
  const res = await api(svc, 'GET', '/v1/sellers/A1EMUSELLERNA01');
  assert.equal(res.status, 200);
  const body = (await res.json()) as { authorizations: Record<string, unknown>[] };
  const auth = body.authorizations[0]!;
  assert.equal(auth.store_name, 'Emulator Seller (North America)');
  const markets = auth.marketplaces as {
    id: string;
    country: string;
    name: string;
    participating: boolean;
  }[];
  assert.deepEqual(
    markets.map((m) => m.country),
    NA_MARKETPLACES,
  );
  assert.deepEqual(markets[0], {
    id: 'ATVPDKIKX0DER',
    country: 'US',
    name: 'Amazon.com',
    participating: true,
    suspended_listings: false,
  });
  assert.match(String(auth.profile_fetched_at), /^\d{4}-\d\d-\d\dT/);
  const [event] = await svc.store.claimWebhookEvents('t', { limit: 1, leaseMs: 1000 });
  assert.equal(event?.data.store_name, 'Emulator Seller (North America)');
  assert.deepEqual(
    (event?.data.marketplaces as { country: string }[]).map((m) => m.country),
    NA_MARKETPLACES,
  );
});

test('a grant that works only in another region is refused with region_mismatch, a page that says where to retry, nothing stored', async (t) => {
  const svc = await testService(t);
  // Asked for Germany (Europe); the seller signs in to North America's Seller Central.
  await svc.emulator.control.consentMode('auto', 'A1EMUSELLERNA01');
  const created = await api(svc, 'POST', '/v1/connect-sessions', { user_ref: 'u1', marketplace: 'DE' });
  const { url } = (await created.json()) as { url: string };
  const { res } = await new Browser(svc).follow(url);
  assert.equal(res.status, 409);
  const page = await res.text();
  assert.match(page, /region_mismatch/);
  assert.match(page, /Seller Central North America/);
  assert.match(page, /Seller Central for Europe \(sellercentral-europe\.amazon\.com\)/);
  assert.deepEqual(await svc.store.findSellers('A1EMUSELLERNA01'), []);
  assert.deepEqual(await svc.store.webhookOutboxDepth(), { pending: 0, dead: 0 });
  // The JSON answer names the code too.
  await svc.emulator.control.consentMode('auto', 'A1EMUSELLERNA01');
  const again = await api(svc, 'POST', '/v1/connect-sessions', { user_ref: 'u1', marketplace: 'DE' });
  const link = ((await again.json()) as { url: string }).url;
  const json = await new Browser(svc).follow(link, () => false, { accept: 'application/json' });
  assert.equal(((await json.res.json()) as { error: { code: string } }).error.code, 'region_mismatch');
});

test('a failed or throttled participations read keeps the authorization; the profile is fetched later', async (t) => {
  const svc = await testService(t);
  await svc.emulator.control.fault({ target: 'spapi', status: 503, count: 10 });
  await connectSeller(svc, { marketplace: 'US' });
  const seller = await svc.store.getSeller({ sellingPartnerId: 'A1EMUSELLERNA01', region: 'na' });
  assert.equal(seller?.status, 'active', 'the authorization is kept');
  const before = (await (await api(svc, 'GET', '/v1/sellers/A1EMUSELLERNA01')).json()) as {
    authorizations: Record<string, unknown>[];
  };
  assert.equal(before.authorizations[0]!.marketplaces, null);
  assert.deepEqual(await svc.store.listSellersWithoutProfile(10), [
    { sellingPartnerId: 'A1EMUSELLERNA01', region: 'na' },
  ]);
  await svc.emulator.control.clearFaults();
  const amazon = svc.app.context.amazon;
  const check = await refreshSellerProfile(
    { store: svc.store, amazon, now: Date.now },
    {
      sellingPartnerId: 'A1EMUSELLERNA01',
      region: 'na',
    },
  );
  assert.equal(check.kind, 'ok');
  assert.equal(
    (await svc.store.getSellerProfile({ sellingPartnerId: 'A1EMUSELLERNA01', region: 'na' }))?.storeName,
    'Emulator Seller (North America)',
  );
  assert.deepEqual(await svc.store.listSellersWithoutProfile(10), []);
});

test('the background sweep fetches missing profiles', async (t) => {
  const svc = await testService(t);
  await svc.emulator.control.fault({ target: 'spapi', status: 429, count: 10 });
  await connectSeller(svc, { marketplace: 'US' });
  await svc.emulator.control.clearFaults();
  await sweepOnce(svc.store, svc.app.context.amazon);
  assert.deepEqual(await svc.store.listSellersWithoutProfile(10), []);
});

test("the sweep's own token requests are no use of the seller: an idle seller without a profile stays out of the hot set", async (t) => {
  const uses: string[] = [];
  const svc = await testOpsService(t, { onUse: (id, region) => uses.push(`${id}/${region}`) });
  await svc.emulator.control.fault({ target: 'spapi', status: 429, count: 10 });
  await connectSeller(svc, { marketplace: 'US' });
  await svc.emulator.control.clearFaults();
  svc.advance(2 * 3_600_000); // the stored token has expired: the sweep refreshes it
  await sweepOnce(svc.store, svc.amazon);
  assert.deepEqual(await svc.store.listSellersWithoutProfile(10), [], 'the sweep fetched the profile');
  assert.deepEqual(uses, []);
  // A caller's request is a use.
  const res = await api(svc, 'GET', '/v1/sellers/A1EMUSELLERNA01/access-token');
  assert.equal(res.status, 200);
  assert.deepEqual(uses, ['A1EMUSELLERNA01/na']);
});

test('the admin seller page and `sellers show` show the store name and marketplaces', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'spapi-profile-'));
  const path = join(dir, 'db.sqlite');
  const password = 'profile-admin-password';
  const svc = await makeOpsService({ sqlitePath: path, env: { SPAPI_AUTH_ADMIN_PASSWORD: password } });
  try {
    await connectSeller(svc, { marketplace: 'US' });
    const form = await svc.app.fetch(new Request(`${PUBLIC_URL}/admin/login`));
    const anon = form.headers.get('set-cookie')!.split(';')[0]!;
    const csrf = /name="csrf" value="([^"]+)"/.exec(await form.text())![1]!;
    const login = await svc.app.fetch(
      new Request(`${PUBLIC_URL}/admin/login`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', cookie: anon },
        body: new URLSearchParams({ csrf, password }).toString(),
        redirect: 'manual',
      }),
    );
    const cookie = login.headers.get('set-cookie')!.split(';')[0]!;
    const page = await (
      await svc.app.fetch(new Request(`${PUBLIC_URL}/admin/sellers/A1EMUSELLERNA01`, { headers: { cookie } }))
    ).text();
    assert.match(page, /class="store-name">Emulator Seller \(North America\)</);
    for (const c of NA_MARKETPLACES) assert.match(page, new RegExp(`>${c}</span>`));

    let out = '';
    const code = await main(['sellers', 'show', 'A1EMUSELLERNA01'], {
      env: { DATABASE_URL: `sqlite:${path}` },
      cwd: dir,
      stdout: (t) => void (out += t),
      stderr: () => {},
    });
    assert.equal(code, 0);
    assert.match(out, /store name\s+Emulator Seller \(North America\)/);
    assert.match(out, /marketplaces\s+US, CA, MX/);
    let json = '';
    await main(['sellers', 'show', 'A1EMUSELLERNA01', '--json'], {
      env: { DATABASE_URL: `sqlite:${path}` },
      cwd: dir,
      stdout: (t) => void (json += t),
      stderr: () => {},
    });
    const parsed = JSON.parse(json) as { authorizations: { store_name: string }[] };
    assert.equal(parsed.authorizations[0]!.store_name, 'Emulator Seller (North America)');
  } finally {
    await svc.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
