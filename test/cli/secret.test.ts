// `spapi-auth secret rotate|accept` end to end with the emulator's rotation endpoint and its queued
// notification, over a SQLite store.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { EmulatorNotification } from '../../src/emulator/index.js';
import { parseKeyRing } from '../../src/storage/crypto.js';
import { createSqliteStore } from '../../src/storage/sqlite.js';
import type { Store } from '../../src/storage/store.js';
import {
  APP,
  CANARY_SECRET,
  assertFailure,
  assertNoLeak,
  cliWorld,
  seedSeller,
  type CliWorld,
} from './helpers.js';

describe('spapi-auth secret', () => {
  let world: CliWorld;
  let store: Store;
  let file: (name: string, content: unknown) => string;
  before(async () => {
    world = await cliWorld();
    store = await world.openStore();
    await seedSeller(world, store, { id: 'A1EMUSELLERNA01', region: 'na' });
    file = (name, content) => {
      const path = join(world.dir, name);
      writeFileSync(path, typeof content === 'string' ? content : JSON.stringify(content));
      return path;
    };
  });
  after(async () => {
    await store.close();
    await world.close();
  });

  it('--help names the unattended mode (SPAPI_AUTH_NOTIFICATIONS_QUEUE_URL) and where it is set up', async () => {
    const r = await world.cli(['secret', '--help']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /SPAPI_AUTH_NOTIFICATIONS_QUEUE_URL/);
    assert.match(r.stdout, /docs\/going-live\.md/);
  });

  it('rotate refuses bad usage, a sandbox app and refused credentials, and requests nothing', async () => {
    assertFailure(await world.cli(['secret']), 2, /missing subcommand \(rotate, accept\)/);
    assertFailure(await world.cli(['secret', 'rotate', 'now']), 2, /unexpected argument 'now'/);
    assertFailure(await world.cli(['secret', 'rotate', '--force']), 2, /--force/);
    assertFailure(
      await world.cli(['secret', 'rotate'], { env: { SPAPI_AUTH_SANDBOX: 'true' } }),
      1,
      /sandbox application/,
    );
    const wrong = 'CANARYwrongRotationSecret000000000000000000000';
    const r = await world.cli(['secret', 'rotate'], { env: { LWA_CLIENT_SECRET: wrong } });
    assertFailure(r, 1, /\(invalid_client\): check LWA_CLIENT_ID and LWA_CLIENT_SECRET/);
    assertNoLeak(r, [wrong, CANARY_SECRET]);
    assert.deepEqual(await world.emulator.emulator.control.notifications(), []);
  });

  it('rotate explains a refusal by Amazon (400: no notification queue registered)', async () => {
    await world.emulator.emulator.control.fault({
      target: 'spapi',
      path: '/applications',
      status: 400,
      body: {
        errors: [{ code: 'InvalidInput', message: 'Application is not enrolled for rotation notification.' }],
      },
    });
    const r = await world.cli(['secret', 'rotate']);
    assertFailure(r, 1, /\(HTTP 400 InvalidInput\) \(rotation_not_enrolled\): is an SQS queue registered/);
    assert.deepEqual(await world.emulator.emulator.control.notifications(), []);
  });

  it('rotate asks Amazon for a new secret and says where it will arrive; accept installs it without printing it', async () => {
    const r = await world.cli(['secret', 'rotate']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /APPLICATION_OAUTH_CLIENT_NEW_SECRET notification/);
    assert.match(r.stdout, /spapi-auth secret accept <notification\.json>/);
    assert.match(r.stdout, new RegExp(`${world.emulator.url}/__emulator/notifications`));
    const notifications = await world.emulator.emulator.control.notifications();
    assert.equal(notifications.length, 1);
    const n = notifications[0]!;
    assert.equal(n.notificationType, 'APPLICATION_OAUTH_CLIENT_NEW_SECRET');
    const newSecret = (n.payload.applicationOAuthClientNewSecret as { newClientSecret: string })
      .newClientSecret;

    // As an SQS consumer would save it: the whole message, the notification as its Body string.
    const path = file('message.json', { MessageId: 'm-1', Body: JSON.stringify(n) });
    const accepted = await world.cli(['secret', 'accept', path]);
    assert.equal(accepted.code, 0, accepted.stderr);
    assert.match(accepted.stdout, /New client secret accepted/);
    assertNoLeak(accepted, [newSecret, CANARY_SECRET]);
    const stored = await store.listAppSecrets(APP.clientId);
    assert.ok(
      stored.some((s) => s.secret === newSecret),
      'the new secret is stored',
    );
    const old = stored.find((s) => s.secret === CANARY_SECRET);
    assert.ok(old !== undefined && old.expiresAt !== null, 'the old secret is kept until its expiry');
    const audit = await store.listAudit({ limit: 5 });
    assert.ok(audit.some((a) => a.action === 'client_secret.accepted' && a.actor === 'cli'));

    const again = await world.cli(['secret', 'accept', path, '--json']);
    assert.equal(again.code, 0, again.stderr);
    assert.equal((JSON.parse(again.stdout) as { outcome: string }).outcome, 'already_accepted');

    // Eight days on, Amazon refuses the old secret; the CLI uses the accepted one, as the service does.
    await world.emulator.emulator.control.advance(8 * 86_400);
    const doctor = await world.cli(['doctor', '--json']);
    const lwa = (JSON.parse(doctor.stdout) as { checks: { check: string; verdict: string }[] }).checks.find(
      (c) => c.check === 'lwa',
    );
    assert.equal(lwa?.verdict, 'ok', doctor.stdout);
    assertNoLeak(doctor, [newSecret, CANARY_SECRET]);
    const token = await world.cli(['token', 'A1EMUSELLERNA01']);
    assert.equal(token.code, 0, token.stderr);
    assert.match(token.stdout, /^Atza\|/);
    assertNoLeak(token, [newSecret, CANARY_SECRET]);
    // The same, over a store that never accepted the new secret: the old one alone is refused now.
    const other = join(world.dir, 'other.db');
    await (await createSqliteStore({ path: other, keyRing: parseKeyRing(world.keys) })).close();
    const stale = await world.cli(['doctor', '--json'], { env: { DATABASE_URL: `sqlite:${other}` } });
    assert.equal(stale.code, 1);
    assert.match(stale.stdout, /"check": "lwa",\s+"verdict": "fail"/);
  });

  it('accept turns a secret-expiry notice into the credentials.client_secret_expiring webhook', async () => {
    const n: EmulatorNotification = await world.emulator.emulator.control.secretExpiry({
      reason: 'PERIODIC_ROTATION',
    });
    const r = await world.cli(['secret', 'accept', file('expiry.json', n)]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /credentials\.client_secret_expiring webhook was queued/);
    const events = await store.claimWebhookEvents('probe', { limit: 10, leaseMs: 60_000 });
    assert.ok(events.some((e) => e.type === 'credentials.client_secret_expiring'));
  });

  it('accept refuses unreadable, malformed and foreign notifications, changing nothing', async () => {
    const before = (await store.listAppSecrets(APP.clientId)).length;
    assertFailure(await world.cli(['secret', 'accept']), 2, /missing argument <notification\.json>/);
    assertFailure(
      await world.cli(['secret', 'accept', 'a.json', 'b.json']),
      2,
      /unexpected argument 'b\.json'/,
    );
    assertFailure(
      await world.cli(['secret', 'accept', join(world.dir, 'none.json')]),
      1,
      /cannot read .*\(ENOENT\)/,
    );
    assertFailure(await world.cli(['secret', 'accept', world.dir]), 1, /cannot read .*\(EISDIR\)/);
    assertFailure(await world.cli(['secret', 'accept', file('bad.json', '{"notif')]), 1, /is not valid JSON/);
    assertFailure(await world.cli(['secret', 'accept', file('arr.json', [1, 2])]), 1, /invalid_notification/);
    assertFailure(
      await world.cli([
        'secret',
        'accept',
        file('other.json', { notificationType: 'ANY_OFFER_CHANGED', payload: {} }),
      ]),
      1,
      /unsupported_notification/,
    );
    const foreign = {
      notificationType: 'APPLICATION_OAUTH_CLIENT_NEW_SECRET',
      payload: {
        applicationOAuthClientNewSecret: {
          clientId: 'amzn1.application-oa2-client.someoneelse',
          newClientSecret: 'amzn1.oa2-cs.v1.CANARYforeign000',
          newClientSecretExpiryTime: '2030-01-01T00:00:00Z',
          oldClientSecretExpiryTime: '2029-01-01T00:00:00Z',
        },
      },
    };
    const r = await world.cli(['secret', 'accept', file('foreign.json', foreign)]);
    assertFailure(r, 1, /client_id_mismatch/);
    assertNoLeak(r, ['amzn1.oa2-cs.v1.CANARYforeign000']);
    assert.equal((await store.listAppSecrets(APP.clientId)).length, before);
  });
});
