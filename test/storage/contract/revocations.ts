import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { authorization, KEY } from './kit.js';
import type { ContractKit } from './kit.js';

/** The store contract: revocations. */
export function revocationsContract({ withStore }: ContractKit): void {
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
}
