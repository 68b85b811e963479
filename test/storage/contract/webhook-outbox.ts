import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Store } from '../../../src/storage/index.js';
import { event } from './kit.js';
import type { ContractKit } from './kit.js';

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

/** The store contract: the webhook outbox. */
export function webhookOutboxContract({ withStore }: ContractKit): void {
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
}
