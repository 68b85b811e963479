import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { RING } from './kit.js';
import type { ContractKit } from './kit.js';

/** The store contract: unattended rotation: the cluster lease, notifications kept aside, rotations. */
export function unattendedRotationContract({ withStore }: ContractKit): void {
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
}
