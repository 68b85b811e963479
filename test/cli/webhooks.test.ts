// `spapi-auth webhooks test`: a webhook.test event lands in the service's outbox (and the audit);
// bad usage exits 2.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { webhookEvent } from '../../src/server/domain/events.js';
import { assertFailure, cliWorld, type CliWorld } from './helpers.js';
import { closeAfter } from '../helpers/after.js';

describe('spapi-auth webhooks test', () => {
  let world: CliWorld;
  before(async () => {
    world = await cliWorld();
  });
  after(() => world.close());

  it('queues one webhook.test event in the outbox and audits it', async (t) => {
    const r = await world.cli(['webhooks', 'test', '--json']);
    assert.equal(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout) as { id: string; type: string };
    assert.equal(out.type, 'webhook.test');
    assert.match(out.id, /^evt_[0-9a-f]{32}$/);
    const store = closeAfter(t, await world.openStore());
    const pending = await store.listWebhookEvents({ state: 'pending' });
    assert.deepEqual(
      pending.map((e) => [e.id, e.type, e.data.requested_by]),
      [[out.id, 'webhook.test', 'cli']],
    );
    const audit = await store.listAudit({ limit: 10 });
    assert.ok(audit.some((a) => a.action === 'webhook.test_sent' && a.details.event_id === out.id));
  });

  it('anything but "test" is a usage error', async () => {
    assertFailure(await world.cli(['webhooks']), 2, /webhooks test/);
    assertFailure(await world.cli(['webhooks', 'send']), 2, /webhooks test/);
  });
});

describe('spapi-auth webhooks redeliver', () => {
  let world: CliWorld;
  before(async () => {
    world = await cliWorld();
  });
  after(() => world.close());

  it('queues a given-up event again under its id with a fresh schedule, audited; a pending or unknown one exits 1', async (t) => {
    const store = await world.openStore();
    const failed = webhookEvent('seller.deleted', { selling_partner_id: 'A1CLIREDELIVER' }, Date.now());
    const waiting = webhookEvent('seller.deleted', { selling_partner_id: 'A1CLIWAITING' }, Date.now());
    try {
      await store.enqueueWebhookEvents([failed, waiting]);
      await store.claimWebhookEvents('w', { limit: 2, leaseMs: 1 });
      assert.equal(
        await store.markWebhookFailed(failed.id, 'w', { error: 'http_500', nextAttemptAt: null }),
        true,
      );
    } finally {
      await store.close();
    }
    const r = await world.cli(['webhooks', 'redeliver', failed.id, '--json']);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(JSON.parse(r.stdout), { id: failed.id, redelivered: true });
    assertFailure(await world.cli(['webhooks', 'redeliver', failed.id]), 1, /not_redeliverable/);
    assertFailure(await world.cli(['webhooks', 'redeliver', 'evt_nosuchevent']), 1, /not_redeliverable/);
    assertFailure(await world.cli(['webhooks', 'redeliver']), 2, /webhooks redeliver EVENT_ID/);
    assertFailure(await world.cli(['webhooks', 'redeliver', 'bad id!']), 2, /malformed/);
    const after = closeAfter(t, await world.openStore());
    const [row] = (await after.listWebhookEvents({ state: 'pending' })).filter((e) => e.id === failed.id);
    assert.equal(row?.attempts, 0);
    assert.deepEqual(row?.data, failed.data);
    const audit = (await after.listAudit({ limit: 20 })).filter((a) => a.action === 'webhook.redelivered');
    assert.deepEqual(
      audit.map((a) => [a.actor, a.outcome, a.details.event_id]),
      [
        ['cli', 'not_redeliverable', 'evt_nosuchevent'],
        ['cli', 'not_redeliverable', failed.id],
        ['cli', 'ok', failed.id],
      ],
    );
  });
});
