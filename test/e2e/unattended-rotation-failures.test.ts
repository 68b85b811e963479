// The 180-day loop's two failures, on the fleet of unattended-rotation.test.ts (two `serve`
// processes on PostgreSQL consuming the emulator's SQS queue, token requests all along):
// (a) the application is not enrolled for the rotation notifications — Amazon answers the
//     rotation 400 InvalidInput: loud (webhook, metric, audit, doctor), safe (the secret in use
//     stays, no token request fails, the expiry notice is consumed, nothing kept aside);
// (b) the consuming instance is killed (SIGKILL) right after storing the new secret, before the
//     message is deleted — the other instance takes the lease over and applies the redelivered
//     message once; no token request to it fails.
import { before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { runCli } from '../helpers/cli.js';
import { instanceMetric, postgresSuiteRuns } from '../helpers/e2e.js';
import { afterSuite } from '../helpers/fleet.js';
import { startRotationFleet, until, type RotationFleet } from '../helpers/rotation-fleet.js';

const DAY_MS = 86_400_000;

async function webhookEvents(fleet: RotationFleet, type: string): Promise<Record<string, unknown>[]> {
  return (await fleet.store.listWebhookEvents({ limit: 500 }))
    .filter((e) => e.type === type)
    .map((e) => e.data as Record<string, unknown>);
}

async function audited(fleet: RotationFleet, action: string): Promise<number> {
  return (await fleet.store.listAudit({ limit: 500 })).filter((a) => a.action === action).length;
}

/** The emulator's notification queue: messages waiting and in flight. */
async function queueDepth(fleet: RotationFleet): Promise<number> {
  const res = await fetch(`${fleet.amazon.url}/__emulator/queues`);
  const { queues } = (await res.json()) as {
    queues: Record<string, { messages: number; in_flight: number }>;
  };
  const q = queues['spapi-auth-notifications']!;
  return q.messages + q.in_flight;
}

async function sumMetric(fleet: RotationFleet, name: string, labels = ''): Promise<number> {
  const live = fleet.instances.filter((i) => i.child.exitCode === null && i.child.signalCode === null);
  return (await Promise.all(live.map((i) => instanceMetric(i, name, labels)))).reduce((a, b) => a + b, 0);
}

if (
  await postgresSuiteRuns(
    'unattended rotation failures over 2 serve processes',
    'unattended rotation failures',
    'unattended rotation failures on PostgreSQL',
  )
) {
  describe('unattended rotation: the application is not enrolled for rotation notifications', () => {
    const suite = afterSuite();
    let fleet: RotationFleet;
    before(async () => {
      fleet = await startRotationFleet(suite, 'notenrol', {
        // The expiry notice is in the queue; then the queue's registration for the app is withdrawn
        // in Developer Console (the emulator's application setting `notification_queue: null`).
        beforeServe: async ({ amazon, app }) => {
          await amazon.emulator.control.secretExpiry({
            expiryTime: new Date(Date.now() + 5 * DAY_MS).toISOString(),
          });
          await amazon.emulator.control.registerApplication({ ...app, notificationQueue: null });
        },
      });
    });

    it('400 InvalidInput → rotation_not_enrolled: webhook, metric, audit, doctor; the old secret in use, nothing lost', async () => {
      const { app, store, amazon } = fleet;
      await until('the rotation failed', async () => {
        const [latest] = await store.listSecretRotations(app.clientId, 1);
        return latest?.state === 'failed';
      });
      const [latest] = await store.listSecretRotations(app.clientId, 1);
      assert.equal(latest!.lastErrorCode, 'rotation_not_enrolled');
      assert.equal(await fleet.rotations('400'), 1, 'one rotation asked of Amazon, refused');
      assert.equal(await fleet.rotations('204'), 0);
      const failed = await webhookEvents(fleet, 'credentials.client_secret_rotation_failed');
      assert.equal(failed.length, 1);
      assert.equal(failed[0]!.code, 'rotation_not_enrolled');
      assert.equal(failed[0]!.client_id, app.clientId);
      assert.equal(
        await sumMetric(
          fleet,
          'spapi_auth_client_secret_rotation_failures_total',
          'code="rotation_not_enrolled"',
        ),
        1,
      );
      assert.ok((await audited(fleet, 'client_secret.rotation_failed')) >= 1, 'the failure is audited');
      // The expiry notice was consumed and deleted, nothing is kept aside, no new secret exists.
      await until('the queue is empty', async () => (await queueDepth(fleet)) === 0);
      assert.equal(await store.countNotificationsAside(), 0);
      assert.equal((await store.listAppSecrets(app.clientId)).length, 0, 'no secret was stored');
      // doctor names the failure and its fix.
      const doctor = await runCli(['doctor', '--json'], { env: fleet.env });
      const report = JSON.parse(doctor.stdout) as {
        checks: { check: string; verdict: string; detail: string; fix?: string }[];
      };
      const check = report.checks.find((c) => c.check === 'client secret');
      assert.ok(check, doctor.stdout);
      assert.notEqual(check.verdict, 'ok');
      assert.match(check.detail, /rotation_not_enrolled/);
      assert.match(check.fix ?? '', /Notification Preferences/);
      // Tokens keep coming with the secret in use: refreshes go on, and LWA never refused one.
      const ok = async () =>
        ((await amazon.emulator.control.stats()).token.refresh_token?.ok as number | undefined) ?? 0;
      const now = await ok();
      await amazon.emulator.control.advance(30);
      await until(
        'a refresh with the secret in use after the failure',
        async () => (await ok()) > now,
        60_000,
      );
      assert.equal((await amazon.emulator.control.stats()).token.refresh_token?.invalid_client ?? 0, 0);
      await fleet.stopTraffic();
      assert.ok(fleet.requests() > 20, `token requests made: ${fleet.requests()}`);
      assert.deepEqual(fleet.failures, [], 'no token request failed');
    });
  });

  describe('unattended rotation: the consuming instance killed right after storing the new secret', () => {
    const suite = afterSuite();
    let fleet: RotationFleet;
    before(async () => {
      // Both instances are armed: whichever consumes dies there; a redelivery stores nothing, so
      // the other one survives it.
      fleet = await startRotationFleet(suite, 'rotkill', {
        extra: { SPAPI_AUTH_FAULT_POINT: 'after_new_secret_saved' },
      });
    });

    it('the other instance takes the lease over, the message is applied once, no token request to it fails', async () => {
      const { app, store, amazon, instances } = fleet;
      await amazon.emulator.control.secretExpiry({
        expiryTime: new Date(Date.now() + 5 * DAY_MS).toISOString(),
      });
      const exits = instances.map((i, n) => i.exited.then((e) => ({ n, ...e })));
      const killed = await Promise.race([
        ...exits,
        new Promise<never>((_, reject) =>
          setTimeout(() => reject(new Error('no instance died at the fault point')), 120_000).unref(),
        ),
      ]);
      assert.equal(killed.signal, 'SIGKILL');
      const survivor = instances[1 - killed.n]!;
      assert.equal(
        await audited(fleet, 'client_secret.accepted'),
        1,
        'the new secret was stored before the kill',
      );
      // Its message is still in the queue, in flight: on the emulator's clock its visibility (60 s)
      // ends; the dead instance's lease (30 s) ends on its own.
      await amazon.emulator.control.advance(61);
      await until('the redelivered message applied and deleted', async () => (await queueDepth(fleet)) === 0);
      await until('the rotation closed as installed', async () => {
        const [latest] = await store.listSecretRotations(app.clientId, 1);
        return latest?.state === 'installed';
      });
      assert.equal(
        await instanceMetric(survivor, 'spapi_auth_notification_queue_consumer'),
        1,
        'the survivor consumes',
      );
      assert.equal(await fleet.rotations('204'), 1, 'one rotation asked of Amazon');
      assert.equal((await store.listAppSecrets(app.clientId)).length, 2, 'old + new, each stored once');
      assert.equal(await audited(fleet, 'client_secret.accepted'), 1, 'applied once');
      assert.equal(
        (await webhookEvents(fleet, 'credentials.client_secret_installed')).length,
        1,
        'installed once',
      );
      assert.equal(await store.countNotificationsAside(), 0, 'nothing kept aside');
      await until('the survivor uses the new secret', async () => {
        const expiry = await instanceMetric(survivor, 'spapi_auth_client_secret_expiry_timestamp_seconds');
        return expiry > Date.now() / 1000 + 170 * 86_400;
      });
      await fleet.stopTraffic();
      assert.equal(survivor.child.exitCode, null, 'the survivor is alive');
      assert.deepEqual(
        fleet.failures.filter((f) => f.instance !== killed.n),
        [],
        'no token request to the surviving instance failed',
      );
      assert.equal((await amazon.emulator.control.stats()).token.refresh_token?.invalid_client ?? 0, 0);
    });
  });
}
