import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { describe, it } from 'node:test';
import { SellerExistsError, SellerOwnershipError } from '../../../src/storage/index.js';
import type { Store } from '../../../src/storage/index.js';
import { markReauthorizationRequired } from '../../helpers/sellers.js';
import { SQL_INJECTION_IDS, RING, authorization, event, KEY } from './kit.js';
import type { ContractKit } from './kit.js';

/** The store contract: sellers and authorizations. */
export function sellersContract({ withStore }: ContractKit): void {
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
          (err: unknown) => err instanceof SellerOwnershipError && err.code === 'seller_owned_by_other_user',
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
        const result = await store.saveAuthorization(authorization({ userRef: 'user-2', allowRelink: true }));
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
}
