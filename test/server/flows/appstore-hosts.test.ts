// The Appstore Login URI accepts the `amazon_callback_uri` hosts Amazon sends — `amazon.com` (its own
// documented example), every Seller and Vendor Central host and alias, a bare path — and the whole
// flow completes through the emulator sending each; look-alikes get 400 and no redirect.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MARKETPLACES, type Region } from '../../../src/core/marketplaces.js';
import {
  AMAZON_URL,
  Browser,
  PUBLIC_URL,
  errorCode,
  makeService,
  type TestService,
  testService,
} from '../../helpers/service.js';

/** Runs the Appstore flow from Amazon's "Authorize now" to the result page; returns what it saw. */
async function appstoreFlow(
  svc: TestService,
): Promise<{ status: number; callbackUri: string; last: string }> {
  const browser = new Browser(svc);
  const { res, url } = await browser.follow(
    `${AMAZON_URL}/appstore/authorize?application_id=${svc.config.applicationId}`,
  );
  const login = browser.visited.find((u) => u.startsWith(`${PUBLIC_URL}/oauth/login?`));
  assert.ok(login, 'the Login URI was visited');
  return {
    status: res.status,
    callbackUri: new URL(login).searchParams.get('amazon_callback_uri')!,
    last: url,
  };
}

test('Appstore flow completes with the callback host amazon.com, a regional Seller Central host, a Vendor Central host and a bare path', async () => {
  const cases: [host: string, region: Region, seller: string][] = [
    ['amazon.com', 'na', 'A1EMUSELLERNA01'],
    ['sellercentral.amazon.de', 'eu', 'A1EMUSELLEREU01'],
    ['sellercentral.amazon.co.jp', 'fe', 'A1EMUSELLERFE01'],
    ['vendorcentral.amazon.co.jp', 'fe', 'A1EMUSELLERFE01'],
    ['relative', 'na', 'A1EMUSELLERNA01'],
  ];
  for (const [host, region, seller] of cases) {
    const svc = await makeService();
    try {
      await svc.emulator.control.appstoreCallbackHost(host);
      const { status, callbackUri, last } = await appstoreFlow(svc);
      const id = svc.config.applicationId;
      assert.equal(
        callbackUri,
        host === 'relative'
          ? `/apps/authorize/confirm/${id}`
          : `https://${host}/apps/authorize/confirm/${id}`,
      );
      assert.equal(status, 200, host);
      const result = new URL(last);
      assert.equal(result.origin + result.pathname, `${PUBLIC_URL}/oauth/result`, host);
      assert.equal(result.searchParams.get('region'), region, host);
      assert.equal(result.searchParams.get('selling_partner_id'), seller, host);
      const stored = await svc.store.getSeller({ sellingPartnerId: seller, region });
      assert.equal(stored?.status, 'active', host);
      assert.equal(await svc.lwaCalls('authorization_code'), 1, host);
    } finally {
      await svc.close();
    }
  }
});

test('every Seller and Vendor Central host and alias of the marketplace table is accepted at the Login URI', async (t) => {
  const svc = await testService(t);
  const id = svc.config.applicationId;
  const hosts = MARKETPLACES.flatMap((m) => [
    new URL(m.sellerCentral).hostname,
    new URL(m.vendorCentral).hostname,
    ...m.sellerCentralAliases,
    ...m.vendorCentralAliases,
  ]);
  for (const host of new Set(hosts)) {
    const res = await loginUri(svc, `https://${host}/apps/authorize/confirm/${id}`);
    assert.equal(res.status, 302, host);
    const loc = new URL(res.headers.get('location')!);
    assert.equal(loc.origin, `https://${host}`);
    assert.equal(loc.pathname, `/apps/authorize/confirm/${id}`);
  }
});

test('look-alikes of amazon.com and of Seller Central hosts: 400 invalid_callback_uri, no redirect, no cookie', async (t) => {
  const svc = await testService(t);
  const path = `/apps/authorize/confirm/${svc.config.applicationId}`;
  for (const uri of [
    `https://amazon.com.evil.example${path}`,
    `https://evilamazon.com${path}`,
    `https://www.amazon.com.evil.example${path}`,
    `https://amazon.com@evil.example${path}`,
    `https://evil.example@amazon.com${path}`,
    `https://amazon.com:443${path}`,
    `https://amazon.com:8443${path}`,
    `http://amazon.com${path}`,
    `https://amazon.com.${path}`,
    `https://sellercentral.amazon.de.${path}`,
    `https://amazоn.com${path}`, // Cyrillic о
    `https://xn--amzon-hra.com${path}`, // punycode look-alike
    `https://amazon.com${path}/../../evil`,
    `//amazon.com.evil.example${path}`,
  ]) {
    const res = await loginUri(svc, uri);
    assert.equal(res.status, 400, uri);
    assert.equal(await errorCode(res), 'invalid_callback_uri', uri);
    assert.equal(res.headers.get('location'), null, uri);
    assert.equal(res.headers.get('set-cookie'), null, uri);
  }
  assert.equal(await svc.lwaCalls(), 0);
});

function loginUri(svc: TestService, callbackUri: string): Promise<Response> {
  const u = new URL(`${PUBLIC_URL}/oauth/login`);
  u.searchParams.set('amazon_callback_uri', callbackUri);
  u.searchParams.set('amazon_state', 'amz-state-1');
  u.searchParams.set('selling_partner_id', 'A1EMUSELLERNA01');
  return svc.app.fetch(new Request(u, { headers: { accept: 'application/json' } }));
}
