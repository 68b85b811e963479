// The dashboard's "Redeliver" (docs/security.md T-F17): a failed (given-up) event is queued again
// and reaches the receiver with the same event id and the same bytes, correctly signed; the audit
// names the operator; the POST needs the session's CSRF token; a delivered event can be redelivered
// too, a pending one cannot.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { webhookEvent } from '../../../src/server/domain/events.js';
import { verifyWebhookSignature, webhookBody } from '../../../src/server/ops/webhooks.js';
import { PUBLIC_URL } from '../../helpers/service.js';
import {
  browserCall,
  csrfOf,
  makeOpsService,
  passwordSession,
  startReceiver,
} from '../../helpers/ops-service.js';

const PASSWORD = 'correct horse battery staple';
const SECRET = 'whsec-CANARYredeliver-0123456789abcdef';

test('admin Redeliver: a given-up event reaches the receiver again with the same id, signed; audited; CSRF required; pending ones are refused', async () => {
  const receiver = await startReceiver([200]);
  const svc = await makeOpsService({
    env: {
      SPAPI_AUTH_ADMIN_PASSWORD: PASSWORD,
      SPAPI_AUTH_WEBHOOK_URL: receiver.url,
      SPAPI_AUTH_WEBHOOK_SECRET: SECRET,
    },
  });
  const call = browserCall(svc.app);
  try {
    // An event the receiver never acknowledged: given up after its last attempt.
    const failed = webhookEvent('seller.deleted', { selling_partner_id: 'A1REDELIVER' }, Date.now());
    const waiting = webhookEvent('seller.deleted', { selling_partner_id: 'A1WAITING' }, Date.now());
    await svc.store.enqueueWebhookEvents([failed]);
    const [claimed] = await svc.store.claimWebhookEvents('old-worker', { limit: 1, leaseMs: 60_000 });
    assert.equal(claimed?.id, failed.id);
    await svc.store.markWebhookFailed(failed.id, 'old-worker', { error: 'http_500', nextAttemptAt: null });
    await svc.store.enqueueWebhookEvents([{ ...waiting, createdAt: Date.now() + 3_600_000 }]);
    assert.deepEqual(await svc.store.webhookOutboxDepth(), { pending: 1, dead: 1 });

    const cookie = await passwordSession(call, PASSWORD);
    const deadTab = await (await call('/admin/webhooks?state=dead', cookie)).text();
    assert.match(deadTab, /action="\/admin\/webhooks\/redeliver"/);
    assert.match(deadTab, new RegExp(`name="id" value="${failed.id}"`));
    assert.match(deadTab, />\s*Redeliver\s*</);
    const csrf = csrfOf(deadTab);

    // Without the token, with a wrong one, or from another site: refused, nothing changes.
    assert.equal((await call('/admin/webhooks/redeliver', cookie, { id: failed.id })).status, 403);
    assert.equal(
      (await call('/admin/webhooks/redeliver', cookie, { id: failed.id, csrf: 'wrong' })).status,
      403,
    );
    const crossSite = await svc.app.fetch(
      new Request(`${PUBLIC_URL}/admin/webhooks/redeliver`, {
        method: 'POST',
        headers: {
          cookie,
          origin: 'https://evil.example',
          'content-type': 'application/x-www-form-urlencoded',
        },
        body: new URLSearchParams({ id: failed.id, csrf }).toString(),
        redirect: 'manual',
      }),
    );
    assert.equal(crossSite.status, 403);
    assert.equal((await call('/admin/webhooks/redeliver', undefined, { id: failed.id, csrf })).status, 403);
    assert.deepEqual(
      await svc.store.webhookOutboxDepth(),
      { pending: 1, dead: 1 },
      'refused posts change nothing',
    );
    assert.equal((await call('/admin/webhooks/redeliver', cookie, { id: 'bad id!', csrf })).status, 400);

    // A pending event is not redelivered (it is on its way already).
    const notPending = await call('/admin/webhooks/redeliver', cookie, {
      id: waiting.id,
      csrf,
      state: 'dead',
    });
    assert.equal(notPending.status, 303);
    assert.equal(notPending.headers.get('location'), '/admin/webhooks?state=dead&notice=not_redelivered');

    const res = await call('/admin/webhooks/redeliver', cookie, { id: failed.id, csrf, state: 'dead' });
    assert.equal(res.status, 303);
    assert.equal(res.headers.get('location'), '/admin/webhooks?state=pending&notice=redelivered');
    const pendingTab = await (await call('/admin/webhooks?state=pending&notice=redelivered', cookie)).text();
    assert.match(pendingTab, /queued again with the same id/);
    const [row] = (await svc.store.listWebhookEvents({ state: 'pending' })).filter((r) => r.id === failed.id);
    assert.equal(row?.attempts, 0, 'a fresh retry schedule');

    assert.equal(await svc.ops.webhooks.runOnce(), 1);
    assert.equal(receiver.received.length, 1);
    const got = receiver.received[0]!;
    assert.equal(got.body, webhookBody(failed), 'the same bytes as the first attempt');
    assert.equal((JSON.parse(got.body) as { id: string }).id, failed.id, 'the same event id');
    assert.equal(got.headers['spapi-auth-event-id'], failed.id);
    const t = Number(/^t=(\d+),/.exec(String(got.headers['spapi-auth-signature']))?.[1]);
    assert.equal(
      verifyWebhookSignature(SECRET, String(got.headers['spapi-auth-signature']), got.body, {
        now: () => t * 1000,
      }),
      true,
    );

    // Delivered events can be sent again too (a receiver that lost them), still under their id.
    const again = await call('/admin/webhooks/redeliver', cookie, {
      id: failed.id,
      csrf,
      state: 'delivered',
    });
    assert.equal(again.headers.get('location'), '/admin/webhooks?state=pending&notice=redelivered');
    assert.equal(await svc.ops.webhooks.runOnce(), 1);
    assert.deepEqual(
      receiver.received.map((r) => (JSON.parse(r.body) as { id: string }).id),
      [failed.id, failed.id],
    );

    await svc.app.close(); // flushes the audit buffer
    const audit = (await svc.store.listAudit({ limit: 50 })).filter(
      (r) => r.action === 'webhook.redelivered',
    );
    assert.deepEqual(
      audit.map((r) => [r.actor, r.outcome, r.details.event_id]).sort(),
      [
        ['admin:password', 'not_redeliverable', waiting.id],
        ['admin:password', 'ok', failed.id],
        ['admin:password', 'ok', failed.id],
      ].sort(),
    );
    assert.ok(!svc.logs.join('\n').includes(SECRET), 'the signing secret is not logged');
  } finally {
    await svc.close();
    await receiver.close();
  }
});
