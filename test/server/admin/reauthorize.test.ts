// Re-authorization from the dashboard, through the real HTTP app: the seller page's "Re-authorize"
// (a CSRF-checked POST) makes a connect link naming the seller and its owner, shows it to copy and
// says how long it lives; the seller who opens it renews the stored authorization. The flows'
// dead ends (a stored seller connected again without a named link) say what to do next and lead
// back to where the flow started.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Browser, PUBLIC_URL, api, connectSeller } from '../../helpers/service.js';
import {
  browserCall,
  csrfOf,
  makeOpsService,
  passwordSession,
  type OpsService,
  testOpsService,
} from '../../helpers/ops-service.js';
import { FLOW_TTL_MS } from '../../../src/server/flows/connect-link.js';
import { markReauthorizationRequired } from '../../helpers/sellers.js';

const PASSWORD = 'correct horse battery staple';
const SELLER = 'A1EMUSELLERNA01';
const KEY = { sellingPartnerId: SELLER, region: 'na' } as const;

async function withAdmin(fn: (svc: OpsService, cookie: string) => Promise<void>): Promise<void> {
  const svc = await makeOpsService({ env: { SPAPI_AUTH_ADMIN_PASSWORD: PASSWORD } });
  try {
    await fn(svc, await passwordSession(browserCall(svc.app), PASSWORD));
  } finally {
    await svc.close();
  }
}

/** The link on a "link ready" page. */
function linkOf(page: string): string {
  const m = /id="continue" href="([^"]+)"/.exec(page);
  assert.ok(m, 'the page shows the link');
  return m[1]!.replace(/&#38;/g, '&');
}

test('Re-authorize on the seller page makes a link naming the seller; the seller renews through it', () =>
  withAdmin(async (svc, cookie) => {
    const call = browserCall(svc.app);
    await connectSeller(svc, { userRef: 'acct-1' });
    const before = (await svc.store.getSeller(KEY))!;
    const rt0 = (await svc.store.loadTokens(KEY))!.refreshToken;

    const detail = await (await call(`/admin/sellers/${SELLER}`, cookie)).text();
    assert.match(detail, new RegExp(`action="/admin/sellers/${SELLER}/reauthorize"`));
    assert.match(detail, /id="reauthorize-na"/);
    const csrf = csrfOf(detail);

    // No CSRF token, a wrong one, or no session: refused, no link made.
    assert.equal((await call(`/admin/sellers/${SELLER}/reauthorize`, cookie, { region: 'na' })).status, 403);
    assert.equal(
      (await call(`/admin/sellers/${SELLER}/reauthorize`, cookie, { region: 'na', csrf: 'x' })).status,
      403,
    );
    assert.notEqual(
      (await call(`/admin/sellers/${SELLER}/reauthorize`, undefined, { region: 'na', csrf })).status,
      200,
    );
    // A region it has no authorization in, a malformed region.
    const eu = await call(`/admin/sellers/${SELLER}/reauthorize`, cookie, { region: 'eu', csrf });
    assert.equal(eu.status, 404);
    assert.match(await eu.text(), /seller_not_found/);
    assert.equal(
      (await call(`/admin/sellers/${SELLER}/reauthorize`, cookie, { region: 'xx', csrf })).status,
      400,
    );
    const named = async (): Promise<(string | null)[]> => {
      await svc.app.context.audit.flush();
      return (await svc.store.listAudit({ sellingPartnerId: SELLER, limit: 100 }))
        .filter((r) => r.action === 'connect_session.created')
        .map((r) => r.actor);
    };
    assert.deepEqual(await named(), [], 'no link was made');

    svc.advance(60_000);
    const res = await call(`/admin/sellers/${SELLER}/reauthorize`, cookie, { region: 'na', csrf });
    assert.equal(res.status, 200);
    const page = await res.text();
    const link = linkOf(page);
    assert.match(link, new RegExp(`^${PUBLIC_URL}/connect/[A-Za-z0-9_-]{43}$`));
    // To copy and send, and how long it lives: the link's own lifetime.
    assert.ok(page.includes(`value="${link}"`), 'the link in a field to copy');
    assert.ok(page.includes(`for ${FLOW_TTL_MS / 60_000} minutes`), 'its lifetime');
    const expires = /id="link-expires">([^<]+)</.exec(page)?.[1];
    assert.ok(expires !== undefined && Date.parse(expires) > Date.now(), 'its expiry time');
    assert.match(page, /acct-1/);

    // The seller opens it: the stored authorization is renewed (a link without the seller's name
    // would end in seller_already_connected, see below).
    const { res: last, url } = await new Browser(svc).follow(link);
    assert.equal(last.status, 200, await last.clone().text());
    assert.ok(url.startsWith(`${PUBLIC_URL}/admin/connected?status=connected`), url);
    const after = (await svc.store.getSeller(KEY))!;
    assert.ok(after.authorizedAt > before.authorizedAt, 'the 365 days start again');
    assert.equal(after.userRef, 'acct-1');
    assert.ok((await svc.store.loadTokens(KEY))!.refreshToken !== rt0, 'the new grant is stored');

    assert.deepEqual(await named(), ['admin:password'], 'the link is audited with its operator');
    const audit = await svc.store.listAudit({ sellingPartnerId: SELLER, limit: 100 });
    assert.equal(audit.filter((r) => r.action === 'seller.authorized').length, 2);
  }));

test('a seller that must re-authorize says so on its page, with the Re-authorize action', () =>
  withAdmin(async (svc, cookie) => {
    await connectSeller(svc, { userRef: 'acct-1' });
    await markReauthorizationRequired(svc.store, KEY);
    const page = await (await browserCall(svc.app)(`/admin/sellers/${SELLER}`, cookie)).text();
    assert.match(page, /id="reauthorize-needed-na"/);
    assert.match(page, /id="reauthorize-na"/);
    // The token API's refusal says the same.
    const res = await api(svc, 'GET', `/v1/sellers/${SELLER}/access-token`);
    assert.equal(res.status, 409);
    const body = (await res.json()) as { error: { code: string; message: string } };
    assert.equal(body.error.code, 'seller_reauthorization_required');
    assert.match(body.error.message, /re-authorization link/);
  }));

test('"Connect a seller" on a stored seller: the refusal says what to do and leads back to the seller page', () =>
  withAdmin(async (svc, cookie) => {
    const call = browserCall(svc.app);
    await connectSeller(svc, { userRef: 'acct-1' });
    const csrf = csrfOf(await (await call('/admin/connect', cookie)).text());
    const res = await call('/admin/connect', cookie, { csrf, marketplace: 'US', kind: 'seller' });
    const { res: refused } = await new Browser(svc).follow(linkOf(await res.text()));
    assert.equal(refused.status, 409);
    const page = await refused.text();
    assert.match(page, /seller_already_connected/);
    assert.match(page, /id="next-step"[^>]*>[^<]*re-authorization link/);
    const back = /id="back" href="([^"]+)"/.exec(page)?.[1]?.replace(/&#38;/g, '&');
    assert.ok(back !== undefined, 'a way back');
    const u = new URL(back);
    assert.equal(u.origin + u.pathname, `${PUBLIC_URL}/admin/connected`);
    assert.equal(u.searchParams.get('status'), 'error');
    assert.equal(u.searchParams.get('error'), 'seller_already_connected');
    // The dashboard's landing page names the seller and opens it (where Re-authorize is).
    const landing = await call(`${u.pathname}${u.search}`);
    const text = await landing.text();
    assert.match(text, /Not connected/);
    assert.match(text, /Re-authorize/);
    assert.match(text, new RegExp(`id="open-seller" href="/admin/sellers/${SELLER}"`));
    // Only registered codes are shown; anything else is refused.
    assert.equal(
      (await call(`/admin/connected?status=error&error=%3Cb%3E&selling_partner_id=${SELLER}&region=na`))
        .status,
      400,
    );
  }));

test('a website link with return_to: the refusal page links back to return_to with the error', async (t) => {
  const svc = await testOpsService(t);
  await connectSeller(svc, { userRef: 'acct-1' });
  const created = await api(svc, 'POST', '/v1/connect-sessions', {
    user_ref: 'acct-1',
    marketplace: 'US',
    return_to: 'https://app.example.com/sellers/done',
  });
  const { url } = (await created.json()) as { url: string };
  const { res } = await new Browser(svc).follow(url);
  assert.equal(res.status, 409);
  const page = await res.text();
  const back = new URL(/id="back" href="([^"]+)"/.exec(page)![1]!.replace(/&#38;/g, '&'));
  assert.equal(back.origin + back.pathname, 'https://app.example.com/sellers/done');
  assert.deepEqual(Object.fromEntries(back.searchParams), {
    status: 'error',
    error: 'seller_already_connected',
    selling_partner_id: SELLER,
    region: 'na',
  });
  // Without a return_to (the Appstore flow without sign-in) the page still says what to do.
  const plain = await api(svc, 'POST', '/v1/connect-sessions', { user_ref: 'acct-1', marketplace: 'US' });
  const { res: res2 } = await new Browser(svc).follow(((await plain.json()) as { url: string }).url);
  const page2 = await res2.text();
  assert.match(page2, /id="next-step"/);
  assert.doesNotMatch(page2, /id="back"/);
});
