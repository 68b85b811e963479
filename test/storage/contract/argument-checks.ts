import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Store } from '../../../src/storage/index.js';
import { authorization, KEY } from './kit.js';
import type { ContractKit } from './kit.js';

/** The store contract: argument checks (alike on every engine). */
export function argumentChecksContract({ withStore }: ContractKit): void {
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
        (s) => s.saveAuthorization(authorization({ accessToken: { accessToken: 'Atza|x', expiresAt: 1.5 } })),
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
}
