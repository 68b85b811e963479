// Client-secret rotation end to end with the emulator: rotate, receive the queued notification,
// accept it (API and shared function), switch without any caller error, keep the old secret until
// its expiry, try the other secret on invalid_client, never mark a seller for our credentials.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  NEW_SECRET,
  NotificationError,
  SECRET_EXPIRY,
  acceptNotification,
  requestClientSecretRotation,
} from '../../../src/server/ops/rotation.js';
import { api, connectSeller, errorCode } from '../../helpers/service.js';
import { CANARY_SECRET, makeOpsService, type OpsService, testOpsService } from '../../helpers/ops-service.js';

const SELLER = 'A1EMUSELLERNA01';
const TOKEN_PATH = `/v1/sellers/${SELLER}/access-token`;
const HOUR = 3_600_000;
const DAY = 24 * HOUR;

async function rotateAtEmulator(svc: OpsService): Promise<Record<string, unknown>> {
  await requestClientSecretRotation({ amazon: svc.amazon, fetch: (r) => svc.emulator.fetch(r) });
  const notifications = await svc.emulator.control.notifications();
  const n = notifications.filter((x) => x.notificationType === NEW_SECRET).at(-1);
  assert.ok(n, 'the emulator queued no APPLICATION_OAUTH_CLIENT_NEW_SECRET notification');
  return n as unknown as Record<string, unknown>;
}

function newSecretOf(n: Record<string, unknown>): string {
  return (n as { payload: { applicationOAuthClientNewSecret: { newClientSecret: string } } }).payload
    .applicationOAuthClientNewSecret.newClientSecret;
}

test('rotation end to end: rotate, accept the queued notification while token requests are in flight, no caller error', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'spapi-rotation-'));
  const svc = await makeOpsService({ sqlitePath: join(dir, 'db.sqlite') });
  try {
    await connectSeller(svc);
    const notification = await rotateAtEmulator(svc);
    const newSecret = newSecretOf(notification);
    const key = await svc.key(['notifications:write']);
    // A key without the scope is refused.
    const denied = await api(svc, 'POST', '/v1/notifications', notification);
    assert.equal(denied.status, 403);

    // Every token expired: requests refresh while the notification is accepted.
    svc.advance(2 * HOUR);
    const inflight = Array.from({ length: 40 }, (_, i) =>
      api(svc, 'GET', TOKEN_PATH).then(async (r) => ({ i, status: r.status, body: await r.text() })),
    );
    const accepted = api(svc, 'POST', '/v1/notifications', notification, key);
    const results = await Promise.all(inflight);
    const acceptRes = await accepted;
    assert.equal(acceptRes.status, 200);
    const body = (await acceptRes.json()) as Record<string, unknown>;
    assert.equal(body.outcome, 'accepted');
    assert.equal(body.notification_type, NEW_SECRET);
    for (const r of results) assert.equal(r.status, 200, `request ${r.i} failed: ${r.body}`);
    assert.equal(svc.ops.ring.credentials().clientSecret, newSecret, 'not switched to the new secret');
    assert.equal(
      svc.ops.ring.credentials().clientSecretNext,
      CANARY_SECRET,
      'the old secret was dropped early',
    );

    // Accepting the same notification again changes nothing.
    const again = await api(svc, 'POST', '/v1/notifications', notification, key);
    assert.equal(((await again.json()) as { outcome: string }).outcome, 'already_accepted');

    // Eight days later the old secret is dead at Amazon: refreshes keep working, with the new one.
    await svc.emulator.control.advance(8 * 24 * 3600);
    svc.advance(8 * DAY);
    const later = await Promise.all(Array.from({ length: 10 }, () => api(svc, 'GET', TOKEN_PATH)));
    for (const r of later) assert.equal(r.status, 200);
    assert.equal((await svc.store.getSeller({ sellingPartnerId: SELLER, region: 'na' }))?.status, 'active');
    // The ring dropped the expired secret; the store keeps only the new one.
    await svc.ops.ring.reload();
    assert.equal(svc.ops.ring.credentials().clientSecretNext, undefined);
    assert.deepEqual(
      (await svc.store.listAppSecrets(svc.config.lwaClientId)).map((s) => s.secret),
      [newSecret],
    );
    // Stored encrypted: neither secret appears in the database files, nor in logs or metrics.
    await svc.store.close().catch(() => {});
    for (const f of readdirSync(dir)) {
      const bytes = readFileSync(join(dir, f)).toString('latin1');
      assert.ok(!bytes.includes(newSecret), `new secret in clear in ${f}`);
      assert.ok(!bytes.includes(CANARY_SECRET), `old secret in clear in ${f}`);
    }
    const metrics = await svc.ops.metrics.render({
      countSellersByStatus: async () => ({ active: 1, reauthorization_required: 0 }),
      webhookOutboxDepth: async () => ({ pending: 0, dead: 0 }),
      countNotificationsAside: async () => 0,
    });
    for (const text of [svc.logs.join(''), metrics]) {
      assert.ok(!text.includes(newSecret));
      assert.ok(!text.includes(CANARY_SECRET));
    }
  } finally {
    await svc.close().catch(() => {});
    rmSync(dir, { recursive: true, force: true });
  }
});

test('another instance picks the accepted secret up from the store', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'spapi-rotation2-'));
  const path = join(dir, 'db.sqlite');
  const a = await makeOpsService({ sqlitePath: path });
  try {
    const notification = await rotateAtEmulator(a);
    const result = await acceptNotification(
      { store: a.store, ring: a.ops.ring, actor: 'cli', verifySecret: (x) => a.amazon.verifyClientSecret(x) },
      notification,
    );
    assert.equal(result.outcome, 'accepted');
    const b = await makeOpsService({ sqlitePath: path, keyRing: a.keyRing });
    try {
      assert.equal(b.ops.ring.credentials().clientSecret, newSecretOf(notification));
    } finally {
      await b.close();
    }
    const audit = await a.store.listAudit({ limit: 10 });
    assert.ok(audit.some((r) => r.action === 'client_secret.accepted' && r.actor === 'cli'));
  } finally {
    await a.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('invalid_client with one secret: the other is tried once, the caller gets a token', async () => {
  const svc = await makeOpsService({
    env: { LWA_CLIENT_SECRET: 'WRONGsecretWRONGsecret0000', LWA_CLIENT_SECRET_NEXT: CANARY_SECRET },
  });
  try {
    await connectSeller(svc);
    svc.advance(2 * HOUR);
    const res = await api(svc, 'GET', TOKEN_PATH);
    assert.equal(res.status, 200);
    const stats = await svc.emulator.control.stats();
    assert.equal(stats.token.refresh_token?.invalid_client, 1);
    assert.equal(stats.token.refresh_token?.ok, 1);
    assert.equal(svc.ops.metrics.lwaCalls.get({ grant: 'refresh_token', outcome: 'invalid_client' }), 1);
  } finally {
    await svc.close();
  }
});

test('every secret refused: 503 upstream_credentials_invalid, no seller marked, one credentials.invalid_client event', async (t) => {
  const svc = await testOpsService(t);
  await connectSeller(svc);
  // The app's only secret stops working at Amazon (rotated elsewhere, expired).
  await svc.emulator.control.registerApplication({
    ...(await import('../../../src/emulator/dev-app.js')).devApplication('http://localhost:3000'),
    clientSecret: 'SOMEotherSECRETnotOurs0000',
  });
  svc.advance(2 * HOUR);
  for (let i = 0; i < 3; i++) {
    const res = await api(svc, 'GET', TOKEN_PATH);
    assert.equal(res.status, 503);
    assert.equal(await errorCode(res), 'upstream_credentials_invalid');
  }
  const seller = await svc.store.getSeller({ sellingPartnerId: SELLER, region: 'na' });
  assert.equal(seller?.status, 'active', 'a seller was marked for our own credentials');
  await new Promise((r) => setTimeout(r, 20));
  const events = (await svc.store.listWebhookEvents({})).filter(
    (e) => e.type === 'credentials.invalid_client',
  );
  assert.equal(events.length, 1);
  assert.equal(events[0]!.data.client_id, svc.config.lwaClientId);
  assert.ok(svc.ops.metrics.invalidClients.get() >= 1);
});

test('every secret held has expired: 503 client_secret_expired (not a 500), nothing sent to LWA, one alarm', async (t) => {
  const svc = await testOpsService(t);
  await connectSeller(svc);
  const notification = await rotateAtEmulator(svc);
  const key = await svc.key(['notifications:write']);
  assert.equal((await api(svc, 'POST', '/v1/notifications', notification, key)).status, 200);
  // 181 days on: the old secret went seven days after the rotation, the new one after its 180.
  svc.advance(181 * DAY);
  const before = (await svc.emulator.control.stats()).token.refresh_token ?? {};
  for (let i = 0; i < 3; i++) {
    const res = await api(svc, 'GET', TOKEN_PATH);
    assert.equal(res.status, 503, await res.clone().text());
    assert.equal(await errorCode(res), 'client_secret_expired');
  }
  // After a reload the ring still knows them expired: the configured secret is not sent either.
  await svc.ops.ring.reload();
  const again = await api(svc, 'GET', TOKEN_PATH);
  assert.equal(await errorCode(again), 'client_secret_expired');
  assert.deepEqual(
    (await svc.emulator.control.stats()).token.refresh_token ?? {},
    before,
    'LWA was not called',
  );
  const seller = await svc.store.getSeller({ sellingPartnerId: SELLER, region: 'na' });
  assert.equal(seller?.status, 'active', 'a seller was marked for our own credentials');
  await new Promise((r) => setTimeout(r, 20));
  const alarms = (await svc.store.listWebhookEvents({})).filter(
    (e) => e.type === 'credentials.invalid_client',
  );
  assert.equal(alarms.length, 1, 'one alarm per 15 minutes');
  assert.equal(alarms[0]!.data.secrets_tried, 0);
});

test('APPLICATION_OAUTH_CLIENT_SECRET_EXPIRY becomes credentials.client_secret_expiring, once', async (t) => {
  const svc = await testOpsService(t);
  const n = await svc.emulator.control.secretExpiry({ expiryTime: '2027-01-01T00:00:00.000Z' });
  const key = await svc.key(['notifications:write']);
  // As an SQS message body and as the bare notification: the same event, enqueued once.
  const sqs = { MessageId: 'm-1', Body: JSON.stringify(n) };
  for (const body of [sqs, n]) {
    const res = await api(svc, 'POST', '/v1/notifications', body, key);
    assert.equal(res.status, 200, await res.clone().text());
    assert.equal(((await res.json()) as { notification_type: string }).notification_type, SECRET_EXPIRY);
  }
  const events = (await svc.store.listWebhookEvents({})).filter(
    (e) => e.type === 'credentials.client_secret_expiring',
  );
  assert.equal(events.length, 1);
  assert.deepEqual(events[0]!.data, {
    client_id: svc.config.lwaClientId,
    expires_at: '2027-01-01T00:00:00.000Z',
    reason: 'PERIODIC_ROTATION',
  });
});

test('bad notifications get a stable code and never echo a secret', async (t) => {
  const svc = await testOpsService(t);
  const key = await svc.key(['notifications:write']);
  const marker = 'amzn1.oa2-cs.v1.CANARYnewSecretMarker0000';
  const base = {
    notificationVersion: '1.0',
    notificationType: NEW_SECRET,
    payloadVersion: '1.0',
    eventTime: new Date().toISOString(),
    notificationMetadata: {
      applicationId: svc.config.applicationId,
      subscriptionId: 'y',
      publishTime: 'z',
      notificationId: 'n-1',
    },
  };
  const cases: [unknown, number, string][] = [
    [
      {
        ...base,
        payload: {
          applicationOAuthClientNewSecret: {
            clientId: 'amzn1.application-oa2-client.someoneelse',
            newClientSecret: marker,
            newClientSecretExpiryTime: '2027-01-01T00:00:00Z',
            oldClientSecretExpiryTime: '2026-12-01T00:00:00Z',
          },
        },
      },
      409,
      'client_id_mismatch',
    ],
    [
      {
        ...base,
        payload: {
          applicationOAuthClientNewSecret: {
            clientId: svc.config.lwaClientId,
            newClientSecret: marker,
            newClientSecretExpiryTime: 'soon',
            oldClientSecretExpiryTime: '2026-12-01T00:00:00Z',
          },
        },
      },
      400,
      'invalid_notification',
    ],
    [{ ...base, notificationType: 'ANY_OFFER_CHANGED', payload: {} }, 400, 'unsupported_notification'],
    [{ hello: 'world' }, 400, 'invalid_notification'],
    [{ Body: '{not json' }, 400, 'invalid_notification'],
  ];
  for (const [body, status, code] of cases) {
    const res = await api(svc, 'POST', '/v1/notifications', body, key);
    const text = await res.text();
    assert.equal(res.status, status, text);
    assert.equal((JSON.parse(text) as { error: { code: string } }).error.code, code);
    assert.ok(!text.includes(marker));
  }
  assert.ok(!svc.logs.join('').includes(marker));
  assert.deepEqual(await svc.store.listAppSecrets(svc.config.lwaClientId), []);
  await assert.rejects(
    acceptNotification(
      {
        store: svc.store,
        ring: svc.ops.ring,
        actor: 'cli',
        verifySecret: (x) => svc.amazon.verifyClientSecret(x),
      },
      '[]',
    ),
    (e: unknown) => e instanceof NotificationError && e.code === 'invalid_notification',
  );
});
