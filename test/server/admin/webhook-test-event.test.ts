// The dashboard's "Send test event": a signed webhook.test event reaches the receiver, the audit
// records who sent it, and the button is CSRF-protected like every other form.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  browserCall,
  csrfOf,
  makeOpsService,
  passwordSession,
  startReceiver,
} from '../../helpers/ops-service.js';

const PASSWORD = 'correct horse battery staple';

test('admin "Send test event" queues a webhook.test event that is delivered signed; without the CSRF token it is refused', async () => {
  const receiver = await startReceiver([200]);
  const svc = await makeOpsService({
    env: {
      SPAPI_AUTH_ADMIN_PASSWORD: PASSWORD,
      SPAPI_AUTH_WEBHOOK_URL: receiver.url,
      SPAPI_AUTH_WEBHOOK_SECRET: 'whsec-test-0123456789abcdef',
    },
  });
  const call = browserCall(svc.app);
  try {
    const cookie = await passwordSession(call, PASSWORD);
    const page = await (await call('/admin/webhooks', cookie)).text();
    assert.match(page, /Send test event/);

    assert.equal((await call('/admin/webhooks/test', cookie, { csrf: 'wrong' })).status, 403);
    assert.equal((await svc.store.webhookOutboxDepth()).pending, 0, 'a refused post queues nothing');

    const sent = await call('/admin/webhooks/test', cookie, { csrf: csrfOf(page) });
    assert.equal(sent.status, 303);
    assert.equal(sent.headers.get('location'), '/admin/webhooks?state=pending&notice=test_sent');
    await svc.ops.webhooks.runOnce();
    assert.equal(receiver.received.length, 1);
    const body = JSON.parse(receiver.received[0]!.body) as {
      id: string;
      type: string;
      data: Record<string, unknown>;
    };
    assert.equal(body.type, 'webhook.test');
    assert.match(body.id, /^evt_[0-9a-f]{32}$/);
    assert.equal(body.data.requested_by, 'admin');
    assert.match(String(receiver.received[0]!.headers['spapi-auth-signature']), /v1=/);
    await svc.app.close();
    const audit = await svc.store.listAudit({ limit: 20 });
    assert.ok(
      audit.some(
        (r) =>
          r.action === 'webhook.test_sent' && r.actor === 'admin:password' && r.details.event_id === body.id,
      ),
    );
  } finally {
    await svc.close();
    await receiver.close();
  }
});
