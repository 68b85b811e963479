import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createStoreTokenVault, sealedKeyId } from '../../../src/storage/index.js';
import { authorization, event, KEY } from './kit.js';
import type { ContractKit } from './kit.js';

/** The store contract: the refresh lease. */
export function refreshLeaseContract({ withStore }: ContractKit): void {
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
        assert.equal(await store.acquireRefreshLease(KEY, 'b', 15_000), null, 'not even for the same owner');
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
}
