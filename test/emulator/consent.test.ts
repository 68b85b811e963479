// Consent pages and the Appstore hop, as Amazon documents them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createEmulator, TEST_SELLERS, type EmulatorApplication } from '../../src/emulator/index.js';
import { APP, REDIRECT, consentCode, tokenRequest } from './helpers.js';

const SC = 'https://sellercentral.amazon.com';
const consentUrl = (q: Record<string, string>, base = SC) =>
  `${base}/apps/authorize/consent?${new URLSearchParams(q)}`;

async function errorCode(res: Response): Promise<string | null> {
  assert.match(res.headers.get('content-type') ?? '', /^text\/html/);
  const text = await res.text();
  const code = res.headers.get('x-emulator-error-code');
  if (code !== null) assert.ok(text.includes(code), 'the page shows the error code');
  return code;
}

/** Posts the page's form as a browser would. */
function decide(fetch: typeof globalThis.fetch, form: Record<string, string>): Promise<Response> {
  return fetch(`${SC}/apps/authorize/consent`, {
    method: 'POST',
    body: new URLSearchParams(form),
    redirect: 'manual',
  });
}

function hidden(html: string, name: string): string {
  const m = new RegExp(`name="${name}" value="([^"]*)"`).exec(html);
  assert.ok(m, `hidden field ${name}`);
  return m[1]!;
}

test('page mode: an escaped HTML page with the app name, a seller picker and Confirm/Cancel', async () => {
  const evil: EmulatorApplication = { ...APP, name: '<script>alert("x")</script> & Co' };
  const emulator = createEmulator({ applications: [evil] });
  const res = await emulator.fetch(consentUrl({ application_id: APP.id, state: 's"><b>' }));
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-security-policy') ?? '', /default-src 'none'/);
  const html = await res.text();
  assert.ok(!html.includes('<script>alert'), 'app name escaped');
  assert.ok(html.includes('&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; Co'));
  assert.ok(!html.includes('s"><b>'), 'state never echoed raw');
  assert.match(html, /id="confirm"/);
  assert.match(html, /id="cancel"/);
  // sellercentral.amazon.com: only NA sellers (not the vendor) are offered.
  assert.ok(html.includes('A1EMUSELLERNA01') && html.includes('A1EMUSELLERGL01'));
  assert.ok(!html.includes('A1EMUSELLEREU01') && !html.includes('A1EMUVENDORNA01'));
});

test('Confirm redirects to the redirect URI with state, selling_partner_id and spapi_oauth_code', async () => {
  const emulator = createEmulator();
  const res = await emulator.fetch(
    consentUrl({ application_id: APP.id, state: 'abc 123' }, 'https://sellercentral-europe.amazon.com'),
  );
  const html = await res.text();
  assert.ok(
    html.includes('A1EMUSELLEREU01') && !html.includes('A1EMUSELLERNA01'),
    'EU host offers EU sellers',
  );
  const confirm = await decide(emulator.fetch, {
    consent_id: hidden(html, 'consent_id'),
    seller: 'A1EMUSELLERGL01:eu',
    action: 'confirm',
  });
  assert.equal(confirm.status, 302);
  const location = new URL(confirm.headers.get('location')!);
  assert.equal(location.origin + location.pathname, REDIRECT);
  assert.deepEqual([...location.searchParams.keys()], ['state', 'selling_partner_id', 'spapi_oauth_code']);
  assert.equal(location.searchParams.get('state'), 'abc 123');
  assert.equal(location.searchParams.get('selling_partner_id'), 'A1EMUSELLERGL01');
  assert.match(location.searchParams.get('spapi_oauth_code')!, /^AN[A-Za-z0-9]{20}$/);
  // The page is single use.
  const again = await decide(emulator.fetch, {
    consent_id: hidden(html, 'consent_id'),
    seller: 'A1EMUSELLERGL01:eu',
    action: 'confirm',
  });
  assert.equal(await errorCode(again), 'consent_expired');
  const stats = await emulator.control.stats();
  assert.equal(stats.consent.page, 1);
  assert.equal(stats.consent.confirm, 1);
  assert.equal(stats.consent_by_seller.A1EMUSELLERGL01, 1);
});

test('Cancel stays on Amazon: no redirect, no code', async () => {
  const emulator = createEmulator();
  const html = await (await emulator.fetch(consentUrl({ application_id: APP.id, state: 's' }))).text();
  const res = await decide(emulator.fetch, {
    consent_id: hidden(html, 'consent_id'),
    seller: 'A1EMUSELLERNA01:na',
    action: 'cancel',
  });
  assert.equal(res.status, 200);
  assert.equal(res.headers.get('location'), null);
  assert.match(await res.text(), /cancelled/);
  assert.equal((await emulator.control.stats()).consent.cancel, 1);
});

test('the form refuses a seller it did not offer, a bad action and a non-form body', async () => {
  const emulator = createEmulator();
  const html = await (await emulator.fetch(consentUrl({ application_id: APP.id }))).text();
  const id = hidden(html, 'consent_id');
  assert.equal(
    await errorCode(
      await decide(emulator.fetch, { consent_id: id, seller: 'A1NOBODY:na', action: 'confirm' }),
    ),
    'unknown_seller',
  );
  assert.equal(
    await errorCode(
      await decide(emulator.fetch, { consent_id: id, seller: 'A1EMUSELLERNA01:fe', action: 'confirm' }),
    ),
    'unknown_seller',
  );
  assert.equal(
    await errorCode(await decide(emulator.fetch, { consent_id: id, action: 'maybe' })),
    'bad_request',
  );
  const json = await emulator.fetch(`${SC}/apps/authorize/consent`, {
    method: 'POST',
    body: '{}',
    headers: { 'content-type': 'application/json' },
  });
  assert.equal(json.status, 415);
  const put = await emulator.fetch(`${SC}/apps/authorize/consent`, { method: 'PUT' });
  assert.equal(put.status, 405);
});

test('Amazon’s consent errors: unknown application, MD1000, MD5101, MD5110', async () => {
  const draft: EmulatorApplication = {
    ...APP,
    id: 'amzn1.sp.solution.draft',
    clientId: 'amzn1.application-oa2-client.draft',
    draft: true,
  };
  const emulator = createEmulator({ applications: [APP, draft] });
  const f = emulator.fetch;
  const unknown = await f(consentUrl({ application_id: APP.clientId, state: 's' }));
  assert.equal(unknown.status, 404);
  assert.equal(await errorCode(unknown), 'unknown_application');
  assert.equal(await errorCode(await f(consentUrl({ state: 's' }))), 'unknown_application');
  assert.equal(await errorCode(await f(consentUrl({ application_id: draft.id, state: 's' }))), 'MD1000');
  assert.equal((await f(consentUrl({ application_id: draft.id, state: 's', version: 'beta' }))).status, 200);
  assert.equal(
    await errorCode(await f(consentUrl({ application_id: APP.id, redirect_uri: 'https://evil.example/cb' }))),
    'MD5101',
  );
  assert.equal(
    await errorCode(await f(consentUrl({ application_id: APP.id, redirect_uri: `${REDIRECT}#frag` }))),
    'MD5110',
  );
  assert.equal(
    await errorCode(
      await f(consentUrl({ application_id: APP.id, code_challenge: 'short', code_challenge_method: 'S256' })),
    ),
    'invalid_code_challenge',
  );
  const stats = await emulator.control.stats();
  assert.equal(stats.consent.MD1000, 1);
  assert.equal(stats.consent.MD5101, 1);
  assert.equal(stats.consent.MD5110, 1);
});

test('auto mode: default seller by host, or the one the control API names', async () => {
  const emulator = createEmulator();
  await emulator.control.consentMode('auto');
  assert.equal((await consentCode(emulator.fetch)).sellingPartnerId, 'A1EMUSELLERNA01');
  assert.equal(
    (await consentCode(emulator.fetch, {}, 'https://sellercentral.amazon.co.jp')).sellingPartnerId,
    'A1EMUSELLERFE01',
  );
  assert.equal(
    (await consentCode(emulator.fetch, {}, 'https://vendorcentral.amazon.com')).sellingPartnerId,
    'A1EMUVENDORNA01',
  );
  assert.equal(
    (await consentCode(emulator.fetch, {}, 'https://sellercentral.amazon.co.uk')).sellingPartnerId,
    'A1EMUSELLEREU01',
  );
  await emulator.control.consentMode('auto', 'A1EMUSELLERGL01');
  const gl = await consentCode(emulator.fetch, {}, 'https://sellercentral.amazon.de');
  assert.equal(gl.sellingPartnerId, 'A1EMUSELLERGL01');
  assert.equal(gl.state, 'st-1');
  await assert.rejects(emulator.control.consentMode('auto', 'A1NOBODY'), { code: 'invalid_consent' });
  await emulator.control.consentMode('page');
  assert.equal(
    (await emulator.fetch(consentUrl({ application_id: APP.id }), { redirect: 'manual' })).status,
    200,
  );
});

test('the seeded test sellers look like Amazon merchant ids and cover NA, EU, FE and a vendor', () => {
  for (const s of TEST_SELLERS) assert.match(s.sellingPartnerId, /^A[0-9A-Z]{13,14}$/);
  const regions = new Set(TEST_SELLERS.flatMap((s) => s.regions));
  assert.deepEqual([...regions].sort(), ['eu', 'fe', 'na']);
  assert.ok(TEST_SELLERS.some((s) => s.kind === 'vendor'));
});

test('Appstore hop: Login URI with amazon_callback_uri, amazon_state, selling_partner_id; confirm checks amazon_state', async () => {
  const emulator = createEmulator();
  await emulator.control.consentMode('auto');
  const origin = 'http://127.0.0.1:4010';
  const hop = await emulator.fetch(
    `${origin}/appstore/authorize?application_id=${APP.id}&selling_partner_id=A1EMUSELLEREU01`,
    { redirect: 'manual' },
  );
  assert.equal(hop.status, 302);
  const login = new URL(hop.headers.get('location')!);
  assert.equal(login.origin + login.pathname, APP.loginUri);
  const callback = login.searchParams.get('amazon_callback_uri')!;
  // The emulator's origin serves every region, so it names the region in a hint.
  assert.equal(callback, `${origin}/apps/authorize/confirm/${APP.id}?region=eu`);
  assert.equal(login.searchParams.get('selling_partner_id'), 'A1EMUSELLEREU01');
  const amazonState = login.searchParams.get('amazon_state')!;
  assert.ok(amazonState.length >= 20);
  assert.equal(login.searchParams.get('version'), null);

  const bad = await emulator.fetch(
    `${callback}&${new URLSearchParams({ amazon_state: 'forged', state: 'ours', redirect_uri: REDIRECT })}`,
    { redirect: 'manual' },
  );
  assert.equal(await errorCode(bad), 'invalid_amazon_state');
  const ok = await emulator.fetch(
    `${callback}&${new URLSearchParams({ amazon_state: amazonState, state: 'ours', redirect_uri: REDIRECT })}`,
    { redirect: 'manual' },
  );
  assert.equal(ok.status, 302);
  const back = new URL(ok.headers.get('location')!);
  assert.equal(back.searchParams.get('state'), 'ours');
  assert.equal(back.searchParams.get('selling_partner_id'), 'A1EMUSELLEREU01');
  const code = back.searchParams.get('spapi_oauth_code')!;
  assert.equal(
    (await tokenRequest(emulator.fetch, { grant_type: 'authorization_code', code, redirect_uri: REDIRECT }))
      .status,
    200,
  );
  // amazon_state is single use.
  const reuse = await emulator.fetch(
    `${callback}&${new URLSearchParams({ amazon_state: amazonState, state: 'ours' })}`,
    { redirect: 'manual' },
  );
  assert.equal(await errorCode(reuse), 'invalid_amazon_state');
});

test('Appstore hop errors and page mode: draft needs version=beta, no Login URI, vendors, page shows the fixed seller', async () => {
  const draft: EmulatorApplication = { ...APP, draft: true };
  const { loginUri: _drop, ...rest } = APP;
  const noLogin: EmulatorApplication = {
    ...rest,
    id: 'amzn1.sp.solution.nologin',
    clientId: 'amzn1.application-oa2-client.nologin',
  };
  const emulator = createEmulator({ applications: [draft, noLogin] });
  const f = (u: string) => emulator.fetch(u, { redirect: 'manual' });
  assert.equal(await errorCode(await f(`${SC}/appstore/authorize?application_id=${draft.id}`)), 'MD1000');
  assert.equal(await errorCode(await f(`${SC}/appstore/authorize?application_id=${noLogin.id}`)), 'MD9100');
  assert.equal(
    await errorCode(
      await f(
        `${SC}/appstore/authorize?application_id=${draft.id}&version=beta&selling_partner_id=A1EMUVENDORNA01`,
      ),
    ),
    'unknown_seller',
  );
  const hop = await f(`${SC}/appstore/authorize?application_id=${draft.id}&version=beta`);
  const login = new URL(hop.headers.get('location')!);
  assert.equal(login.searchParams.get('version'), 'beta');
  const callback = new URL(login.searchParams.get('amazon_callback_uri')!);
  callback.searchParams.set('amazon_state', login.searchParams.get('amazon_state')!);
  callback.searchParams.set('state', 'x');
  const noBeta = await f(callback.href);
  assert.equal(await errorCode(noBeta), 'MD1000');
  const hop2 = new URL(
    (await f(`${SC}/appstore/authorize?application_id=${draft.id}&version=beta`)).headers.get('location')!,
  );
  const cb2 = new URL(hop2.searchParams.get('amazon_callback_uri')!);
  cb2.searchParams.set('amazon_state', hop2.searchParams.get('amazon_state')!);
  cb2.searchParams.set('version', 'beta');
  const pageRes = await f(cb2.href);
  assert.equal(pageRes.status, 200);
  const html = await pageRes.text();
  assert.ok(html.includes('A1EMUSELLERNA01'));
  assert.ok(!html.includes('A1EMUSELLERGL01'), 'only the seller Amazon named is offered');
  assert.equal(
    (await emulator.fetch(`${SC}/appstore/authorize?application_id=${draft.id}`, { method: 'POST' })).status,
    405,
  );
});

test('region hint on the emulator’s own origin; Amazon hosts get none', async () => {
  const emulator = createEmulator();
  await emulator.control.consentMode('auto');
  const local = 'http://127.0.0.1:4010';
  assert.equal(
    (await consentCode(emulator.fetch, { region: 'eu' }, local)).sellingPartnerId,
    'A1EMUSELLEREU01',
  );
  assert.equal(
    (await consentCode(emulator.fetch, { region: 'fe' }, local)).sellingPartnerId,
    'A1EMUSELLERFE01',
  );
  assert.equal(
    (await consentCode(emulator.fetch, { kind: 'vendor' }, local)).sellingPartnerId,
    'A1EMUVENDORNA01',
  );
  assert.equal(
    (await consentCode(emulator.fetch, { region: 'mars' }, local)).sellingPartnerId,
    'A1EMUSELLERNA01',
  );
  const hop = await emulator.fetch(
    `https://sellercentral.amazon.co.jp/appstore/authorize?application_id=${APP.id}`,
    {
      redirect: 'manual',
    },
  );
  const login = new URL(hop.headers.get('location')!);
  assert.equal(login.searchParams.get('selling_partner_id'), 'A1EMUSELLERFE01');
  assert.equal(
    login.searchParams.get('amazon_callback_uri'),
    `https://sellercentral.amazon.co.jp/apps/authorize/confirm/${APP.id}`,
  );
});
