import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { RefreshTokenInUseError, rewrap } from '../../../src/storage/index.js';
import { authorization, event, rotationRings, KEY } from './kit.js';
import type { ContractKit } from './kit.js';

/** The store contract: refresh token fingerprints (one grant, one seller). */
export function fingerprintsContract({ withStore, sharedDatabase }: ContractKit): void {
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
        assert.deepEqual(await next.fingerprintRefreshTokens(), { updated: 0, unreadable: 1 }, 'idempotent');
        // Paged: more rows than one page.
        for (let i = 0; i < 520; i++)
          await old.saveAuthorization(authorization({ sellingPartnerId: `P${String(i).padStart(3, '0')}` }));
        await rewrap(both, rings.ring2);
        assert.deepEqual(await next.fingerprintRefreshTokens(), { updated: 520, unreadable: 1 });
      } finally {
        await old.close();
        await both.close();
        await next.close();
      }
    });
  });
}
