// The unattended rotation in one process, on the service's injected clock: the consumer of the
// notification queue (here an in-memory queue with SQS's receive / delete / visibility semantics,
// fed from the in-process emulator's notifications) and the rotation state machine, over the
// real store, ring and apply function. The same over real SQS and several processes is
// test/e2e/unattended-rotation.test.ts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  MAX_RECEIVES,
  NotificationQueueConsumer,
  QUEUE_LEASE,
  regionOfQueueUrl,
  type NotificationQueue,
  type QueueMessage,
} from '../../../src/server/ops/notification-queue.js';
import {
  NEW_SECRET,
  acceptNotification,
  requestClientSecretRotation,
} from '../../../src/server/ops/rotation.js';
import { SecretRotationAgent } from '../../../src/server/ops/secret-rotation.js';
import { api, connectSeller } from '../../helpers/service.js';
import {
  CANARY_SECRET,
  browserCall,
  makeOpsService,
  passwordSession,
  type OpsService,
} from '../../helpers/ops-service.js';
import { closeAfter } from '../../helpers/after.js';

const DAY = 86_400_000;
const SELLER = 'A1EMUSELLERNA01';

/** An SQS-like queue in memory, on the service's clock. */
class MemoryQueue implements NotificationQueue {
  readonly messages: { id: string; body: string; visibleAt: number; receives: number; handle: string }[] = [];
  deleted = 0;
  failing: Error | null = null;
  private n = 0;
  constructor(private readonly now: () => number) {}
  send(body: string, id = `m-${++this.n}`): void {
    this.messages.push({ id, body, visibleAt: 0, receives: 0, handle: '' });
  }
  async receive(opts: { maxMessages: number; visibilitySeconds: number }): Promise<QueueMessage[]> {
    if (this.failing) throw this.failing;
    const out: QueueMessage[] = [];
    for (const m of this.messages) {
      if (out.length >= opts.maxMessages || m.visibleAt > this.now()) continue;
      m.receives++;
      m.handle = `${m.id}#${m.receives}`;
      m.visibleAt = this.now() + opts.visibilitySeconds * 1000;
      out.push({ id: m.id, receiptHandle: m.handle, body: m.body, receiveCount: m.receives });
    }
    return out;
  }
  async delete(handle: string): Promise<void> {
    const i = this.messages.findIndex((m) => m.handle === handle);
    if (i >= 0) {
      this.messages.splice(i, 1);
      this.deleted++;
    }
  }
  async changeVisibility(handle: string, seconds: number): Promise<void> {
    const m = this.messages.find((x) => x.handle === handle);
    if (m) m.visibleAt = this.now() + seconds * 1000;
  }
  async attributes() {
    return { visible: this.messages.length, inFlight: 0 };
  }
  close(): void {}
}

interface Rig {
  readonly svc: OpsService;
  readonly queue: MemoryQueue;
  readonly now: () => number;
  /** Rotation requests that reached the emulator. */
  rotations(): number;
  /** Moves the emulator's new notifications onto the queue. */
  pump(): Promise<void>;
  consumer(owner: string, over?: { requestRotation?: () => Promise<void> }): NotificationQueueConsumer;
  events(type: string): Promise<Record<string, unknown>[]>;
  close(): Promise<void>;
}

const ADMIN_PASSWORD = 'correct horse battery staple';

async function rig(opts: { notEnrolled?: boolean } = {}): Promise<Rig> {
  const svc = await makeOpsService({ env: { SPAPI_AUTH_ADMIN_PASSWORD: ADMIN_PASSWORD } });
  const now = svc.now;
  const queue = new MemoryQueue(now);
  const seen = new Set<string>();
  let rotations = 0;
  const fetch = async (r: Request): Promise<Response> => {
    if (r.url.endsWith('/applications/2023-11-30/clientSecret')) {
      rotations++;
      if (opts.notEnrolled) {
        return new Response(
          JSON.stringify({
            errors: [
              {
                code: 'InvalidInput',
                message:
                  'Application is not enrolled for rotation notification. Please update application notification preference in Developer console.',
              },
            ],
          }),
          { status: 400, headers: { 'content-type': 'application/json' } },
        );
      }
    }
    return svc.emulator.fetch(r);
  };
  const consumers: NotificationQueueConsumer[] = [];
  return {
    svc,
    queue,
    now,
    rotations: () => rotations,
    async pump() {
      for (const n of await svc.emulator.control.notifications()) {
        const id = n.notificationMetadata.notificationId;
        if (seen.has(id)) continue;
        seen.add(id);
        queue.send(JSON.stringify(n));
      }
    },
    consumer(owner, over = {}) {
      const { store, ops, amazon, config } = svc;
      const log = { debug() {}, info() {}, warn() {}, error() {}, debugEnabled: false };
      const agent = new SecretRotationAgent({
        store,
        ring: ops.ring,
        requestRotation: over.requestRotation ?? (() => requestClientSecretRotation({ amazon, fetch })),
        owner,
        rotateBeforeMs: 7 * DAY,
        waitMs: 60 * 60_000,
        log,
        metrics: ops.metrics,
        now,
      });
      const c = new NotificationQueueConsumer({
        store,
        openQueue: async () => queue,
        apply: (body) =>
          acceptNotification(
            {
              store,
              ring: ops.ring,
              actor: 'queue',
              applicationId: config.applicationId,
              verifySecret: (s) => amazon.verifyClientSecret(s),
              metrics: ops.metrics,
              now,
            },
            body,
          ),
        rotation: agent,
        owner,
        log,
        metrics: ops.metrics,
        now,
        timings: { leaseMs: 30_000, visibilitySeconds: 60 },
      });
      consumers.push(c);
      // As operations.ts wires it, for /metrics and the dashboard (the first consumer is "this instance").
      ops.metrics.queueConsumerHeld ??= () => c.holdsLease;
      return c;
    },
    async events(type) {
      return (await svc.store.listWebhookEvents({ limit: 500 }))
        .filter((e) => e.type === type)
        .map((e) => e.data as Record<string, unknown>);
    },
    async close() {
      await svc.close();
    },
  };
}

test('the 180-day loop on one instance: expiry notice, one rotation, new secret installed, old one retired 7 days later', async (t) => {
  const r = closeAfter(t, await rig());
  await connectSeller(r.svc);
  const consumer = r.consumer('instance-a');
  // Amazon's warning: the secret expires in 5 days (within the default 7).
  await r.svc.emulator.control.secretExpiry({ expiryTime: new Date(r.now() + 5 * DAY).toISOString() });
  await r.pump();
  assert.equal(await consumer.poll(), 0);
  assert.equal(r.queue.messages.length, 0, 'the notice was deleted once applied');
  assert.equal((await r.events('credentials.client_secret_expiring')).length, 1);
  const [due] = await r.svc.store.listSecretRotations(r.svc.config.lwaClientId);
  assert.equal(due?.state, 'due');
  // The next turn asks Amazon once; the new secret arrives on the queue and is installed.
  await consumer.poll();
  assert.equal(r.rotations(), 1);
  await r.pump();
  await consumer.poll();
  await consumer.poll();
  assert.equal(r.rotations(), 1, 'one rotation, however many turns');
  const [installed] = await r.svc.store.listSecretRotations(r.svc.config.lwaClientId);
  assert.equal(installed?.state, 'installed');
  const creds = r.svc.ops.ring.credentials();
  assert.ok(creds.clientSecret !== CANARY_SECRET, 'the new secret is in use');
  assert.equal(creds.clientSecretNext, CANARY_SECRET, 'the old one is kept as the fallback');
  assert.equal((await r.events('credentials.client_secret_rotation_requested')).length, 1);
  assert.equal((await r.events('credentials.client_secret_installed')).length, 1);
  const token = await api(r.svc, 'GET', `/v1/sellers/${SELLER}/access-token`);
  assert.equal(token.status, 200);

  // Seven days later Amazon retires the old secret; so does the service.
  await r.svc.emulator.control.advance(7 * 86_400 + 60);
  r.svc.advance(7 * DAY + 60_000);
  await consumer.poll();
  const [retired] = await r.svc.store.listSecretRotations(r.svc.config.lwaClientId);
  assert.equal(retired?.state, 'retired');
  assert.equal((await r.events('credentials.client_secret_retired')).length, 1);
  assert.equal(r.svc.ops.ring.describe().count, 1, 'the old secret is no longer kept');
  assert.equal(r.svc.ops.ring.credentials().clientSecretNext, undefined);
  r.svc.advance(2 * 3_600_000);
  const after = await api(r.svc, 'GET', `/v1/sellers/${SELLER}/access-token`);
  assert.equal(after.status, 200, 'tokens refresh with the new secret');
  const audit = (await r.svc.store.listAudit({ limit: 200 })).map((a) => a.action);
  for (const action of [
    'client_secret.expiring',
    'client_secret.rotation_requested',
    'client_secret.accepted',
    'client_secret.rotation_installed',
    'client_secret.retired',
  ]) {
    assert.ok(audit.includes(action), `audited: ${action}`);
  }
  await consumer.stop();
});

test('one consumer at a time: the lease keeps the second out, which takes over once the holder stops renewing', async (t) => {
  const r = closeAfter(t, await rig());
  const a = r.consumer('instance-a');
  const b = r.consumer('instance-b');
  assert.equal(await a.poll(), 0);
  assert.ok((await b.poll()) > 0, 'b stands by');
  assert.equal(b.holdsLease, false);
  await r.svc.emulator.control.secretExpiry({ expiryTime: new Date(r.now() + 30 * DAY).toISOString() });
  await r.pump();
  // a received the message and died before deleting it (no stop(): its lease just lapses).
  const received = await r.queue.receive({ maxMessages: 10, visibilitySeconds: 60 });
  assert.equal(received.length, 1);
  assert.ok((await b.poll()) > 0, 'still a’s lease');
  r.svc.advance(61_000);
  assert.equal(await b.poll(), 0);
  assert.equal(b.holdsLease, true);
  assert.equal(r.queue.messages.length, 0, 'b applied and deleted the message a left');
  assert.equal((await r.svc.store.readClusterLease(QUEUE_LEASE))?.owner, 'instance-b');
  assert.ok((await a.poll()) > 0, 'a, back, stands by');
  await b.stop();
  assert.equal(await r.svc.store.readClusterLease(QUEUE_LEASE), null, 'released on stop');
});

test('killed after applying a new secret, before deleting it: the message is applied again by the other instance, once', async (t) => {
  const r = closeAfter(t, await rig());
  const a = r.consumer('instance-a');
  await r.svc.emulator.control.secretExpiry({ expiryTime: new Date(r.now() + 3 * DAY).toISOString() });
  await r.pump();
  await a.poll();
  await a.poll(); // rotation requested
  await r.pump();
  // a applies the new secret, then "dies": the delete never happens.
  const [m] = await r.queue.receive({ maxMessages: 1, visibilitySeconds: 60 });
  assert.ok(m && JSON.parse(m.body).notificationType === NEW_SECRET);
  const deletes = r.queue.deleted;
  const broken = { ...r.queue, delete: async () => {} } as unknown as NotificationQueue;
  await a.handle(broken, m);
  assert.equal(r.queue.deleted, deletes);
  r.svc.advance(61_000);
  const b = r.consumer('instance-b');
  await b.poll();
  assert.equal(r.queue.messages.length, 0);
  assert.equal((await r.svc.store.listAppSecrets(r.svc.config.lwaClientId)).length, 2, 'old + new, once');
  assert.equal((await r.events('credentials.client_secret_installed')).length, 1, 'installed once');
  assert.equal(r.svc.ops.metrics.notifications.get({ outcome: 'duplicate' }), 1);
  assert.equal(
    (await r.svc.store.listAudit({ limit: 200 })).filter((x) => x.action === 'client_secret.accepted').length,
    1,
  );
  assert.equal(r.rotations(), 1);
});

test('not enrolled: Amazon’s 400 InvalidInput fails loud and safe, retried a day later, the secret in use untouched', async (t) => {
  const r = closeAfter(t, await rig({ notEnrolled: true }));
  const a = r.consumer('instance-a');
  const b = r.consumer('instance-b');
  await r.svc.emulator.control.secretExpiry({ expiryTime: new Date(r.now() + 2 * DAY).toISOString() });
  await r.pump();
  await a.poll();
  await Promise.all([a.poll(), b.poll()]);
  assert.equal(r.rotations(), 1);
  const [failed] = await r.svc.store.listSecretRotations(r.svc.config.lwaClientId);
  assert.equal(failed?.state, 'failed');
  assert.equal(failed?.lastErrorCode, 'rotation_not_enrolled');
  const events = await r.events('credentials.client_secret_rotation_failed');
  assert.equal(events.length, 1);
  assert.equal(events[0]!.code, 'rotation_not_enrolled');
  assert.equal(r.svc.ops.metrics.rotationFailures.get({ code: 'rotation_not_enrolled' }), 1);
  assert.equal(r.svc.ops.ring.credentials().clientSecret, CANARY_SECRET);
  assert.equal(r.svc.ops.ring.describe().count, 1);
  await a.poll();
  assert.equal(r.rotations(), 1, 'not again before the retry time');
  r.svc.advance(DAY + 1000);
  await a.poll();
  assert.equal(r.rotations(), 2, 'tried again after a day');
  const metrics = await r.svc.ops.metrics.render(r.svc.store);
  assert.match(metrics, /spapi_auth_client_secret_rotation_failures_total\{code="rotation_not_enrolled"\} 2/);
});

test('no new secret within the wait: rotation_timeout, and a restart never asks twice for one attempt', async (t) => {
  const r = closeAfter(t, await rig());
  let requests = 0;
  const lost = async (): Promise<void> => void requests++; // Amazon said 204; the message never comes
  const a = r.consumer('instance-a', { requestRotation: lost });
  await r.svc.emulator.control.secretExpiry({ expiryTime: new Date(r.now() + 6 * DAY).toISOString() });
  await r.pump();
  await a.poll();
  await a.poll();
  assert.equal(requests, 1);
  await a.stop();
  // A restart (a new consumer, same store) waits for the secret instead of asking again.
  const restarted = r.consumer('instance-a2', { requestRotation: lost });
  await restarted.poll();
  assert.equal(requests, 1);
  r.svc.advance(61 * 60_000);
  await restarted.poll();
  const [failed] = await r.svc.store.listSecretRotations(r.svc.config.lwaClientId);
  assert.equal(failed?.lastErrorCode, 'rotation_timeout');
  assert.equal(
    (await r.events('credentials.client_secret_rotation_failed')).map((e) => e.code).join(),
    'rotation_timeout',
  );
  assert.equal(r.svc.ops.ring.credentials().clientSecret, CANARY_SECRET);
});

test('what cannot be applied is kept aside with its reason, deleted from the queue, visible on the dashboard, in metrics and the audit', async (t) => {
  const r = closeAfter(t, await rig());
  const a = r.consumer('instance-a');
  const n = await r.svc.emulator.control.secretExpiry({
    expiryTime: new Date(r.now() + 60 * DAY).toISOString(),
  });
  const foreign = {
    ...n,
    notificationMetadata: { ...n.notificationMetadata, applicationId: 'amzn1.sp.solution.other' },
  };
  r.queue.send(JSON.stringify(foreign), 'foreign-1');
  r.queue.send('{not json', 'garbage-1');
  await a.poll();
  assert.equal(r.queue.messages.length, 0);
  const aside = await r.svc.store.listNotificationsAside();
  assert.deepEqual(aside.map((x) => x.code).sort(), ['application_id_mismatch', 'invalid_notification']);
  assert.equal(aside.find((x) => x.id === 'foreign-1')?.body, JSON.stringify(foreign), 'not lost');
  assert.equal((await r.events('notification.set_aside')).length, 2);
  assert.equal(r.svc.ops.metrics.rotationFailures.get({ code: 'application_id_mismatch' }), 1);
  const metrics = await r.svc.ops.metrics.render(r.svc.store);
  assert.match(metrics, /spapi_auth_notifications_aside 2/);
  assert.match(metrics, /spapi_auth_notifications_total\{outcome="set_aside"\} 2/);
  assert.equal(
    (await r.svc.store.listAudit({ limit: 100 })).filter((x) => x.action === 'notification.set_aside').length,
    2,
  );
  assert.deepEqual(await r.svc.store.listSecretRotations(r.svc.config.lwaClientId), [], 'nothing applied');
  const call = browserCall(r.svc.app);
  const page = await (await call('/admin', await passwordSession(call, ADMIN_PASSWORD))).text();
  assert.match(page, /Client-secret rotation/);
  assert.match(page, /application_id_mismatch/);
  assert.match(page, /The notification is for another SP-API application\./);
  assert.match(page, /consumed by this instance/);
});

test('a transient failure is retried with back-off, then kept aside after the last delivery, never lost', async (t) => {
  const r = closeAfter(t, await rig());
  const a = r.consumer('instance-a');
  await r.svc.emulator.control.secretExpiry({ expiryTime: new Date(r.now() + 60 * DAY).toISOString() });
  await r.pump();
  const [m] = r.queue.messages;
  const body = m!.body;
  // The store fails under the apply function (the notice cannot be recorded).
  const store = r.svc.store;
  const original = store.openSecretRotation.bind(store);
  store.openSecretRotation = async () => {
    throw new Error('database unavailable');
  };
  for (let i = 1; i < MAX_RECEIVES; i++) {
    await a.poll();
    assert.equal(r.queue.messages.length, 1, `kept in the queue after delivery ${i}`);
    r.svc.advance(16 * 60_000);
  }
  assert.equal(r.svc.ops.metrics.notifications.get({ outcome: 'retried' }), MAX_RECEIVES - 1);
  await a.poll();
  store.openSecretRotation = original;
  assert.equal(r.queue.messages.length, 0);
  const [aside] = await r.svc.store.listNotificationsAside();
  assert.equal(aside?.code, 'apply_failed');
  assert.equal(aside?.body, body);
});

test('the queue unreachable: queue_unreachable once per outage (webhook, audit), counted each time, nothing else changes', async (t) => {
  const r = closeAfter(t, await rig());
  const a = r.consumer('instance-a');
  r.queue.failing = Object.assign(new Error('connect ECONNREFUSED'), { name: 'TimeoutError' });
  assert.ok((await a.poll()) > 0);
  assert.ok((await a.poll()) > 0);
  assert.equal(a.holdsLease, true, 'still the consumer');
  const events = await r.events('credentials.client_secret_rotation_failed');
  assert.deepEqual(
    events.map((e) => e.code),
    ['queue_unreachable'],
  );
  assert.equal(r.svc.ops.metrics.rotationFailures.get({ code: 'queue_unreachable' }), 2);
  r.queue.failing = null;
  assert.equal(await a.poll(), 0);
  r.svc.advance(1000);
  r.queue.failing = new Error('again');
  await a.poll();
  assert.equal(
    (await r.events('credentials.client_secret_rotation_failed')).length,
    2,
    'a new outage, a new event',
  );
  assert.equal(r.svc.ops.ring.credentials().clientSecret, CANARY_SECRET);
});

test('a stored secret near its expiry rotates without an expiry notice (its age)', async (t) => {
  const r = closeAfter(t, await rig());
  const a = r.consumer('instance-a');
  // A first rotation by hand installs a secret with a known 180-day expiry.
  await requestClientSecretRotation({ amazon: r.svc.amazon, fetch: (q) => r.svc.emulator.fetch(q) });
  await r.pump();
  await a.poll();
  const head = r.svc.ops.ring.describe().expiries[0]!;
  assert.ok(head > r.now() + 170 * DAY);
  await a.poll();
  assert.equal(r.rotations(), 0, 'not due yet');
  r.svc.advance(head - r.now() - 6 * DAY);
  await a.poll();
  assert.equal(r.rotations(), 1, 'rotated 6 days before the stored secret expires');
  const [rotation] = await r.svc.store.listSecretRotations(r.svc.config.lwaClientId);
  assert.equal(rotation?.source, 'age');
});

test('the region comes from the queue URL when it names one', () => {
  assert.equal(regionOfQueueUrl('https://sqs.eu-west-1.amazonaws.com/123456789012/q'), 'eu-west-1');
  assert.equal(regionOfQueueUrl('https://us-west-2.queue.amazonaws.com/123456789012/q'), 'us-west-2');
  assert.equal(regionOfQueueUrl('http://127.0.0.1:9324/000000000000/q'), undefined);
});
