// `spapi-auth webhooks test`: queues a signed webhook.test event in the service's outbox, which a
// running service delivers to SPAPI_AUTH_WEBHOOK_URL like any event (the dashboard's "Send test
// event" does the same).
import { webhookTestEvent } from '../../server/ops/events.js';
import { UsageError, type Command } from '../command.js';
import { loadCliStoreConfig, withStore } from '../runtime.js';

const help = `Usage: spapi-auth webhooks test [--json]

Queues a webhook.test event in the outbox of the service's database. A running service delivers it
to SPAPI_AUTH_WEBHOOK_URL within seconds, signed like every event (Spapi-Auth-Signature); the
dashboard's Webhooks page shows whether it was delivered. Uses DATABASE_URL (default
sqlite:./data/spapi-auth.db), which must exist and be migrated.

Options:
  --json       print one JSON document: { "id", "type" }
  --help       show this help
`;

export const webhooksCommand: Command = {
  name: 'webhooks',
  summary: 'send a test event to the webhook receiver',
  help,
  positionals: true,
  options: { json: { type: 'boolean' } },
  async run({ values, positionals }, ctx) {
    const [sub, ...rest] = positionals;
    if (sub !== 'test' || rest.length > 0) throw new UsageError('expected: webhooks test');
    const event = webhookTestEvent('cli', Date.now());
    await withStore(ctx, loadCliStoreConfig(ctx), null, async (store) => {
      await store.enqueueWebhookEvents([event]);
      await store.appendAudit([
        { action: 'webhook.test_sent', actor: 'cli', outcome: 'ok', details: { event_id: event.id } },
      ]);
    });
    if (values.json === true) ctx.stdout(JSON.stringify({ id: event.id, type: event.type }) + '\n');
    else
      ctx.stdout(`Queued ${event.type} event ${event.id}; a running service delivers it within seconds.\n`);
    return 0;
  },
};
