import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { RING, oauthTransaction } from './kit.js';
import { generateKey, parseKeyRing } from '../../../src/storage/crypto.js';
import type { ContractKit } from './kit.js';

/** The store contract: OAuth transactions and sessions. */
export function oauthTransactionsContract({ withStore }: ContractKit): void {
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

    it('claims a carried transaction once: recorded and consumed in one call, any later claim finds it consumed', () =>
      withStore(async (store, clock, db) => {
        const input = tx({ flow: 'appstore', userRef: null, expectedSellingPartnerId: 'A1' });
        // On a shared database, half the claims go through a second instance.
        const other = db.shared ? await db.open({ keyRing: RING, now: clock.now }) : store;
        try {
          const results = await Promise.all(
            Array.from({ length: 20 }, (_, i) => (i % 2 ? other : store).claimOAuthTransaction(input)),
          );
          const winners = results.filter((r) => r.ok);
          assert.equal(winners.length, 1);
          assert.deepEqual(winners[0]?.ok && winners[0].value, {
            ...input,
            createdAt: clock.now(),
            consumedAt: clock.now(),
          });
          assert.ok(results.every((r) => r.ok || r.reason === 'consumed'));
        } finally {
          if (other !== store) await other.close();
        }
        clock.advance(60_000);
        assert.deepEqual(await store.claimOAuthTransaction(input), { ok: false, reason: 'consumed' });
        assert.deepEqual(await store.claimOAuthTransaction({ ...input, bindingHash: 'other' }), {
          ok: false,
          reason: 'binding_mismatch',
        });
        // The record stays until the purge, an hour after its expiry.
        clock.advance(input.expiresAt - clock.now() + 3_600_001);
        assert.equal(await store.purgeExpired(), 1);
      }));

    it('claims a carried session once, by type', () =>
      withStore(async (store, clock) => {
        const input = {
          tokenHash: 'carried1',
          type: 'appstore' as const,
          expiresAt: clock.now() + 600_000,
          payload: { selling_partner_id: 'A1' },
        };
        const first = await store.claimSession(input);
        assert.deepEqual(first.ok && first.value.payload, input.payload);
        assert.deepEqual(await store.claimSession(input), { ok: false, reason: 'consumed' });
        assert.deepEqual(await store.consumeSession('carried1', 'connect'), {
          ok: false,
          reason: 'not_found',
        });
      }));

    it('carriedMac: keyed per purpose and key, stable, undefined for a key the ring does not have', () =>
      withStore(async (store) => {
        const mac = store.carriedMac('oauth_state', 'body')!;
        assert.match(mac, /^k1\.[A-Za-z0-9_-]{43}$/);
        assert.equal(store.carriedMac('oauth_state', 'body', 'k1'), mac);
        assert.notEqual(store.carriedMac('appstore_pending', 'body'), mac);
        assert.notEqual(store.carriedMac('oauth_state', 'body2'), mac);
        assert.equal(store.carriedMac('oauth_state', 'body', 'k9'), undefined);
        // Another ring's key of the same id gives another MAC.
        await withStore(
          async (theirs) => {
            assert.notEqual(theirs.carriedMac('oauth_state', 'body'), mac);
          },
          { keyRing: parseKeyRing(`k1:${generateKey()}`) },
        );
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
}
