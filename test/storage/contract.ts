// The one contract the Store passes on every engine (Auth.js adapter-suite style): sqlite-memory.test.ts
// (SQLite `:memory:`), sqlite.test.ts (a file) and postgres.test.ts call storeContract with their own
// database factory.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { describe, it } from 'node:test';
import type { SellerTokenKey } from '../../src/core/index.js';
import {
  KeyRingError,
  RefreshTokenInUseError,
  SellerExistsError,
  SellerOwnershipError,
  StorageIntegrityError,
  createKeyRing,
  createStoreTokenVault,
  generateKey,
  parseKeyRing,
  rewrap,
  sealedKeyId,
} from '../../src/storage/index.js';
import type {
  AuthorizationInput,
  KeyRing,
  OAuthTransactionInput,
  Store,
  StoreOptions,
} from '../../src/storage/index.js';
import { markReauthorizationRequired } from '../helpers/sellers.js';

/** A fresh, empty database; `open` connects a store (several for "other instances"). */
export interface TestDatabase {
  open(options?: StoreOptions): Promise<Store>;
  /** Whether a second `open` shares the data (false for `:memory:`: each open is a new database). */
  readonly shared: boolean;
}

export interface ContractHarness {
  readonly name: string;
  fresh(): Promise<TestDatabase>;
}

/** A clock the tests move by hand. */
export function fakeClock(start = 1_800_000_000_000): { now: () => number; advance: (ms: number) => void } {
  let t = start;
  return { now: () => t, advance: (ms) => void (t += ms) };
}

export const SQL_INJECTION_IDS = [
  "A1'; DROP TABLE sellers; --",
  'A2" OR "1"="1',
  "A3\\'); DELETE FROM api_keys; --",
  'A4%_*?[]',
  'A5 UNION SELECT refresh_token_enc FROM sellers',
  'A7 ☃ émoji 🚀',
  '$1 $2 ? ?',
];

const RING_KEY = generateKey();
const RING = parseKeyRing(`k1:${RING_KEY}`);

export function authorization(over: Partial<AuthorizationInput> = {}): AuthorizationInput {
  return {
    sellingPartnerId: 'A3FHEXAMPLEYWS',
    region: 'na',
    kind: 'seller',
    userRef: 'user-1',
    marketplace: 'US',
    refreshToken: `Atzr|refresh-${randomUUID()}`,
    ...over,
  };
}

/** An OAuth transaction in flight (website flow, with PKCE), with `over` applied. */
export function oauthTransaction(over: Partial<OAuthTransactionInput> = {}): OAuthTransactionInput {
  return {
    stateHash: `state-${randomUUID()}`,
    bindingHash: 'binding',
    flow: 'website',
    kind: 'seller',
    marketplace: 'US',
    region: 'na',
    userRef: 'user-1',
    returnTo: 'https://app.example/done',
    expectedSellingPartnerId: null,
    pkceVerifier: 'verifier-secret-0123456789',
    expiresAt: 1_800_000_600_000,
    ...over,
  };
}

/** Three events claimed by `w1`: the first delivered, the second given up on, the third still claimed. */
async function deliveredDeadClaimed(store: Store, at: number) {
  const events = [event('a', at), event('b', at), event('c', at)] as const;
  const [a, b] = events;
  await store.enqueueWebhookEvents([...events]);
  await store.claimWebhookEvents('w1', { limit: 3, leaseMs: 10_000 });
  assert.equal(await store.markWebhookDelivered(a.id, 'w1'), true);
  assert.equal(await store.markWebhookFailed(b.id, 'w1', { error: 'http_500', nextAttemptAt: null }), true);
  return events;
}

function event(type = 'seller.authorized', at = 1) {
  return { id: randomUUID(), type, createdAt: at, data: { selling_partner_id: 'A3FHEXAMPLEYWS' } };
}

/** The rings of a key rotation: k1 alone, then k2 active with k1, then k2 alone. */
function rotationRings(): { ring1: KeyRing; ring2: KeyRing; ring2only: KeyRing } {
  const k1 = generateKey();
  const k2 = generateKey();
  return {
    ring1: parseKeyRing(`k1:${k1}`),
    ring2: parseKeyRing(`k2:${k2},k1:${k1}`),
    ring2only: parseKeyRing(`k2:${k2}`),
  };
}

export function storeContract(harness: ContractHarness): void {
  const KEY: SellerTokenKey = { sellingPartnerId: 'A3FHEXAMPLEYWS', region: 'na' };

  async function withStore(
    fn: (store: Store, clock: ReturnType<typeof fakeClock>, db: TestDatabase) => Promise<void>,
    options: StoreOptions = {},
  ): Promise<void> {
    const clock = fakeClock();
    const db = await harness.fresh();
    const store = await db.open({ keyRing: RING, now: clock.now, ...options });
    try {
      await fn(store, clock, db);
    } finally {
      await store.close();
    }
  }

  /** A fresh database two stores can share, or undefined (the test skipped) where they cannot. */
  async function sharedDatabase(t: { skip(message: string): void }): Promise<TestDatabase | undefined> {
    const db = await harness.fresh();
    if (db.shared) return db;
    t.skip('needs two instances on one database');
    return undefined;
  }

  describe(`Store contract: ${harness.name}`, () => {
    describe('sellers and authorizations', () => {
      it('stores an authorization and reads it back without secrets', () =>
        withStore(async (store, clock) => {
          const input = authorization({
            accessToken: { accessToken: 'Atza|a1', expiresAt: clock.now() + 3_600_000 },
          });
          const result = await store.saveAuthorization(input);
          assert.equal(result.created, true);
          assert.equal(result.relinkedFrom, null);
          const seller = await store.getSeller(KEY);
          assert.deepEqual(seller, result.seller);
          assert.equal(seller?.status, 'active');
          assert.equal(seller?.userRef, 'user-1');
          assert.equal(seller?.kind, 'seller');
          assert.equal(seller?.marketplace, 'US');
          assert.equal(seller?.authorizedAt, clock.now());
          assert.equal(seller?.accessTokenExpiresAt, clock.now() + 3_600_000);
          assert.equal(seller?.version, 1);
          assert.ok(!JSON.stringify(seller).includes('Atz'), 'a seller record carries no token');
          const tokens = await store.loadTokens(KEY);
          assert.equal(tokens?.refreshToken, input.refreshToken);
          assert.deepEqual(tokens?.accessToken, {
            accessToken: 'Atza|a1',
            expiresAt: clock.now() + 3_600_000,
          });
          assert.equal(await store.getSeller({ ...KEY, region: 'eu' }), null);
          assert.equal(await store.loadTokens({ ...KEY, region: 'eu' }), null);
        }));

      it('keeps one authorization per region', () =>
        withStore(async (store) => {
          await store.saveAuthorization(authorization({ region: 'eu', marketplace: 'DE' }));
          await store.saveAuthorization(authorization({ region: 'na' }));
          const both = await store.findSellers(KEY.sellingPartnerId);
          assert.deepEqual(
            both.map((s) => s.region),
            ['eu', 'na'],
          );
        }));

      it('re-authorization replaces the token, reactivates, bumps the version and keeps the owner', () =>
        withStore(async (store, clock) => {
          await store.saveAuthorization(authorization({ refreshToken: 'Atzr|old' }));
          const lease = await store.acquireRefreshLease(KEY, 'o1', 10_000);
          assert.ok(lease);
          assert.equal(await store.markReauthorizationRequired(KEY, lease, { code: 'invalid_grant' }), true);
          clock.advance(1000);
          const result = await store.saveAuthorization(
            authorization({ refreshToken: 'Atzr|new', marketplace: null }),
          );
          assert.equal(result.created, false);
          assert.equal(result.seller.status, 'active');
          assert.equal(result.seller.userRef, 'user-1');
          assert.equal(result.seller.marketplace, 'US');
          assert.equal(result.seller.authorizedAt, clock.now());
          assert.equal(result.seller.lastError, null);
          assert.equal(result.seller.version, 3);
          assert.equal((await store.loadTokens(KEY))?.refreshToken, 'Atzr|new');
        }));

      it('refuses to re-link a seller owned by another user, leaving the old token and writing nothing', () =>
        withStore(async (store) => {
          await store.saveAuthorization(authorization({ refreshToken: 'Atzr|old' }));
          const depth = await store.webhookOutboxDepth();
          await assert.rejects(
            store.saveAuthorization(
              authorization({
                userRef: 'intruder',
                refreshToken: 'Atzr|new',
                events: [event()],
                audit: [{ action: 'x' }],
              }),
            ),
            (err: unknown) =>
              err instanceof SellerOwnershipError && err.code === 'seller_owned_by_other_user',
          );
          assert.equal((await store.loadTokens(KEY))?.refreshToken, 'Atzr|old');
          assert.equal((await store.getSeller(KEY))?.userRef, 'user-1');
          assert.deepEqual(await store.webhookOutboxDepth(), depth);
          assert.equal((await store.listAudit()).length, 0);
        }));

      it('an authorization without an owner, or with replaces none, never replaces a stored token', () =>
        withStore(async (store) => {
          await store.saveAuthorization(authorization({ refreshToken: 'Atzr|victim' }));
          const depth = await store.webhookOutboxDepth();
          const effects = { events: [event()], audit: [{ action: 'x' }] };
          await assert.rejects(
            store.saveAuthorization(authorization({ userRef: null, refreshToken: 'Atzr|x', ...effects })),
            (err: unknown) => err instanceof SellerOwnershipError,
          );
          await assert.rejects(
            store.saveAuthorization(
              authorization({ userRef: null, refreshToken: 'Atzr|x', allowRelink: true, ...effects }),
            ),
            (err: unknown) => err instanceof SellerOwnershipError,
            'allowRelink does not let an ownerless authorization in',
          );
          for (const userRef of ['user-1', null]) {
            await assert.rejects(
              store.saveAuthorization(
                authorization({
                  userRef,
                  refreshToken: 'Atzr|x',
                  replaces: 'none',
                  allowRelink: true,
                  ...effects,
                }),
              ),
              (err: unknown) => err instanceof SellerExistsError && err.code === 'seller_already_connected',
            );
          }
          assert.equal((await store.loadTokens(KEY))?.refreshToken, 'Atzr|victim');
          assert.equal((await store.getSeller(KEY))?.version, 1);
          assert.deepEqual(await store.webhookOutboxDepth(), depth);
          assert.equal((await store.listAudit()).length, 0);
          // A first authorization with replaces none is stored as usual.
          const other = { ...KEY, region: 'eu' as const };
          const created = await store.saveAuthorization(authorization({ ...other, replaces: 'none' }));
          assert.equal(created.created, true);
        }));

      it('a row without an owner is claimed only with replaces same_owner_or_unowned', () =>
        withStore(async (store) => {
          await store.saveAuthorization(authorization({ userRef: null, refreshToken: 'Atzr|unowned' }));
          await assert.rejects(
            store.saveAuthorization(authorization({ userRef: 'user-2', refreshToken: 'Atzr|x' })),
            (err: unknown) => err instanceof SellerOwnershipError,
          );
          assert.equal((await store.loadTokens(KEY))?.refreshToken, 'Atzr|unowned');
          const claimed = await store.saveAuthorization(
            authorization({
              userRef: 'user-2',
              refreshToken: 'Atzr|claimed',
              replaces: 'same_owner_or_unowned',
            }),
          );
          assert.equal(claimed.seller.userRef, 'user-2');
          assert.equal((await store.loadTokens(KEY))?.refreshToken, 'Atzr|claimed');
          // Once owned, another owner is refused in that mode too.
          await assert.rejects(
            store.saveAuthorization(
              authorization({ userRef: 'user-3', refreshToken: 'Atzr|x', replaces: 'same_owner_or_unowned' }),
            ),
            (err: unknown) => err instanceof SellerOwnershipError,
          );
          assert.equal((await store.loadTokens(KEY))?.refreshToken, 'Atzr|claimed');
        }));

      it('re-links when allowed and says from whom', () =>
        withStore(async (store) => {
          await store.saveAuthorization(authorization());
          const result = await store.saveAuthorization(
            authorization({ userRef: 'user-2', allowRelink: true }),
          );
          assert.equal(result.relinkedFrom, 'user-1');
          assert.equal(result.seller.userRef, 'user-2');
        }));

      it('writes the event and audit with the authorization, and a failing write leaves the old token', () =>
        withStore(async (store) => {
          const first = event();
          await store.saveAuthorization(
            authorization({
              refreshToken: 'Atzr|old',
              events: [first],
              audit: [{ action: 'seller.authorized' }],
            }),
          );
          assert.deepEqual(await store.webhookOutboxDepth(), { pending: 1, dead: 0 });
          // The same event id again makes the write fail inside the transaction.
          await assert.rejects(
            store.saveAuthorization(authorization({ refreshToken: 'Atzr|new', events: [first] })),
          );
          assert.equal((await store.loadTokens(KEY))?.refreshToken, 'Atzr|old');
          assert.equal((await store.getSeller(KEY))?.version, 1);
          assert.deepEqual(await store.webhookOutboxDepth(), { pending: 1, dead: 0 });
          // A token-shaped audit record is refused, and with it the whole change.
          await assert.rejects(
            store.saveAuthorization(
              authorization({
                refreshToken: 'Atzr|new',
                audit: [{ action: 'x', details: { t: 'Atzr|leak' } }],
              }),
            ),
            TypeError,
          );
          assert.equal((await store.loadTokens(KEY))?.refreshToken, 'Atzr|old');
          assert.equal((await store.listAudit()).length, 1);
        }));

      it('marks re-authorization required and deletes a seller with its tokens, with events', () =>
        withStore(async (store) => {
          await store.saveAuthorization(authorization());
          await markReauthorizationRequired(store, KEY, {
            events: [event('seller.reauthorization_required')],
          });
          assert.equal((await store.getSeller(KEY))?.status, 'reauthorization_required');
          assert.equal((await store.getSeller(KEY))?.version, 2);
          assert.equal(await store.deleteSeller(KEY, { events: [event('seller.deleted')] }), true);
          assert.equal(await store.getSeller(KEY), null);
          assert.equal(await store.loadTokens(KEY), null);
          assert.equal(await store.deleteSeller(KEY), false);
          assert.deepEqual(await store.webhookOutboxDepth(), { pending: 2, dead: 0 });
          assert.equal((await store.listEncryptedValues({ limit: 100 })).items.length, 0);
        }));

      it('keeps a seller profile per region, lists the sellers still without one, and drops it with the seller', () =>
        withStore(async (store, clock) => {
          const profile = {
            storeName: 'Store Ö',
            marketplaces: [
              {
                id: 'ATVPDKIKX0DER',
                country: 'US',
                name: 'Amazon.com',
                participating: true,
                suspendedListings: false,
              },
            ],
            fetchedAt: clock.now(),
          };
          assert.equal(await store.saveSellerProfile(KEY, profile), false, 'no such seller');
          await store.saveAuthorization(authorization({ authorizedAt: clock.now() - 86_400_000 }));
          clock.advance(1000);
          await store.saveAuthorization(authorization({ sellingPartnerId: 'A2OTHER', region: 'eu' }));
          assert.equal((await store.getSeller(KEY))?.authorizedAt, clock.now() - 1000 - 86_400_000);
          assert.deepEqual(await store.listSellersWithoutProfile(10), [
            KEY,
            { sellingPartnerId: 'A2OTHER', region: 'eu' },
          ]);
          assert.equal(await store.getSellerProfile(KEY), null);
          assert.equal(await store.saveSellerProfile(KEY, profile), true);
          assert.deepEqual(await store.getSellerProfile(KEY), profile);
          assert.equal(await store.getSellerProfile({ ...KEY, region: 'eu' }), null, 'per region');
          assert.deepEqual(await store.listSellersWithoutProfile(10), [
            { sellingPartnerId: 'A2OTHER', region: 'eu' },
          ]);
          await store.saveSellerProfile(KEY, { ...profile, storeName: null, marketplaces: [] });
          assert.deepEqual(await store.getSellerProfile(KEY), {
            ...profile,
            storeName: null,
            marketplaces: [],
          });
          await assert.rejects(store.saveSellerProfile(KEY, { ...profile, fetchedAt: -1 }), TypeError);
          await store.deleteSeller(KEY);
          assert.equal(await store.getSellerProfile(KEY), null);
          await store.saveAuthorization(authorization());
          assert.equal(
            await store.getSellerProfile(KEY),
            null,
            'a new authorization starts without the old profile',
          );
        }));

      it('saves the profile with the authorization in one transaction: both or neither; none given keeps the stored one', () =>
        withStore(async (store, clock) => {
          const profile = (storeName: string) => ({
            storeName,
            marketplaces: [
              {
                id: 'A1PA6795UKMFR9',
                country: 'DE',
                name: 'Amazon.de',
                participating: true,
                suspendedListings: false,
              },
            ],
            fetchedAt: clock.now(),
          });
          await store.saveAuthorization(authorization({ userRef: 'u1', profile: profile('First') }));
          assert.equal((await store.getSellerProfile(KEY))?.storeName, 'First');
          // A re-authorization without a profile (the read failed) keeps the stored one.
          await store.saveAuthorization(authorization({ userRef: 'u1', refreshToken: 'Atzr|second' }));
          assert.equal((await store.getSellerProfile(KEY))?.storeName, 'First');
          // Refused (another owner): neither the tokens nor the profile change.
          await assert.rejects(
            store.saveAuthorization(
              authorization({ userRef: 'u2', refreshToken: 'Atzr|theirs', profile: profile('Theirs') }),
            ),
            SellerOwnershipError,
          );
          assert.equal((await store.loadTokens(KEY))?.refreshToken, 'Atzr|second');
          assert.equal((await store.getSellerProfile(KEY))?.storeName, 'First');
          // A malformed profile: refused before anything is written.
          await assert.rejects(
            store.saveAuthorization(
              authorization({
                userRef: 'u1',
                refreshToken: 'Atzr|bad',
                profile: { ...profile('X'), fetchedAt: -1 },
              }),
            ),
            TypeError,
          );
          assert.equal((await store.loadTokens(KEY))?.refreshToken, 'Atzr|second');
          await store.saveAuthorization(
            authorization({ userRef: 'u1', refreshToken: 'Atzr|third', profile: profile('Third') }),
          );
          assert.equal((await store.getSellerProfile(KEY))?.storeName, 'Third');
        }));

      it('pages, filters, searches and counts sellers', () =>
        withStore(async (store) => {
          for (let i = 0; i < 25; i++) {
            const id = `A${String(i).padStart(3, '0')}`;
            await store.saveAuthorization(authorization({ sellingPartnerId: id, userRef: `team-${i % 3}` }));
            if (i % 5 === 0) await markReauthorizationRequired(store, { sellingPartnerId: id, region: 'na' });
          }
          await store.saveAuthorization(
            authorization({ sellingPartnerId: 'A001', region: 'eu', userRef: 'team-1' }),
          );
          const seen: string[] = [];
          let cursor: string | null = null;
          do {
            const page: Awaited<ReturnType<Store['listSellers']>> = await store.listSellers({
              cursor,
              limit: 7,
            });
            assert.ok(page.items.length <= 7);
            seen.push(...page.items.map((s) => `${s.sellingPartnerId}/${s.region}`));
            cursor = page.nextCursor;
          } while (cursor);
          assert.equal(seen.length, 26);
          assert.deepEqual(seen, [...seen].sort());
          assert.equal(seen[1], 'A001/eu');
          assert.equal(seen[2], 'A001/na');
          const reauthorize = await store.listSellers({ status: 'reauthorization_required' });
          assert.deepEqual(
            reauthorize.items.map((s) => s.sellingPartnerId),
            ['A000', 'A005', 'A010', 'A015', 'A020'],
          );
          const byId = await store.listSellers({ search: 'A01' });
          assert.equal(byId.items.length, 10);
          const byUser = await store.listSellers({ search: 'team-2', limit: 500 });
          assert.equal(byUser.items.length, 8);
          assert.ok(byUser.items.every((s) => s.userRef === 'team-2'));
          const combined = await store.listSellers({ search: 'team-0', status: 'active' });
          assert.ok(combined.items.every((s) => s.userRef === 'team-0' && s.status === 'active'));
          assert.equal(combined.items.length, 7);
          assert.equal((await store.listSellers({ search: 'zzz' })).items.length, 0);
          assert.deepEqual(await store.countSellersByStatus(), {
            active: 21,
            reauthorization_required: 5,
          });
          await assert.rejects(store.listSellers({ cursor: 'not-a-cursor' }), TypeError);
          await assert.rejects(store.listSellers({ limit: 0 }), TypeError);
          await assert.rejects(store.listSellers({ status: 'gone' as 'active' }), TypeError);
        }));

      it('pages a search matching ids and user_refs in id order, each seller once', () =>
        withStore(async (store) => {
          // B* ids match by id; some also have a user_ref starting with B (matched twice, listed once);
          // C* ids match only by user_ref.
          for (let i = 0; i < 12; i++) {
            const n = String(i).padStart(2, '0');
            await store.saveAuthorization(
              authorization({ sellingPartnerId: `B${n}`, userRef: i % 2 ? `B-${n}` : 'x' }),
            );
            await store.saveAuthorization(authorization({ sellingPartnerId: `C${n}`, userRef: `B-c${n}` }));
            await store.saveAuthorization(authorization({ sellingPartnerId: `D${n}`, userRef: 'y' }));
          }
          await store.saveAuthorization(
            authorization({ sellingPartnerId: 'B03', region: 'eu', userRef: 'B-03' }),
          );
          await markReauthorizationRequired(store, { sellingPartnerId: 'C05', region: 'na' });
          const pages = async (query: { search: string; status?: 'active' }): Promise<string[]> => {
            const seen: string[] = [];
            let cursor: string | null = null;
            do {
              const page: Awaited<ReturnType<Store['listSellers']>> = await store.listSellers({
                ...query,
                cursor,
                limit: 5,
              });
              assert.ok(page.items.length <= 5);
              seen.push(...page.items.map((s) => `${s.sellingPartnerId}/${s.region}`));
              cursor = page.nextCursor;
            } while (cursor);
            return seen;
          };
          const all = await pages({ search: 'B' });
          assert.equal(all.length, 25);
          assert.equal(new Set(all).size, 25);
          assert.deepEqual(all, [...all].sort());
          assert.deepEqual(all.slice(2, 5), ['B02/na', 'B03/eu', 'B03/na']);
          const active = await pages({ search: 'B', status: 'active' });
          assert.equal(active.length, 24);
          assert.ok(!active.includes('C05/na'));
          assert.deepEqual(await pages({ search: 'B-c1' }), ['C10/na', 'C11/na']);
        }));

      it('lists active sellers whose access token expires soon, soonest first, paged', () =>
        withStore(async (store, clock) => {
          const t0 = clock.now();
          const token = (ms: number) => ({ accessToken: `Atza|t-${randomUUID()}`, expiresAt: t0 + ms });
          for (const [id, ms] of [
            ['E3', 3_000],
            ['E1', 1_000],
            ['E2b', 2_000],
            ['E2a', 2_000],
            ['E9', 9_000],
          ] as const) {
            await store.saveAuthorization(authorization({ sellingPartnerId: id, accessToken: token(ms) }));
          }
          await store.saveAuthorization(
            authorization({ sellingPartnerId: 'E2a', region: 'eu', accessToken: token(2_000) }),
          );
          await store.saveAuthorization(authorization({ sellingPartnerId: 'E0', accessToken: token(500) }));
          await markReauthorizationRequired(store, { sellingPartnerId: 'E0', region: 'na' });
          await store.saveAuthorization(authorization({ sellingPartnerId: 'E-none' }));
          const ids = (list: readonly { sellingPartnerId: string; region: string }[]) =>
            list.map((e) => `${e.sellingPartnerId}/${e.region}`);
          const first = await store.listRefreshDue({ before: t0 + 5_000, limit: 3 });
          assert.deepEqual(ids(first), ['E1/na', 'E2a/eu', 'E2a/na']);
          assert.equal(first[1]!.accessTokenExpiresAt, t0 + 2_000);
          const rest = await store.listRefreshDue({ before: t0 + 5_000, after: first[2]!, limit: 3 });
          assert.deepEqual(ids(rest), ['E2b/na', 'E3/na']);
          assert.deepEqual(await store.listRefreshDue({ before: t0 + 5_000, after: rest[1]! }), []);
          assert.deepEqual(ids(await store.listRefreshDue({ before: t0 + 1_000 })), []);
          assert.equal((await store.listRefreshDue({ before: t0 + 60_000 })).length, 6);
          await assert.rejects(store.listRefreshDue({ before: t0, limit: 0 }), TypeError);
          await assert.rejects(store.listRefreshDue({ before: Number.NaN }), TypeError);
        }));

      it('hot set: lists only sellers used since usedSince; uses are recorded in batches, the latest kept', () =>
        withStore(async (store, clock) => {
          const t0 = clock.now();
          const token = () => ({ accessToken: `Atza|t-${randomUUID()}`, expiresAt: t0 + 3_600_000 });
          // Connecting counts as a use (t0); then H1 and H2 are asked for later, IDLE is not.
          for (const id of ['H1', 'H2', 'IDLE']) {
            await store.saveAuthorization(authorization({ sellingPartnerId: id, accessToken: token() }));
          }
          const ids = (list: readonly { sellingPartnerId: string }[]) => list.map((e) => e.sellingPartnerId);
          const before = t0 + 4_000_000;
          assert.deepEqual(ids(await store.listRefreshDue({ before, usedSince: t0 })), ['H1', 'H2', 'IDLE']);
          clock.advance(60_000);
          await store.recordSellerUse(
            [
              { sellingPartnerId: 'H1', region: 'na' },
              { sellingPartnerId: 'H2', region: 'na' },
              { sellingPartnerId: 'UNKNOWN', region: 'na' },
              { sellingPartnerId: 'H1', region: 'eu' },
            ],
            t0 + 60_000,
          );
          // An older use arriving late (another instance's batch) does not move a later one back.
          await store.recordSellerUse([{ sellingPartnerId: 'H2', region: 'na' }], t0 + 30_000);
          assert.deepEqual(ids(await store.listRefreshDue({ before, usedSince: t0 + 1 })), ['H1', 'H2']);
          assert.deepEqual(ids(await store.listRefreshDue({ before, usedSince: t0 + 60_000 })), ['H1', 'H2']);
          assert.deepEqual(ids(await store.listRefreshDue({ before, usedSince: t0 + 60_001 })), []);
          assert.equal((await store.listRefreshDue({ before })).length, 3, 'no window: every active seller');
          // A token that expired before the window cannot belong to a seller used inside it.
          assert.deepEqual(await store.listRefreshDue({ before, usedSince: t0 + 3_600_000 }), []);
          const record = await store.getSeller({ sellingPartnerId: 'H1', region: 'na' });
          assert.equal(record?.version, 1, 'a recorded use is no change of the authorization');
          await assert.rejects(store.listRefreshDue({ before, usedSince: Number.NaN }), TypeError);
          await assert.rejects(store.recordSellerUse([], Number.NaN), TypeError);
        }));

      it('claims: due sellers claimed in batches, soonest first, disjoint until the claim lapses', () =>
        withStore(async (store, clock, db) => {
          const t0 = clock.now();
          for (let i = 0; i < 10; i++) {
            await store.saveAuthorization(
              authorization({
                sellingPartnerId: `C${i}`,
                accessToken: { accessToken: `Atza|c${i}`, expiresAt: t0 + 1_000 + (9 - i) },
              }),
            );
          }
          await store.saveAuthorization(
            authorization({
              sellingPartnerId: 'LATER',
              accessToken: { accessToken: 'Atza|later', expiresAt: t0 + 3_600_000 },
            }),
          );
          const ids = (list: readonly { sellingPartnerId: string }[]) => list.map((e) => e.sellingPartnerId);
          const other = db.shared ? await db.open({ keyRing: RING, now: clock.now }) : store;
          try {
            const query = { before: t0 + 60_000, usedSince: t0, limit: 4, claimForMs: 30_000 };
            const a = await store.claimRefreshDue(query);
            assert.deepEqual(ids(a), ['C9', 'C8', 'C7', 'C6']);
            // The listing leaves claimed sellers out when asked (what is left to share).
            const unclaimed = await other.listRefreshDue({ before: t0 + 60_000, unclaimed: true });
            assert.deepEqual(ids(unclaimed), ['C5', 'C4', 'C3', 'C2', 'C1', 'C0']);
            assert.equal((await other.listRefreshDue({ before: t0 + 60_000 })).length, 10);
            // Two claims at once (two instances on a shared database): disjoint.
            const [b, c] = await Promise.all([store.claimRefreshDue(query), other.claimRefreshDue(query)]);
            const claimed = [...ids(a), ...ids(b), ...ids(c)];
            assert.equal(new Set(claimed).size, claimed.length, `claimed twice: ${claimed.join(',')}`);
            assert.deepEqual(claimed.sort(), [...Array.from({ length: 10 }, (_, i) => `C${i}`)].sort());
            assert.deepEqual(await other.claimRefreshDue(query), [], 'everything due is claimed');
            clock.advance(30_000);
            assert.equal((await other.claimRefreshDue({ ...query, limit: 100 })).length, 10, 'claims lapse');
            await assert.rejects(store.claimRefreshDue({ ...query, claimForMs: 0 }), TypeError);
          } finally {
            if (other !== store) await other.close();
          }
        }));

      it("claims: a committed refresh shortens the claim to half the new token's life (at most 30 s)", () =>
        withStore(async (store, clock) => {
          const t0 = clock.now();
          for (const id of ['S1', 'S2'])
            await store.saveAuthorization(
              authorization({
                sellingPartnerId: id,
                accessToken: { accessToken: `Atza|${id}`, expiresAt: t0 + 1_000 },
              }),
            );
          const query = { before: t0 + 60_000, limit: 10, claimForMs: 120_000 };
          assert.equal((await store.claimRefreshDue(query)).length, 2);
          // S1 renewed with a 20 s token: claimed 10 s more, then listed again (its next refresh
          // point is ahead of the batch's claim). S2 not renewed: its claim holds to the end.
          const key = { sellingPartnerId: 'S1', region: 'na' as const };
          const lease = await store.acquireRefreshLease(key, 'me', 30_000);
          assert.ok(lease);
          assert.ok(
            await store.commitRefresh(key, lease, { accessToken: 'Atza|S1-2', expiresAt: t0 + 20_000 }),
          );
          const unclaimed = async () =>
            (await store.listRefreshDue({ before: t0 + 7_200_000, unclaimed: true })).map(
              (e) => e.sellingPartnerId,
            );
          assert.deepEqual(await unclaimed(), []);
          clock.advance(10_000);
          assert.deepEqual(await unclaimed(), ['S1']);
          // A refresh after the claim lapsed leaves it lapsed.
          const again = await store.acquireRefreshLease(key, 'me', 30_000);
          assert.ok(again);
          assert.ok(
            await store.commitRefresh(key, again, { accessToken: 'Atza|S1-3', expiresAt: t0 + 3_600_000 }),
          );
          assert.deepEqual(await unclaimed(), ['S1']);
          clock.advance(110_000);
          assert.deepEqual(await unclaimed(), ['S2', 'S1']);
        }));

      it('cluster deadlines: raised, never lowered, shared by every store on the database', () =>
        withStore(async (store, clock, db) => {
          const t0 = clock.now();
          assert.equal(await store.readClusterDeadline('lwa_throttle'), 0);
          await store.raiseClusterDeadline('lwa_throttle', t0 + 20_000);
          await store.raiseClusterDeadline('lwa_throttle', t0 + 5_000);
          assert.equal(await store.readClusterDeadline('lwa_throttle'), t0 + 20_000);
          if (db.shared) {
            const other = await db.open({ keyRing: RING, now: clock.now });
            try {
              assert.equal(await other.readClusterDeadline('lwa_throttle'), t0 + 20_000);
              await other.raiseClusterDeadline('lwa_throttle', t0 + 30_000);
            } finally {
              await other.close();
            }
            assert.equal(await store.readClusterDeadline('lwa_throttle'), t0 + 30_000);
          }
          await assert.rejects(store.raiseClusterDeadline("x'; DROP TABLE sellers; --", t0), TypeError);
        }));

      it('stores SQL-injection strings as seller ids verbatim, with the tables intact', () =>
        withStore(async (store) => {
          await store.saveAuthorization(authorization({ sellingPartnerId: 'ZZ-CONTROL' }));
          await store.createApiKey({ id: 'k1', name: 'ci', hash: 'h1', scopes: ['tokens:read'] });
          for (const id of SQL_INJECTION_IDS) {
            const token = `Atzr|${id}`;
            await store.saveAuthorization(
              authorization({ sellingPartnerId: id, userRef: id, refreshToken: token }),
            );
            const key = { sellingPartnerId: id, region: 'na' as const };
            assert.equal((await store.getSeller(key))?.sellingPartnerId, id);
            assert.equal((await store.loadTokens(key))?.refreshToken, token);
            assert.equal((await store.findSellers(id)).length, 1);
            const found = await store.listSellers({ search: id });
            assert.deepEqual(
              found.items.map((s) => s.sellingPartnerId),
              [id],
            );
          }
          await assert.rejects(
            store.saveAuthorization(authorization({ sellingPartnerId: 'A6\u0000nul' })),
            TypeError,
          );
          assert.equal((await store.listSellers({ limit: 500 })).items.length, SQL_INJECTION_IDS.length + 1);
          assert.equal((await store.listSellers({ search: 'A4%' })).items.length, 1, 'a % is not a wildcard');
          assert.equal((await store.listSellers({ search: 'A_' })).items.length, 0, 'an _ is not a wildcard');
          assert.equal((await store.listApiKeys()).length, 1);
          assert.equal(
            (await store.getSeller({ sellingPartnerId: 'ZZ-CONTROL', region: 'na' }))?.status,
            'active',
          );
        }));
    });

    describe('the refresh lease', () => {
      it('gives the lease to one owner until it expires, then to another', () =>
        withStore(async (store, clock) => {
          await store.saveAuthorization(authorization());
          const a = await store.acquireRefreshLease(KEY, 'a', 15_000);
          assert.deepEqual(a, { owner: 'a', version: 1, expiresAt: clock.now() + 15_000 });
          assert.equal(await store.acquireRefreshLease(KEY, 'b', 15_000), null);
          clock.advance(14_999);
          assert.equal(await store.acquireRefreshLease(KEY, 'b', 15_000), null);
          clock.advance(1);
          const b = await store.acquireRefreshLease(KEY, 'b', 15_000);
          assert.equal(b?.owner, 'b');
          assert.equal(
            await store.acquireRefreshLease(KEY, 'b', 15_000),
            null,
            'not even for the same owner',
          );
          const seller = await store.getSeller(KEY);
          assert.equal(seller?.leaseOwner, 'b');
          assert.equal(seller?.leaseExpiresAt, clock.now() + 15_000);
          assert.equal(await store.acquireRefreshLease({ ...KEY, region: 'fe' }, 'a', 1000), null);
        }));

      it('commits a refresh by compare-and-set; a paused holder cannot overwrite a newer token', () =>
        withStore(async (store, clock) => {
          await store.saveAuthorization(authorization());
          const paused = await store.acquireRefreshLease(KEY, 'paused', 1000);
          assert.ok(paused);
          clock.advance(1000);
          const fresh = await store.acquireRefreshLease(KEY, 'fresh', 1000);
          assert.ok(fresh);
          const token = { accessToken: 'Atza|new', expiresAt: clock.now() + 3_600_000 };
          assert.equal(await store.commitRefresh(KEY, fresh, token), true);
          assert.equal(
            await store.commitRefresh(KEY, paused, { accessToken: 'Atza|stale', expiresAt: clock.now() + 1 }),
            false,
          );
          const state = await store.loadTokens(KEY);
          assert.deepEqual(state?.accessToken, token);
          assert.equal(state?.version, 2);
          const seller = await store.getSeller(KEY);
          assert.equal(seller?.leaseOwner, null);
          assert.equal(seller?.lastRefreshAt, clock.now());
          // A commit with a lease whose version is stale fails even for the same owner.
          const again = await store.acquireRefreshLease(KEY, 'paused', 1000);
          assert.equal(again?.version, 2);
          assert.equal(await store.commitRefresh(KEY, paused, token), false);
        }));

      it('stores a rotated refresh token in the refresh compare-and-set, sealed; a lost lease stores nothing (T-B17)', () =>
        withStore(async (store, clock) => {
          await store.saveAuthorization(authorization({ refreshToken: 'Atzr|gen-0' }));
          const vault = createStoreTokenVault(store, { owner: 'fresh', now: clock.now });
          const paused = await store.acquireRefreshLease(KEY, 'paused', 1000);
          assert.ok(paused);
          clock.advance(1000);
          const fresh = await vault.acquireLease(KEY, 1000);
          assert.ok(fresh);
          await assert.rejects(
            store.commitRefresh(KEY, fresh, { accessToken: 'Atza|x', expiresAt: clock.now() + 1 }, ''),
            TypeError,
          );
          const token = { accessToken: 'Atza|gen-1', expiresAt: clock.now() + 3_600_000 };
          assert.equal(await vault.commitRefresh(KEY, fresh, token, 'Atzr|gen-1'), true);
          const stale = { accessToken: 'Atza|stale', expiresAt: clock.now() + 1 };
          assert.equal(await store.commitRefresh(KEY, paused, stale, 'Atzr|stale'), false);
          const state = await store.loadTokens(KEY);
          assert.equal(state?.refreshToken, 'Atzr|gen-1');
          assert.deepEqual(state?.accessToken, token);
          assert.equal(state?.version, 2);
          // Sealed at rest like any refresh token: no plaintext, bound to the refresh_token column
          // of this row (loadTokens opening it above checked the AAD).
          const { items } = await store.listEncryptedValues({ limit: 100 });
          const sealed = items.find((r) => r.rowKey === 'na|A3FHEXAMPLEYWS' && r.column === 'refresh_token');
          assert.equal(sealedKeyId(sealed!.ciphertext), 'k1');
          assert.ok(!items.some((r) => r.ciphertext.includes('gen-1')), 'no plaintext at rest');
          // Without a rotated token the stored one stays.
          const next = await store.acquireRefreshLease(KEY, 'fresh', 1000);
          assert.ok(next);
          assert.equal(await store.commitRefresh(KEY, next, { ...token, accessToken: 'Atza|gen-2' }), true);
          assert.equal((await store.loadTokens(KEY))?.refreshToken, 'Atzr|gen-1');
        }));

      it('releases a lease with a recorded failure, ignoring a lost lease', () =>
        withStore(async (store, clock) => {
          await store.saveAuthorization(authorization());
          const lease = await store.acquireRefreshLease(KEY, 'a', 1000);
          assert.ok(lease);
          await store.releaseRefreshLease(KEY, { ...lease, owner: 'someone-else' });
          assert.equal((await store.getSeller(KEY))?.leaseOwner, 'a');
          await store.releaseRefreshLease(KEY, lease, { code: 'upstream_unavailable', message: 'LWA 503' });
          const seller = await store.getSeller(KEY);
          assert.equal(seller?.leaseOwner, null);
          assert.deepEqual(seller?.lastError, {
            code: 'upstream_unavailable',
            message: 'LWA 503',
            at: clock.now(),
          });
          assert.equal(seller?.version, 1);
          await store.releaseRefreshLease(KEY, lease);
          assert.ok(await store.acquireRefreshLease(KEY, 'b', 1000));
        }));

      it('marks re-authorization required only for the lease holder, with its events', () =>
        withStore(async (store) => {
          await store.saveAuthorization(
            authorization({ accessToken: { accessToken: 'Atza|x', expiresAt: Number.MAX_SAFE_INTEGER } }),
          );
          const lease = await store.acquireRefreshLease(KEY, 'a', 1000);
          assert.ok(lease);
          assert.equal(
            await store.markReauthorizationRequired(KEY, { ...lease, owner: 'b' }, { code: 'invalid_grant' }),
            false,
          );
          assert.equal(
            await store.markReauthorizationRequired(
              KEY,
              lease,
              { code: 'invalid_grant', message: 'refresh token revoked' },
              {
                events: [event('seller.reauthorization_required')],
                audit: [{ action: 'seller.reauthorization_required' }],
              },
            ),
            true,
          );
          const state = await store.loadTokens(KEY);
          assert.equal(state?.status, 'reauthorization_required');
          assert.equal(state?.accessToken, null);
          assert.equal((await store.getSeller(KEY))?.lastError?.code, 'invalid_grant');
          assert.equal(
            (await store.claimWebhookEvents('w', { limit: 10, leaseMs: 1000 }))[0]?.type,
            'seller.reauthorization_required',
          );
        }));

      it('discards a cached access token only while it is the stored one', () =>
        withStore(async (store) => {
          await store.saveAuthorization(
            authorization({
              accessToken: { accessToken: 'Atza|cached', expiresAt: Number.MAX_SAFE_INTEGER },
            }),
          );
          await store.discardAccessToken(KEY, 'Atza|other');
          assert.equal((await store.loadTokens(KEY))?.accessToken?.accessToken, 'Atza|cached');
          await store.discardAccessToken(KEY, 'Atza|cached');
          assert.equal((await store.loadTokens(KEY))?.accessToken, null);
          assert.equal((await store.getSeller(KEY))?.accessTokenExpiresAt, null);
        }));

      it('gives one lease to exactly one of 20 concurrent owners', () =>
        withStore(async (store) => {
          await store.saveAuthorization(authorization());
          const results = await Promise.all(
            Array.from({ length: 20 }, (_, i) => store.acquireRefreshLease(KEY, `owner-${i}`, 60_000)),
          );
          assert.equal(results.filter(Boolean).length, 1);
        }));

      it('implements the core TokenVault over the store', () =>
        withStore(async (store, clock) => {
          await store.saveAuthorization(authorization({ refreshToken: 'Atzr|vault' }));
          const a = createStoreTokenVault(store, { owner: 'instance-a', now: clock.now });
          const b = createStoreTokenVault(store, { owner: 'instance-b', now: clock.now });
          assert.equal((await a.load(KEY))?.refreshToken, 'Atzr|vault');
          const lease = await a.acquireLease(KEY, 15_000);
          assert.equal(lease?.owner, 'instance-a');
          assert.equal(await b.acquireLease(KEY, 15_000), null);
          assert.ok(lease);
          assert.equal(
            await a.commitRefresh(KEY, lease, { accessToken: 'Atza|v', expiresAt: clock.now() + 1000 }),
            true,
          );
          assert.equal((await b.load(KEY))?.accessToken?.accessToken, 'Atza|v');
          const lease2 = await b.acquireLease(KEY, 15_000);
          assert.ok(lease2);
          await b.markReauthorizationRequired(KEY, lease2, { code: 'invalid_grant' });
          assert.equal((await a.load(KEY))?.status, 'reauthorization_required');
          const [sent] = await store.claimWebhookEvents('w', { limit: 5, leaseMs: 1000 });
          assert.equal(sent?.type, 'seller.reauthorization_required');
          assert.deepEqual(sent?.data, {
            selling_partner_id: KEY.sellingPartnerId,
            region: 'na',
            kind: 'seller',
            user_ref: 'user-1',
            reason: 'invalid_grant',
          });
          await b.discardAccessToken?.(KEY, 'nothing');
        }));
    });

    describe('OAuth transactions and sessions', () => {
      const tx = oauthTransaction;

      it('consumes a transaction once, after checking the binding, and returns its data', () =>
        withStore(async (store, clock) => {
          const input = tx();
          await store.createOAuthTransaction(input);
          assert.deepEqual(await store.consumeOAuthTransaction(input.stateHash, 'wrong'), {
            ok: false,
            reason: 'binding_mismatch',
          });
          const first = await store.consumeOAuthTransaction(input.stateHash, 'binding');
          assert.ok(first.ok);
          assert.deepEqual(first.value, { ...input, createdAt: clock.now(), consumedAt: clock.now() });
          assert.deepEqual(await store.consumeOAuthTransaction(input.stateHash, 'binding'), {
            ok: false,
            reason: 'consumed',
          });
          assert.deepEqual(await store.consumeOAuthTransaction('unknown', 'binding'), {
            ok: false,
            reason: 'not_found',
          });
          const noPkce = tx({
            pkceVerifier: null,
            expectedSellingPartnerId: 'A1',
            flow: 'appstore',
            userRef: null,
          });
          await store.createOAuthTransaction(noPkce);
          const second = await store.consumeOAuthTransaction(noPkce.stateHash, 'binding');
          assert.ok(
            second.ok && second.value.pkceVerifier === null && second.value.expectedSellingPartnerId === 'A1',
          );
        }));

      it('refuses an expired transaction', () =>
        withStore(async (store, clock) => {
          const input = tx({ expiresAt: clock.now() + 1000 });
          await store.createOAuthTransaction(input);
          clock.advance(1000);
          assert.deepEqual(await store.consumeOAuthTransaction(input.stateHash, 'binding'), {
            ok: false,
            reason: 'expired',
          });
        }));

      it('lets exactly one of 20 concurrent consumers win', () =>
        withStore(async (store, _clock, db) => {
          const input = tx();
          await store.createOAuthTransaction(input);
          // On a shared database, half the consumers go through a second instance.
          const other = db.shared ? await db.open({ keyRing: RING, now: _clock.now }) : store;
          try {
            const results = await Promise.all(
              Array.from({ length: 20 }, (_, i) =>
                (i % 2 ? other : store).consumeOAuthTransaction(input.stateHash, 'binding'),
              ),
            );
            assert.equal(results.filter((r) => r.ok).length, 1);
            assert.ok(results.every((r) => r.ok || r.reason === 'consumed'));
          } finally {
            if (other !== store) await other.close();
          }
        }));

      it('consumes connect and Appstore sessions once, by type', () =>
        withStore(async (store, clock) => {
          const payload = { user_ref: 'u1', marketplace: 'DE', kind: 'seller', return_to: null };
          await store.createSession({
            tokenHash: 'c1',
            type: 'connect',
            expiresAt: clock.now() + 600_000,
            payload,
          });
          await store.createSession({
            tokenHash: 'p1',
            type: 'appstore',
            expiresAt: clock.now() + 10,
            payload: {},
          });
          assert.deepEqual(await store.consumeSession('c1', 'appstore'), { ok: false, reason: 'not_found' });
          const results = await Promise.all(
            Array.from({ length: 20 }, () => store.consumeSession('c1', 'connect')),
          );
          const winners = results.filter((r) => r.ok);
          assert.equal(winners.length, 1);
          assert.deepEqual(winners[0]?.ok && winners[0].value.payload, payload);
          clock.advance(10);
          assert.deepEqual(await store.consumeSession('p1', 'appstore'), { ok: false, reason: 'expired' });
        }));

      it('purges expired transactions and sessions after the grace period', () =>
        withStore(async (store, clock) => {
          await store.createOAuthTransaction(tx({ stateHash: 'old', expiresAt: clock.now() + 1000 }));
          await store.createOAuthTransaction(tx({ stateHash: 'new', expiresAt: clock.now() + 7_200_000 }));
          await store.createSession({
            tokenHash: 's',
            type: 'connect',
            expiresAt: clock.now() + 1000,
            payload: {},
          });
          clock.advance(1000 + 3_600_000);
          assert.equal(await store.purgeExpired(), 0);
          clock.advance(1);
          assert.equal(await store.purgeExpired(), 2);
          assert.deepEqual(await store.consumeOAuthTransaction('old', 'binding'), {
            ok: false,
            reason: 'not_found',
          });
          assert.equal((await store.consumeOAuthTransaction('new', 'binding')).ok, true);
        }));
    });

    describe('the pending-flow cap', () => {
      const tx = oauthTransaction;
      it('trimPendingFlows keeps the newest unconsumed Appstore transactions and pending Appstore sessions, never consumed rows, website transactions or connect links', () =>
        withStore(async (store, clock) => {
          for (let i = 0; i < 8; i++) {
            const expiresAt = clock.now() + 600_000;
            await store.createOAuthTransaction(tx({ stateHash: `t${i}`, flow: 'appstore', expiresAt }));
            await store.createOAuthTransaction(tx({ stateHash: `w${i}`, flow: 'website', expiresAt }));
            await store.createSession({
              tokenHash: `a${i}`,
              type: 'appstore',
              expiresAt: clock.now() + 600_000,
              payload: {},
            });
            await store.createSession({
              tokenHash: `c${i}`,
              type: 'connect',
              expiresAt: clock.now() + 600_000,
              payload: {},
            });
            clock.advance(1000);
          }
          // Two consumed transactions: not pending, not trimmed, not counted.
          assert.equal((await store.consumeOAuthTransaction('t0', 'binding')).ok, true);
          assert.equal((await store.consumeOAuthTransaction('t5', 'binding')).ok, true);
          assert.equal(await store.trimPendingFlows(3), 3 + 5);
          const txLeft: string[] = [];
          for (let i = 0; i < 8; i++) {
            const r = await store.consumeOAuthTransaction(`t${i}`, 'binding');
            if (r.ok || r.reason === 'consumed') txLeft.push(`t${i}`);
          }
          assert.deepEqual(txLeft, ['t0', 't4', 't5', 't6', 't7']);
          const apLeft: string[] = [];
          for (let i = 0; i < 8; i++)
            if ((await store.consumeSession(`a${i}`, 'appstore')).ok) apLeft.push(`a${i}`);
          assert.deepEqual(apLeft, ['a5', 'a6', 'a7']);
          for (let i = 0; i < 8; i++)
            assert.equal(
              (await store.consumeOAuthTransaction(`w${i}`, 'binding')).ok,
              true,
              `website transaction w${i} kept (it came from a connect link)`,
            );
          for (let i = 0; i < 8; i++)
            assert.equal(
              (await store.consumeSession(`c${i}`, 'connect')).ok,
              true,
              `connect link c${i} kept`,
            );
          assert.equal(await store.trimPendingFlows(3), 0, 'nothing left to trim');
        }));

      it('trimPendingFlows deletes the expired pending rows first (they are the oldest)', () =>
        withStore(async (store, clock) => {
          await store.createOAuthTransaction(
            tx({ stateHash: 'expired', flow: 'appstore', expiresAt: clock.now() + 10 }),
          );
          clock.advance(1000);
          await store.createOAuthTransaction(
            tx({ stateHash: 'live', flow: 'appstore', expiresAt: clock.now() + 600_000 }),
          );
          assert.equal(await store.trimPendingFlows(1), 1);
          assert.equal((await store.consumeOAuthTransaction('live', 'binding')).ok, true);
          assert.deepEqual(await store.consumeOAuthTransaction('expired', 'binding'), {
            ok: false,
            reason: 'not_found',
          });
          await assert.rejects(store.trimPendingFlows(-1), RangeError);
        }));
    });

    describe('revocations', () => {
      it('records revocations (a key revoke and a seller delete in their own transaction), lists them since a time, purges expired ones', () =>
        withStore(async (store, clock) => {
          const t0 = clock.now();
          await store.createApiKey({ id: 'key1', name: null, hash: 'c'.repeat(64), scopes: [] });
          assert.equal(await store.revokeApiKey('key1'), true);
          clock.advance(10);
          await store.saveAuthorization(authorization());
          assert.equal(await store.deleteSeller(KEY), true);
          clock.advance(10);
          await store.recordRevocation({
            kind: 'admin_session',
            subject: 's1',
            expiresAt: clock.now() + 1000,
          });
          assert.deepEqual(
            (await store.listRevocations(t0)).map((r) => [r.kind, r.subject, r.revokedAt - t0]),
            [
              ['api_key', 'key1', 0],
              ['seller', `${KEY.sellingPartnerId}:${KEY.region}`, 10],
              ['admin_session', 's1', 20],
            ],
          );
          assert.deepEqual(
            (await store.listRevocations(t0 + 15)).map((r) => r.subject),
            ['s1'],
          );
          assert.equal(await store.isRevoked('admin_session', 's1'), true);
          assert.equal(await store.isRevoked('admin_session', 's2'), false);
          // A second revocation of the same subject renews the row (one row, the later time).
          clock.advance(5);
          await store.recordRevocation({
            kind: 'admin_session',
            subject: 's1',
            expiresAt: clock.now() + 1000,
          });
          assert.deepEqual(
            (await store.listRevocations(t0 + 15)).map((r) => [r.subject, r.revokedAt - t0]),
            [['s1', 25]],
          );
          // Past its expiry a row is neither listed nor counted, and the next record purges it.
          clock.advance(1001);
          assert.equal(await store.isRevoked('admin_session', 's1'), false);
          await store.recordRevocation({
            kind: 'admin_session',
            subject: 's2',
            expiresAt: clock.now() + 1000,
          });
          assert.deepEqual(
            (await store.listRevocations(0)).map((r) => r.subject).filter((x) => x.startsWith('s')),
            ['s2'],
          );
        }));
    });

    describe('API keys, client secrets, audit', () => {
      it('creates, finds, touches, lists and revokes API keys', () =>
        withStore(async (store, clock) => {
          const created = await store.createApiKey(
            { id: 'key1', name: 'orders', hash: 'a'.repeat(64), scopes: ['tokens:read', 'sellers:read'] },
            { audit: [{ action: 'api_key.created', actor: 'cli' }] },
          );
          assert.deepEqual(created, {
            id: 'key1',
            name: 'orders',
            hash: 'a'.repeat(64),
            scopes: ['tokens:read', 'sellers:read'],
            createdAt: clock.now(),
            lastUsedAt: null,
            revokedAt: null,
          });
          assert.deepEqual(await store.findApiKeyByHash('a'.repeat(64)), created);
          assert.equal(await store.findApiKeyByHash('b'.repeat(64)), null);
          await assert.rejects(
            store.createApiKey({ id: 'key2', name: null, hash: 'a'.repeat(64), scopes: [] }),
          );
          clock.advance(5);
          await store.touchApiKey('key1');
          assert.equal((await store.findApiKeyByHash('a'.repeat(64)))?.lastUsedAt, clock.now());
          assert.equal(await store.revokeApiKey('key1'), true);
          assert.equal(await store.revokeApiKey('key1'), false);
          assert.equal((await store.listApiKeys())[0]?.revokedAt, clock.now());
          assert.equal((await store.listAudit())[0]?.action, 'api_key.created');
        }));

      it('keeps client secrets encrypted, newest first, with expiry', () =>
        withStore(async (store, clock) => {
          await store.saveAppSecret({
            id: 's1',
            clientId: 'amzn1.application-oa2-client.x',
            secret: 'old-secret',
            expiresAt: null,
          });
          clock.advance(1);
          await store.saveAppSecret({
            id: 's2',
            clientId: 'amzn1.application-oa2-client.x',
            secret: 'new-secret',
            expiresAt: clock.now() + 1000,
            audit: [{ action: 'client_secret.accepted' }],
          });
          const list = await store.listAppSecrets('amzn1.application-oa2-client.x');
          assert.deepEqual(
            list.map((s) => s.secret),
            ['new-secret', 'old-secret'],
          );
          assert.equal(await store.setAppSecretExpiry('s1', clock.now() + 5), true);
          assert.equal(
            (await store.listAppSecrets('amzn1.application-oa2-client.x'))[1]?.expiresAt,
            clock.now() + 5,
          );
          assert.equal(await store.deleteAppSecret('s1'), true);
          assert.equal(await store.deleteAppSecret('s1'), false);
          assert.equal((await store.listAppSecrets('other')).length, 0);
        }));

      it('appends audit records and lists them by seller, newest first, paged', () =>
        withStore(async (store, clock) => {
          for (let i = 0; i < 5; i++) {
            await store.appendAudit([
              {
                action: 'token.released',
                actor: 'key1',
                sellingPartnerId: 'S1',
                region: 'na',
                outcome: 'cache_hit',
                details: { i },
              },
              {
                action: 'token.released',
                actor: 'key1',
                sellingPartnerId: 'S2',
                region: 'eu',
                outcome: 'ok',
              },
            ]);
          }
          const s1 = await store.listAudit({ sellingPartnerId: 'S1' });
          assert.equal(s1.length, 5);
          assert.deepEqual(
            s1.map((r) => r.details.i),
            [4, 3, 2, 1, 0],
          );
          assert.equal(s1[0]?.at, clock.now());
          const page = await store.listAudit({ limit: 3 });
          assert.equal(page.length, 3);
          const next = await store.listAudit({ before: page[2]!.id, limit: 100 });
          assert.equal(next.length, 7);
          assert.equal((await store.listAudit({ region: 'eu' })).length, 5);
          await assert.rejects(store.appendAudit([{ action: 'oops', actor: 'Atza|leaked' }]), TypeError);
          assert.equal((await store.listAudit({ limit: 1000 })).length, 10);
        }));
    });

    describe('unattended rotation: the cluster lease, notifications kept aside, rotations', () => {
      it('a cluster lease has one holder; renewed by it, taken over once it lapses, shared by every store', () =>
        withStore(async (store, clock, db) => {
          const t0 = clock.now();
          const a = await store.acquireClusterLease('notifications', 'a', 30_000);
          assert.deepEqual(a, { name: 'notifications', owner: 'a', expiresAt: t0 + 30_000, acquiredAt: t0 });
          assert.equal(await store.acquireClusterLease('notifications', 'b', 30_000), null);
          clock.advance(10_000);
          const renewed = await store.acquireClusterLease('notifications', 'a', 30_000);
          assert.deepEqual(renewed, {
            name: 'notifications',
            owner: 'a',
            expiresAt: t0 + 40_000,
            acquiredAt: t0,
          });
          if (db.shared) {
            const other = await db.open({ keyRing: RING, now: clock.now });
            try {
              assert.equal(await other.acquireClusterLease('notifications', 'b', 30_000), null);
              clock.advance(30_000);
              const taken = await other.acquireClusterLease('notifications', 'b', 30_000);
              assert.equal(taken?.owner, 'b');
              assert.equal(taken?.acquiredAt, clock.now());
            } finally {
              await other.close();
            }
            assert.equal(await store.acquireClusterLease('notifications', 'a', 30_000), null, 'a lost it');
            assert.equal(await store.releaseClusterLease('notifications', 'a'), false);
            assert.equal(await store.releaseClusterLease('notifications', 'b'), true);
            assert.equal(await store.readClusterLease('notifications'), null);
          }
          assert.ok(await store.acquireClusterLease('other-job', 'a', 1_000), 'leases are per name');
          await assert.rejects(store.acquireClusterLease("x'; DROP TABLE sellers; --", 'a', 1), TypeError);
          await assert.rejects(store.acquireClusterLease('n', '', 1), TypeError);
        }));

      it('keeps a notification aside once, its body sealed, with its effects', () =>
        withStore(async (store) => {
          const body = JSON.stringify({
            notificationType: 'APPLICATION_OAUTH_CLIENT_NEW_SECRET',
            s: 'aside-secret-1',
          });
          const input = {
            id: 'msg-1',
            notificationId: 'n-1',
            notificationType: 'APPLICATION_OAUTH_CLIENT_NEW_SECRET',
            code: 'client_id_mismatch',
            reason: 'The notification is for another LWA client id.',
            body,
            audit: [{ action: 'notification.set_aside', actor: 'system', outcome: 'client_id_mismatch' }],
          };
          assert.equal(await store.setNotificationAside(input), true);
          assert.equal(await store.setNotificationAside(input), false, 'the same message twice is kept once');
          assert.equal(await store.countNotificationsAside(), 1);
          const [kept] = await store.listNotificationsAside();
          assert.equal(kept?.body, body);
          assert.equal(kept?.code, 'client_id_mismatch');
          assert.equal(
            (await store.listAudit()).filter((r) => r.action === 'notification.set_aside').length,
            1,
          );
          const sealed = await store.listEncryptedValues({ cursor: null, limit: 100 });
          const refs = [];
          for (let page = sealed; ;) {
            refs.push(...page.items);
            if (page.nextCursor === null) break;
            page = await store.listEncryptedValues({ cursor: page.nextCursor, limit: 100 });
          }
          const ref = refs.find((r) => r.table === 'notifications_aside');
          assert.ok(ref && !ref.ciphertext.includes('aside-secret-1'), 'the body is stored encrypted');
        }));

      it('a rotation per deadline, moved by compare-and-set: one claim wins', () =>
        withStore(async (store, clock) => {
          const t0 = clock.now();
          const input = {
            clientId: 'amzn1.application-oa2-client.x',
            deadlineAt: t0 + 86_400_000,
            source: 'notice' as const,
          };
          const first = await store.openSecretRotation(input, {
            audit: [{ action: 'client_secret.rotation_due' }],
          });
          assert.equal(first.created, true);
          assert.equal(first.record.state, 'due');
          const again = await store.openSecretRotation(input, {
            audit: [{ action: 'client_secret.rotation_due' }],
          });
          assert.equal(again.created, false);
          assert.equal(again.record.id, first.record.id);
          assert.equal((await store.listAudit()).length, 1, 'effects only when created');
          const id = first.record.id;
          const claims = await Promise.all(
            ['a', 'b', 'c'].map((owner) =>
              store.transitionSecretRotation(id, ['due'], {
                state: 'requested',
                owner,
                requestedAt: t0,
                countAttempt: true,
              }),
            ),
          );
          assert.equal(claims.filter((c) => c !== null).length, 1);
          const won = claims.find((c) => c !== null)!;
          assert.equal(won.attempts, 1);
          assert.equal(won.requestedAt, t0);
          const failed = await store.transitionSecretRotation(id, ['requested'], {
            state: 'failed',
            lastErrorCode: 'rotation_not_enrolled',
            retryAt: t0 + 3_600_000,
          });
          assert.equal(failed?.lastErrorCode, 'rotation_not_enrolled');
          assert.equal(
            await store.transitionSecretRotation(id, ['failed'], { state: 'requested' }, { readyBy: t0 }),
            null,
            'not before its retry time',
          );
          clock.advance(3_600_000);
          const retried = await store.transitionSecretRotation(
            id,
            ['failed'],
            { state: 'requested', countAttempt: true, retryAt: null, lastErrorCode: null },
            { readyBy: clock.now(), events: [] },
          );
          assert.equal(retried?.attempts, 2);
          assert.equal(retried?.lastErrorCode, null);
          await store.openSecretRotation({ ...input, deadlineAt: t0 + 2 * 86_400_000, source: 'age' });
          const listed = await store.listSecretRotations(input.clientId);
          assert.deepEqual(
            listed.map((r) => r.source),
            ['age', 'notice'],
            'latest deadline first',
          );
          assert.deepEqual(await store.listSecretRotations('another-client'), []);
          await assert.rejects(store.transitionSecretRotation(id, [], { state: 'due' }), TypeError);
        }));
    });

    describe('the webhook outbox', () => {
      it('claims due events with a lease, delivers, retries and gives up', () =>
        withStore(async (store, clock) => {
          const e1 = event('seller.authorized', clock.now());
          const e2 = event('seller.deleted', clock.now() + 1);
          await store.enqueueWebhookEvents([e1, e2]);
          assert.deepEqual(await store.webhookOutboxDepth(), { pending: 2, dead: 0 });
          const first = await store.claimWebhookEvents('w1', { limit: 10, leaseMs: 30_000 });
          assert.deepEqual(
            first.map((e) => e.id),
            [e1.id],
            'e2 is not due yet',
          );
          assert.equal(first[0]?.attempts, 1);
          assert.deepEqual(first[0]?.data, e1.data);
          clock.advance(1);
          const second = await store.claimWebhookEvents('w2', { limit: 10, leaseMs: 30_000 });
          assert.deepEqual(
            second.map((e) => e.id),
            [e2.id],
            'a claimed event is not claimed twice',
          );
          assert.equal(await store.markWebhookDelivered(e1.id, 'w2'), false);
          assert.equal(await store.markWebhookDelivered(e1.id, 'w1'), true);
          assert.equal(
            await store.markWebhookFailed(e2.id, 'w2', {
              error: 'HTTP 500',
              nextAttemptAt: clock.now() + 1000,
            }),
            true,
          );
          assert.deepEqual(await store.claimWebhookEvents('w3', { limit: 10, leaseMs: 30_000 }), []);
          clock.advance(1000);
          const retry = await store.claimWebhookEvents('w3', { limit: 10, leaseMs: 30_000 });
          assert.equal(retry[0]?.attempts, 2);
          assert.equal(retry[0]?.lastError, 'HTTP 500');
          // A crashed deliverer's lease expires and the event is claimable again.
          clock.advance(30_000);
          const reclaimed = await store.claimWebhookEvents('w4', { limit: 10, leaseMs: 30_000 });
          assert.equal(reclaimed[0]?.id, e2.id);
          assert.equal(
            await store.markWebhookFailed(e2.id, 'w3', { error: 'late', nextAttemptAt: null }),
            false,
          );
          assert.equal(
            await store.markWebhookFailed(e2.id, 'w4', { error: 'gave up', nextAttemptAt: null }),
            true,
          );
          assert.deepEqual(await store.webhookOutboxDepth(), { pending: 0, dead: 1 });
        }));

      it('hands each due event to exactly one of several concurrent claimers', () =>
        withStore(async (store, clock) => {
          await store.enqueueWebhookEvents(Array.from({ length: 30 }, () => event('x', clock.now())));
          const claims = await Promise.all(
            Array.from({ length: 6 }, (_, i) =>
              store.claimWebhookEvents(`w${i}`, { limit: 10, leaseMs: 60_000 }),
            ),
          );
          const ids = claims.flat().map((e) => e.id);
          assert.equal(ids.length, 30);
          assert.equal(new Set(ids).size, 30);
        }));
      it('lists outbox rows newest first by state, paged by seq', () =>
        withStore(async (store, clock) => {
          const events = Array.from({ length: 4 }, (_, i) => event(`t${i}`, clock.now()));
          await store.enqueueWebhookEvents(events);
          const [first, second] = await store.claimWebhookEvents('w1', { limit: 2, leaseMs: 1000 });
          assert.equal(await store.markWebhookDelivered(first!.id, 'w1'), true);
          assert.equal(
            await store.markWebhookFailed(second!.id, 'w1', { error: 'HTTP 410', nextAttemptAt: null }),
            true,
          );
          const all = await store.listWebhookEvents();
          assert.deepEqual(
            all.map((r) => r.id),
            [...events].reverse().map((e) => e.id),
          );
          assert.deepEqual(
            all.map((r) => r.state),
            ['pending', 'pending', 'dead', 'delivered'],
          );
          assert.ok(all[0]!.seq > all[1]!.seq);
          const dead = all[2]!;
          assert.equal(dead.lastError, 'HTTP 410');
          assert.equal(dead.attempts, 1);
          assert.equal(dead.deadAt, clock.now());
          assert.deepEqual(dead.data, events[1]!.data);
          assert.equal(all[3]!.deliveredAt, clock.now());
          const ids = async (query: Parameters<Store['listWebhookEvents']>[0]): Promise<string[]> =>
            (await store.listWebhookEvents(query)).map((r) => r.id);
          assert.deepEqual(await ids({ state: 'pending' }), [events[3]!.id, events[2]!.id]);
          assert.deepEqual(await ids({ state: 'dead' }), [events[1]!.id]);
          assert.deepEqual(await ids({ state: 'delivered' }), [events[0]!.id]);
          assert.deepEqual(await ids({ limit: 1 }), [events[3]!.id]);
          assert.deepEqual(await ids({ before: all[1]!.seq }), [events[1]!.id, events[0]!.id]);
          assert.deepEqual(await ids({ state: 'pending', before: all[1]!.seq }), []);
        }));

      it('retries an undelivered event now, never a delivered one nor one under a live claim', () =>
        withStore(async (store, clock) => {
          const [a, b, c] = await deliveredDeadClaimed(store, clock.now());
          assert.equal(await store.retryWebhookEvent(a.id), false, 'delivered');
          assert.equal(await store.retryWebhookEvent(c.id), false, 'claimed, claim unexpired');
          assert.equal(await store.retryWebhookEvent('no-such-event'), false);
          clock.advance(5000);
          assert.equal(await store.retryWebhookEvent(b.id), true, 'dead');
          assert.deepEqual(await store.webhookOutboxDepth(), { pending: 2, dead: 0 });
          const [row] = (await store.listWebhookEvents()).filter((r) => r.id === b.id);
          assert.equal(row?.state, 'pending');
          assert.equal(row?.nextAttemptAt, clock.now());
          clock.advance(5000);
          assert.equal(await store.retryWebhookEvent(c.id), true, 'the claim expired');
          const again = await store.claimWebhookEvents('w2', { limit: 10, leaseMs: 10_000 });
          assert.deepEqual(again.map((e) => e.id).sort(), [b.id, c.id].sort());
        }));

      it('redelivers a given-up or delivered event with the same id and a fresh attempt count, never a pending one', () =>
        withStore(async (store, clock) => {
          const [a, b, c] = await deliveredDeadClaimed(store, clock.now());
          assert.equal(await store.redeliverWebhookEvent(c.id), false, 'pending (and claimed)');
          assert.equal(await store.redeliverWebhookEvent('no-such-event'), false);
          clock.advance(5000);
          assert.equal(await store.redeliverWebhookEvent(b.id), true, 'dead');
          assert.equal(await store.redeliverWebhookEvent(a.id), true, 'delivered');
          assert.equal(await store.redeliverWebhookEvent(a.id), false, 'already pending again');
          assert.deepEqual(await store.webhookOutboxDepth(), { pending: 3, dead: 0 });
          const rows = await store.listWebhookEvents({ state: 'pending' });
          for (const id of [a.id, b.id]) {
            const row = rows.find((r) => r.id === id);
            assert.equal(row?.attempts, 0, 'a fresh retry schedule');
            assert.equal(row?.lastError, null);
            assert.equal(row?.deliveredAt, null);
            assert.equal(row?.deadAt, null);
            assert.equal(row?.nextAttemptAt, clock.now());
          }
          clock.advance(5000);
          const again = await store.claimWebhookEvents('w2', { limit: 10, leaseMs: 10_000 });
          assert.deepEqual(again.map((e) => e.id).sort(), [a.id, b.id, c.id].sort());
          assert.deepEqual(again.find((e) => e.id === b.id)?.data, b.data, 'the same event');
          assert.equal(again.find((e) => e.id === b.id)?.attempts, 1);
          assert.equal(await store.redeliverWebhookEvent(b.id), false, 'under a live claim');
        }));
    });

    describe('argument checks (alike on every engine)', () => {
      const lease = { owner: 'o', version: 1, expiresAt: 1 };
      const bad: readonly [string, (store: Store) => Promise<unknown>][] = [
        ['an unknown outbox state', (s) => s.listWebhookEvents({ state: 'bogus' as never })],
        ['a fractional outbox cursor', (s) => s.listWebhookEvents({ before: -1.5 })],
        ['a NaN outbox cursor', (s) => s.listWebhookEvents({ before: Number.NaN })],
        ['a string outbox cursor', (s) => s.listWebhookEvents({ before: '5' as never })],
        ['an outbox limit of 0', (s) => s.listWebhookEvents({ limit: 0 })],
        ['a fractional audit cursor', (s) => s.listAudit({ before: -1.5 })],
        ['an unknown audit region', (s) => s.listAudit({ region: 'xx' as never })],
        [
          'a commit without a lease',
          (s) => s.commitRefresh(KEY, {} as never, { accessToken: 'a', expiresAt: 1 }),
        ],
        ['a release without a lease', (s) => s.releaseRefreshLease(KEY, {} as never)],
        [
          'a re-authorization mark without a lease',
          (s) => s.markReauthorizationRequired(KEY, {} as never, { code: 'x' }),
        ],
        [
          'a fractional commit expiry',
          (s) => s.commitRefresh(KEY, lease, { accessToken: 'a', expiresAt: 1.5 }),
        ],
        [
          'an empty rotated refresh token',
          (s) => s.commitRefresh(KEY, lease, { accessToken: 'a', expiresAt: 1 }, ''),
        ],
        [
          'a fractional access token expiry at authorization',
          (s) =>
            s.saveAuthorization(authorization({ accessToken: { accessToken: 'Atza|x', expiresAt: 1.5 } })),
        ],
        ['an unknown partner kind', (s) => s.saveAuthorization(authorization({ kind: 'bogus' as never }))],
        [
          'an unknown session type',
          (s) => s.createSession({ tokenHash: 't', type: 'bogus' as never, expiresAt: 5, payload: {} }),
        ],
        ['a zero lease TTL', (s) => s.acquireRefreshLease(KEY, 'o', 0)],
      ];
      for (const [what, call] of bad) {
        it(`refuses ${what} with a TypeError`, () =>
          withStore(async (store) => {
            await assert.rejects(call(store), TypeError);
            assert.deepEqual(await store.countSellersByStatus(), {
              active: 0,
              reauthorization_required: 0,
            });
          }));
      }
    });

    describe('refresh token fingerprints (one grant, one seller)', () => {
      it('exclusiveRefreshToken refuses a token stored for another seller and writes nothing; the same seller in another region is not another seller', () =>
        withStore(async (store) => {
          const other = { sellingPartnerId: 'AOTHERSELLER', region: 'na' as const };
          await store.saveAuthorization(authorization({ refreshToken: 'Atzr|shared' }));
          assert.deepEqual(await store.findSellersByRefreshToken('Atzr|shared'), [KEY]);
          assert.deepEqual(await store.findSellersByRefreshToken('Atzr|unknown'), []);
          await assert.rejects(
            store.saveAuthorization(
              authorization({
                ...other,
                refreshToken: 'Atzr|shared',
                exclusiveRefreshToken: true,
                events: [event()],
                audit: [{ action: 'seller.authorized' }],
              }),
            ),
            (err: unknown) => err instanceof RefreshTokenInUseError && err.code === 'refresh_token_in_use',
          );
          assert.equal(await store.getSeller(other), null);
          assert.equal((await store.claimWebhookEvents('t', { limit: 10, leaseMs: 1000 })).length, 0);
          // Without the option (a seller's own code exchange) nothing is looked up.
          await store.saveAuthorization(authorization({ ...other, refreshToken: 'Atzr|other' }));
          const eu = { ...KEY, region: 'eu' as const };
          await store.saveAuthorization(
            authorization({
              ...eu,
              marketplace: 'DE',
              refreshToken: 'Atzr|shared',
              exclusiveRefreshToken: true,
            }),
          );
          assert.deepEqual(await store.findSellersByRefreshToken('Atzr|shared'), [eu, KEY]);
        }));

      it('follows the refresh token a refresh rotates and a re-authorization replaces', () =>
        withStore(async (store, clock) => {
          await store.saveAuthorization(authorization({ refreshToken: 'Atzr|first' }));
          const lease = await store.acquireRefreshLease(KEY, 'o1', 10_000);
          assert.ok(lease);
          const token = { accessToken: 'Atza|x', expiresAt: clock.now() + 3_600_000 };
          assert.equal(await store.commitRefresh(KEY, lease, token, 'Atzr|rotated'), true);
          assert.deepEqual(await store.findSellersByRefreshToken('Atzr|first'), []);
          assert.deepEqual(await store.findSellersByRefreshToken('Atzr|rotated'), [KEY]);
          const again = await store.acquireRefreshLease(KEY, 'o1', 10_000);
          assert.ok(again);
          assert.equal(await store.commitRefresh(KEY, again, token), true);
          assert.deepEqual(
            await store.findSellersByRefreshToken('Atzr|rotated'),
            [KEY],
            'kept when not rotated',
          );
          await store.saveAuthorization(authorization({ refreshToken: 'Atzr|reauthorized' }));
          assert.deepEqual(await store.findSellersByRefreshToken('Atzr|rotated'), []);
          assert.deepEqual(await store.findSellersByRefreshToken('Atzr|reauthorized'), [KEY]);
        }));

      it('finds tokens fingerprinted under an older key of the ring; after that key is gone, fingerprintRefreshTokens brings every readable row to the active key', async (t) => {
        const db = await sharedDatabase(t);
        if (!db) return;
        const rings = rotationRings();
        const old = await db.open({ keyRing: rings.ring1 });
        const both = await db.open({ keyRing: rings.ring2 });
        const next = await db.open({ keyRing: rings.ring2only });
        try {
          for (let i = 0; i < 3; i++)
            await old.saveAuthorization(
              authorization({ sellingPartnerId: `F${i}`, refreshToken: `Atzr|f${i}` }),
            );
          assert.deepEqual(await both.findSellersByRefreshToken('Atzr|f1'), [
            { sellingPartnerId: 'F1', region: 'na' },
          ]);
          await rewrap(both, rings.ring2);
          // The tokens now open with k2 alone; their fingerprints still name k1.
          assert.deepEqual(await next.findSellersByRefreshToken('Atzr|f1'), []);
          // One row that no longer opens is counted and skipped.
          const { items } = await next.listEncryptedValues({ limit: 100 });
          const f2 = items.find((r) => r.rowKey === 'na|F2' && r.column === 'refresh_token')!;
          const f0 = items.find((r) => r.rowKey === 'na|F0' && r.column === 'refresh_token')!;
          assert.equal(await next.replaceEncryptedValue(f2, f0.ciphertext), true);
          assert.deepEqual(await next.fingerprintRefreshTokens(), { updated: 2, unreadable: 1 });
          assert.deepEqual(await next.findSellersByRefreshToken('Atzr|f1'), [
            { sellingPartnerId: 'F1', region: 'na' },
          ]);
          assert.deepEqual(await next.findSellersByRefreshToken('Atzr|f0'), [
            { sellingPartnerId: 'F0', region: 'na' },
          ]);
          assert.deepEqual(
            await next.fingerprintRefreshTokens(),
            { updated: 0, unreadable: 1 },
            'idempotent',
          );
          // Paged: more rows than one page.
          for (let i = 0; i < 520; i++)
            await old.saveAuthorization(
              authorization({ sellingPartnerId: `P${String(i).padStart(3, '0')}` }),
            );
          await rewrap(both, rings.ring2);
          assert.deepEqual(await next.fingerprintRefreshTokens(), { updated: 520, unreadable: 1 });
        } finally {
          await old.close();
          await both.close();
          await next.close();
        }
      });
    });

    describe('encryption at rest', () => {
      it('fails with an integrity error when a ciphertext is copied to another seller, leaving the source intact', () =>
        withStore(async (store) => {
          const b = { sellingPartnerId: 'BSELLER', region: 'na' as const };
          await store.saveAuthorization(authorization({ refreshToken: 'Atzr|A' }));
          await store.saveAuthorization(authorization({ ...b, refreshToken: 'Atzr|B' }));
          const { items } = await store.listEncryptedValues({ limit: 100 });
          const fromA = items.find((r) => r.rowKey === 'na|A3FHEXAMPLEYWS' && r.column === 'refresh_token');
          const ofB = items.find((r) => r.rowKey === 'na|BSELLER' && r.column === 'refresh_token');
          assert.ok(fromA && ofB);
          assert.equal(await store.replaceEncryptedValue(ofB, fromA.ciphertext), true);
          await assert.rejects(
            store.loadTokens(b),
            (err: unknown) =>
              err instanceof StorageIntegrityError && err.code === 'credential_integrity_error',
          );
          assert.equal((await store.loadTokens(KEY))?.refreshToken, 'Atzr|A');
          // Listing sellers never decrypts, so one bad row does not break the admin page.
          assert.equal((await store.listSellers()).items.length, 2);
        }));

      it('fails with an integrity error on a flipped bit and on an unknown key id', () =>
        withStore(async (store) => {
          await store.saveAuthorization(authorization({ refreshToken: 'Atzr|A' }));
          const [ref] = (await store.listEncryptedValues({ limit: 100 })).items;
          assert.ok(ref);
          const parts = ref.ciphertext.split('.');
          const flipped = [...parts];
          flipped[3] = (flipped[3]![0] === 'A' ? 'B' : 'A') + flipped[3]!.slice(1);
          assert.equal(await store.replaceEncryptedValue(ref, flipped.join('.')), true);
          await assert.rejects(store.loadTokens(KEY), StorageIntegrityError);
          const relabelled = { ...ref, ciphertext: flipped.join('.') };
          const otherKid = [...parts];
          otherKid[1] = 'k9';
          assert.equal(await store.replaceEncryptedValue(relabelled, otherKid.join('.')), true);
          await assert.rejects(store.loadTokens(KEY), StorageIntegrityError);
        }));

      it('needs a key ring to write or read a secret', async () => {
        const db = await harness.fresh();
        const store = await db.open({ keyRing: null });
        try {
          await assert.rejects(store.saveAuthorization(authorization()), KeyRingError);
          assert.equal(await store.getSeller(KEY), null);
        } finally {
          await store.close();
        }
      });

      it('rewraps every value to the active key, resumably, while a second instance keeps reading', async (t) => {
        const db = await sharedDatabase(t);
        if (!db) return;
        const { ring1, ring2, ring2only } = rotationRings();
        const old = await db.open({ keyRing: ring1 });
        const next = await db.open({ keyRing: ring2 });
        try {
          for (let i = 0; i < 12; i++) {
            await old.saveAuthorization(
              authorization({
                sellingPartnerId: `R${i}`,
                refreshToken: `Atzr|r${i}`,
                accessToken: { accessToken: `Atza|a${i}`, expiresAt: 1 },
              }),
            );
          }
          await old.saveAppSecret({ id: 's1', clientId: 'c', secret: 'client-secret', expiresAt: null });
          await old.createSession({
            tokenHash: 't1',
            type: 'connect',
            expiresAt: Date.now() + 60_000,
            payload: { a: 1 },
          });
          await old.createOAuthTransaction(
            oauthTransaction({
              stateHash: 'st',
              bindingHash: 'b',
              userRef: null,
              returnTo: null,
              pkceVerifier: 'v',
              expiresAt: Date.now() + 60_000,
            }),
          );
          // A write through the new ring meanwhile is already on the active key.
          await next.saveAuthorization(
            authorization({ sellingPartnerId: 'R0', refreshToken: 'Atzr|r0-new' }),
          );
          const progress: number[] = [];
          const result = await rewrap(next, ring2, {
            batchSize: 5,
            onProgress: (p) => progress.push(p.scanned),
          });
          assert.equal(result.scanned, 12 * 2 - 1 + 3);
          assert.equal(result.current, 1);
          assert.equal(result.rewrapped, 12 * 2 - 2 + 3);
          assert.ok(progress.length > 3, 'progress is reported per batch');
          const again = await rewrap(next, ring2);
          assert.equal(again.rewrapped, 0);
          assert.equal(again.current, result.scanned);
          const { items } = await next.listEncryptedValues({ limit: 1000 });
          assert.ok(items.length > 0);
          // listEncryptedValues pages by table; walk all pages for the kid check.
          let cursor: string | null = null;
          do {
            const page: Awaited<ReturnType<Store['listEncryptedValues']>> = await next.listEncryptedValues({
              cursor,
              limit: 1000,
            });
            for (const ref of page.items) assert.equal(sealedKeyId(ref.ciphertext), 'k2');
            cursor = page.nextCursor;
          } while (cursor);
          const onlyNew = await db.open({ keyRing: ring2only });
          try {
            assert.equal(
              (await onlyNew.loadTokens({ sellingPartnerId: 'R5', region: 'na' }))?.refreshToken,
              'Atzr|r5',
            );
            assert.equal(
              (await onlyNew.loadTokens({ sellingPartnerId: 'R0', region: 'na' }))?.refreshToken,
              'Atzr|r0-new',
            );
            assert.equal((await onlyNew.listAppSecrets('c'))[0]?.secret, 'client-secret');
            const s = await onlyNew.consumeSession('t1', 'connect');
            assert.ok(s.ok && s.value.payload.a === 1);
            const tx = await onlyNew.consumeOAuthTransaction('st', 'b');
            assert.ok(tx.ok && tx.value.pkceVerifier === 'v');
          } finally {
            await onlyNew.close();
          }
          await assert.rejects(
            old.loadTokens({ sellingPartnerId: 'R5', region: 'na' }),
            StorageIntegrityError,
          );
        } finally {
          await old.close();
          await next.close();
        }
      });

      it('rewraps while refreshes commit concurrently, losing no newer token', async (t) => {
        const db = await sharedDatabase(t);
        if (!db) return;
        const k2 = generateKey();
        const ring2 = parseKeyRing(`k2:${k2},k1:${RING_KEY}`);
        const old = await db.open({ keyRing: RING });
        const service = await db.open({ keyRing: ring2 });
        const admin = await db.open({ keyRing: ring2 });
        try {
          const keys = Array.from({ length: 10 }, (_, i) => ({
            sellingPartnerId: `W${i}`,
            region: 'na' as const,
          }));
          for (const key of keys) {
            await old.saveAuthorization(
              authorization({
                ...key,
                accessToken: { accessToken: `Atza|${key.sellingPartnerId}-0`, expiresAt: 1 },
              }),
            );
          }
          const latest = new Map<string, string>();
          const refreshes = (async () => {
            for (let round = 1; round <= 4; round++) {
              for (const key of keys) {
                const lease = await service.acquireRefreshLease(key, 'svc', 60_000);
                assert.ok(lease);
                const token = `Atza|${key.sellingPartnerId}-${round}`;
                assert.ok(await service.commitRefresh(key, lease, { accessToken: token, expiresAt: 2 }));
                latest.set(key.sellingPartnerId, token);
              }
            }
          })();
          const result = await rewrap(admin, ring2, { batchSize: 3 });
          await refreshes;
          await rewrap(admin, ring2);
          const onlyK2 = await db.open({ keyRing: parseKeyRing(`k2:${k2}`) });
          try {
            for (const key of keys) {
              const state = await onlyK2.loadTokens(key);
              assert.equal(state?.accessToken?.accessToken, latest.get(key.sellingPartnerId));
              assert.equal(state?.version, 5, 'rewrap bumps no version');
            }
          } finally {
            await onlyK2.close();
          }
          assert.equal(result.scanned, 20);
        } finally {
          await Promise.all([old.close(), service.close(), admin.close()]);
        }
      });

      it('refuses to rewrap a value that does not authenticate', () =>
        withStore(async (store) => {
          await store.saveAuthorization(authorization());
          const [ref] = (await store.listEncryptedValues({ limit: 10 })).items;
          assert.ok(ref);
          const bad = ref.ciphertext.slice(0, -4) + (ref.ciphertext.endsWith('AAAA') ? 'BBBB' : 'AAAA');
          await store.replaceEncryptedValue(ref, bad);
          // The new ring still holds k1: only the tampering can make this fail.
          const ring = createKeyRing([
            ['k-new', Buffer.alloc(32, 7)],
            ['k1', Buffer.from(RING_KEY, 'base64')],
          ]);
          await assert.rejects(rewrap(store, ring), StorageIntegrityError);
        }));
    });
  });
}
