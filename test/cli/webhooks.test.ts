// `spapi-auth webhooks test`: a webhook.test event lands in the service's outbox (and the audit);
// bad usage exits 2.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { assertFailure, cliWorld, type CliWorld } from './helpers.js';

describe('spapi-auth webhooks test', () => {
  let world: CliWorld;
  before(async () => {
    world = await cliWorld();
  });
  after(() => world.close());

  it('queues one webhook.test event in the outbox and audits it', async () => {
    const r = await world.cli(['webhooks', 'test', '--json']);
    assert.equal(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout) as { id: string; type: string };
    assert.equal(out.type, 'webhook.test');
    assert.match(out.id, /^evt_[0-9a-f]{32}$/);
    const store = await world.openStore();
    try {
      const pending = await store.listWebhookEvents({ state: 'pending' });
      assert.deepEqual(
        pending.map((e) => [e.id, e.type, e.data.requested_by]),
        [[out.id, 'webhook.test', 'cli']],
      );
      const audit = await store.listAudit({ limit: 10 });
      assert.ok(audit.some((a) => a.action === 'webhook.test_sent' && a.details.event_id === out.id));
    } finally {
      await store.close();
    }
  });

  it('anything but "test" is a usage error', async () => {
    assertFailure(await world.cli(['webhooks']), 2, /webhooks test/);
    assertFailure(await world.cli(['webhooks', 'send']), 2, /webhooks test/);
  });
});
