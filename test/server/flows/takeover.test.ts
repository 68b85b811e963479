// Seller takeover: an attacker authorizes the app with their own Amazon account and edits the
// browser-supplied selling_partner_id to a victim's, to file their refresh token under the victim's
// id. Neither attack may change the victim's stored token, on SQLite and on PostgreSQL.
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { SellerTokenKey } from '../../../src/core/token-vault.js';
import { dropSchemas, postgresSuiteRuns, runSchema, tempDir } from '../../storage/helpers.js';
import {
  AMAZON_URL,
  Browser,
  api,
  PUBLIC_URL,
  connectSeller,
  errorCode,
  makeService,
  type TestService,
} from '../../helpers/service.js';
import { closeAfter } from '../../helpers/after.js';

const VICTIM: SellerTokenKey = { sellingPartnerId: 'A1EMUSELLERNA01', region: 'na' };
/** The attacker's own Amazon account (a seller the emulator knows, NA and EU). */
const ATTACKER = 'A1EMUSELLERGL01';
const JSON_ACCEPT = { accept: 'application/json' };

/** Replaces one query parameter of a URL. */
function edited(url: string, name: string, value: string): string {
  const u = new URL(url);
  u.searchParams.set(name, value);
  return u.href;
}

/** The Appstore flow as the attacker runs it: their own account, the victim's id on the Login URI and the callback. */
async function appstoreAttack(svc: TestService): Promise<Response> {
  const browser = new Browser(svc);
  const { url: login } = await browser.follow(
    `${AMAZON_URL}/appstore/authorize?application_id=${svc.config.applicationId}&selling_partner_id=${ATTACKER}`,
    (u) => u.startsWith(`${PUBLIC_URL}/oauth/login`),
  );
  const { url: callback } = await browser.follow(
    edited(login, 'selling_partner_id', VICTIM.sellingPartnerId),
    (u) => u.startsWith(`${PUBLIC_URL}/oauth/callback`),
  );
  assert.equal(
    new URL(callback).searchParams.get('selling_partner_id'),
    ATTACKER,
    'Amazon names the real account',
  );
  return browser.request(edited(callback, 'selling_partner_id', VICTIM.sellingPartnerId), JSON_ACCEPT);
}

/** The website flow as the attacker runs it: a connect link for their own user_ref, the victim's id on the callback. */
async function websiteAttack(svc: TestService, userRef: string): Promise<Response> {
  await svc.emulator.control.consentMode('auto', ATTACKER);
  const created = await api(svc, 'POST', '/v1/connect-sessions', { user_ref: userRef, marketplace: 'US' });
  const { url } = (await created.json()) as { url: string };
  const browser = new Browser(svc);
  const { url: callback } = await browser.follow(url, (u) => u.startsWith(`${PUBLIC_URL}/oauth/callback`));
  return browser.request(edited(callback, 'selling_partner_id', VICTIM.sellingPartnerId), JSON_ACCEPT);
}

/** The Appstore flow without sign-in, untouched: stores the victim without an owner. */
async function appstoreConnect(svc: TestService): Promise<void> {
  const { res } = await new Browser(svc).follow(
    `${AMAZON_URL}/appstore/authorize?application_id=${svc.config.applicationId}&selling_partner_id=${VICTIM.sellingPartnerId}`,
  );
  assert.equal(res.status, 200);
}

/** The re-authorization the app's backend asks for: a connect link naming the seller, for `u1`. */
async function reauthorizeNamed(svc: TestService): Promise<number> {
  await svc.emulator.control.consentMode('auto', VICTIM.sellingPartnerId);
  const created = await api(svc, 'POST', '/v1/connect-sessions', {
    user_ref: 'u1',
    marketplace: 'US',
    selling_partner_id: VICTIM.sellingPartnerId,
  });
  const { url } = (await created.json()) as { url: string };
  return (await new Browser(svc).follow(url)).res.status;
}

async function refreshTokenOf(svc: TestService, key: SellerTokenKey): Promise<string | undefined> {
  return (await svc.store.loadTokens(key))?.refreshToken;
}

function takeoverSuite(engine: string, open: (env?: Record<string, string>) => Promise<TestService>): void {
  describe(`seller takeover (${engine})`, () => {
    it('a: the Appstore flow without sign-in, seller id edited on the Login URI and the callback, does not replace a user_ref-owned seller', async (t) => {
      const svc = closeAfter(t, await open());
      await connectSeller(svc, { sellerId: VICTIM.sellingPartnerId, userRef: 'victim' });
      const before = await refreshTokenOf(svc, VICTIM);
      assert.ok(before);
      const res = await appstoreAttack(svc);
      // The Appstore flow may renew a stored seller (Seller Central's "Re-authorize"), so the code
      // is spent; the new grant's profile is another account's, and nothing is written.
      assert.equal(res.status, 409);
      assert.equal(await errorCode(res), 'seller_account_mismatch');
      assert.equal(await refreshTokenOf(svc, VICTIM), before);
      assert.equal((await svc.store.getSeller(VICTIM))?.userRef, 'victim');
    });

    it('b: the website flow with the seller id edited on the callback does not replace a seller whose user_ref is unset', async (t) => {
      const svc = closeAfter(t, await open());
      await appstoreConnect(svc);
      const victim = await svc.store.getSeller(VICTIM);
      assert.equal(victim?.userRef, null);
      const before = await refreshTokenOf(svc, VICTIM);
      assert.ok(before);
      const res = await websiteAttack(svc, 'mallory');
      assert.equal(res.status, 409);
      assert.equal(await errorCode(res), 'seller_already_connected');
      assert.equal(await refreshTokenOf(svc, VICTIM), before);
      assert.equal((await svc.store.getSeller(VICTIM))?.userRef, null, 'not claimed by a plain connect');
      assert.equal((await svc.store.getSeller(VICTIM))?.version, victim?.version);
    });

    it('a plain connect never replaces a stored token, even of its own user_ref; a link that names the seller does', async (t) => {
      const svc = closeAfter(t, await open());
      await connectSeller(svc, { sellerId: VICTIM.sellingPartnerId, userRef: 'u1' });
      const before = await refreshTokenOf(svc, VICTIM);
      const again = await websiteAttack(svc, 'u1');
      assert.equal(await errorCode(again), 'seller_already_connected');
      assert.equal(await refreshTokenOf(svc, VICTIM), before);
      // The re-authorization the app's backend asks for, naming the seller, renews it.
      assert.equal(await reauthorizeNamed(svc), 200);
      assert.notEqual(await refreshTokenOf(svc, VICTIM), before);
    });

    it('a seller without an owner is renewed by its own account through the Appstore flow without sign-in; a seeded one without a profile is not claimed through the sign-in hop', async (t) => {
      const svc = await open();
      try {
        await appstoreConnect(svc);
        const before = await refreshTokenOf(svc, VICTIM);
        // The same account coming back through the Appstore without sign-in: renewed, still no owner.
        const { res } = await new Browser(svc).follow(
          `${AMAZON_URL}/appstore/authorize?application_id=${svc.config.applicationId}&selling_partner_id=${VICTIM.sellingPartnerId}`,
        );
        assert.equal(res.status, 200);
        assert.notEqual(await refreshTokenOf(svc, VICTIM), before);
        assert.equal((await svc.store.getSeller(VICTIM))?.userRef, null);
      } finally {
        await svc.close();
      }
      const signin = closeAfter(t, await open({ SPAPI_AUTH_SIGNIN_URL: 'https://app.example.com/signin' }));
      await signin.store.saveAuthorization({
        ...VICTIM,
        kind: 'seller',
        userRef: null,
        marketplace: 'US',
        refreshToken: 'Atzr|seeded-without-owner',
      });
      const browser = new Browser(signin);
      const { url } = await browser.follow(
        `${AMAZON_URL}/appstore/authorize?application_id=${signin.config.applicationId}&selling_partner_id=${VICTIM.sellingPartnerId}`,
        (u) => u.startsWith('https://app.example.com/signin'),
      );
      const pending = new URL(url).searchParams.get('spapi_pending')!;
      const confirmed = await api(signin, 'POST', `/v1/appstore-sessions/${pending}/confirm`, {
        user_ref: 'user-7',
      });
      const { url: next } = (await confirmed.json()) as { url: string };
      // Nothing is known of the stored account (no profile, a grant Amazon refuses): the seller
      // id came through the browser, so the sign-in hop proves nothing and claims nothing.
      const { res } = await browser.follow(next, () => false, JSON_ACCEPT);
      assert.equal(res.status, 409);
      assert.equal(await errorCode(res), 'seller_account_unverified');
      assert.equal((await signin.store.getSeller(VICTIM))?.userRef, null);
      assert.equal(await refreshTokenOf(signin, VICTIM), 'Atzr|seeded-without-owner');
    });

    it('a re-authorization whose seller profile differs from the stored one is flagged in the audit', async (t) => {
      const svc = closeAfter(t, await open());
      await connectSeller(svc, { sellerId: VICTIM.sellingPartnerId, userRef: 'u1' });
      const stored = await svc.store.getSellerProfile(VICTIM);
      assert.ok(stored, 'the profile was read after the exchange');
      const reauthorize = async (): Promise<void> => assert.equal(await reauthorizeNamed(svc), 200);
      const flagged = async () =>
        (await svc.store.listAudit({ sellingPartnerId: VICTIM.sellingPartnerId, limit: 100 })).filter(
          (r) => r.action === 'seller.profile_changed',
        );
      await reauthorize();
      assert.deepEqual(await flagged(), [], 'the same account coming back is not flagged');
      // The stored profile is another account's (other store, other marketplaces).
      await svc.store.saveSellerProfile(VICTIM, {
        storeName: 'Another Store',
        marketplaces: [
          {
            id: 'A1F83G8C2ARO7P',
            country: 'UK',
            name: 'Amazon.co.uk',
            participating: true,
            suspendedListings: false,
          },
        ],
        fetchedAt: stored.fetchedAt,
      });
      await reauthorize();
      const records = await flagged();
      assert.equal(records.length, 1);
      assert.equal(records[0]!.outcome, 'flagged');
      assert.match(String(records[0]!.details?.changed), /marketplaces/);
    });
  });
}

const sqlite = tempDir('takeover');
after(() => sqlite.remove());
let n = 0;
takeoverSuite('SQLite', (env = {}) => makeService(env, { sqlitePath: `${sqlite.path}/db-${++n}.sqlite` }));

if (
  await postgresSuiteRuns(
    'seller takeover (PostgreSQL)',
    'the takeover suite on PostgreSQL',
    'runs the takeover attacks',
  )
) {
  const prefix = runSchema('takeover');
  after(() => dropSchemas(prefix));
  let m = 0;
  takeoverSuite('PostgreSQL', (env = {}) => makeService(env, { postgresSchema: `${prefix}_${++m}` }));
}
