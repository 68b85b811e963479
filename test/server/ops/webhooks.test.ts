// Webhooks: signature, delivery until a 2xx and never after it, restarts, the outbox admin
// operations of every store, the re-authorization-due sweep, and the events of the flows.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { createKeyRing } from '../../../src/storage/crypto.js';
import { openStore } from '../../../src/storage/open.js';
import { createSqliteStore } from '../../../src/storage/sqlite.js';
import type { Store } from '../../../src/storage/store.js';
import { createLogger, silentLogger } from '../../../src/server/http/log.js';
import {
  WebhookWorker,
  retryDelayMs,
  signWebhook,
  sweepReauthorizationDue,
  verifyWebhookSignature,
  webhookBody,
} from '../../../src/server/ops/webhooks.js';
import { webhookEvent } from '../../../src/server/domain/events.js';
import { api, connectSeller } from '../../helpers/service.js';
import { makeOpsService, startReceiver } from '../../helpers/ops-service.js';

const SECRET = 'whsec_CANARYwebhookSecret000000000000';
const DAY = 86_400_000;

function clock(start = Date.now()): { now: () => number; advance(ms: number): void } {
  let t = start;
  return { now: () => t, advance: (ms) => void (t += ms) };
}

function parseSignature(header: string | string[] | undefined): { t: number; v1: string } {
  const m = /^t=(\d+),v1=([0-9a-f]{64})$/.exec(String(header));
  assert.ok(m, `malformed signature header ${String(header)}`);
  return { t: Number(m[1]), v1: m[2]! };
}

test('signature: HMAC-SHA256 of "t.body"; a changed body, secret or stale timestamp fails', () => {
  const body = webhookBody(
    webhookEvent('seller.authorized', { selling_partner_id: 'A1' }, 1_700_000_000_000),
  );
  const t = Math.floor(Date.now() / 1000);
  const header = signWebhook(SECRET, body, t);
  assert.match(header, /^t=\d+,v1=[0-9a-f]{64}$/);
  assert.equal(verifyWebhookSignature(SECRET, header, body), true);
  assert.equal(verifyWebhookSignature(SECRET, header, body + ' '), false);
  assert.equal(verifyWebhookSignature('other-secret', header, body), false);
  assert.equal(verifyWebhookSignature(SECRET, signWebhook(SECRET, body, t - 3600), body), false);
  assert.equal(verifyWebhookSignature(SECRET, undefined, body), false);
  assert.equal(verifyWebhookSignature(SECRET, 't=abc,v1=00', body), false);
  assert.deepEqual(Object.keys(JSON.parse(body)), ['id', 'type', 'created_at', 'data']);
});

test('docs/webhooks.md: the verification example runs and agrees with the service', async () => {
  const doc = readFileSync(new URL('../../../docs/webhooks.md', import.meta.url), 'utf8');
  const m = /<!-- verify-example -->\s*```js\n([\s\S]*?)```/.exec(doc);
  assert.ok(m, 'docs/webhooks.md lacks the marked verification example');
  const dir = mkdtempSync(join(tmpdir(), 'spapi-webhook-doc-'));
  try {
    const file = join(dir, 'verify.mjs');
    writeFileSync(file, m[1]!);
    const mod = (await import(pathToFileURL(file).href)) as {
      verifySpapiAuthSignature: (secret: string, header: string, rawBody: string) => boolean;
    };
    const body = webhookBody(
      webhookEvent('seller.deleted', { selling_partner_id: 'A1', region: 'na' }, Date.now()),
    );
    const header = signWebhook(SECRET, body, Math.floor(Date.now() / 1000));
    assert.equal(mod.verifySpapiAuthSignature(SECRET, header, body), true);
    assert.equal(mod.verifySpapiAuthSignature(SECRET, header, body.replace('A1', 'A2')), false);
    assert.equal(mod.verifySpapiAuthSignature('wrong', header, body), false);
    const stale = signWebhook(SECRET, body, Math.floor(Date.now() / 1000) - 3600);
    assert.equal(mod.verifySpapiAuthSignature(SECRET, stale, body), false);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('backoff: exponential with full jitter, at least a second, capped at an hour', () => {
  assert.equal(
    retryDelayMs(1, () => 0),
    1_000,
  );
  assert.equal(
    retryDelayMs(1, () => 0.999),
    4_995,
  );
  assert.equal(
    retryDelayMs(3, () => 0.999),
    19_980,
  );
  assert.equal(
    retryDelayMs(40, () => 0.999),
    3_596_400,
  );
});

test('a receiver that fails twice then accepts gets the event exactly once, correctly signed', async () => {
  const c = clock();
  const store = await openStore('memory:', { keyRing: createKeyRing([['k1', randomBytes(32)]]), now: c.now });
  const receiver = await startReceiver([500, 503, 200]);
  const metricsSeen: string[] = [];
  const worker = new WebhookWorker({
    store,
    url: receiver.url,
    secret: SECRET,
    log: silentLogger,
    now: c.now,
    random: () => 0.5,
    metrics: { webhookDelivery: (o) => void metricsSeen.push(o) },
  });
  try {
    const event = webhookEvent(
      'seller.authorized',
      { selling_partner_id: 'A1EMUSELLERNA01', region: 'na' },
      c.now(),
    );
    await store.enqueueWebhookEvents([event]);
    for (let i = 0; i < 6; i++) {
      await worker.runOnce();
      c.advance(60 * 60_000); // past any backoff
    }
    assert.equal(receiver.received.length, 3);
    const accepted = receiver.received.filter((r) => r.status === 200);
    assert.equal(accepted.length, 1);
    const bodies = new Set(receiver.received.map((r) => r.body));
    assert.equal(bodies.size, 1, 'every attempt sends the same bytes');
    for (const r of receiver.received) {
      const { t } = parseSignature(r.headers['spapi-auth-signature']);
      assert.equal(
        verifyWebhookSignature(SECRET, String(r.headers['spapi-auth-signature']), r.body, {
          now: () => t * 1000,
        }),
        true,
      );
      assert.equal(r.headers['content-type'], 'application/json');
      assert.equal(r.headers['spapi-auth-event-id'], event.id);
    }
    const delivered = JSON.parse(accepted[0]!.body) as Record<string, unknown>;
    assert.deepEqual(delivered, {
      id: event.id,
      type: 'seller.authorized',
      created_at: new Date(event.createdAt).toISOString(),
      data: { selling_partner_id: 'A1EMUSELLERNA01', region: 'na' },
    });
    assert.deepEqual(metricsSeen, ['failed', 'failed', 'delivered']);
    const [row] = await store.listWebhookEvents({ state: 'delivered' });
    assert.equal(row?.id, event.id);
    assert.equal(row?.attempts, 3);
    assert.deepEqual(await store.webhookOutboxDepth(), { pending: 0, dead: 0 });
  } finally {
    await worker.stop();
    await receiver.close();
  }
});

test('backoff is respected: a failed event is not retried before its time', async () => {
  const c = clock();
  const store = await openStore('memory:', { keyRing: createKeyRing([['k1', randomBytes(32)]]), now: c.now });
  const receiver = await startReceiver([500, 200]);
  const worker = new WebhookWorker({
    store,
    url: receiver.url,
    secret: SECRET,
    log: silentLogger,
    now: c.now,
    random: () => 0.5,
  });
  try {
    await store.enqueueWebhookEvents([webhookEvent('seller.deleted', { selling_partner_id: 'A1' }, c.now())]);
    await worker.runOnce();
    await worker.runOnce();
    assert.equal(receiver.received.length, 1, 'retried before the backoff elapsed');
    c.advance(retryDelayMs(1, () => 0.5) + 1);
    assert.equal(await worker.runOnce(), 1);
    assert.equal(receiver.received.length, 2);
  } finally {
    await receiver.close();
  }
});

test('a restart between attempts loses nothing: failed attempt, crash while claimed, new process delivers once', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'spapi-webhooks-'));
  const path = join(dir, 'db.sqlite');
  const keyRing = createKeyRing([['k1', randomBytes(32)]]);
  const c = clock();
  const receiver = await startReceiver([500, 200]);
  let store: Store = await createSqliteStore({ path, keyRing, now: c.now });
  try {
    const first = webhookEvent('seller.reauthorization_required', { selling_partner_id: 'A1' }, c.now());
    const second = webhookEvent('seller.deleted', { selling_partner_id: 'A2' }, c.now());
    await store.enqueueWebhookEvents([first]);
    // Process 1: one failed attempt, then it stops.
    const w1 = new WebhookWorker({
      store,
      url: receiver.url,
      secret: SECRET,
      log: silentLogger,
      now: c.now,
      owner: 'p1',
    });
    await w1.runOnce();
    await w1.stop();
    assert.equal(receiver.received.length, 1);
    // Process 1 again: claims the next event and dies before posting it.
    await store.enqueueWebhookEvents([second]);
    const claimed = await store.claimWebhookEvents('p1-crashed', { limit: 10, leaseMs: 60_000 });
    assert.deepEqual(
      claimed.map((e) => e.id),
      [second.id],
    );
    await store.close();

    // Process 2 over the same file.
    store = await createSqliteStore({ path, keyRing, now: c.now });
    const w2 = new WebhookWorker({
      store,
      url: receiver.url,
      secret: SECRET,
      log: silentLogger,
      now: c.now,
      owner: 'p2',
    });
    c.advance(30_000); // the crashed claim still holds; the failed event's backoff may not be over
    await w2.runOnce();
    assert.ok(!receiver.received.some((r) => r.body.includes(second.id)), 'a live claim was ignored');
    c.advance(2 * 60 * 60_000);
    for (let i = 0; i < 3; i++) await w2.runOnce();
    const ids = receiver.received
      .filter((r) => r.status === 200)
      .map((r) => (JSON.parse(r.body) as { id: string }).id);
    assert.deepEqual(ids.sort(), [first.id, second.id].sort(), 'each event accepted exactly once');
    assert.deepEqual(await store.webhookOutboxDepth(), { pending: 0, dead: 0 });
    await w2.stop();
  } finally {
    await store.close();
    await receiver.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('redirects are not followed and count as failures; a hanging receiver times out', async () => {
  const c = clock();
  const store = await openStore('memory:', { keyRing: createKeyRing([['k1', randomBytes(32)]]), now: c.now });
  const redirecting = await startReceiver([302]);
  const logs: string[] = [];
  const worker = new WebhookWorker({
    store,
    url: redirecting.url,
    secret: SECRET,
    log: createLogger({ sink: (l) => logs.push(l) }),
    now: c.now,
  });
  try {
    await store.enqueueWebhookEvents([webhookEvent('seller.deleted', { selling_partner_id: 'A1' }, c.now())]);
    assert.equal(await worker.runOnce(), 0);
    const [row] = await store.listWebhookEvents({ state: 'pending' });
    assert.equal(row?.lastError, 'http_302');
    assert.ok(!logs.join('').includes(SECRET));
  } finally {
    await redirecting.close();
  }
  const s2 = await openStore('memory:', { keyRing: createKeyRing([['k1', randomBytes(32)]]) });
  const hanging = new WebhookWorker({
    store: s2,
    url: 'http://127.0.0.1:9/never',
    secret: SECRET,
    log: silentLogger,
    timeoutMs: 200,
    // AbortSignal.timeout's timer does not keep the process alive; this test's interval does.
    fetch: (req) =>
      new Promise((_, reject) => {
        const keepAlive = setInterval(() => {}, 20);
        req.signal.addEventListener('abort', () => {
          clearInterval(keepAlive);
          reject(req.signal.reason);
        });
      }),
  });
  await s2.enqueueWebhookEvents([webhookEvent('seller.deleted', {}, Date.now())]);
  assert.equal(await hanging.runOnce(), 0);
  assert.equal((await s2.listWebhookEvents({ state: 'pending' }))[0]?.lastError, 'timeout');
});

test('after the last attempt an event is given up, and the admin retry makes it due again', async () => {
  const c = clock();
  const store = await openStore('memory:', { keyRing: createKeyRing([['k1', randomBytes(32)]]), now: c.now });
  const receiver = await startReceiver([500, 500, 200]);
  const worker = new WebhookWorker({
    store,
    url: receiver.url,
    secret: SECRET,
    log: silentLogger,
    now: c.now,
    maxAttempts: 2,
  });
  try {
    const e = webhookEvent('credentials.invalid_client', { client_id: 'x' }, c.now());
    await store.enqueueWebhookEvents([e]);
    await worker.runOnce();
    c.advance(60 * 60_000);
    await worker.runOnce();
    assert.deepEqual(await store.webhookOutboxDepth(), { pending: 0, dead: 1 });
    c.advance(60 * 60_000);
    assert.equal(await worker.runOnce(), 0, 'a dead event is not retried on its own');
    assert.equal(await store.retryWebhookEvent(e.id), true);
    assert.equal(await worker.runOnce(), 1);
    assert.equal(await store.retryWebhookEvent(e.id), false, 'a delivered event cannot be retried');
    assert.equal(receiver.received.length, 3);
  } finally {
    await receiver.close();
  }
});

for (const engine of ['memory', 'sqlite'] as const) {
  test(`store (${engine}): listWebhookEvents pages newest first by state; retry refuses a live claim; skipExisting`, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'spapi-outbox-'));
    const c = clock();
    const keyRing = createKeyRing([['k1', randomBytes(32)]]);
    const store =
      engine === 'memory'
        ? await openStore('memory:', { keyRing, now: c.now })
        : await createSqliteStore({ keyRing, now: c.now, path: join(dir, 'db.sqlite') });
    try {
      const events = Array.from({ length: 5 }, (_, i) =>
        webhookEvent('seller.deleted', { n: i }, c.now() + i),
      );
      await store.enqueueWebhookEvents(events);
      await store.enqueueWebhookEvents([events[0]!], { skipExisting: true });
      await assert.rejects(store.enqueueWebhookEvents([events[0]!]));
      const all = await store.listWebhookEvents({ state: 'pending', limit: 3 });
      assert.deepEqual(
        all.map((r) => r.id),
        [events[4]!.id, events[3]!.id, events[2]!.id],
      );
      const older = await store.listWebhookEvents({ state: 'pending', limit: 3, before: all[2]!.seq });
      assert.deepEqual(
        older.map((r) => r.id),
        [events[1]!.id, events[0]!.id],
      );
      assert.deepEqual(older[0]!.data, { n: 1 });
      const [claimed] = await store.claimWebhookEvents('w', { limit: 1, leaseMs: 60_000 });
      assert.equal(await store.retryWebhookEvent(claimed!.id), false, 'retry while claimed');
      await store.markWebhookDelivered(claimed!.id, 'w');
      assert.equal((await store.listWebhookEvents({ state: 'delivered' }))[0]?.id, claimed!.id);
      assert.equal((await store.listWebhookEvents({ state: 'dead' })).length, 0);
      assert.equal(await store.retryWebhookEvent('nope'), false);
    } finally {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
}

test('reauthorization_due: once per authorization, 30 days before the 365-day mark, none for others', async () => {
  const c = clock(Date.UTC(2026, 0, 1));
  const store = await openStore('memory:', { keyRing: createKeyRing([['k1', randomBytes(32)]]), now: c.now });
  const save = (id: string) =>
    store.saveAuthorization({
      sellingPartnerId: id,
      region: 'na',
      kind: 'seller',
      userRef: `u-${id}`,
      marketplace: 'US',
      refreshToken: `Atzr|refresh-${id}`,
    });
  await save('ADUE000001'); // authorized at day 0
  c.advance(100 * DAY);
  await save('ANOTDUE001'); // authorized at day 100
  c.advance(236 * DAY); // day 336: the first is 29 days from its mark
  assert.equal(await sweepReauthorizationDue(store, c.now()), 1);
  c.advance(DAY);
  await sweepReauthorizationDue(store, c.now());
  const rows = await store.listWebhookEvents({});
  assert.equal(rows.length, 1, 'a repeated sweep enqueued the event again');
  assert.equal(rows[0]!.type, 'seller.reauthorization_due');
  assert.equal(rows[0]!.data.selling_partner_id, 'ADUE000001');
  assert.equal(rows[0]!.data.reauthorize_by, new Date(Date.UTC(2026, 0, 1) + 365 * DAY).toISOString());
  // Re-authorizing resets the clock: no new event until the next year's window.
  await save('ADUE000001');
  c.advance(DAY);
  await sweepReauthorizationDue(store, c.now());
  assert.equal((await store.listWebhookEvents({})).length, 1);
});

test('the flows write their events: seller.authorized on connect, reauthorization_required after a revocation, seller.deleted', async () => {
  const receiver = await startReceiver([200]);
  const svc = await makeOpsService({
    env: { SPAPI_AUTH_WEBHOOK_URL: receiver.url, SPAPI_AUTH_WEBHOOK_SECRET: SECRET },
  });
  try {
    await connectSeller(svc, { userRef: 'acct-42' });
    await svc.emulator.control.revoke('A1EMUSELLERNA01');
    svc.advance(2 * 60 * 60_000);
    const res = await api(svc, 'GET', '/v1/sellers/A1EMUSELLERNA01/access-token');
    assert.equal(res.status, 409);
    assert.equal((await api(svc, 'DELETE', '/v1/sellers/A1EMUSELLERNA01')).status, 200);
    for (let i = 0; i < 3; i++) await svc.ops.webhooks.runOnce();
    const events = receiver.received.map(
      (r) => JSON.parse(r.body) as { type: string; data: Record<string, unknown> },
    );
    assert.deepEqual(events.map((e) => e.type).sort(), [
      'seller.authorized',
      'seller.deleted',
      'seller.reauthorization_required',
    ]);
    const authorized = events.find((e) => e.type === 'seller.authorized')!;
    assert.equal(authorized.data.selling_partner_id, 'A1EMUSELLERNA01');
    assert.equal(authorized.data.user_ref, 'acct-42');
    for (const r of receiver.received) {
      // The service's clock was moved two hours ahead: verify at its time.
      const at = parseSignature(r.headers['spapi-auth-signature']).t * 1000;
      assert.equal(
        verifyWebhookSignature(SECRET, String(r.headers['spapi-auth-signature']), r.body, { now: () => at }),
        true,
      );
      assert.ok(!/Atz[ar]\|/.test(r.body), 'a token in a webhook body');
    }
  } finally {
    await svc.close();
    await receiver.close();
  }
});
