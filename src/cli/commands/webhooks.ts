// `spapi-auth webhooks test`: queues a signed webhook.test event in the service's outbox, which a
// running service delivers to SPAPI_AUTH_WEBHOOK_URL like any event (the dashboard's "Send test
// event" does the same). `spapi-auth webhooks redeliver EVENT_ID`: queues a failed or delivered
// event again with the same id (the dashboard's "Redeliver").
import { webhookTestEvent } from '../../server/domain/events.js';
import { CliError, UsageError, type Command } from '../command.js';
import { loadCliStoreConfig, withStore } from '../runtime.js';
import { EVENT_ID_INPUT } from '../../common/event-id.js';

const help = `Usage: spapi-auth webhooks test [--json]
       spapi-auth webhooks redeliver EVENT_ID [--json]

test       Queues a webhook.test event in the outbox of the service's database. A running service
           delivers it to SPAPI_AUTH_WEBHOOK_URL within seconds, signed like every event
           (Spapi-Auth-Signature); the dashboard's Webhooks page shows whether it was delivered.
redeliver  Queues a failed (given up) or delivered event for delivery again, with the same id
           (receivers deduplicate on it) and a fresh retry schedule. Refused (exit 1) when the
           event does not exist, is still pending or is being delivered right now.

Uses DATABASE_URL (default sqlite:./data/spapi-auth.db), which must exist and be migrated.

Options:
  --json       print one JSON document: { "id", "type" } (test), { "id", "redelivered" } (redeliver)
  --help       show this help
`;

const EVENT_ID = EVENT_ID_INPUT;

export const webhooksCommand: Command = {
  name: 'webhooks',
  summary: 'send a test event to the webhook receiver, or redeliver an event',
  help,
  positionals: true,
  options: { json: { type: 'boolean' } },
  async run({ values, positionals }, ctx) {
    const [sub, ...rest] = positionals;
    if (sub === 'redeliver') {
      const [id, ...extra] = rest;
      if (id === undefined || extra.length > 0) throw new UsageError('expected: webhooks redeliver EVENT_ID');
      if (!EVENT_ID.test(id)) throw new UsageError('EVENT_ID is malformed (expected evt_…)');
      const ok = await withStore(ctx, loadCliStoreConfig(ctx), null, async (store) => {
        const done = await store.redeliverWebhookEvent(id);
        await store.appendAudit([
          {
            action: 'webhook.redelivered',
            actor: 'cli',
            outcome: done ? 'ok' : 'not_redeliverable',
            details: { event_id: id },
          },
        ]);
        return done;
      });
      if (!ok) {
        throw new CliError(
          `event ${id} was not redelivered: no such event, or it is still pending or being delivered (not_redeliverable)`,
        );
      }
      if (values.json === true) ctx.stdout(JSON.stringify({ id, redelivered: true }) + '\n');
      else ctx.stdout(`Queued event ${id} again; a running service delivers it within seconds.\n`);
      return 0;
    }
    if (sub !== 'test' || rest.length > 0)
      throw new UsageError('expected: webhooks test, or webhooks redeliver EVENT_ID');
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
