// The ownership policy (src/server/domain/ownership.ts) through every flow, on SQLite and
// PostgreSQL: Seller Central's "Re-authorize" (the Appstore flow, default configuration) renews a
// stored seller when the new grant's profile is its account's, and every way another Amazon
// account's grant could reach a stored seller — another region, the sign-in hop, relinking, a
// leaked named link — is refused with nothing written and the seller's own calls served as before.
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Region } from '../../../src/core/marketplaces.js';
import { devApplication } from '../../../src/emulator/index.js';
import { dropSchemas, postgresSuiteRuns, runSchema, tempDir } from '../../storage/helpers.js';
import { grantAtEmulator } from '../../helpers/grants.js';
import {
  AMAZON_URL,
  Browser,
  CANARY_SECRET,
  PUBLIC_URL,
  api,
  errorCode,
  makeService,
  type TestService,
} from '../../helpers/service.js';
import { closeAfter } from '../../helpers/after.js';

/** The victim: a seller in North America only. */
const VICTIM = 'A1EMUSELLERNA01';
/** The attacker's own Amazon account, a seller in NA and EU. */
const ATTACKER = 'A1EMUSELLERGL01';
const SIGNIN = 'https://app.example.com/signin';
const JSON_ACCEPT = { accept: 'application/json' };

function edited(url: string, name: string, value: string): string {
  const u = new URL(url);
  u.searchParams.set(name, value);
  return u.href;
}

/**
 * The Appstore flow as `account` runs it from Seller Central; `claim` is the id written over the
 * Login URI's and the callback's; with a sign-in page the app signs the browser in as `userRef`.
 * Answers the callback's response (303 when filed) or the confirm call's when it refused.
 */
async function appstoreAs(
  svc: TestService,
  account: string,
  opts: { claim?: string; region?: Region; userRef?: string; accept?: string } = {},
): Promise<Response> {
  const browser = new Browser(svc);
  const region = opts.region ? `&region=${opts.region}` : '';
  const { url: login } = await browser.follow(
    `${AMAZON_URL}/appstore/authorize?application_id=${svc.config.applicationId}&selling_partner_id=${account}${region}`,
    (u) => u.startsWith(`${PUBLIC_URL}/oauth/login`),
  );
  let next = opts.claim ? edited(login, 'selling_partner_id', opts.claim) : login;
  if (svc.config.signinUrl !== undefined) {
    const { url } = await browser.follow(next, (u) => u.startsWith(SIGNIN));
    const pending = new URL(url).searchParams.get('spapi_pending')!;
    const confirmed = await api(svc, 'POST', `/v1/appstore-sessions/${pending}/confirm`, {
      user_ref: opts.userRef ?? 'u1',
    });
    if (confirmed.status !== 200) return confirmed;
    next = ((await confirmed.json()) as { url: string }).url;
  }
  const { url: callback } = await browser.follow(next, (u) => u.startsWith(`${PUBLIC_URL}/oauth/callback`));
  assert.equal(
    new URL(callback).searchParams.get('selling_partner_id'),
    account,
    'Amazon names the real account',
  );
  const cb = opts.claim ? edited(callback, 'selling_partner_id', opts.claim) : callback;
  return browser.request(cb, { accept: opts.accept ?? JSON_ACCEPT.accept });
}

/** The website flow: a connect link made with `session`, consented by `account`, the callback's id set to `claim`. */
async function websiteAs(
  svc: TestService,
  account: string,
  session: { user_ref: string; marketplace: string; selling_partner_id?: string },
  claim?: string,
): Promise<Response> {
  await svc.emulator.control.consentMode('auto', account);
  const created = await api(svc, 'POST', '/v1/connect-sessions', session);
  assert.equal(created.status, 201, await created.clone().text());
  const { url } = (await created.json()) as { url: string };
  const browser = new Browser(svc);
  const { url: callback } = await browser.follow(url, (u) => u.startsWith(`${PUBLIC_URL}/oauth/callback`));
  return browser.request(claim ? edited(callback, 'selling_partner_id', claim) : callback, JSON_ACCEPT);
}

async function refreshTokens(svc: TestService, id: string): Promise<Record<string, string | undefined>> {
  const out: Record<string, string | undefined> = {};
  for (const s of await svc.store.findSellers(id))
    out[s.region] = (await svc.store.loadTokens(s))?.refreshToken;
  return out;
}

/** The seller's own token call without `?region`: the region it is served in. */
async function defaultRegion(svc: TestService, id: string): Promise<string> {
  const res = await api(svc, 'GET', `/v1/sellers/${id}/access-token`);
  assert.equal(res.status, 200, await res.clone().text());
  return ((await res.json()) as { region: string }).region;
}

async function refusals(svc: TestService, id: string): Promise<(string | null)[]> {
  await svc.app.context.audit.flush();
  return (await svc.store.listAudit({ sellingPartnerId: id, limit: 100 }))
    .filter((r) => r.action === 'seller.authorization_refused')
    .map((r) => r.outcome);
}

function ownershipSuite(engine: string, open: (env?: Record<string, string>) => Promise<TestService>): void {
  describe(`ownership policy (${engine})`, () => {
    it("Seller Central's Re-authorize (Appstore flow, no sign-in page) renews the stored seller when the grant is its account's", async (t) => {
      const svc = closeAfter(t, await open());
      assert.equal((await websiteAs(svc, VICTIM, { user_ref: 'victim', marketplace: 'US' })).status, 303);
      const before = await refreshTokens(svc, VICTIM);
      const res = await appstoreAs(svc, VICTIM);
      assert.equal(res.status, 303, await res.clone().text());
      const after = await refreshTokens(svc, VICTIM);
      assert.deepEqual(Object.keys(after), ['na']);
      assert.notEqual(after.na, before.na, 'the new grant is stored');
      const seller = (await svc.store.findSellers(VICTIM))[0]!;
      assert.equal(seller.userRef, 'victim', 'the owner is kept');
      assert.equal(seller.marketplace, 'US', 'the marketplace it was connected with is kept');
      assert.equal(await defaultRegion(svc, VICTIM), 'na');
    });

    it('another account through Re-authorize (Login URI and callback id edited): refused with a page, JSON and an audit record; the stored grant untouched', async (t) => {
      const svc = closeAfter(t, await open());
      assert.equal((await websiteAs(svc, VICTIM, { user_ref: 'victim', marketplace: 'US' })).status, 303);
      const before = await refreshTokens(svc, VICTIM);
      const json = await appstoreAs(svc, ATTACKER, { claim: VICTIM });
      assert.equal(json.status, 409);
      assert.equal(await errorCode(json), 'seller_account_mismatch');
      const page = await appstoreAs(svc, ATTACKER, { claim: VICTIM, accept: 'text/html' });
      assert.equal(page.status, 409);
      assert.match(page.headers.get('content-type') ?? '', /text\/html/);
      assert.match(await page.text(), /seller_account_mismatch/);
      assert.deepEqual(await refreshTokens(svc, VICTIM), before);
      assert.equal((await svc.store.findSellers(VICTIM))[0]!.userRef, 'victim');
      assert.deepEqual(await refusals(svc, VICTIM), ['seller_account_mismatch', 'seller_account_mismatch']);
    });

    it("cross-region, Appstore: another account's EU grant under an NA-only seller's id is not filed as <victim>/eu; the default region stays", async (t) => {
      const svc = closeAfter(t, await open());
      assert.equal((await websiteAs(svc, VICTIM, { user_ref: 'victim', marketplace: 'US' })).status, 303);
      const res = await appstoreAs(svc, ATTACKER, { claim: VICTIM, region: 'eu' });
      assert.equal(res.status, 409);
      assert.equal(await errorCode(res), 'seller_account_mismatch');
      assert.deepEqual(
        (await svc.store.findSellers(VICTIM)).map((s) => s.region),
        ['na'],
        'no row in another region',
      );
      assert.equal(await defaultRegion(svc, VICTIM), 'na');
    });

    it('cross-region, website: a DE link of another user_ref onto a seller owned in NA is refused before the code is spent', async (t) => {
      const svc = closeAfter(t, await open());
      assert.equal((await websiteAs(svc, VICTIM, { user_ref: 'victim', marketplace: 'US' })).status, 303);
      const codes = await svc.lwaCalls('authorization_code');
      const res = await websiteAs(svc, ATTACKER, { user_ref: 'mallory', marketplace: 'DE' }, VICTIM);
      assert.equal(res.status, 409);
      assert.equal(await errorCode(res), 'seller_owned_by_other_user');
      assert.equal(await svc.lwaCalls('authorization_code'), codes);
      assert.deepEqual(
        (await svc.store.findSellers(VICTIM)).map((s) => s.region),
        ['na'],
      );
      assert.equal(await defaultRegion(svc, VICTIM), 'na');
    });

    it("cross-region, website, same user_ref: another account's DE grant is not filed as a new region of the seller", async (t) => {
      const svc = closeAfter(t, await open());
      assert.equal((await websiteAs(svc, VICTIM, { user_ref: 'victim', marketplace: 'US' })).status, 303);
      const res = await websiteAs(svc, ATTACKER, { user_ref: 'victim', marketplace: 'DE' }, VICTIM);
      assert.equal(res.status, 409);
      assert.equal(await errorCode(res), 'seller_account_mismatch');
      assert.deepEqual(
        (await svc.store.findSellers(VICTIM)).map((s) => s.region),
        ['na'],
      );
    });

    it("a seller's own new region is a re-authorization of it: filed under the seller's owner", async (t) => {
      const svc = closeAfter(t, await open());
      assert.equal((await websiteAs(svc, ATTACKER, { user_ref: 'owner', marketplace: 'US' })).status, 303);
      // The same account, from Seller Central Europe, through the Appstore flow (no owner of its own).
      const res = await appstoreAs(svc, ATTACKER, { region: 'eu' });
      assert.equal(res.status, 303, await res.clone().text());
      const rows = await svc.store.findSellers(ATTACKER);
      assert.deepEqual(
        rows.map((s) => [s.region, s.userRef]),
        [
          ['eu', 'owner'],
          ['na', 'owner'],
        ],
      );
    });

    it('a leaked named re-authorization link opened by another Amazon account is refused; the seller renews through it', async (t) => {
      const svc = closeAfter(t, await open());
      assert.equal((await websiteAs(svc, VICTIM, { user_ref: 'u1', marketplace: 'US' })).status, 303);
      const before = await refreshTokens(svc, VICTIM);
      const named = { user_ref: 'u1', marketplace: 'US', selling_partner_id: VICTIM };
      const res = await websiteAs(svc, ATTACKER, named, VICTIM);
      assert.equal(res.status, 409);
      assert.equal(await errorCode(res), 'seller_account_mismatch');
      assert.deepEqual(await refreshTokens(svc, VICTIM), before);
      assert.equal((await websiteAs(svc, VICTIM, named)).status, 303);
      assert.notEqual((await refreshTokens(svc, VICTIM)).na, before.na);
    });

    it('the sign-in hop does not let another account claim a seller without an owner; the seller itself claims it', async (t) => {
      const svc = closeAfter(t, await open({ SPAPI_AUTH_SIGNIN_URL: SIGNIN }));
      // Connected through the Appstore before the sign-in page was set: stored without an owner.
      const grant = await grantAtEmulator(svc.emulator, devApplication(PUBLIC_URL), CANARY_SECRET, VICTIM);
      await svc.store.saveAuthorization({
        sellingPartnerId: VICTIM,
        region: 'na',
        kind: 'seller',
        userRef: null,
        marketplace: 'US',
        refreshToken: grant.refreshToken,
      });
      const res = await appstoreAs(svc, ATTACKER, { claim: VICTIM, userRef: 'mallory' });
      assert.equal(res.status, 409);
      assert.equal(await errorCode(res), 'seller_account_mismatch');
      assert.equal((await svc.store.findSellers(VICTIM))[0]!.userRef, null);
      assert.equal((await refreshTokens(svc, VICTIM)).na, grant.refreshToken);
      // The seller's own account through the same hop: the stored grant's profile matches.
      const own = await appstoreAs(svc, VICTIM, { userRef: 'user-7' });
      assert.equal(own.status, 303, await own.clone().text());
      assert.equal((await svc.store.findSellers(VICTIM))[0]!.userRef, 'user-7');
    });

    it('relink on: a signed-in attacker who edits the Login URI id does not replace an owned seller', async (t) => {
      const svc = closeAfter(
        t,
        await open({ SPAPI_AUTH_SIGNIN_URL: SIGNIN, SPAPI_AUTH_ALLOW_RELINK: 'true' }),
      );
      assert.equal((await appstoreAs(svc, VICTIM, { userRef: 'victim' })).status, 303);
      const before = await refreshTokens(svc, VICTIM);
      const res = await appstoreAs(svc, ATTACKER, { claim: VICTIM, userRef: 'mallory' });
      assert.equal(res.status, 409);
      assert.equal(await errorCode(res), 'seller_account_mismatch');
      assert.deepEqual(await refreshTokens(svc, VICTIM), before);
      assert.equal((await svc.store.findSellers(VICTIM))[0]!.userRef, 'victim');
      // The seller's own account signed in as another user is relinked (the setting's purpose).
      assert.equal((await appstoreAs(svc, VICTIM, { userRef: 'new-owner' })).status, 303);
      assert.equal((await svc.store.findSellers(VICTIM))[0]!.userRef, 'new-owner');
    });

    it('SPAPI_AUTH_REAUTHORIZE_EVIDENCE=store_name renews a seller whose marketplaces changed; profile (the default) refuses it when the stored grant cannot be asked', async () => {
      for (const evidence of ['store_name', 'profile'] as const) {
        const svc = await open({ SPAPI_AUTH_REAUTHORIZE_EVIDENCE: evidence });
        try {
          assert.equal((await websiteAs(svc, VICTIM, { user_ref: 'u1', marketplace: 'US' })).status, 303);
          const key = { sellingPartnerId: VICTIM, region: 'na' as const };
          const stored = (await svc.store.getSellerProfile(key))!;
          // The stored profile says US only; Amazon now says US, CA, MX; the stored grant was revoked.
          await svc.store.saveSellerProfile(key, {
            ...stored,
            marketplaces: stored.marketplaces.filter((m) => m.country === 'US'),
          });
          await svc.emulator.control.revoke(VICTIM);
          const res = await appstoreAs(svc, VICTIM);
          if (evidence === 'store_name') assert.equal(res.status, 303, await res.clone().text());
          else {
            assert.equal(res.status, 409);
            assert.equal(await errorCode(res), 'seller_account_mismatch');
          }
        } finally {
          await svc.close();
        }
      }
    });

    it('first Appstore authorizations store a marketplace the seller sells in (US-only seller: US; JP/AU/SG seller: JP)', async (t) => {
      const svc = closeAfter(t, await open());
      assert.equal((await appstoreAs(svc, 'A1EMUSELLERUS01')).status, 303);
      assert.equal((await svc.store.findSellers('A1EMUSELLERUS01'))[0]!.marketplace, 'US');
      assert.equal((await appstoreAs(svc, 'A1EMUSELLERFE01', { region: 'fe' })).status, 303);
      const fe = (await svc.store.findSellers('A1EMUSELLERFE01'))[0]!;
      assert.equal(fe.region, 'fe');
      assert.equal(fe.marketplace, 'JP');
    });
  });
}

const sqlite = tempDir('ownership');
after(() => sqlite.remove());
let n = 0;
ownershipSuite('SQLite', (env = {}) => makeService(env, { sqlitePath: `${sqlite.path}/db-${++n}.sqlite` }));

if (
  await postgresSuiteRuns(
    'ownership policy (PostgreSQL)',
    'the ownership suite on PostgreSQL',
    'runs the flows',
  )
) {
  const prefix = runSchema('ownership');
  after(() => dropSchemas(prefix));
  let m = 0;
  ownershipSuite('PostgreSQL', (env = {}) => makeService(env, { postgresSchema: `${prefix}_${++m}` }));
}
