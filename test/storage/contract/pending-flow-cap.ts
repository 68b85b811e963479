import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { oauthTransaction } from './kit.js';
import type { ContractKit } from './kit.js';

/** The store contract: the pending-flow cap. */
export function pendingFlowCapContract({ withStore }: ContractKit): void {
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
          assert.equal((await store.consumeSession(`c${i}`, 'connect')).ok, true, `connect link c${i} kept`);
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
}
